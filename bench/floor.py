"""The floor: the nightly run's work with no framework, in one process and one DuckDB session.

DuckDB's own readers of the landing files into `write_deltalake` (raw), the dbt models' compiled SQL in DAG
order (views for view models, `write_deltalake` for the marts), the compiled data tests and the Soda
contracts' checks as SQL counts (bench.contracts), catalog views over the marts (publish), the features.
Run as `python -m bench.floor --date D --manifest target/manifest.json --out stages.json` with
LAKEHOUSE_ROOT set; it writes its seconds per stage as JSON.
"""

from __future__ import annotations

import argparse
import json
import re
from contextlib import AbstractContextManager
from datetime import UTC, date, datetime, time, timedelta
from graphlib import TopologicalSorter
from pathlib import Path
from typing import Any

import duckdb
from deltalake import write_deltalake

from bench.contracts import contract_checks
from ingestion.batches import batch_id
from ingestion.casting import ident, literal
from ingestion.registry import Entity, Source, load_registry
from lakehouse.lake import duckdb_session, open_table
from lakehouse.layout import analytics_table, landing_file, raw_table
from lakehouse.settings import Settings, get_settings
from lakehouse.timing import timed_into

RUN_DATE_SENTINEL = "9999-12-31"  # the run_date the project is compiled with, replaced by the night's
READERS = {"csv": "read_csv", "jsonl": "read_json", "json": "read_json", "parquet": "read_parquet"}


class Stages:
    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}
        self.counts: dict[str, int] = {}

    def timed(self, stage: str) -> AbstractContextManager[None]:
        return timed_into(self.seconds, stage)


def land_entity(
    con: duckdb.DuckDBPyConnection, source: Source, entity: Entity, day: date, s: Settings
) -> int:
    """One landing file -> one append to its raw Delta table, as typed Arrow batches."""
    uri = landing_file(source.name, day, entity.file_pattern, s)
    columns = ", ".join(
        f"cast({ident(n)} as {c.column_type.duckdb}) as {ident(n)}" for n, c in entity.columns.items()
    )
    ingested_at = datetime.combine(day + timedelta(days=1), time(), UTC)  # the loader's stamp: the date's end
    lineage = f"{literal(batch_id(source.name, entity.name, day))} as _batch_id, "
    lineage += f"TIMESTAMPTZ '{ingested_at.isoformat()}' as _ingested_at"
    read = f"{READERS[entity.format]}({literal(uri)})"
    sql = f"select {columns}, {lineage}, {literal(uri)} as _source_file from {read}"
    table = raw_table(source.name, entity.name, s)
    if entity.is_snapshot:
        sql = snapshot_changes(sql, table, entity, s)
    con.execute(f"create or replace temp table landed as {sql}")
    reader = con.sql("select * from landed").to_arrow_reader(100_000).cast(entity.raw_schema)
    write_deltalake(table, reader, mode="append")
    rows = con.sql("select count(*) from landed").fetchone()
    return int(rows[0]) if rows else 0


def snapshot_changes(snapshot_sql: str, table: str, entity: Entity, s: Settings) -> str:
    """A full snapshot as its inserts, updates and deletes against the table's current state (the latest
    change per key), as a plain query: the same work as the project's snapshot load, without its checks."""
    if open_table(table, s) is None:
        return f"select *, 'insert' as _change from ({snapshot_sql})"
    keys = ", ".join(ident(k) for k in entity.primary_key)
    match = " and ".join(f"s.{ident(k)} = c.{ident(k)}" for k in entity.primary_key)
    differs = " or ".join(f"s.{ident(n)} is distinct from c.{ident(n)}" for n in entity.columns)
    current = (
        f"(select * from delta_scan({literal(table)}) qualify row_number() over "
        f"(partition by {keys} order by _ingested_at desc, _batch_id desc) = 1)"
    )
    return f"""with s as ({snapshot_sql}), c as (select * from {current} where _change != 'delete')
        select s.*, case when c.{ident(entity.primary_key[0])} is null then 'insert' else 'update' end
            as _change
        from s left join c on {match} where c.{ident(entity.primary_key[0])} is null or {differs}
        union all by name
        select c.* exclude (_change, _batch_id, _ingested_at, _source_file), 'delete' as _change,
            s2._batch_id, s2._ingested_at, s2._source_file
        from c cross join (select _batch_id, _ingested_at, _source_file from s limit 1) s2
        where not exists (select 1 from s where {match})"""


def ingest(con: duckdb.DuckDBPyConnection, day: date, s: Settings) -> int:
    return sum(
        land_entity(con, source, entity, day, s)
        for source in load_registry(s).values()
        if source.kind == "files"
        for entity in source.entities.values()
    )


def register_sources(con: duckdb.DuckDBPyConnection, manifest: dict[str, Any], s: Settings) -> None:
    for node in manifest["sources"].values():
        path = s.uri(node["meta"]["delta_path"].format(name=node["name"]))
        con.execute(f"create schema if not exists {ident(node['schema'])}")
        con.execute(
            f"create or replace view {node['relation_name']} as select * from delta_scan({literal(path)})"
        )


