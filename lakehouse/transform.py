"""Run the dbt project (dbt_project/) for a logical date and summarise what it built and tested.

dbt runs in-process (dbtRunner). Callers may pass dbt event callbacks: the transform flow passes
orchestration.dbt_task_runs.DbtNodeTaskRuns, which makes each dbt node a Prefect task run. Without callbacks
it is plain dbt, so the same function serves the CLI, the flows and the tests.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import date
from pathlib import Path
from typing import Any
from unittest import mock

import yaml

from lakehouse.settings import DBT_PROJECT_DIR, Settings, apply_runtime_defaults, get_settings


class DbtBuildFailed(RuntimeError):
    """dbt reported a failed model or blocking test; the message names each node."""

    def __init__(self, message: str, summary: DbtSummary | None = None) -> None:
        super().__init__(message)
        self.summary = summary


@dataclass(frozen=True)
class DbtNodeResult:
    """One dbt test or unit test, or a model/seed/snapshot that did not build, as dbt reported it."""

    unique_id: str  # test.lakehouse.unique_fct_orders_order_id.<hash>
    name: str
    kind: str  # test | unit_test | model | seed | snapshot
    status: str  # pass | warn | fail | error | skipped (tests); error | skipped (models)
    tested_node: str | None  # what it is about: model.lakehouse.fct_orders, source.lakehouse.shop.orders
    column: str | None = None
    test_type: str | None = None  # unique, not_null, relationships, … ; singular; unit_test; model
    severity: str | None = None  # error | warn: what a failing test means for the build
    failures: int | None = None  # failing rows of a test
    message: str = ""
    file: str | None = None  # where it is defined, relative to dbt_project/
    sample: str | None = None  # a few failing rows as JSON text, when a caller captured them


@dataclass
class DbtSummary:
    models_built: int = 0
    tests_passed: int = 0
    tests_warned: int = 0
    tests_failed: int = 0
    unit_tests: int = 0
    failures: list[str] = field(default_factory=list)
    statuses: dict[str, int] = field(default_factory=dict)
    skipped_sources: list[str] = field(default_factory=list)  # `<source>.<table>` with no Delta table yet
    run_id: str | None = None  # the write-audit-publish run whose candidates this build wrote
    samples: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # failed test -> failing rows
    nodes: list[DbtNodeResult] = field(default_factory=list)  # every test, and every node that did not build

    @property
    def ok(self) -> bool:
        return not self.failures


def dbt_run_vars(run_date: date, run_id: str | None = None) -> dict[str, Any]:
    """The values that change from run to run: the logical date and, with `run_id`, the write-audit-publish
    run whose candidates the build writes (it leaves publishing to the caller)."""
    variables: dict[str, Any] = {"run_date": run_date.isoformat()}
    if run_id:
        variables |= {"wap_run_id": run_id, "wap_publish": False}
    return variables


def dbt_run_env(variables: dict[str, Any]) -> dict[str, str]:
    """The run's values as the env vars macros/run_var.sql reads while executing (LAKEHOUSE_DBT_<NAME>).
    Passed this way, not as --vars, they leave dbt's partial parse (target/partial_parse.msgpack) valid:
    any change of --vars makes dbt parse the whole project again."""
    return {f"LAKEHOUSE_DBT_{name.upper()}": json.dumps(v) if isinstance(v, bool) else str(v)
            for name, v in variables.items()}  # fmt: skip


def dbt_build_args(
    run_date: date,
    full_refresh: bool = False,
    select: str | None = None,
    skip_sources: Iterable[str] = (),
    run_id: str | None = None,
    vars_in_env: bool = False,
) -> list[str]:
    """`dbt build` arguments; every `<source>.<table>` in `skip_sources` is excluded with its descendants.
    With `run_id`, the build writes that run's candidates and leaves publishing to the caller. With
    `vars_in_env` the run's values are left out: the caller sets dbt_run_env(...) instead."""
    args = ["build"]
    if not vars_in_env:
        args += ["--vars", json.dumps(dbt_run_vars(run_date, run_id))]
    if full_refresh:
        args.append("--full-refresh")
    if select:
        args += ["--select", select]
    excluded = [f"source:{name}+" for name in skip_sources]
    if excluded:
        args += ["--exclude", *excluded]
    return args


