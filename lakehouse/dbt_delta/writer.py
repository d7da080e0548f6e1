"""Write a model's result as a write-audit-publish candidate: overwrite, append or merge on a unique key.

Plain functions over a DuckDB connection, a query and a table URI, so they are tested without dbt. The
dbt-duckdb plugin (`lakehouse.dbt_delta.plugin`) hands them the model's compiled SQL; lakehouse.wap
publishes the candidate later.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Literal, cast

import duckdb

from lakehouse.lake import open_table
from lakehouse.settings import Settings
from lakehouse.wap import Candidate, PublishMode, version_scan, write_candidate

WriteMode = Literal["overwrite", "append", "merge"]
WRITE_MODES: tuple[str, ...] = ("overwrite", "append", "merge")
ARROW_BATCH_ROWS = 128_000


def write_model_candidate(
    con: duckdb.DuckDBPyConnection,
    sql: str,
    candidate: Candidate,
    mode: str,
    *,
    unique_key: Sequence[str] = (),
    settings: Settings,
) -> Candidate | None:
    """Stream the result of `sql` into the candidate of the Delta table `candidate.location`.

    - overwrite: the candidate replaces contents and schema (a full refresh may add, drop or retype columns);
    - append: the candidate's rows are added (new columns merged into the schema);
    - merge: the candidate holds the model's rows, to update the rows matching `unique_key` and insert the
      others when published (a delta-rs MERGE: only the files holding those keys are rewritten); on a table
      that does not exist yet, the result is the table. A merge whose model returns no rows changes nothing:
      no candidate is written (returns None).
    """
    if mode not in WRITE_MODES:
        raise ValueError(f"Unknown Delta write mode {mode!r}; expected one of {WRITE_MODES}")
    if mode == "merge" and not unique_key:
        raise ValueError("A merge needs a unique_key: set config(unique_key=...) on the model.")
    table = open_table(candidate.location, settings)
    base = None if table is None else int(table.version())
    publish_mode = "overwrite" if base is None else cast(PublishMode, mode)  # a mode of WRITE_MODES
    candidate = replace(candidate, mode=publish_mode, base_version=base, unique_key=tuple(unique_key))
    if publish_mode != "merge":
        return write_candidate(candidate, con.sql(sql).to_arrow_reader(ARROW_BATCH_ROWS), settings)
    return _write_changes(con, sql, candidate, settings)


def _write_changes(
    con: duckdb.DuckDBPyConnection, sql: str, candidate: Candidate, settings: Settings
) -> Candidate | None:
    """A merge's candidate: the model's rows (computed once, in a temporary table that spills to disk when
    large), with the counts of updated and inserted keys in its commit metadata."""
    staged = f'"lakehouse_merge_{candidate.model}"'
    con.execute(f"CREATE OR REPLACE TEMPORARY TABLE {staged} AS {sql}")
    try:
        base = candidate.base_version if candidate.base_version is not None else -1
        metrics = _merge_metrics(con, staged, candidate.location, base, candidate.unique_key)
        if metrics["merge_source_rows"] == 0:
            return None
        candidate = replace(
            candidate,
            commit_metadata={**candidate.commit_metadata, **{k: str(v) for k, v in metrics.items()}},
        )
        reader = con.sql(f"select * from {staged}").to_arrow_reader(ARROW_BATCH_ROWS)
        return write_candidate(candidate, reader, settings)
    finally:
        con.execute(f"DROP TABLE IF EXISTS {staged}")


def _merge_metrics(
    con: duckdb.DuckDBPyConnection, staged: str, location: str, base: int, unique_key: Sequence[str]
) -> dict[str, int]:
    match = " and ".join(f'p."{k}" = s."{k}"' for k in unique_key)
    published = version_scan(location, base)
    row = con.execute(
        f"select count(*), count(*) filter (where exists (select 1 from {published} p where {match})) "
        f"from {staged} s"
    ).fetchone()
    source, updated = (int(row[0]), int(row[1])) if row else (0, 0)
    return {
        "merge_source_rows": source,
        "merge_updated_rows": updated,
        "merge_inserted_rows": source - updated,
    }
