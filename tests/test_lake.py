import pyarrow as pa
import pytest
from deltalake import write_deltalake

from lakehouse.lake import (
    append_batch,
    column_values_from_stats,
    duckdb_session,
    read_table,
    replace_partition,
)


def test_append_batch_is_exactly_once_per_app_id(lake_settings):
    uri = lake_settings.uri("raw", "t")
    data = pa.table({"id": [1, 2, 3]})
    assert append_batch(uri, data, "batch-1", lake_settings) is True
    assert append_batch(uri, data, "batch-1", lake_settings) is False
    assert append_batch(uri, data, "batch-2", lake_settings) is True
    assert read_table(uri, lake_settings).num_rows == 6


def test_replace_partition_is_idempotent(lake_settings):
    uri = lake_settings.uri("features", "f")
    for _ in range(2):
        replace_partition(uri, pa.table({"d": ["a", "a"], "v": [1, 2]}), "d = 'a'", lake_settings)
    replace_partition(uri, pa.table({"d": ["b"], "v": [3]}), "d = 'b'", lake_settings)
    assert sorted(read_table(uri, lake_settings).column("v").to_pylist()) == [1, 2, 3]


def test_batch_ids_are_read_from_file_statistics_only_when_they_can_tell(lake_settings):
    uri = lake_settings.uri("raw", "t")
    assert column_values_from_stats(uri, "_batch_id", lake_settings) == []  # no table yet
    for batch in ("s/e/2026-11-02", "s/e/2026-11-01"):  # one batch per commit, as the loader lands them
        append_batch(uri, pa.table({"_batch_id": [batch, batch], "v": [1, 2]}), batch, lake_settings)
    assert column_values_from_stats(uri, "_batch_id", lake_settings) == ["s/e/2026-11-01", "s/e/2026-11-02"]
    assert column_values_from_stats(uri, "v", lake_settings) is None  # min 1, max 2: not one value per file

    # a file holding two batches (e.g. after a compaction): the statistics cannot list them
    write_deltalake(
        uri, pa.table({"_batch_id": ["s/e/2026-11-03", "s/e/2026-11-04"], "v": [3, 4]}), mode="append"
    )
    assert column_values_from_stats(uri, "_batch_id", lake_settings) is None

    long_id = "x" * 70  # delta-rs cuts text statistics at 64 characters: such a value is not trusted
    other = lake_settings.uri("raw", "long")
    append_batch(other, pa.table({"_batch_id": [long_id]}), "b", lake_settings)
    assert column_values_from_stats(other, "_batch_id", lake_settings) is None


@pytest.mark.integration
def test_duckdb_reads_delta_written_to_s3(s3_settings):
    uri = s3_settings.uri("raw", "t")
    append_batch(uri, pa.table({"id": [1, 2]}), "b", s3_settings)
    with duckdb_session(settings=s3_settings) as con:
        assert con.sql(f"select sum(id) from delta_scan('{uri}')").fetchone() == (3,)
        con.execute(f"copy (select 42 as x) to '{s3_settings.uri('landing', 'x.parquet')}' (format parquet)")
        assert con.sql(
            f"select x from read_parquet('{s3_settings.uri('landing', 'x.parquet')}')"
        ).fetchone() == (42,)
