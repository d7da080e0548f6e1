"""The demo shop's entities, as registered in ingestion/sources/shop.yml, and its fixed vocabularies.

The registry file is the one contract between the generator (which writes landing files of these
schemas), ingestion (which casts landing records to them) and the dbt sources.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from ingestion.registry import Entity, Source, load_source

SHOP_SOURCE_FILE = Path(__file__).resolve().parent.parent / "sources" / "shop.yml"
ORDER_STATUSES = ("placed", "shipped", "delivered", "cancelled", "returned")
PAYMENT_METHODS = ("card", "paypal", "bank_transfer", "gift_card")


@lru_cache(maxsize=1)
def shop_source() -> Source:
    """The demo shop's registry entry (the packaged file, whatever LAKEHOUSE_SOURCES_DIR says)."""
    return load_source(SHOP_SOURCE_FILE)


def shop_entities() -> dict[str, Entity]:
    return dict(shop_source().entities)
