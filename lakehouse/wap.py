"""Write-audit-publish of the Delta tables dbt builds: candidates readers cannot see, published together.

A model's run writes a **candidate**: a Delta table at `<table>/candidates/<run_id>`, inside the table's
folder but outside its log, so no reader of the table sees it. It holds the model's new full state
(overwrite), its new rows (append), or the rows a merge changes (merge: new and updated keys only, so an
incremental night writes what changed, not the table). dbt's `ref()` and tests read the table's state after
publishing through the catalog view `<schema>_candidate.<model>` (macros/wap.sql; for a merge, the published
rows with other keys plus the changed rows: `audited_state_sql`); the Soda marts gate reads the same. Then the
run decides:

- **publish** (every blocking check passed): the decision is written first (`ops/wap/<run_id>/decision.json`),
  then each candidate is committed to its table with the application transaction `lakehouse-wap-<run_id>`
  (its data files with `create_write_transaction`; a merge's changed rows by a delta-rs MERGE, which rewrites
  only the files holding those keys), so a publish interrupted by kill -9 is completed by the next run
  exactly once; finally the catalog's published views are re-pinned to the new versions in one
  DuckDB transaction, so catalog readers switch all marts together.
- **withhold** (a blocking check failed): nothing is committed; the candidates stay for inspection (with the
  failing checks and sample rows in the decision file) until a later successful run removes them.

A run killed before its decision leaves candidates no one committed: `recover()` discards them.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime
from typing import Any, Literal

import duckdb
import pyarrow as pa
from deltalake import CommitProperties, DeltaTable, Transaction, write_deltalake
from deltalake.transaction import AddAction, RemoveAction

from lakehouse.files import delete_tree, list_dirs, list_files, read_text, write_text
from lakehouse.lake import open_table
from lakehouse.layout import full_refresh_requests, ops_table
from lakehouse.settings import Settings, get_settings

CANDIDATES_FOLDER = "candidates"
CANDIDATE_SCHEMA_SUFFIX = "_candidate"
WRITTEN_VIEW_SUFFIX = (
    "__written"  # <schema>_candidate.<model>__written: the rows a build wrote (macros/wap.sql)
)
APP_ID_PREFIX = "lakehouse-wap-"
WATERMARK_KEY = "lakehouse_batches"  # commit metadata: the raw batch ids a model's version covers

PublishMode = Literal["overwrite", "append", "merge"]
Decision = Literal["publish", "published", "withheld", "discarded"]


class PublishConflict(RuntimeError):
    """The table changed since its candidate was computed (someone else committed): rebuild, then publish."""


@dataclass(frozen=True)
class Candidate:
    """One model's unpublished result in a run."""

    model: str  # dbt model name
    schema: str  # the catalog schema of its published view
    location: str  # the Delta table readers read
    run_id: str
    mode: PublishMode  # overwrite: the table's new state; append: rows to add; merge: rows to upsert
    base_version: int | None  # the table version it was computed from (None: no table yet)
    partition_by: tuple[str, ...] = ()
    unique_key: tuple[str, ...] = ()  # a merge's key
    rows: int = 0
    commit_metadata: Mapping[str, str] = field(default_factory=dict)

    @property
    def uri(self) -> str:
        return candidate_uri(self.location, self.run_id)

    @property
    def app_id(self) -> str:
        return APP_ID_PREFIX + self.run_id

    def to_json(self) -> str:
        data = asdict(self)
        data["partition_by"] = list(self.partition_by)
        data["unique_key"] = list(self.unique_key)
        data["commit_metadata"] = dict(self.commit_metadata)
        return json.dumps(data, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> Candidate:
        data = json.loads(text)
        data["partition_by"] = tuple(data.get("partition_by") or ())
        data["unique_key"] = tuple(data.get("unique_key") or ())
        return cls(**data)


@dataclass
class RunDecision:
    """What a run decided about its candidates; kept at ops/wap/<run_id>/decision.json."""

    run_id: str
    decision: Decision
    run_date: str | None = None
    decided_at: str = ""
    failures: list[str] = field(default_factory=list)
    samples: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # check -> a few failing rows
    versions: dict[str, int] = field(default_factory=dict)  # model -> published version

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True, default=str, indent=1)

    @classmethod
    def from_json(cls, text: str) -> RunDecision:
        return cls(**json.loads(text))


