"""Register the lake's Delta tables in the AWS Glue Data Catalog (what Athena, EMR and Glue jobs read).

Every Delta table under a zone of the lake root becomes a Glue table named after its folder, in a database
named after the zone and the folders between: `raw/shop/orders` -> `lakehouse_raw_shop.orders`,
`analytics/fct_orders` -> `lakehouse_analytics.fct_orders`. Registration is idempotent: a table that exists
is updated (Glue keeps the previous definition as a table version), never duplicated.
"""

from __future__ import annotations

import contextlib
import re
from dataclasses import dataclass
from typing import Any, Literal

import pyarrow as pa
from deltalake import DeltaTable

from lakehouse.aws import client, split_s3_uri
from lakehouse.layout import ZONES
from lakehouse.settings import Settings

DELTA_ZONES = tuple(z for z in ZONES if z != "landing")  # landing/ holds delivered files, not tables
# What Athena (table_type) and Spark on Glue (provider) look for to read a table as Delta.
DELTA_PARAMETERS = {"table_type": "DELTA", "spark.sql.sources.provider": "delta", "classification": "delta"}
PARQUET_SERDE = "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe"
PARQUET_INPUT = "org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat"
PARQUET_OUTPUT = "org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat"
MAX_DEPTH = 3  # folders below a zone to look through: raw/<source>/<entity>, ops/windows/<source>

SIMPLE_TYPES: list[tuple[Any, str]] = [
    (pa.types.is_boolean, "boolean"),
    (pa.types.is_int8, "tinyint"),
    (pa.types.is_int16, "smallint"),
    (pa.types.is_int32, "int"),
    (pa.types.is_int64, "bigint"),
    (pa.types.is_float32, "float"),
    (pa.types.is_float64, "double"),
    (lambda t: pa.types.is_string(t) or pa.types.is_large_string(t) or pa.types.is_string_view(t), "string"),
    (lambda t: pa.types.is_binary(t) or pa.types.is_large_binary(t), "binary"),
    (pa.types.is_date, "date"),
    (pa.types.is_timestamp, "timestamp"),
]


@dataclass(frozen=True)
class GlueTable:
    database: str
    name: str
    location: str
    columns: int
    action: Literal["created", "updated"]

    def __str__(self) -> str:
        return f"{self.database}.{self.name} -> {self.location} ({self.columns} columns, {self.action})"


def glue_type(data_type: pa.DataType, column: str = "?") -> str:
    """The Glue/Hive type of an Arrow type, e.g. decimal(12,2), array<string>, struct<a:bigint>."""
    for matches, name in SIMPLE_TYPES:
        if matches(data_type):
            return name
    if pa.types.is_decimal(data_type):
        return f"decimal({data_type.precision},{data_type.scale})"
    if pa.types.is_list(data_type) or pa.types.is_large_list(data_type):
        return f"array<{glue_type(data_type.value_type, column)}>"
    if pa.types.is_map(data_type):
        return f"map<{glue_type(data_type.key_type, column)},{glue_type(data_type.item_type, column)}>"
    if pa.types.is_struct(data_type):
        fields = ",".join(f"{f.name}:{glue_type(f.type, column)}" for f in data_type)
        return f"struct<{fields}>"
    raise ValueError(f"column {column}: no Glue type for Arrow type {data_type}; cast it in the model")


def glue_columns(schema: pa.Schema) -> list[dict[str, str]]:
    return [{"Name": f.name, "Type": glue_type(f.type, f.name)} for f in schema]


def glue_name(text: str) -> str:
    """Glue names are lower case letters, digits and underscores."""
    return re.sub(r"[^a-z0-9_]", "_", text.lower())


def table_input(name: str, location: str, schema: pa.Schema, partition_by: list[str]) -> dict[str, Any]:
    """The Glue TableInput of a Delta table: external, Delta parameters, columns from the Delta schema."""
    columns = glue_columns(pa.schema([f for f in schema if f.name not in partition_by]))
    partitions = glue_columns(pa.schema([schema.field(n) for n in partition_by]))
    return {
        "Name": name,
        "Description": f"Delta table at {location} (registered by lakehouse.glue)",
        "TableType": "EXTERNAL_TABLE",
        "Parameters": dict(DELTA_PARAMETERS),
        "PartitionKeys": partitions,
        "StorageDescriptor": {
            "Columns": columns,
            "Location": location,
            "InputFormat": PARQUET_INPUT,
            "OutputFormat": PARQUET_OUTPUT,
            "SerdeInfo": {"SerializationLibrary": PARQUET_SERDE, "Parameters": {"path": location}},
        },
    }


def child_folders(s3: Any, bucket: str, key_prefix: str) -> list[str]:
    """Names of the 'folders' directly under `key_prefix` (which ends with /)."""
    names = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=key_prefix, Delimiter="/"):
        names += [p["Prefix"][len(key_prefix) :].rstrip("/") for p in page.get("CommonPrefixes", [])]
    return names


def find_delta_tables(s3: Any, uri: str, depth: int = MAX_DEPTH) -> list[str]:
    """URIs of the Delta tables (folders holding _delta_log/) at or below `uri`, `depth` folders deep."""
    bucket, key = split_s3_uri(uri.rstrip("/"))
    children = child_folders(s3, bucket, f"{key}/" if key else "")
    if "_delta_log" in children:
        return [uri.rstrip("/")]
    if depth == 0:
        return []
    return [t for child in children for t in find_delta_tables(s3, f"{uri.rstrip('/')}/{child}", depth - 1)]


def catalog_name(table_uri: str, settings: Settings, database_prefix: str) -> tuple[str, str]:
    """(database, table) of a Delta table: zone and middle folders name the database, the last the table."""
    *folders, table = table_uri.removeprefix(settings.root + "/").split("/")
    return glue_name(database_prefix + "_".join(folders)), glue_name(table)


def ensure_database(glue: Any, name: str, description: str) -> None:
    with contextlib.suppress(glue.exceptions.AlreadyExistsException):
        glue.create_database(DatabaseInput={"Name": name, "Description": description})


def upsert_table(glue: Any, database: str, table: dict[str, Any]) -> Literal["created", "updated"]:
    """Create the table, or update it in place when it exists (Glue keeps the old one as a version)."""
    try:
        glue.create_table(DatabaseName=database, TableInput=table)
        return "created"
    except glue.exceptions.AlreadyExistsException:
        glue.update_table(DatabaseName=database, TableInput=table)
        return "updated"


def register_table(glue: Any, table_uri: str, settings: Settings, database_prefix: str) -> GlueTable:
    database, name = catalog_name(table_uri, settings, database_prefix)
    delta = DeltaTable(table_uri, storage_options=settings.storage_options())
    schema = pa.schema(delta.schema().to_arrow())
    ensure_database(glue, database, f"Delta tables under {table_uri.rsplit('/', 1)[0]}")
    definition = table_input(name, table_uri, schema, list(delta.metadata().partition_columns))
    action = upsert_table(glue, database, definition)
    return GlueTable(database, name, table_uri, len(schema), action)


def register_delta_tables(
    settings: Settings, zones: tuple[str, ...] = DELTA_ZONES, database_prefix: str = "lakehouse_"
) -> list[GlueTable]:
    """Register (create or update) every Delta table under the zones of the S3 lake root in Glue."""
    if not settings.is_s3:
        raise ValueError(f"Glue registration needs an s3:// lake root, not {settings.root}")
    s3, glue = client("s3", settings), client("glue", settings)
    uris = [t for zone in zones for t in find_delta_tables(s3, settings.uri(zone))]
    return [register_table(glue, uri, settings, database_prefix) for uri in uris]
