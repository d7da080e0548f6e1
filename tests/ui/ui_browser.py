"""Headless Chromium (Debian's `chromium`) for the UI tests: installed when missing, one fresh profile per
page, a screenshot and the rendered DOM of each page."""

from __future__ import annotations

import html
import os
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import pytest

FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
    # paint the final frame: without these a screenshot can catch the UI mid-fade (content dimmed)
    "--run-all-compositor-stages-before-draw",
    "--disable-threaded-animation",
    "--window-size=1440,900",
    "--virtual-time-budget=15000",
]


def ensure_chromium() -> str:
    """Path of `chromium`; installs Debian's package when missing and we may (root, apt-get, no stdin needed).
    Elsewhere the test is skipped locally and fails in CI, naming the fix."""
    found = shutil.which("chromium")
    if found:
        return found
    if shutil.which("apt-get") and os.geteuid() == 0:
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        for cmd in (["apt-get", "update"], ["apt-get", "install", "-y", "chromium"]):
            subprocess.run(
                cmd, check=True, stdin=subprocess.DEVNULL, env=env, capture_output=True, timeout=900
            )
        found = shutil.which("chromium")
        if found:
            return found
    message = "headless Chromium is missing: `make chromium` (Debian, as root) or install `chromium`"
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)


@dataclass
class Page:
    url: str
    screenshot: Path
    dom: str

    @property
    def text(self) -> str:
        """The page's visible text (tags stripped, whitespace collapsed)."""
        body = re.sub(r"<(script|style)\b.*?</\1>", " ", self.dom, flags=re.S)
        return re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", body))).strip()


def _chromium(binary: str, *args: str) -> subprocess.CompletedProcess[str]:
    with tempfile.TemporaryDirectory(prefix="chromium-") as profile:
        return subprocess.run(
            [binary, *FLAGS, f"--user-data-dir={profile}", *args],
            capture_output=True,
            text=True,
            stdin=subprocess.DEVNULL,
            timeout=120,
            check=False,
        )


def render(binary: str, url: str, screenshot: Path, ready: tuple[str, ...] = (), attempts: int = 3) -> Page:
    """Screenshot `url` to `screenshot` and dump its rendered DOM (kept next to it as .html). The UI loads its
    data asynchronously and a busy machine can leave a list still loading when the time budget ends, so the
    page is rendered again (up to `attempts` times) until every `ready` pattern is in its text."""
    for _ in range(attempts):
        proc = _chromium(binary, f"--screenshot={screenshot}", "--dump-dom", url)
        assert screenshot.is_file(), f"no screenshot of {url}: {proc.stderr[-2000:]}"
        assert proc.returncode == 0 and proc.stdout, f"no DOM of {url}: {proc.stderr[-2000:]}"
        screenshot.with_suffix(".html").write_text(proc.stdout)
        page = Page(url=url, screenshot=screenshot, dom=proc.stdout)
        if all(re.search(pattern, page.text) for pattern in ready):
            break
    return page
