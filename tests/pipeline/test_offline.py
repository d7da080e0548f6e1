"""After the first install nothing needs the network: the nightly run passes in a network namespace that has
only a loopback interface, and prints no telemetry noise."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from lakehouse.settings import TELEMETRY_OFF

pytestmark = pytest.mark.integration


def test_nightly_run_succeeds_without_network(tmp_path):
    unshare = shutil.which("unshare")
    assert unshare, "util-linux's unshare is needed to cut the network for this test"
    dropped = ("LAKEHOUSE_", "DBT_", "PREFECT_", "AWS_")
    env = {k: v for k, v in os.environ.items() if not k.startswith(dropped)}
    env.update(
        LAKEHOUSE_ROOT=str(tmp_path / "lake"),
        PREFECT_HOME=str(tmp_path / "prefect"),
        COLUMNS="200",
    )
    for key in TELEMETRY_OFF:  # the project's own defaults must do this, not the test
        env.pop(key, None)
    lakehouse = Path(sys.executable).with_name("lakehouse")
    script = f"ip link set lo up && exec {lakehouse} run --date 2026-11-20 --scale 0.05"
    proc = subprocess.run(
        [unshare, "--net", "sh", "-c", script], env=env, capture_output=True, text=True, timeout=600
    )
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, output[-5000:]
    assert "Run succeeded." in output
    noises = ("Traceback", "telemetry", "posthog", "segment.io", "Failed to send", "service not known")
    for noise in noises:
        assert noise.lower() not in output.lower(), f"{noise!r} in the offline run's output"
