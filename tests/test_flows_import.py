"""Flow-integrity smoke test: every flow module imports and exposes a Prefect flow (no logic runs)."""

import importlib
import runpy
from pathlib import Path

import pytest
from prefect import Flow

FLOW_FILES = sorted(
    p
    for p in (Path(__file__).parent.parent / "orchestration" / "flows").rglob("*.py")
    if p.name not in {"__init__.py", "common.py"}
)


def test_seed_flow_files_exist():
    names = {p.relative_to(p.parents[1]).as_posix() for p in FLOW_FILES}
    assert {
        "etl/s3_data_pipeline.py",
        "ml/feature_engineering_pipeline.py",
        "monitoring/data_quality_monitor.py",
    } <= names


@pytest.mark.parametrize("path", FLOW_FILES, ids=lambda p: p.stem)
def test_flow_module_exposes_a_flow(path):
    module = importlib.import_module(
        ".".join(path.with_suffix("").relative_to(Path(__file__).parent.parent).parts)
    )
    flows = [v for v in vars(module).values() if isinstance(v, Flow) and v.__module__ == module.__name__]
    assert flows, f"{path} defines no flow"
    source = path.read_text()
    assert 'if __name__ == "__main__":' in source, f"{path} cannot be run with `python {path.name}`"
    # importing as a script must not run anything either: runpy with a non-main name executes only definitions
    runpy.run_path(str(path), run_name="not_main")


def test_the_seed_examples_exist():
    names = {p.name for p in FLOW_FILES}
    assert {"basic_etl_pipeline.py", "example_data_pipeline.py", "aws_integration_example.py"} <= names


@pytest.mark.parametrize("path", FLOW_FILES, ids=lambda p: p.stem)
def test_flow_file_takes_its_options_on_the_command_line(path):
    """`python <flow file> --help` lists --date (when the flow has a run date) and exits 0 without running."""
    import subprocess
    import sys

    command = [sys.executable, str(path), "--help"]
    result = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "usage:" in result.stdout
    if "run_date" in path.read_text():
        assert "--date" in result.stdout
