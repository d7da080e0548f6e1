"""lakehouse.dbt_delta.writer without dbt: overwrite, append and merge of an Arrow stream into Delta."""

from __future__ import annotations

import pyarrow as pa
import pytest
from deltalake import DeltaTable

from lakehouse.dbt_delta.writer import merge_predicate, write_model


def stream(**columns: list) -> pa.RecordBatchReader:
    table = pa.table(columns)
    return pa.RecordBatchReader.from_batches(table.schema, table.to_batches())


def rows(uri: str) -> list[dict]:
    return DeltaTable(uri).to_pyarrow_table().sort_by("id").to_pylist()


def test_overwrite_replaces_rows_and_schema(tmp_path) -> None:
    uri = str(tmp_path / "t")
    write_model(uri, stream(id=[1, 2], v=["a", "b"]), "overwrite")
    metrics = write_model(uri, stream(id=[3], v=["c"], extra=[True]), "overwrite")
    assert rows(uri) == [{"id": 3, "v": "c", "extra": True}]
    assert metrics["num_added_rows"] == 1


def test_merge_updates_matches_and_inserts_the_rest(tmp_path) -> None:
    uri = str(tmp_path / "t")
    write_model(uri, stream(id=[1, 2], v=["a", "b"]), "merge", unique_key=["id"])  # creates the table
    metrics = write_model(
        uri,
        stream(id=[2, 3], v=["B", "c"]),
        "merge",
        unique_key=["id"],
        commit_metadata={"dbt_model": "model.x.t"},
    )
    assert rows(uri) == [{"id": 1, "v": "a"}, {"id": 2, "v": "B"}, {"id": 3, "v": "c"}]
    assert (metrics["num_target_rows_updated"], metrics["num_target_rows_inserted"]) == (1, 1)
    last = DeltaTable(uri).history(1)[0]
    assert (last["operation"], last["dbt_model"]) == ("MERGE", "model.x.t")


def test_append_adds_rows(tmp_path) -> None:
    uri = str(tmp_path / "t")
    write_model(uri, stream(id=[1], v=["a"]), "append")
    write_model(uri, stream(id=[2], v=["b"]), "append")
    assert [r["id"] for r in rows(uri)] == [1, 2]


def test_merge_needs_a_key_and_modes_are_checked(tmp_path) -> None:
    with pytest.raises(ValueError, match="unique_key"):
        merge_predicate([])
    with pytest.raises(ValueError, match="mode"):
        write_model(str(tmp_path / "t"), stream(id=[1]), "upsert")  # type: ignore[arg-type]
    assert merge_predicate(["a", "b"]) == 't."a" = s."a" and t."b" = s."b"'
