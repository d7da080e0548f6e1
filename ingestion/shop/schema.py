"""The demo shop's entities: their landing file format, primary key and typed schema.

This is the contract between the generator (which writes landing files), ingestion (which casts landing
records to these types, quarantining what does not fit) and the dbt sources.
"""

from __future__ import annotations

from dataclasses import dataclass

import pyarrow as pa

UTC_TS = pa.timestamp("us", tz="UTC")

# Lineage columns added by ingestion to every raw table.
LINEAGE_FIELDS = [
    pa.field("_batch_id", pa.string(), nullable=False),
    pa.field("_ingested_at", UTC_TS, nullable=False),
    pa.field("_source_file", pa.string(), nullable=False),
]


@dataclass(frozen=True)
class Entity:
    name: str
    file_format: str  # csv | jsonl | parquet
    primary_key: str
    schema: pa.Schema
    required: tuple[str, ...]  # a record missing one of these (or with an uncastable value) is quarantined

    @property
    def file_name(self) -> str:
        return f"{self.name}.{self.file_format}"


ENTITIES: dict[str, Entity] = {
    e.name: e
    for e in [
        Entity(
            "customers",
            "csv",
            "customer_id",
            pa.schema(
                [
                    ("customer_id", pa.int64()),
                    ("first_name", pa.string()),
                    ("last_name", pa.string()),
                    ("email", pa.string()),
                    ("country", pa.string()),
                    ("signup_date", pa.date32()),
                    ("updated_at", UTC_TS),
                ]
            ),
            ("customer_id", "signup_date", "updated_at"),
        ),
        Entity(
            "products",
            "csv",
            "product_id",
            pa.schema(
                [
                    ("product_id", pa.int64()),
                    ("product_name", pa.string()),
                    ("category", pa.string()),
                    ("unit_price", pa.float64()),
                    ("is_active", pa.bool_()),
                    ("updated_at", UTC_TS),
                ]
            ),
            ("product_id", "unit_price", "updated_at"),
        ),
        Entity(
            "orders",
            "jsonl",
            "order_id",
            pa.schema(
                [
                    ("order_id", pa.int64()),
                    ("customer_id", pa.int64()),
                    ("order_date", pa.date32()),
                    ("ordered_at", UTC_TS),
                    ("status", pa.string()),
                    ("updated_at", UTC_TS),
                ]
            ),
            ("order_id", "customer_id", "order_date", "status", "updated_at"),
        ),
        Entity(
            "order_items",
            "parquet",
            "order_item_id",
            pa.schema(
                [
                    ("order_item_id", pa.int64()),
                    ("order_id", pa.int64()),
                    ("product_id", pa.int64()),
                    ("quantity", pa.int32()),
                    ("unit_price", pa.float64()),
                ]
            ),
            ("order_item_id", "order_id", "product_id", "quantity"),
        ),
        Entity(
            "payments",
            "jsonl",
            "payment_id",
            pa.schema(
                [
                    ("payment_id", pa.int64()),
                    ("order_id", pa.int64()),
                    ("payment_method", pa.string()),
                    ("amount", pa.float64()),
                    ("paid_at", UTC_TS),
                ]
            ),
            ("payment_id", "order_id", "amount", "paid_at"),
        ),
    ]
}

ORDER_STATUSES = ("placed", "shipped", "delivered", "cancelled", "returned")
PAYMENT_METHODS = ("card", "paypal", "bank_transfer", "gift_card")
