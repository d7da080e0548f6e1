"""Files sources read from their own location template: a local folder or an S3 prefix with the date in it."""

from __future__ import annotations

from datetime import date

import boto3
import pytest
from deltalake import DeltaTable

from ingestion.loader import ingest_source
from ingestion.locations import render_location
from ingestion.registry import Source
from ingestion.report import IngestReport
from lakehouse.layout import quality_ledger, raw_table
from quality.ledger import write_drift

DAY = date(2026, 7, 9)


def drop_source(location: str) -> Source:
    return Source.model_validate(
        {
            "name": "partner",
            "kind": "files",
            "files": {"location": location},
            "entities": {
                "rates": {
                    "format": "csv",
                    "file": "rates_*.csv",
                    "primary_key": ["code"],
                    "columns": {"code": "string", "rate": "decimal(8,4)"},
                }
            },
        }
    )


def test_date_patterns_render():
    assert render_location("s3://drop/x/{date:%Y/%m/%d}/", DAY) == "s3://drop/x/2026/07/09/"
    assert render_location("/data/{date}/in", DAY) == "/data/2026-07-09/in"


def test_a_local_drop_folder_with_a_glob_lands_every_matching_file(lake_settings, tmp_path):
    folder = tmp_path / "drop" / "20260709"
    folder.mkdir(parents=True)
    (folder / "rates_eu.csv").write_text("code,rate\nEUR,1.0000\nGBP,0.8571\n")
    (folder / "rates_us.csv").write_text("code,rate,source\nUSD,1.0832,fed\n")
    (folder / "other.csv").write_text("not,this\n")
    report = ingest_source(drop_source(str(tmp_path / "drop" / "{date:%Y%m%d}")), DAY, lake_settings)
    rates = DeltaTable(raw_table("partner", "rates", lake_settings)).to_pyarrow_table()
    assert sorted(rates["code"].to_pylist()) == ["EUR", "GBP", "USD"]
    assert {f.rsplit("/", 1)[-1] for f in rates["_source_file"].to_pylist()} == {
        "rates_eu.csv",
        "rates_us.csv",
    }
    entity = report.entities["rates"]
    assert entity.added_columns == {"source": "VARCHAR"} and "new column source" in entity.drift()[0]


def test_schema_drift_is_recorded_in_the_quality_ledger(lake_settings, tmp_path):
    folder = tmp_path / "drop" / "20260709"
    folder.mkdir(parents=True)
    (folder / "rates_us.csv").write_text("code,rate,source\nUSD,1.0832,fed\n")
    report: IngestReport = ingest_source(drop_source(str(tmp_path / "drop" / "{date:%Y%m%d}")), DAY)
    assert write_drift([report], DAY, lake_settings) == 1
    assert write_drift([report], DAY, lake_settings) == 1  # replaced, not appended
    rows = DeltaTable(quality_ledger(lake_settings)).to_pyarrow_table().to_pylist()
    assert [(r["layer"], r["dataset"], r["check_type"], r["outcome"]) for r in rows] == [
        ("ingest", "raw_partner.rates", "schema_drift", "warned")
    ]


@pytest.mark.integration
def test_an_s3_drop_prefix(s3_settings):
    client = boto3.client("s3", endpoint_url=s3_settings.aws_endpoint_url, region_name="us-east-1")
    client.create_bucket(Bucket="partner-drop")
    client.put_object(
        Bucket="partner-drop", Key="rates/2026/07/09/rates_all.csv", Body=b"code,rate\nJPY,161.2\n"
    )
    ingest_source(drop_source("s3://partner-drop/rates/{date:%Y/%m/%d}/"), DAY, s3_settings)
    table = DeltaTable(
        raw_table("partner", "rates", s3_settings), storage_options=s3_settings.storage_options()
    )
    assert table.to_pyarrow_table()["code"].to_pylist() == ["JPY"]