def models_in_order(manifest: dict[str, Any]) -> list[dict[str, Any]]:
    nodes = manifest["nodes"]
    models = {k: v for k, v in nodes.items() if v["resource_type"] == "model"}
    graph = {k: [d for d in v["depends_on"]["nodes"] if d in models] for k, v in models.items()}
    return [models[k] for k in TopologicalSorter(graph).static_order()]


def compiled(node: dict[str, Any], day: date) -> str:
    """The node's compiled SQL for `day`; a mart's ref to another mart reads its write-audit-publish
    candidate (`<schema>_candidate`), and a mart's test the rows its build wrote (`<model>__written`: on a
    full build the whole table), which the floor does not have: it reads the mart itself."""
    sql = str(node["compiled_code"]).replace(RUN_DATE_SENTINEL, day.isoformat())
    sql = re.sub(r'"(\w+)__written"', r'"\1"', sql)
    return re.sub(r'"(\w+)_candidate"\.', r'"\1".', sql)


def build_models(con: duckdb.DuckDBPyConnection, manifest: dict[str, Any], day: date, s: Settings) -> int:
    """Every model in DAG order: views as views, Delta marts rewritten whole with write_deltalake."""
    for node in models_in_order(manifest):
        con.execute(f"create schema if not exists {ident(node['schema'])}")
        if node["config"]["materialized"] == "view":
            con.execute(f"create or replace view {node['relation_name']} as {compiled(node, day)}")
            continue
        path = analytics_table(node["name"], s)
        reader = con.sql(compiled(node, day)).to_arrow_reader(100_000)
        write_deltalake(path, reader, mode="overwrite", schema_mode="overwrite")
        con.execute(
            f"create or replace view {node['relation_name']} as select * from delta_scan({literal(path)})"
        )
    return len(models_in_order(manifest))


def run_tests(con: duckdb.DuckDBPyConnection, manifest: dict[str, Any], day: date) -> dict[str, int]:
    """Every compiled data test as a count of failing rows: how many tests ran, failed and warned."""
    counts = {"tests": 0, "tests_failed": 0, "tests_warned": 0}
    for node in manifest["nodes"].values():
        if node["resource_type"] == "test":
            rows = con.sql(f"select count(*) from ({compiled(node, day)}) as t").fetchone()
            counts["tests"] += 1
            if rows and rows[0]:
                counts["tests_warned" if node["config"].get("severity") == "warn" else "tests_failed"] += 1
    return counts


def gate(con: duckdb.DuckDBPyConnection, layer: str, day: date) -> int:
    """The layer's Soda contract checks as SQL; returns how many queries ran."""
    queries = contract_checks(layer, day)
    for sql in queries:
        con.sql(sql).fetchall()
    return len(queries)


def publish(manifest: dict[str, Any], s: Settings) -> None:
    """The analysts' catalog: a DuckDB file with a view over each mart's Delta table."""
    catalog = Path(s.root) / "_catalog" / "floor.duckdb"
    catalog.parent.mkdir(parents=True, exist_ok=True)
    with duckdb.connect(str(catalog)) as con:
        for node in models_in_order(manifest):
            if node["config"]["materialized"] != "view":
                path = analytics_table(node["name"], s)
                view = f"create or replace view {ident(node['name'])} as select * from delta_scan"
                con.execute(f"{view}({literal(path)})")


def floor_night(day: date, manifest: dict[str, Any], settings: Settings | None = None) -> Stages:
    from ml.features import build_customer_features

    s = settings or get_settings()
    stages = Stages()
    with duckdb_session(settings=s) as con:
        con.execute("SET TimeZone = 'UTC'")
        database = next(iter(manifest["nodes"].values()))["database"]
        con.execute(f"attach ':memory:' as {ident(database)}")
        con.execute(f"use {ident(database)}")
        with stages.timed("ingest"):
            stages.counts["rows_landed"] = ingest(con, day, s)
        register_sources(con, manifest, s)
        with stages.timed("raw_gate"):
            stages.counts["raw_checks"] = gate(con, "raw", day)
        with stages.timed("dbt"):
            stages.counts["models"] = build_models(con, manifest, day, s)
            stages.counts |= run_tests(con, manifest, day)
        with stages.timed("marts_gate"):
            stages.counts["marts_checks"] = gate(con, "marts", day)
    with stages.timed("publish"):
        publish(manifest, s)
    with stages.timed("features"):
        stages.counts["feature_rows"] = build_customer_features(day, s).customers
    return stages


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--date", type=date.fromisoformat, required=True)
    parser.add_argument("--manifest", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    started = datetime.now(UTC)
    stages = floor_night(args.date, json.loads(args.manifest.read_text()))
    seconds = (datetime.now(UTC) - started).total_seconds()
    args.out.write_text(
        json.dumps({"stage_seconds": stages.seconds, "counts": stages.counts, "seconds": seconds})
    )


if __name__ == "__main__":
    main()
