"""dbt's own results into the quality ledger: a real in-process `dbt build` on a tiny lake whose day-1 batch
has a customer without email and a negative quantity (warn-level tests) and an order with an unknown status
(a failing accepted_values test, so the models after it are skipped)."""

from __future__ import annotations

from datetime import date

import pytest
from shop_batches import DAY1, entity_table, load_batch, ts

from lakehouse.dbt_delta import close_dbt_duckdb
from lakehouse.lake import append_batch, read_table
from lakehouse.settings import DBT_PROJECT_DIR, Settings
from lakehouse.transform import DbtSummary, dbt_build_args, summarise_results
from quality.ledger import ledger_uri, write_dbt_results


@pytest.fixture(scope="module")
def failed_build(tmp_path_factory: pytest.TempPathFactory) -> tuple[DbtSummary, Settings]:
    from dbt.cli.main import dbtRunner

    work = tmp_path_factory.mktemp("dbt-ledger")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("LAKEHOUSE_ROOT", str(work / "lake"))
        mp.setenv("LAKEHOUSE_CATALOG", str(work / "catalog" / "lakehouse.duckdb"))
        mp.setenv("DBT_TARGET_PATH", str(work / "target"))
        mp.setenv("DBT_LOG_PATH", str(work / "logs"))
        settings = Settings()
        load_batch(DAY1, settings)
        lost = [(900, 1, DAY1, ts("2024-03-01T08:00"), "lost", ts("2024-03-01T08:00"))]
        append_batch(
            settings.uri("raw", "shop", "orders"), entity_table("orders", lost, DAY1), "lost", settings
        )
        args = [
            *dbt_build_args(DAY1),
            "--project-dir",
            str(DBT_PROJECT_DIR),
            "--profiles-dir",
            str(DBT_PROJECT_DIR),
        ]
        try:
            result = dbtRunner().invoke(args)
        finally:
            close_dbt_duckdb()
        assert result.result is not None, result.exception
        return summarise_results(list(result.result.results)), settings


def test_the_summary_carries_one_result_per_test_and_per_node_that_did_not_build(failed_build) -> None:
    summary, _ = failed_build
    tests = [n for n in summary.nodes if n.kind == "test"]
    assert len(tests) == summary.tests_passed + summary.tests_warned + summary.tests_failed + sum(
        1 for n in tests if n.status == "skipped"
    )
    by_name = {n.name: n for n in summary.nodes}
    status = next(n for n in tests if n.test_type == "accepted_values" and n.column == "status")
    assert (status.status, status.failures, status.severity) == ("fail", 1, "error")
    assert status.tested_node == "model.lakehouse.stg_shop__orders"
    assert status.file == "models/staging/shop/_shop__models.yml"
    email = next(
        n for n in tests if n.column == "email" and n.tested_node == "model.lakehouse.stg_shop__customers"
    )
    assert (email.status, email.failures, email.severity) == ("warn", 1, "warn")
    assert any(n.kind == "unit_test" for n in summary.nodes)
    skipped = [n for n in summary.nodes if n.kind == "model" and n.status == "skipped"]
    assert "fct_orders" in {n.name for n in skipped}  # downstream of the failed test: not built
    assert all(n.kind != "model" or n.status != "success" for n in by_name.values())
    assert summary.tests_failed >= 1 and summary.failures  # the counts the run summary prints still hold


def test_write_dbt_results_puts_every_node_into_the_ledger_idempotently(failed_build) -> None:
    summary, settings = failed_build
    day = date(2024, 3, 1)
    assert write_dbt_results(summary, day, settings, run_id="run-a") == len(summary.nodes)
    assert write_dbt_results(summary, day, settings, run_id="run-a") == len(summary.nodes)  # a rerun
    rows = read_table(ledger_uri(settings), settings).to_pylist()
    assert len(rows) == len(summary.nodes)
    assert {r["source"] for r in rows} == {"dbt"} and {r["layer"] for r in rows} == {"dbt"}
    failed = [r for r in rows if r["outcome"] == "failed"]
    assert [(r["dataset"], r["check_type"], r["column"], r["value"], r["level"]) for r in failed] == [
        ("stg_shop__orders", "accepted_values", "status", 1.0, "blocking")
    ]
    assert "Got 1 result" in failed[0]["detail"]
    warned = {(r["dataset"], r["column"]) for r in rows if r["outcome"] == "warned"}
    assert ("stg_shop__customers", "email") in warned
    assert {r["outcome"] for r in rows} >= {"passed", "warned", "failed", "skipped"}
    assert write_dbt_results(None, day, settings) == 0  # dbt did not run at all: nothing to record
