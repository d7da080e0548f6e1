"""lakehouse.dbt_delta.writer + lakehouse.wap without dbt: candidates of overwrite, append and merge, which
readers of the table do not see until they are published."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest
from deltalake import DeltaTable

from lakehouse.dbt_delta.writer import write_model_candidate
from lakehouse.lake import duckdb_session
from lakehouse.settings import Settings
from lakehouse.wap import (
    Candidate,
    audited_state_sql,
    publish_candidate,
    publish_run,
    read_decision,
    run_candidates,
)


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(lakehouse_root=str(tmp_path / "lake"))


@pytest.fixture
def con(settings: Settings) -> Iterator[duckdb.DuckDBPyConnection]:
    with duckdb_session(settings=settings) as session:
        yield session


def write(con, settings, sql: str, mode: str, run_id: str, unique_key=()) -> Candidate:
    candidate = Candidate(
        model="t", schema="main", location=settings.uri("analytics", "t"), run_id=run_id,
        mode="overwrite", base_version=None,
    )  # fmt: skip
    return write_model_candidate(con, sql, candidate, mode, unique_key=unique_key, settings=settings)


def rows(uri: str) -> list[dict]:
    return DeltaTable(uri).to_pyarrow_table().sort_by("id").to_pylist()


def test_a_candidate_is_invisible_until_published(con, settings) -> None:
    first = write(con, settings, "select 1 as id, 'a' as v", "overwrite", "r1")
    publish_candidate(first, settings)
    candidate = write(con, settings, "select 3 as id, 'c' as v, true as extra", "overwrite", "r2")
    assert candidate.rows == 1 and candidate.base_version == DeltaTable(first.location).version()
    assert rows(first.location) == [{"id": 1, "v": "a"}]  # readers still see the published version
    publish_candidate(candidate, settings)
    assert rows(first.location) == [{"id": 3, "v": "c", "extra": True}]  # contents and schema replaced


def test_publish_is_exactly_once_per_run(con, settings) -> None:
    candidate = write(con, settings, "select 1 as id", "append", "r1")
    version = publish_candidate(candidate, settings)
    append = write(con, settings, "select 2 as id", "append", "r2")
    assert append.mode == "append"
    assert publish_candidate(append, settings) == version + 1
    assert publish_candidate(append, settings) == version + 1  # a repeated publish commits nothing
    assert rows(candidate.location) == [{"id": 1}, {"id": 2}]


def test_merge_updates_matches_and_inserts_the_rest(con, settings) -> None:
    publish_candidate(write(con, settings, "select * from (values (1, 'a'), (2, 'b')) t(id, v)", "merge",
                            "r1", ["id"]), settings)  # fmt: skip
    sql = "select * from (values (2, 'B', 1.5), (3, 'c', 2.5)) t(id, v, w)"
    merged = write(con, settings, sql, "merge", "r2", ["id"])
    # the candidate holds the changed rows only; audits read the state readers will see once it is published
    assert (merged.mode, merged.rows, merged.unique_key) == ("merge", 2, ("id",))
    assert merged.commit_metadata["merge_updated_rows"] == "1"
    assert sorted(con.sql(audited_state_sql(merged)).fetchall()) == [
        (1, "a", None),
        (2, "B", 1.5),
        (3, "c", 2.5),
    ]
    assert rows(merged.location) == [{"id": 1, "v": "a"}, {"id": 2, "v": "b"}]  # not published yet
    version = publish_candidate(merged, settings)
    assert publish_candidate(merged, settings) == version  # exactly once: a repeated publish commits nothing
    assert rows(merged.location) == [
        {"id": 1, "v": "a", "w": None},
        {"id": 2, "v": "B", "w": 1.5},
        {"id": 3, "v": "c", "w": 2.5},
    ]
    last = DeltaTable(merged.location).history(1)[0]
    assert last["operation"] == "MERGE" and last["lakehouse_wap_run"] == "r2"


def test_a_merge_rewrites_only_the_files_holding_its_keys(con, settings) -> None:
    location = settings.uri("analytics", "t")
    for part in range(4):  # four files of 1000 keys each
        sql = f"select range as id, 'x' as v from range({part * 1000}, {(part + 1) * 1000})"
        write(con, settings, sql, "append" if part else "overwrite", f"r{part}")
        publish_run(f"r{part}", None, settings=settings)
    changed = write(con, settings, "select 2500 as id, 'changed' as v", "merge", "r9", ["id"])
    publish_run("r9", None, settings=settings)
    metrics = DeltaTable(location).history(1)[0]["operationMetrics"]
    assert (metrics["num_target_files_removed"], metrics["num_target_files_added"]) == (1, 1)
    assert metrics["num_target_rows_copied"] == 999
    assert DeltaTable(location).to_pyarrow_table().num_rows == 4000
    assert not Path(changed.uri).exists()  # a merge wrote its own files: its candidate is removed whole


def test_a_merge_of_no_rows_writes_no_candidate(con, settings) -> None:
    publish_candidate(write(con, settings, "select 1 as id", "overwrite", "r1"), settings)
    assert write(con, settings, "select 1 as id where false", "merge", "r2", ["id"]) is None


def test_publish_run_pins_catalog_views_and_cleans_up(con, settings) -> None:
    candidate = write(con, settings, "select 1 as id", "overwrite", "r1")
    published = publish_run("r1", "2026-01-01", settings=settings)
    assert [(p.model, p.version, p.rows) for p in published] == [("t", 1, 1)]
    decision = read_decision("r1", settings)
    assert decision is not None and decision.decision == "published" and decision.versions == {"t": 1}
    with duckdb.connect(str(settings.catalog_path), read_only=True) as catalog:
        sql = catalog.sql("select sql from duckdb_views() where view_name = 't' and schema_name = 'main'")
        assert '"version" := 1' in sql.fetchone()[0]
    assert not Path(candidate.uri, "_delta_log").exists()  # its files now belong to the table
    assert run_candidates("r1", settings)


def test_unknown_mode_is_rejected(con, settings) -> None:
    with pytest.raises(ValueError, match="upsert"):
        write(con, settings, "select 1 as id", "upsert", "r1")


def test_restore_makes_an_earlier_version_current_and_is_recorded(con, settings, tmp_path) -> None:
    import os
    import subprocess
    import sys

    write(con, settings, "select 1 as id", "overwrite", "r1")
    publish_run("r1", None, settings=settings)
    write(con, settings, "select 2 as id", "overwrite", "r2")
    publish_run("r2", None, settings=settings)
    env = {**os.environ, "LAKEHOUSE_ROOT": settings.root, "LAKEHOUSE_CATALOG": str(settings.catalog_path)}
    lakehouse = [str(Path(sys.executable).with_name("lakehouse")), "restore", "t"]
    proc = subprocess.run([*lakehouse, "--version", "1", "--reason", "bad rows in v2"], env=env,
                          capture_output=True, text=True, timeout=300)  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr
    table = DeltaTable(settings.uri("analytics", "t"))
    assert rows(table.table_uri) == [{"id": 1}] and table.version() == 3
    with duckdb_session(str(settings.catalog_path), settings, read_only=True) as catalog:
        assert catalog.sql("select * from main.t").fetchall() == [(1,)]
    ledger = DeltaTable(settings.uri("quality", "ledger")).to_pyarrow_table().to_pylist()
    restored = [r for r in ledger if r["layer"] == "publish" and r["check"] == "restored"]
    assert restored and "bad rows in v2" in restored[0]["detail"] and restored[0]["value"] == 3

    missing = subprocess.run([*lakehouse, "--version", "9"], env=env, capture_output=True, text=True)
    assert missing.returncode == 1 and "no version 9" in missing.stdout