@dataclass(frozen=True)
class Published:
    model: str
    location: str
    version: int
    rows: int
    seconds: float


# ---------- where things are


def candidate_uri(location: str, run_id: str) -> str:
    return f"{location.rstrip('/')}/{CANDIDATES_FOLDER}/{run_id}"


def candidate_schema(schema: str) -> str:
    """The catalog schema of the candidate views of the models published in `schema`."""
    return schema + CANDIDATE_SCHEMA_SUFFIX


def runs_dir(settings: Settings | None = None) -> str:
    return ops_table("wap", settings=settings)


def run_dir(run_id: str, settings: Settings | None = None) -> str:
    return ops_table("wap", run_id, settings=settings)


def _candidate_manifest(run_id: str, model: str, settings: Settings) -> str:
    return f"{run_dir(run_id, settings)}/candidates/{model}.json"


def _decision_file(run_id: str, settings: Settings) -> str:
    return f"{run_dir(run_id, settings)}/decision.json"


# ---------- write


def merged_state_sql(changes_sql: str, published_sql: str, unique_key: Sequence[str]) -> str:
    """The table's state after merging the changed rows on `unique_key`: the published rows whose key the
    changes do not hold, plus the changed rows (new columns are added, as MERGE with schema merge).
    `changes_sql` and `published_sql` are relations (a table, a view or a parenthesised query)."""
    if not unique_key:
        raise ValueError("A merge needs a unique_key: set config(unique_key=...) on the model.")
    match = " and ".join(f'published."{k}" = changed."{k}"' for k in unique_key)
    return (
        f"select published.* from {published_sql} as published\n"
        f"anti join {changes_sql} as changed on {match}\n"  # a hash of the changes only, no per-row subquery
        f"union all by name\nselect * from {changes_sql}"
    )


def audited_state_sql(candidate: Candidate) -> str:
    """A query of what readers will see of the candidate's table once it is published (for a merge: the
    published version it was computed from with the changed rows merged in; an append candidate is audited
    as the rows it adds)."""
    changes = f"delta_scan('{_sql_text(candidate.uri)}')"
    if candidate.mode != "merge" or candidate.base_version is None:
        return f"select * from {changes}"
    published = version_scan(candidate.location, candidate.base_version)
    return merged_state_sql(changes, published, candidate.unique_key)


def _sql_text(value: str) -> str:
    return value.replace("'", "''")


def version_scan(location: str, version: int) -> str:
    """DuckDB's read of one version of the Delta table at `location`."""
    return f"delta_scan('{_sql_text(location)}', version => {int(version)})"


def write_candidate(
    candidate: Candidate, data: pa.RecordBatchReader, settings: Settings | None = None
) -> Candidate:
    """Write `data` as the candidate's Delta table and record it in the run's manifest; returns it with
    its row count. A rewrite for the same run and model replaces the earlier candidate."""
    settings = settings or get_settings()
    delete_tree(candidate.uri, settings)
    write_deltalake(
        candidate.uri,
        data,
        mode="overwrite",
        partition_by=list(candidate.partition_by) or None,
        storage_options=settings.storage_options(),
    )
    rows = sum(_stats(add).get("numRecords", 0) for add in _candidate_adds(candidate, settings))
    written = replace(candidate, rows=rows)
    write_text(_candidate_manifest(candidate.run_id, candidate.model, settings), written.to_json(), settings)
    return written


def _candidate_adds(candidate: Candidate, settings: Settings) -> list[dict[str, Any]]:
    """The add actions of the candidate's one commit (its version 0), as written in its log."""
    text = read_text(f"{candidate.uri}/_delta_log/{0:020d}.json", settings)
    if text is None:
        raise FileNotFoundError(f"candidate {candidate.uri} has no commit log (was it discarded?)")
    actions = [json.loads(line) for line in text.splitlines() if line.strip()]
    return [action["add"] for action in actions if "add" in action]


def _stats(add: Mapping[str, Any]) -> dict[str, Any]:
    return dict(json.loads(add.get("stats") or "{}"))


# ---------- read the run's state


