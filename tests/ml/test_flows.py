"""The training and scoring flows as a user runs them: `python orchestration/flows/ml/<flow>.py` on the
embedded default (a local lake, Prefect's temporary server)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from lakehouse.settings import PROJECT_DIR, TELEMETRY_OFF, Settings
from ml.ledger import read_ledger
from ml.registry import aliased_version
from ml.scoring import read_scores
from tests.ml.test_end_to_end import SCORED

FLOWS = PROJECT_DIR / "orchestration" / "flows" / "ml"


def _run(flow: str, date: str, settings: Settings, prefect_home: Path) -> str:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_API", "MLFLOW_"))}
    env |= TELEMETRY_OFF | {
        "LAKEHOUSE_ROOT": settings.root,
        "LAKEHOUSE_CATALOG": str(settings.catalog_path),
        "PREFECT_HOME": str(prefect_home),
    }
    cmd = [sys.executable, str(FLOWS / flow), "--date", date]
    proc = subprocess.run(cmd, cwd=PROJECT_DIR, env=env, capture_output=True, text=True, timeout=1800)
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, output[-6000:]
    return output


@pytest.mark.integration
def test_training_then_scoring_flows_on_the_embedded_default(ml_lake: Settings, tmp_path: Path):
    skipped = _run("batch_scoring_pipeline.py", SCORED.isoformat(), ml_lake, tmp_path / "prefect")
    assert "no champion model in the registry: scoring skipped" in skipped

    trained = _run("model_training_pipeline.py", "2026-11-30", ml_lake, tmp_path / "prefect")
    assert "registered customer-repurchase version 1" in trained
    assert "promotion: promoted: no champion yet" in trained
    champion = aliased_version("champion", ml_lake)
    assert champion is not None and str(champion.version) == "1"

    scored = _run("batch_scoring_pipeline.py", SCORED.isoformat(), ml_lake, tmp_path / "prefect")
    assert f"1000 scores as of {SCORED} by customer-repurchase v1" in scored
    assert set(read_scores(SCORED, ml_lake)["model_version"].to_pylist()) == {"1"}
    assert read_ledger(ml_lake, kind="drift").num_rows > 0
