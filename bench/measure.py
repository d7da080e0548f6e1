"""Measure one command: wall seconds, the peak summed RSS of its process tree, /usr/bin/time's max RSS.

The tree is sampled from /proc (every process whose parent chain leads to the command, e.g. the Prefect
server the run starts); /usr/bin/time -v reports the largest single process's max RSS as a cross-check.
"""

from __future__ import annotations

import os
import re
import subprocess
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

PAGE = os.sysconf("SC_PAGE_SIZE")
TIME = "/usr/bin/time"


@dataclass
class Measurement:
    seconds: float  # wall seconds of the whole process
    tree_peak_mb: float  # max over samples of the summed RSS of the process tree
    time_max_rss_mb: float  # /usr/bin/time -v "Maximum resident set size" (one process)
    returncode: int
    output: str  # the command's stdout and stderr (without /usr/bin/time's report)
    load: float = 0.0  # the 1-minute load average when the command started


def load_average() -> float:
    return float(Path("/proc/loadavg").read_text().split()[0])


def _parents() -> dict[int, int]:
    parents = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:
            continue
        parents[int(stat.parent.name)] = int(text.rsplit(")", 1)[1].split()[1])
    return parents


def tree_rss_bytes(root: int) -> int:
    """The summed resident memory of `root` and all its descendants now."""
    parents = _parents()
    tree, grew = {root}, True
    while grew:
        more = {pid for pid, parent in parents.items() if parent in tree} - tree
        tree |= more
        grew = bool(more)
    total = 0
    for pid in tree:
        try:
            total += int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * PAGE
        except (OSError, IndexError):
            continue
    return total


def _sample(pid: int, peak: list[int], done: threading.Event, every: float) -> None:
    while not done.wait(every):
        peak[0] = max(peak[0], tree_rss_bytes(pid))


def max_rss_mb(report: str) -> float:
    found = re.search(r"Maximum resident set size \(kbytes\): (\d+)", report)
    return int(found.group(1)) / 1024 if found else 0.0


def measure(
    command: Sequence[str], env: Mapping[str, str], log: Path, cwd: Path | None = None, every: float = 0.2
) -> Measurement:
    """Run `command` under /usr/bin/time -v, sampling its tree's RSS every `every` seconds."""
    report = log.with_suffix(".time")
    load = load_average()
    started = time.perf_counter()
    with log.open("w") as out:
        proc = subprocess.Popen(
            [TIME, "-v", "-o", str(report), *command], env=dict(env), cwd=cwd, stdout=out, stderr=out
        )
        peak, done = [0], threading.Event()
        sampler = threading.Thread(target=_sample, args=(proc.pid, peak, done, every), daemon=True)
        sampler.start()
        returncode = proc.wait()
        done.set()
        sampler.join()
    seconds = time.perf_counter() - started
    rss = max_rss_mb(report.read_text())
    return Measurement(seconds, peak[0] / 2**20, rss, returncode, log.read_text(), load)