def run_candidates(run_id: str, settings: Settings | None = None) -> list[Candidate]:
    settings = settings or get_settings()
    files = list_files(f"{run_dir(run_id, settings)}/candidates", settings)
    texts = [read_text(path, settings) for path in files if path.endswith(".json")]
    return [Candidate.from_json(text) for text in texts if text]


def read_decision(run_id: str, settings: Settings | None = None) -> RunDecision | None:
    settings = settings or get_settings()
    text = read_text(_decision_file(run_id, settings), settings)
    return RunDecision.from_json(text) if text else None


def write_decision(decision: RunDecision, settings: Settings | None = None) -> RunDecision:
    settings = settings or get_settings()
    decision.decided_at = decision.decided_at or datetime.now(UTC).isoformat(timespec="seconds")
    write_text(_decision_file(decision.run_id, settings), decision.to_json(), settings)
    return decision


def run_ids(settings: Settings | None = None) -> list[str]:
    """Every run with WAP state in the lake, oldest first (run ids start with a UTC timestamp)."""
    return list_dirs(runs_dir(settings), settings or get_settings())


# ---------- publish


def publish_candidate(candidate: Candidate, settings: Settings | None = None) -> int:
    """Commit the candidate's files to its table, exactly once per run; returns the table's new version."""
    settings = settings or get_settings()
    options = settings.storage_options()
    table = open_table(candidate.location, settings)
    if table is not None and table.transaction_version(candidate.app_id) is not None:
        return _version_of_transaction(table, candidate.app_id)
    schema = DeltaTable(candidate.uri, storage_options=options).schema()
    if table is None:
        table = DeltaTable.create(
            candidate.location,
            schema,
            partition_by=list(candidate.partition_by) or None,
            storage_options=options,
            commit_properties=CommitProperties(custom_metadata={"lakehouse_wap": "create"}),
        )
    elif not _unchanged_since(table, candidate.base_version):
        raise PublishConflict(
            f"{candidate.location} is at version {table.version()}, but the candidate of run "
            f"{candidate.run_id} was computed from version {candidate.base_version}: rerun the build."
        )
    commit = CommitProperties(
        app_transactions=[Transaction(candidate.app_id, 1)],
        custom_metadata={**candidate.commit_metadata, "lakehouse_wap_run": candidate.run_id},
    )
    if candidate.mode == "merge":
        _merge_candidate(table, candidate, commit, settings)
    else:
        _commit_candidate_files(table, candidate, schema, commit, settings)
    return _version_of_transaction(DeltaTable(candidate.location, storage_options=options), candidate.app_id)


def _merge_candidate(
    table: DeltaTable, candidate: Candidate, commit: CommitProperties, settings: Settings
) -> None:
    """Upsert the candidate's rows on its unique key: delta-rs rewrites only the files holding those keys
    (spilling to disk past LAKEHOUSE_MERGE_MEMORY_BYTES), in one commit carrying the run's transaction."""
    if not candidate.unique_key:
        raise ValueError(f"merge candidate {candidate.uri} has no unique_key")
    changes = DeltaTable(candidate.uri, storage_options=settings.storage_options())
    predicate = " AND ".join(f"target.`{k}` = source.`{k}`" for k in candidate.unique_key)
    (
        table.merge(
            changes.to_pyarrow_dataset().scanner().to_reader(),
            predicate,
            source_alias="source",
            target_alias="target",
            merge_schema=True,
            max_spill_size=settings.lakehouse_merge_memory_bytes,
            commit_properties=commit,
        )
        .when_matched_update_all()
        .when_not_matched_insert_all()
        .execute()
    )


def _commit_candidate_files(
    table: DeltaTable, candidate: Candidate, schema: Any, commit: CommitProperties, settings: Settings
) -> None:
    """Commit the candidate's data files, as its own log lists them with their stats, to the table."""
    prefix = f"{CANDIDATES_FOLDER}/{candidate.run_id}/"
    actions: list[AddAction | RemoveAction] = [
        AddAction(
            prefix + add["path"],
            int(add["size"]),
            add.get("partitionValues") or {},
            int(add["modificationTime"]),
            True,
            add.get("stats") or "{}",
        )
        for add in _candidate_adds(candidate, settings)
    ]
    mode: Literal["overwrite", "append"] = "append" if candidate.mode == "append" else "overwrite"
    table.create_write_transaction(
        actions, mode, schema, partition_by=list(candidate.partition_by) or None, commit_properties=commit
    )


