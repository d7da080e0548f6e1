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
def test_every_flow_takes_its_parameters_as_options(path):
    """`python <flow file> --date D --<param> …`: every flow parameter is an option (run_date is --date)."""
    from orchestration.flows.common import flow_arguments

    module = importlib.import_module(
        ".".join(path.with_suffix("").relative_to(Path(__file__).parent.parent).parts)
    )
    (flow,) = [v for v in vars(module).values() if isinstance(v, Flow) and v.__module__ == module.__name__]
    defaults = flow_arguments(flow, [])
    assert set(defaults) == set(flow.parameters.properties)
    if "run_date" in defaults:
        assert flow_arguments(flow, ["--date", "2026-11-20"])["run_date"].isoformat() == "2026-11-20"


@pytest.mark.parametrize("name", ["nightly.py", "basic_etl_pipeline.py"])
def test_flow_files_answer_help_without_running(name):
    import subprocess
    import sys

    (path,) = [p for p in FLOW_FILES if p.name == name]
    result = subprocess.run(
        [sys.executable, str(path), "--help"], capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert "usage:" in result.stdout and "--date" in result.stdout


TOOLS = {"dbt", "prefect_dbt", "soda_core", "sklearn"}  # seconds of imports each: only where they are used


def _modules_after(code: str) -> set[str]:
    """The top-level packages a fresh interpreter has imported after running `code`."""
    import subprocess
    import sys

    script = f"import sys\n{code}\nprint('MODULES', *sorted({{m.split('.')[0] for m in sys.modules}}))"
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    (line,) = [line for line in result.stdout.splitlines() if line.startswith("MODULES ")]
    return set(line.split()[1:])


@pytest.mark.parametrize("argv", [["--help"], ["run", "--date", "2026-13-01"], ["run", "--help"]])
def test_the_cli_answers_help_and_usage_errors_without_importing_the_tools(argv):
    code = f"sys.argv = ['lakehouse', *{argv!r}]\nfrom orchestration.cli import main\ntry:\n    main()\n"
    code += "except SystemExit:\n    pass"
    assert not _modules_after(code) & (TOOLS | {"prefect", "plotly"})


def test_the_nightly_flow_imports_dbt_and_soda_only_when_it_runs_them():
    assert not _modules_after("import orchestration.flows.nightly") & TOOLS


def _deployments() -> list[dict]:
    import yaml

    return yaml.safe_load((Path(__file__).parent.parent / "prefect.yaml").read_text())["deployments"]


@pytest.mark.parametrize("deployment", _deployments(), ids=lambda d: d["name"])
def test_every_deployment_names_a_flow_and_its_parameters(deployment):
    """prefect.yaml's deployments: the entrypoint is a flow, every parameter given is one of the flow's."""
    module_name, attribute = deployment["entrypoint"].split(":")
    flow = getattr(importlib.import_module(module_name), attribute)
    assert isinstance(flow, Flow), deployment["entrypoint"]
    assert set(deployment.get("parameters") or {}) <= set(flow.parameters.properties), deployment["name"]
    assert deployment["work_pool"]["name"] in {"lakehouse-local", "lakehouse-aws"}


def test_the_backfill_deployment_takes_a_date_range_on_both_pools():
    backfills = {d["name"]: d for d in _deployments() if d["entrypoint"].endswith(":lakehouse_backfill")}
    assert set(backfills) == {"backfill-local", "backfill-aws"}
    for deployment in backfills.values():
        assert {"from_date", "to_date"} <= set(deployment["parameters"])
        assert "schedules" not in deployment  # on demand only
