from datetime import date

import boto3
import pytest
from deltalake import DeltaTable

from ingestion.loader import ingest_date
from ingestion.shop.generator import generate_day, generate_landing
from ingestion.shop.schema import shop_entities

DAY = date(2024, 3, 5)
SCALE = 0.1

pytestmark = pytest.mark.integration


def s3_object(settings, uri: str) -> bytes:
    bucket, key = uri.removeprefix("s3://").split("/", 1)
    client = boto3.client("s3", endpoint_url=settings.aws_endpoint_url, region_name=settings.aws_region)
    return client.get_object(Bucket=bucket, Key=key)["Body"].read()


def test_generate_and_ingest_round_trip_on_s3(s3_settings):
    uris = generate_landing(DAY, SCALE, settings=s3_settings)
    assert all(u.startswith("s3://") for u in uris)
    first_bytes = s3_object(s3_settings, uris[2])
    assert s3_object(s3_settings, generate_landing(DAY, SCALE, settings=s3_settings)[2]) == first_bytes

    report = ingest_date(DAY, settings=s3_settings)
    assert not report.has_problems, report.problems()
    expected = generate_day(DAY, SCALE)
    for name, entity in shop_entities().items():
        table = DeltaTable(
            s3_settings.uri("raw", "shop", name), storage_options=s3_settings.storage_options()
        )
        assert table.to_pyarrow_table().select(entity.arrow_schema.names).equals(expected[name]), name
        assert table.transaction_version(f"shop/{name}/2024-03-05") is not None
    assert all(e.skipped_already_loaded for e in ingest_date(DAY, settings=s3_settings).entities.values())


def test_unreadable_file_on_s3_is_copied_to_quarantine(s3_settings):
    uris = generate_landing(DAY, SCALE, settings=s3_settings)
    items_uri = next(u for u in uris if u.endswith("order_items.parquet"))
    bucket, key = items_uri.removeprefix("s3://").split("/", 1)
    client = boto3.client("s3", endpoint_url=s3_settings.aws_endpoint_url, region_name=s3_settings.aws_region)
    client.put_object(Bucket=bucket, Key=key, Body=b"PAR1 this is not parquet")

    report = ingest_date(DAY, settings=s3_settings)

    items = report.entities["order_items"]
    assert items.file_error and items.rows_landed == 0 and report.has_problems
    assert items.quarantined_files[0] == s3_settings.uri(
        "quarantine", "shop", "files", "2024-03-05", "order_items.parquet"
    )
    assert s3_object(s3_settings, items.quarantined_files[0]) == b"PAR1 this is not parquet"
    assert report.entities["payments"].rows_landed > 0
