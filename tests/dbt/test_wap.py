"""Write-audit-publish of the marts in a plain `dbt build` (an analyst's): a mart that fails a check is
never what readers see, the run's marts publish together or not at all, and kill -9 leaves readers on the
last good version."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pyarrow as pa
import pytest
from dbt_harness import DBT, DbtLake
from deltalake import DeltaTable, write_deltalake
from shop_batches import DAY1, DAY2, load_batch

from lakehouse.lake import duckdb_session
from lakehouse.settings import DBT_PROJECT_DIR, Settings
from lakehouse.wap import latest_withheld, pin_views, recover, run_candidates, run_ids

MARTS = {"fct_orders": "order_id", "dim_customers": "customer_id", "fct_daily_revenue": "order_date"}

# Model bugs, as edits of fct_orders.sql: (text in the model, replacement, the dbt test that must catch it)
BUGS = {
    "null keys": (
        "        orders.order_id,\n",
        "        case when orders.order_id % 2 = 0 then null else orders.order_id end as order_id,\n",
        "not_null_fct_orders_order_id",
    ),
    "duplicate keys": (
        "select * from final",
        "select * from final union all select * from final where order_id % 2 = 0",
        "unique_fct_orders_order_id",
    ),
    "broken reference": (
        "        orders.customer_id,\n",
        "        orders.customer_id + 1000000 as customer_id,\n",
        "relationships_fct_orders",
    ),
}


def settings_for(tmp_path: Path) -> Settings:
    return Settings(
        lakehouse_root=str(tmp_path / "lake"), lakehouse_catalog=str(tmp_path / "c" / "lakehouse.duckdb")
    )


def state(lake: DbtLake) -> dict[str, tuple[int, pa.Table, list[tuple]]]:
    """What readers see of every mart: Delta version + rows, and the rows of its catalog view."""
    seen = {}
    with duckdb_session(str(lake.settings.catalog_path), lake.settings, read_only=True) as con:
        for mart, key in MARTS.items():
            table = DeltaTable(lake.mart_uri(mart))
            view = con.sql(f"select * from main.{mart} order by {key}").fetchall()
            seen[mart] = (table.version(), table.to_pyarrow_table().sort_by(key), view)
    return seen


def project_with(tmp_path: Path, find: str, replace: str) -> Path:
    project = tmp_path / "project"
    shutil.copytree(DBT_PROJECT_DIR, project, ignore=shutil.ignore_patterns("target", "logs", "dbt_packages"))
    model = project / "models" / "marts" / "fct_orders.sql"
    text = model.read_text()
    assert find in text, f"the bug's anchor {find!r} is not in fct_orders.sql any more"
    model.write_text(text.replace(find, replace))
    return project


@pytest.fixture(scope="module")
def good_lake(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A lake whose marts were built and published once from DAY1 (copied per test)."""
    work = tmp_path_factory.mktemp("good")
    settings = settings_for(work)
    load_batch(DAY1, settings)
    DbtLake(settings, work).dbt("build", "--vars", json.dumps({"run_date": DAY1.isoformat()}))
    return work


def copy_lake(good: Path, tmp_path: Path) -> DbtLake:
    for part in ("lake", "c"):
        shutil.copytree(good / part, tmp_path / part)
    return DbtLake(settings_for(tmp_path), tmp_path)


@pytest.mark.integration
@pytest.mark.parametrize("bug", list(BUGS))
def test_a_mart_failing_its_tests_is_withheld(bug: str, good_lake: Path, tmp_path: Path) -> None:
    lake = copy_lake(good_lake, tmp_path)
    before = state(lake)
    load_batch(DAY2, lake.settings)
    find, replace, failing_test = BUGS[bug]
    lake.project_dir = project_with(tmp_path, find, replace)

    output = lake.dbt("build", "--vars", json.dumps({"run_date": DAY2.isoformat()}), ok=False)

    assert failing_test in output and "WITHHELD" in output
    assert state(lake) == before  # Delta tables and catalog views: the last good version, every mart
    withheld = latest_withheld(lake.settings)
    assert withheld is not None and any(failing_test in f for f in withheld.failures)
    candidate = {c.model: c for c in run_candidates(withheld.run_id, lake.settings)}["fct_orders"]
    assert DeltaTable(candidate.uri).count() > 0  # the failed candidate is kept for inspection

    lake.project_dir = DBT_PROJECT_DIR  # the bug fixed: the next build publishes and cleans up
    lake.dbt("build", "--vars", json.dumps({"run_date": DAY2.isoformat()}))
    after = state(lake)
    assert all(after[m][0] > before[m][0] for m in MARTS)
    assert not Path(candidate.uri).exists()
    assert latest_withheld(lake.settings) is None