def delta_source_paths(project_dir: Path = DBT_PROJECT_DIR) -> dict[str, str]:
    """`<source>.<table>` -> its Delta path relative to the lake root, for every dbt source table with
    `meta.delta_path` (the sources macros/register_delta_sources.sql turns into catalog views)."""
    paths: dict[str, str] = {}
    for path in sorted((project_dir / "models").rglob("*.y*ml")):
        for source in (yaml.safe_load(path.read_text()) or {}).get("sources") or []:
            for table in source.get("tables") or []:
                delta_path = _meta(table).get("delta_path") or _meta(source).get("delta_path")
                if delta_path:
                    name = table["name"]
                    paths[f"{source['name']}.{name}"] = delta_path.replace("{name}", name).strip("/")
    return paths


def _meta(node: dict[str, Any]) -> dict[str, Any]:
    return {**(node.get("meta") or {}), **((node.get("config") or {}).get("meta") or {})}


def missing_delta_sources(
    settings: Settings | None = None, project_dir: Path = DBT_PROJECT_DIR
) -> dict[str, str]:
    """The dbt source tables whose Delta table is not in the lake (yet): `<source>.<table>` -> its URI."""
    from lakehouse.lake import open_table

    settings = settings or get_settings()
    uris = {name: settings.uri(path) for name, path in delta_source_paths(project_dir).items()}
    return {name: uri for name, uri in uris.items() if open_table(uri, settings) is None}


def summarise_results(results: list[Any]) -> DbtSummary:
    """Count models and tests by outcome from dbt's RunExecutionResult.results."""
    summary = DbtSummary()
    statuses: Counter[str] = Counter()
    for result in results:
        node = result.node
        status = str(result.status).lower().split(".")[-1]
        kind = str(node.resource_type).lower().split(".")[-1]
        statuses[f"{kind}:{status}"] += 1
        if kind == "model" and status == "success":
            summary.models_built += 1
        elif kind == "unit_test":
            summary.unit_tests += 1
        elif kind == "test":
            summary.tests_passed += status == "pass"
            summary.tests_warned += status == "warn"
            summary.tests_failed += status in ("fail", "error")
        if status in ("error", "fail", "runtime error"):
            summary.failures.append(f"{kind} {node.name}: {status} — {(result.message or '').strip()}")
        if kind in ("test", "unit_test") or status not in ("success", "pass"):
            summary.nodes.append(node_result(result, kind, status))
    summary.statuses = dict(statuses)
    return summary


def failing_rows(results: list[Any], settings: Settings, limit: int = 5) -> dict[str, list[dict[str, Any]]]:
    """A few rows each failed dbt test returns (its compiled SQL on the catalog, which still shows this
    build's candidates), for inspecting a withheld run."""
    failed = [
        r for r in results
        if str(r.status).lower().endswith("fail") and getattr(r.node, "compiled_code", None)
    ]  # fmt: skip
    if not failed:
        return {}
    from lakehouse.lake import duckdb_session

    samples: dict[str, list[dict[str, Any]]] = {}
    with duckdb_session(str(settings.catalog_path), settings=settings, read_only=True) as con:
        for result in failed:
            try:
                rows = con.sql(f"select * from ({result.node.compiled_code}) limit {int(limit)}")
                samples[result.node.name] = rows.to_arrow_table().to_pylist()
            except Exception as exc:  # a sample is a courtesy: never hide the failure itself
                samples[result.node.name] = [{"error": f"{type(exc).__name__}: {exc}"[:500]}]
    return samples