def _unchanged_since(table: DeltaTable, base_version: int | None) -> bool:
    if base_version is not None:
        return table.version() == base_version
    return table.version() == 0 and table.count() == 0  # created by an interrupted first publish


def _version_of_transaction(table: DeltaTable, app_id: str) -> int:
    """The table version whose commit carries `app_id` (the latest version if history no longer says)."""
    run = app_id.removeprefix(APP_ID_PREFIX)
    for entry in table.history(50):
        if entry.get("lakehouse_wap_run") == run:
            return int(entry["version"])
    return int(table.version())


def pin_views(con: duckdb.DuckDBPyConnection, published: Iterable[tuple[str, str, str, int]]) -> None:
    """Point the catalog views `<schema>.<model>` at the given versions, all in one transaction:
    `published` holds (schema, model, location, version)."""
    con.execute("BEGIN TRANSACTION")
    try:
        for schema, model, location, version in published:
            con.execute(f'CREATE SCHEMA IF NOT EXISTS "{schema}"')
            scan = version_scan(location, version)
            con.execute(f'CREATE OR REPLACE VIEW "{schema}"."{model}" AS SELECT * FROM {scan}')
            staging = candidate_schema(schema)  # what ref() reads in the next build, until it rebuilds
            con.execute(f'CREATE SCHEMA IF NOT EXISTS "{staging}"')
            for view in (model, model + WRITTEN_VIEW_SUFFIX):
                con.execute(
                    f'CREATE OR REPLACE VIEW "{staging}"."{view}" AS SELECT * FROM "{schema}"."{model}"'
                )
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise


def publish_run(
    run_id: str,
    run_date: str | None,
    con: duckdb.DuckDBPyConnection | None = None,
    settings: Settings | None = None,
) -> list[Published]:
    """Publish every candidate of the run (the decision is recorded first, so an interrupted publish is
    completed by `recover`), pin the catalog views, then clean up. `con`: an open catalog connection
    (dbt's, in an on-run-end hook); by default the catalog file is opened."""
    settings = settings or get_settings()
    decision = read_decision(run_id, settings)
    if decision is None or decision.decision not in ("publish", "published"):
        decision = write_decision(RunDecision(run_id=run_id, decision="publish", run_date=run_date), settings)
    candidates = {c.model: c for c in run_candidates(run_id, settings)}
    published = [_publish_timed(c, settings) for c in candidates.values()]
    views = [(candidates[p.model].schema, p.model, p.location, p.version) for p in published]
    _with_catalog(con, settings, lambda c: pin_views(c, views))
    decision.decision = "published"
    decision.versions = {p.model: p.version for p in published}
    write_decision(decision, settings)
    for candidate in candidates.values():  # a committed candidate's data files now belong to the table;
        # a merge wrote its own files, so its candidate is removed whole
        delete_tree(candidate.uri if candidate.mode == "merge" else f"{candidate.uri}/_delta_log", settings)
    discard_unpublished(settings, keep=run_id)
    return published


def _publish_timed(candidate: Candidate, settings: Settings) -> Published:
    start = time.perf_counter()
    version = publish_candidate(candidate, settings)
    seconds = time.perf_counter() - start
    return Published(candidate.model, candidate.location, version, candidate.rows, seconds)


def _with_catalog(con: duckdb.DuckDBPyConnection | None, settings: Settings, action: Any) -> None:
    if con is not None:
        action(con)
        return
    from lakehouse.lake import duckdb_session

    settings.catalog_path.parent.mkdir(parents=True, exist_ok=True)
    with duckdb_session(str(settings.catalog_path), settings=settings) as catalog:
        action(catalog)


def withhold_run(
    run_id: str,
    run_date: str | None,
    failures: Sequence[str],
    samples: Mapping[str, list[dict[str, Any]]] | None = None,
    settings: Settings | None = None,
) -> RunDecision:
    """Record that the run's candidates are not published (they stay for inspection)."""
    decision = RunDecision(
        run_id=run_id,
        decision="withheld",
        run_date=run_date,
        failures=list(failures),
        samples={k: list(v) for k, v in (samples or {}).items()},
    )
    return write_decision(decision, settings)