KILL_AFTER_FIRST_COMMIT = textwrap.dedent(
    """
    import os, signal, sys
    import lakehouse.wap as wap
    original = wap.publish_candidate
    def publish_then_die(candidate, settings=None):
        version = original(candidate, settings)
        os.kill(os.getpid(), signal.SIGKILL)  # kill -9 between the marts' commits
        return version
    wap.publish_candidate = publish_then_die
    wap.publish_run(sys.argv[1], None)
    """
)


@pytest.mark.integration
def test_kill_during_publish_is_completed_exactly_once(good_lake: Path, tmp_path: Path) -> None:
    lake = copy_lake(good_lake, tmp_path)
    before = state(lake)
    load_batch(DAY2, lake.settings)
    variables = {"run_date": DAY2.isoformat(), "wap_run_id": "20990101T000000-kill", "wap_publish": False}
    lake.dbt("build", "--vars", json.dumps(variables))  # candidates written and tested, not published
    assert state(lake) == before

    proc = subprocess.run(
        [sys.executable, "-c", KILL_AFTER_FIRST_COMMIT, "20990101T000000-kill"],
        env=lake.env(), capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert proc.returncode == -signal.SIGKILL, proc.stderr[-3000:]
    halfway = state(lake)
    committed = [m for m in MARTS if halfway[m][0] != before[m][0]]
    assert len(committed) <= 1  # killed after its first commit
    with duckdb_session(str(lake.settings.catalog_path), lake.settings, read_only=True) as con:
        for mart in MARTS:  # catalog readers still see every mart's last good version
            view = con.sql(f"select * from main.{mart} order by {MARTS[mart]}").fetchall()
            assert view == before[mart][2], mart

    recovered = recover(lake.settings)  # what the next `lakehouse run` does first, holding the lease
    assert {p.model for p in recovered} >= set(MARTS)
    after = state(lake)
    for mart in MARTS:
        runs = [h.get("lakehouse_wap_run") for h in DeltaTable(lake.mart_uri(mart)).history()]
        assert runs.count("20990101T000000-kill") == 1, mart  # exactly one commit of the run per mart
        assert len(after[mart][2]) == after[mart][1].num_rows, mart  # the view is re-pinned to it
    assert recover(lake.settings) == []  # nothing left to complete


@pytest.mark.integration
def test_kill_during_candidate_write_leaves_the_last_good_version(good_lake: Path, tmp_path: Path) -> None:
    lake = copy_lake(good_lake, tmp_path)
    before = state(lake)
    load_batch(DAY2, lake.settings)
    project = str(DBT_PROJECT_DIR)
    proc = subprocess.Popen(
        [str(DBT), "build", "--vars", json.dumps({"run_date": DAY2.isoformat()}),
         "--project-dir", project, "--profiles-dir", project],
        env=lake.env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    )  # fmt: skip
    candidates = Path(lake.mart_uri("fct_orders"), "candidates")
    deadline = time.monotonic() + 600
    while not any(candidates.glob("*/_delta_log/*.json")) and proc.poll() is None:
        assert time.monotonic() < deadline, "dbt never wrote a candidate"
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)  # kill -9 while the build writes its candidates
    proc.wait()
    assert state(lake) == before

    lake.dbt("build", "--vars", json.dumps({"run_date": DAY2.isoformat()}))  # the rerun
    after = state(lake)
    for mart in MARTS:
        assert after[mart][0] > before[mart][0], mart
    assert len(run_ids(lake.settings)) == 1  # the killed build's candidates were discarded


@pytest.mark.integration
def test_mart_tests_judge_the_rows_the_build_wrote(good_lake: Path, tmp_path: Path) -> None:
    """An incremental build's mart tests read the merge's new and changed rows (`<model>__written`); the
    published rest passed them when it was published. A plain `dbt test` judges the whole table."""
    lake = copy_lake(good_lake, tmp_path)
    uri = lake.mart_uri("fct_orders")
    old = DeltaTable(uri).to_pyarrow_table().sort_by("order_id").slice(0, 1)  # not touched by DAY2
    write_deltalake(uri, old, mode="append")  # an old duplicate, as if published by hand outside dbt
    version = DeltaTable(uri).version()
    with duckdb_session(str(lake.settings.catalog_path), lake.settings) as con:
        pin_views(con, [("main", "fct_orders", uri, version)])
    load_batch(DAY2, lake.settings)

    lake.dbt("build", "--vars", json.dumps({"run_date": DAY2.isoformat()}))  # the written rows are unique

    views = lake.catalog_views()
    assert "main_candidate.fct_orders__written" in views  # re-pointed at the published view after publish
    merge = lake.history("fct_orders")[-1]
    assert (merge["operation"], merge["merge_source_rows"]) == ("MERGE", "3")
    output = lake.dbt("test", "--select", "fct_orders", ok=False)  # no build: the whole published table
    assert "FAIL 1 unique_fct_orders_order_id" in output
