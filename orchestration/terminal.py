"""The `lakehouse` command's terminal: Prefect's and dbt's logs to a log file (on the terminal only with
--verbose), a line per finished stage with its counts, and one-line errors without a traceback."""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from rich.console import Console
from rich.markup import escape
from rich.status import Status

from lakehouse.layout import log_dir
from orchestration.progress import StageEvent, listening

LOG_FORMAT = "%(asctime)s.%(msecs)03d | %(levelname)-7s | %(name)s - %(message)s"  # as Prefect's


def new_log_file(command: str) -> Path:
    """A fresh log file for one command (`<lake>/ops/logs/<UTC time>-<command>.log`)."""
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
    return log_dir() / f"{stamp}-{command}.log"


def send_logs_to(log_file: Path, verbose: bool) -> None:
    """Route every log record (Prefect's flow and task logs, dbt's, the libraries' warnings) to `log_file`,
    and to stderr too when `verbose`. Call before Prefect is imported: Prefect then leaves the root logger
    to these handlers instead of adding its console handler (Prefect still sends flow logs to its API)."""
    log_file.parent.mkdir(parents=True, exist_ok=True)
    formatter = logging.Formatter(LOG_FORMAT, datefmt="%H:%M:%S")
    handlers: list[logging.Handler] = [logging.FileHandler(log_file, encoding="utf-8")]
    if verbose:
        handlers.append(logging.StreamHandler(sys.stderr))
    root = logging.getLogger()
    for handler in handlers:
        handler.setFormatter(formatter)
        root.addHandler(handler)
    root.setLevel(logging.INFO if verbose else logging.WARNING)
    logging.getLogger("prefect").setLevel(logging.INFO)
    logging.getLogger("httpx").setLevel(logging.WARNING)  # a line per Prefect API call, even with --verbose
    logging.captureWarnings(True)  # e.g. deprecation warnings: to the log, not the terminal


def stage_line(event: StageEvent) -> str:
    """`✓ ingest      5 tables  12,345 rows      3.1 s` (rich markup; the detail escaped)."""
    mark = "[green]✓[/]" if event.ok else "[red]✗[/]"
    detail = escape(event.detail) if event.ok else "[red]failed[/]"
    return f"{mark} {event.label:<11} {detail:<48} {event.seconds or 0:7.1f} s"


@contextmanager
def stage_progress(console: Console, lines: bool, prefix: str = "") -> Iterator[Status]:
    """Show the running stage in a transient status line; with `lines`, print a line per finished stage."""
    with console.status(f"{prefix}starting…") as status:

        def show(event: StageEvent) -> None:
            if not event.finished:
                status.update(f"{prefix}{event.run_date} · {event.label}…")
            elif lines:
                console.print(stage_line(event), highlight=False)

        with listening(show):
            yield status
