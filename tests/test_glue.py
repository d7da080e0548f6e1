"""Glue table definitions from Delta schemas (lakehouse/glue.py), without any AWS API."""

from datetime import date
from decimal import Decimal

import pyarrow as pa
import pytest
from deltalake import DeltaTable, write_deltalake

from lakehouse.glue import DELTA_PARAMETERS, catalog_name, glue_type, table_input
from lakehouse.settings import Settings


@pytest.mark.parametrize(
    ("arrow", "glue"),
    [
        (pa.string(), "string"),
        (pa.large_string(), "string"),
        (pa.int64(), "bigint"),
        (pa.int32(), "int"),
        (pa.int16(), "smallint"),
        (pa.int8(), "tinyint"),
        (pa.float64(), "double"),
        (pa.float32(), "float"),
        (pa.decimal128(12, 2), "decimal(12,2)"),
        (pa.bool_(), "boolean"),
        (pa.date32(), "date"),
        (pa.timestamp("us", tz="UTC"), "timestamp"),
        (pa.timestamp("us"), "timestamp"),
        (pa.binary(), "binary"),
        (pa.list_(pa.string()), "array<string>"),
        (pa.map_(pa.string(), pa.int64()), "map<string,bigint>"),
        (pa.struct([("a", pa.int64()), ("b", pa.list_(pa.date32()))]), "struct<a:bigint,b:array<date>>"),
    ],
)
def test_arrow_types_map_to_glue_types(arrow, glue):
    assert glue_type(arrow) == glue


def test_an_unmappable_type_names_the_column():
    with pytest.raises(ValueError, match="column payload: no Glue type"):
        glue_type(pa.null(), "payload")


def test_table_input_of_a_local_delta_table(tmp_path):
    data = pa.table(
        {
            "id": pa.array([1], pa.int64()),
            "amount": pa.array([Decimal("12.50")], pa.decimal128(12, 2)),
            "day": pa.array([date(2026, 11, 20)]),
        }
    )
    write_deltalake(tmp_path / "t", data, partition_by=["day"])
    delta = DeltaTable(tmp_path / "t")
    schema = pa.schema(delta.schema().to_arrow())
    table = table_input("t", "s3://b/lake/analytics/t", schema, list(delta.metadata().partition_columns))
    assert table["TableType"] == "EXTERNAL_TABLE"
    assert table["Parameters"] == DELTA_PARAMETERS
    assert table["StorageDescriptor"]["Location"] == "s3://b/lake/analytics/t"
    assert table["StorageDescriptor"]["Columns"] == [
        {"Name": "id", "Type": "bigint"},
        {"Name": "amount", "Type": "decimal(12,2)"},
    ]
    assert table["PartitionKeys"] == [{"Name": "day", "Type": "date"}]


def test_catalog_names_follow_the_lake_layout():
    settings = Settings(lakehouse_root="s3://bucket/lake")
    assert catalog_name(settings.uri("raw", "shop", "orders"), settings, "lakehouse_") == (
        "lakehouse_raw_shop",
        "orders",
    )
    assert catalog_name(settings.uri("analytics", "fct_orders"), settings, "lakehouse_") == (
        "lakehouse_analytics",
        "fct_orders",
    )
    assert catalog_name(settings.uri("quality", "ledger"), settings, "") == ("quality", "ledger")
