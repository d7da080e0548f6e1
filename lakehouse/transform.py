"""Run the dbt project (dbt_project/) for a logical date and summarise what it built and tested.

prefect-dbt's runner executes dbt in-process: inside a Prefect flow each dbt node becomes its own task run;
outside a flow it runs plain dbt, so the same function serves the CLI, the flows and the tests.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from lakehouse.settings import DBT_PROJECT_DIR, apply_runtime_defaults, get_settings


class DbtBuildFailed(RuntimeError):
    """dbt reported a failed model or blocking test; the message names each node."""

    def __init__(self, message: str, summary: DbtSummary | None = None) -> None:
        super().__init__(message)
        self.summary = summary


@dataclass
class DbtSummary:
    models_built: int = 0
    tests_passed: int = 0
    tests_warned: int = 0
    tests_failed: int = 0
    unit_tests: int = 0
    failures: list[str] = field(default_factory=list)
    statuses: dict[str, int] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.failures


def dbt_build_args(run_date: date, full_refresh: bool = False, select: str | None = None) -> list[str]:
    args = ["build", "--vars", json.dumps({"run_date": run_date.isoformat()})]
    if full_refresh:
        args.append("--full-refresh")
    if select:
        args += ["--select", select]
    return args


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
    summary.statuses = dict(statuses)
    return summary


def run_dbt_build(run_date: date, full_refresh: bool = False, select: str | None = None) -> DbtSummary:
    """`dbt build` for `run_date` on the lake in the settings; raises DbtBuildFailed naming failed nodes."""
    from prefect_dbt import PrefectDbtRunner, PrefectDbtSettings

    from lakehouse.dbt_delta import close_dbt_duckdb

    apply_runtime_defaults()
    get_settings()  # validate the configuration before dbt starts
    runner = PrefectDbtRunner(
        settings=PrefectDbtSettings(project_dir=DBT_PROJECT_DIR, profiles_dir=DBT_PROJECT_DIR),
        raise_on_failure=False,
    )
    try:
        result = runner.invoke(dbt_build_args(run_date, full_refresh, select))
    finally:
        close_dbt_duckdb()  # dbt-duckdb keeps the catalog open in-process; Soda and analysts open it next
    if result.exception is not None and result.result is None:
        raise DbtBuildFailed(f"dbt could not run: {result.exception}")
    summary = summarise_results(list(getattr(result.result, "results", []) or []))
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
