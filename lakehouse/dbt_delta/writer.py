"""Write a model's result into a Delta table: overwrite, append or merge on a unique key.

Plain functions over an Arrow stream and a table URI, so they are tested without dbt. The dbt-duckdb plugin
(`lakehouse.dbt_delta.plugin`) hands them the model's query result as a RecordBatchReader.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Literal

import pyarrow as pa
from deltalake import CommitProperties, DeltaTable, write_deltalake
from deltalake.exceptions import TableNotFoundError

WriteMode = Literal["overwrite", "append", "merge"]
WRITE_MODES: tuple[str, ...] = ("overwrite", "append", "merge")


def merge_predicate(unique_key: Sequence[str], source_alias: str = "s", target_alias: str = "t") -> str:
    """`t."a" = s."a" and t."b" = s."b"` for the key columns."""
    if not unique_key:
        raise ValueError("A merge needs a unique_key: set config(unique_key=...) on the model.")
    return " and ".join(f'{target_alias}."{k}" = {source_alias}."{k}"' for k in unique_key)


def open_delta(uri: str, storage_options: Mapping[str, str]) -> DeltaTable | None:
    try:
        return DeltaTable(uri, storage_options=dict(storage_options))
    except TableNotFoundError:
        return None


def write_model(
    uri: str,
    data: pa.RecordBatchReader,
    mode: WriteMode,
    *,
    unique_key: Sequence[str] = (),
    partition_by: Sequence[str] | None = None,
    storage_options: Mapping[str, str] | None = None,
    commit_metadata: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """Stream `data` into the Delta table at `uri` and return the commit's operation metrics.

    - overwrite: replace contents and schema (a full refresh may add, drop or retype columns);
    - append: add rows, new columns are merged into the schema;
    - merge: update rows matching `unique_key`, insert the others; new columns are added. A merge into a
      table that does not exist yet creates it.
    """
    if mode not in WRITE_MODES:
        raise ValueError(f"Unknown Delta write mode {mode!r}; expected one of {WRITE_MODES}")
    options = dict(storage_options or {})
    commit = CommitProperties(custom_metadata=dict(commit_metadata or {}))
    table = open_delta(uri, options) if mode == "merge" else None
    if mode == "merge" and table is not None:
        return (
            table.merge(
                source=data,
                predicate=merge_predicate(unique_key),
                source_alias="s",
                target_alias="t",
                merge_schema=True,
                commit_properties=commit,
            )
            .when_matched_update_all()
            .when_not_matched_insert_all()
            .execute()
        )
    write_deltalake(
        uri,
        data,
        mode="append" if mode == "append" else "overwrite",
        schema_mode="merge" if mode == "append" else "overwrite",
        partition_by=list(partition_by) if partition_by else None,
        storage_options=options,
        commit_properties=commit,
    )
    return last_operation_metrics(uri, options)


def last_operation_metrics(uri: str, storage_options: Mapping[str, str]) -> dict[str, Any]:
    table = DeltaTable(uri, storage_options=dict(storage_options))
    history = table.history(1)
    return dict(history[0].get("operationMetrics", {})) if history else {}