def node_result(result: Any, kind: str, status: str) -> DbtNodeResult:
    """A dbt RunResult as a DbtNodeResult: the node a generic test is attached to (a singular test's first
    dependency, a unit test's model), the column, the test's kind and severity, failures and message."""
    node = result.node
    metadata = getattr(node, "test_metadata", None)
    depends_on = list(getattr(getattr(node, "depends_on", None), "nodes", None) or [])
    tested = (
        getattr(node, "attached_node", None)
        or getattr(node, "tested_node_unique_id", None)
        or (node.unique_id if kind not in ("test", "unit_test") else None)
        or next(iter(depends_on), None)
    )
    test_type = metadata.name if metadata else {"test": "singular"}.get(kind, kind)
    failures = getattr(result, "failures", None)
    return DbtNodeResult(
        unique_id=node.unique_id,
        name=node.name,
        kind=kind,
        status="error" if status == "runtime error" else status,
        tested_node=tested,
        column=getattr(node, "column_name", None),
        test_type=test_type,
        severity=str(getattr(node.config, "severity", "") or "").lower() or None,
        failures=failures if isinstance(failures, int) else None,
        message=(result.message or "").strip(),
        file=getattr(node, "original_file_path", None),
    )


def run_dbt_build(
    run_date: date,
    full_refresh: bool = False,
    select: str | None = None,
    run_id: str | None = None,
    callbacks: Sequence[Callable[[Any], None]] = (),
) -> DbtSummary:
    """`dbt build` for `run_date` on the lake in the settings; raises DbtBuildFailed naming failed nodes.

    Models reading a source table that has no Delta table yet are excluded (`summary.skipped_sources`).
    With `run_id` the marts are written as that run's write-audit-publish candidates and not published
    (lakehouse.wap.publish_run does that); without it, dbt publishes them itself when every node passed.
    `callbacks` receive every dbt event (dbt's EventMsg); when given, they own dbt's console output (dbt
    prints nothing itself; its log file in dbt_project/logs/ stays complete)."""
    apply_runtime_defaults()
    settings = get_settings()
    missing = missing_delta_sources(settings)  # also validates the configuration before dbt starts
    for name, uri in missing.items():
        print(f"dbt: source {name} has no Delta table at {uri} yet — skipped with the models reading it")
    args = dbt_build_args(run_date, full_refresh, select, skip_sources=missing, vars_in_env=True)
    with mock.patch.dict(os.environ, dbt_run_env(dbt_run_vars(run_date, run_id))):  # restored after
        result = invoke_dbt(args, callbacks)
    if result.exception is not None and result.result is None:
        raise DbtBuildFailed(f"dbt could not run: {result.exception}")
    results = list(getattr(result.result, "results", []) or [])
    summary = summarise_results(results)
    summary.skipped_sources = list(missing)
    summary.run_id = run_id
    summary.samples = failing_rows(results, settings)
    summary.nodes = [
        replace(n, sample=json.dumps(summary.samples[n.name], default=str))
        if n.name in summary.samples
        else n
        for n in summary.nodes
    ]
    if not result.success and not summary.failures:
        summary.failures.append(f"dbt build failed: {result.exception or 'see the dbt log'}")
    if summary.failures:
        raise DbtBuildFailed(
            "dbt build failed for "
            + run_date.isoformat()
            + ":\n  "
            + "\n  ".join(summary.failures)
            + "\nFix the model or the data it reads, then rerun `lakehouse run --date "
            + run_date.isoformat()
            + "`.",
            summary,
        )
    return summary


def invoke_dbt(args: list[str], callbacks: Sequence[Callable[[Any], None]] = ()) -> Any:
    """dbt `args` in this process on dbt_project/ (dbtRunner's result), with the DuckDB catalog closed after:
    dbt-duckdb keeps it open in-process, and Soda and analysts open it next."""
    from dbt.cli.main import dbtRunner

    from lakehouse.dbt_delta import close_dbt_duckdb

    dirs = ["--project-dir", str(DBT_PROJECT_DIR), "--profiles-dir", str(DBT_PROJECT_DIR)]
    quiet = ["--log-level", "none", "--log-level-file", "info"] if callbacks else []
    try:
        return dbtRunner(callbacks=list(callbacks)).invoke([*args, *dirs, *quiet])
    finally:
        close_dbt_duckdb()