def discard_unpublished(settings: Settings | None = None, keep: str | None = None) -> list[str]:
    """Delete the candidates of every run that did not publish (withheld, or killed before deciding), and
    the WAP state of runs that are done; returns the run ids discarded. Runs decided 'publish' but not
    finished are left to `recover`."""
    settings = settings or get_settings()
    discarded = []
    for run_id in run_ids(settings):
        if run_id == keep:
            continue
        decision = read_decision(run_id, settings)
        if decision is not None and decision.decision == "publish":
            continue
        if decision is None or decision.decision in ("withheld", "discarded"):
            for candidate in run_candidates(run_id, settings):
                delete_tree(candidate.uri, settings)
            discarded.append(run_id)
        delete_tree(run_dir(run_id, settings), settings)
    return discarded


def recover(settings: Settings | None = None) -> list[Published]:
    """Finish what a killed run left: complete every decided publish (exactly once). Call it holding the
    lake's run lease, before a new build; abandoned candidates are removed by the next publish."""
    settings = settings or get_settings()
    done: list[Published] = []
    for run_id in run_ids(settings):
        decision = read_decision(run_id, settings)
        if decision is not None and decision.decision == "publish":
            done += publish_run(run_id, decision.run_date, settings=settings)
    return done


def latest_withheld(settings: Settings | None = None) -> RunDecision | None:
    """The newest withheld run whose candidates are still kept, if any."""
    settings = settings or get_settings()
    for run_id in reversed(run_ids(settings)):
        decision = read_decision(run_id, settings)
        if decision is not None and decision.decision == "withheld":
            return decision
    return None


def new_run_id() -> str:
    """A sortable, unique run id: UTC time plus a random suffix."""
    import uuid

    return datetime.now(UTC).strftime("%Y%m%dT%H%M%S") + "-" + uuid.uuid4().hex[:8]


def restore_table(
    location: str, version: int, schema: str, model: str, settings: Settings | None = None
) -> int:
    """Make an earlier version of a published table current again (a new Delta commit) and re-pin its
    catalog view; returns the new version."""
    settings = settings or get_settings()
    table = open_table(location, settings)
    if table is None:
        raise FileNotFoundError(f"No Delta table at {location}")
    if not 0 <= version <= table.version():
        raise ValueError(f"{location} has versions 0..{table.version()}; there is no version {version}")
    metadata = {"lakehouse_restore": str(version)}
    watermark = watermark_at(table, version)
    if watermark is not None:  # the batches the restored contents cover (dbt_project/macros/watermark.sql)
        metadata[WATERMARK_KEY] = watermark
    table.restore(version, commit_properties=CommitProperties(custom_metadata=metadata))
    new_version = int(DeltaTable(location, storage_options=settings.storage_options()).version())
    _with_catalog(None, settings, lambda c: pin_views(c, [(schema, model, location, new_version)]))
    return new_version


def watermark_at(table: DeltaTable, version: int) -> str | None:
    """The batch watermark (`lakehouse_batches`, a JSON list) of the table's contents at `version`: that of
    the newest commit up to it which records one."""
    for entry in table.history():
        if int(entry["version"]) <= version and WATERMARK_KEY in entry:
            return str(entry[WATERMARK_KEY])
    return None


# ---------- full refresh after a retraction


def request_full_refresh(reason: str, settings: Settings | None = None) -> None:
    """Ask the next `lakehouse run` to rebuild the marts in full. Incremental models merge only batches
    whose id they have not merged; a retracted batch redelivered under the same id would be missed, and a
    retracted batch's rows would stay in the marts, so a retraction asks for this."""
    settings = settings or get_settings()
    write_text(f"{full_refresh_requests(settings)}/{new_run_id()}.txt", reason, settings)


def pending_full_refresh(settings: Settings | None = None) -> list[str]:
    """The reasons of the full refreshes asked for and not yet done (oldest first)."""
    settings = settings or get_settings()
    texts = [read_text(path, settings) for path in list_files(full_refresh_requests(settings), settings)]
    return [text for text in texts if text]


def full_refresh_done(settings: Settings | None = None) -> None:
    """The marts were rebuilt in full and published: the requests are answered."""
    settings = settings or get_settings()
    delete_tree(full_refresh_requests(settings), settings)
