"""The nightly flow end to end on a local lake, under a real Prefect server: idempotency, incremental merge,
features per date, dbt nodes as task runs, and the analyst's and quality owner's commands on the result."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb
import pytest
from deltalake import DeltaTable
from lake_snapshot import snapshot

from lakehouse.settings import DBT_PROJECT_DIR, PROJECT_DIR, TELEMETRY_OFF, Settings

pytestmark = pytest.mark.integration

# Tonight's run and the night before: the README's soda one-liner judges freshness against the wall clock.
D2 = datetime.now(UTC).date()
D1 = D2 - timedelta(days=1)
SCALE = 0.2
BIN = Path(sys.executable).parent


@pytest.fixture(scope="module")
def runs(prefect_api, tmp_path_factory):
    """Run D1, D1 again, then D2 into one lake; keep a snapshot of every table after each run."""
    from orchestration.flows.nightly import lakehouse_nightly

    work = tmp_path_factory.mktemp("nightly")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("LAKEHOUSE_ROOT", str(work / "lake"))
        mp.delenv("LAKEHOUSE_CATALOG", raising=False)
        settings = Settings()
        states, snaps = [], []
        for day in (D1, D1, D2):
            state = lakehouse_nightly(run_date=day, scale=SCALE, return_state=True)
            states.append(state)
            snaps.append(snapshot(settings) if state.is_completed() else None)
        yield {"work": work, "settings": settings, "states": states, "snaps": snaps}


def test_each_run_completes(runs):
    for state in runs["states"]:
        assert state.is_completed(), state.message
    summary = runs["states"][0].result()
    assert summary.ok and summary.dbt.models_built >= 10 and summary.feature_rows > 0
    assert {t.entity for t in summary.landed} == {
        "customers",
        "products",
        "orders",
        "order_items",
        "payments",
    }
    assert all(t.rows_landed > 0 for t in summary.landed)
    rerun = runs["states"][1].result()
    assert all(t.already_loaded and t.rows_landed == 0 for t in rerun.landed)


def test_rerunning_a_date_leaves_every_table_identical(runs):
    first, second, _ = runs["snaps"]
    assert first.keys() == second.keys()
    for path in first:
        assert first[path].num_rows > 0, path
        assert first[path].equals(second[path]), f"{path} changed when the same date was run again"


def test_the_ledger_holds_every_source_and_each_run_writes_its_report(runs):
    settings = runs["settings"]
    ledger = DeltaTable(settings.uri("quality", "ledger")).to_pyarrow_table().to_pylist()
    d2 = [r for r in ledger if r["run_date"] == D2]
    assert {r["source"] for r in d2} >= {"soda", "dbt", "lake"}
    summary = runs["states"][2].result()
    dbt = [r for r in d2 if r["source"] == "dbt"]
    tests = summary.dbt.tests_passed + summary.dbt.tests_warned + summary.dbt.tests_failed
    assert sum(1 for r in dbt if r["check_type"] not in ("unit_test", "model")) == tests
    volumes = {r["dataset"]: r["value"] for r in d2 if r["layer"] == "volume"}
    fct_orders = DeltaTable(settings.uri("analytics", "fct_orders")).to_pyarrow_table().num_rows
    assert volumes["fct_orders"] == fct_orders and volumes["raw_shop.orders"] > 0
    assert summary.quality_report == settings.uri("quality", "reports", f"{D2.isoformat()}.html")
    assert Path(summary.quality_report).stat().st_size > 1_000_000
    assert f"Quality report: `{summary.quality_report}`" in summary.to_markdown()


def test_no_duplicate_keys_in_marts(runs):
    settings = runs["settings"]
    con = duckdb.connect()
    try:
        for mart, key in [
            ("fct_orders", "order_id"),
            ("dim_customers", "customer_id"),
            ("fct_daily_revenue", "order_date"),
        ]:
            rows, keys = con.sql(
                f"select count(*), count(distinct {key}) from delta_scan('{settings.uri('analytics', mart)}')"
            ).fetchone()
            assert rows == keys > 0, mart
    finally:
        con.close()


def test_next_date_merges_into_fct_orders(runs):
    settings = runs["settings"]
    table = DeltaTable(settings.uri("analytics", "fct_orders"))
    modes = [h["dbt_mode"] for h in table.history() if "dbt_mode" in h]  # newest first
    assert modes[0] == "merge", modes
    after_d1, after_d2 = runs["snaps"][1]["analytics/fct_orders"], runs["snaps"][2]["analytics/fct_orders"]
    assert after_d2.num_rows > after_d1.num_rows
    d1_orders = set(after_d1.column("order_id").to_pylist())
    changed = (
        after_d2.filter([oid in d1_orders for oid in after_d2.column("order_id").to_pylist()])
        .column("status")
        .to_pylist()
    )
    assert set(changed) - {"placed"}, "D2's status changes of D1 orders did not reach fct_orders"


def test_features_appended_per_date(runs):
    features = runs["snaps"][2]["features/customer_features"]
    dates = set(features.column("as_of_date").to_pylist())
    assert dates == {D1, D2}
    per_date = {
        d: features.filter([x == d for x in features.column("as_of_date").to_pylist()]).num_rows
        for d in dates
    }
    assert per_date[D1] > 0 and per_date[D2] >= per_date[D1]


def test_dbt_nodes_are_separate_task_runs(runs):
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowFilter, FlowRunFilter, FlowRunFilterId

    with get_client(sync_client=True) as client:
        dbt_runs = client.read_flow_runs(flow_filter=FlowFilter(name={"any_": ["dbt-transform"]}))
        assert dbt_runs, "no dbt-transform flow run recorded"
        tasks = client.read_task_runs(
            flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[dbt_runs[0].id]))
        )
    names = {t.name for t in tasks}
    for node in (
        "model fct_orders",
        "model dim_customers",
        "model fct_daily_revenue",
        "model stg_shop__orders",
    ):
        assert any(n.startswith(node) for n in names), f"{node} has no task run: {sorted(names)[:20]}"
    assert sum(n.startswith("test ") for n in names) >= 10


def _env(runs) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LAKEHOUSE_", "DBT_", "PREFECT_API"))}
    env.update(TELEMETRY_OFF, LAKEHOUSE_ROOT=runs["settings"].root)
    env["PATH"] = f"{BIN}{os.pathsep}{env['PATH']}"
    return env


def test_analyst_dbt_build_reads_the_delta_tables(runs, tmp_path):
    """`cd dbt_project && dbt build` with the environment active, on the lake the pipeline produced."""
    env = _env(runs) | {"DBT_TARGET_PATH": str(tmp_path / "target"), "DBT_LOG_PATH": str(tmp_path / "logs")}
    proc = subprocess.run(
        ["dbt", "build", "--vars", f'{{"run_date": "{D2}"}}'],
        cwd=DBT_PROJECT_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stdout[-4000:]
    assert "ERROR=0" in proc.stdout
    con = duckdb.connect(str(runs["settings"].catalog_path), read_only=True)
    try:
        views = dict(
            con.sql(
                "select view_name, sql from duckdb_views() where not internal and schema_name = 'main'"
            ).fetchall()
        )
    finally:
        con.close()
    for mart in ("fct_orders", "dim_customers", "fct_daily_revenue"):
        assert "delta_scan" in views[mart], f"{mart} is not a view over the Delta table: {views[mart]}"
        assert runs["settings"].uri("analytics", mart) in views[mart]


@pytest.mark.parametrize("contract", ["marts/fct_orders.yml", "raw/shop/products.yml"])
def test_soda_cli_one_liner_passes_on_the_pipeline_lake(runs, contract):
    """The README's command, with the committed data source file, run where the lake is `./lake`: marts
    and raw tables (raw_shop.products, the view dbt's register_delta_sources keeps) by their one name."""
    proc = subprocess.run(
        [
            "soda",
            "contract",
            "verify",
            "-ds",
            str(PROJECT_DIR / "quality" / "datasource.yml"),
            "-c",
            str(PROJECT_DIR / "quality" / "contracts" / contract),
        ],
        cwd=runs["work"],
        env=_env(runs),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]


def test_each_run_writes_its_summary_with_stage_seconds_into_the_lake(runs):
    """ops/runs/<date>/<run id>.json: the bench and `lakehouse status` read the run's stage times there."""
    import json

    from lakehouse.layout import run_summary_file

    for state in runs["states"]:
        summary = state.result()
        path = Path(run_summary_file(summary.run_date, summary.run_id, runs["settings"]))
        data = json.loads(path.read_text())
        assert data["ok"] is True and data["run_id"] == summary.run_id
        stages = ["ingest", "raw_gate", "dbt", "marts_gate", "publish", "features", "scoring", "report"]
        assert list(data["stage_seconds"]) == stages
        assert all(seconds >= 0 for seconds in data["stage_seconds"].values())
        assert data["seconds"] >= sum(data["stage_seconds"].values()) - 0.01
