"""The AWS example's ingestion steps (orchestration/flows/examples/aws_integration_example.py): deliver a
source's demo files to S3 with boto3, and count what landed in its raw Delta tables."""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from ingestion.pipeline import deliver_demo
from ingestion.registry import Source
from ingestion.report import IngestReport
from lakehouse.aws import client, ensure_bucket, split_s3_uri, upload_folder
from lakehouse.lake import open_table
from lakehouse.layout import landing_dir
from lakehouse.settings import Settings


@dataclass(frozen=True)
class RawTableRows:
    uri: str
    rows: int  # rows in the table now
    landed: int  # rows this run appended (0 when the date was already loaded)

    def __str__(self) -> str:
        return f"{self.uri}: {self.rows} rows ({self.landed} landed by this run)"


def upload_demo_landing(source: Source, run_date: date, scale: float, settings: Settings) -> list[str]:
    """Generate `source`'s demo files of `run_date` in a temporary folder and upload them with boto3 to
    <lake>/landing/<source>/<date>/ (creating the bucket if missing); returns the objects' s3:// URIs."""
    if source.demo is None:
        raise ValueError(f"source {source.name} has no demo generator (demo.generator in its YAML)")
    target = landing_dir(source.name, run_date, settings)
    s3 = client("s3", settings)
    ensure_bucket(s3, split_s3_uri(target)[0], settings.aws_region)
    with tempfile.TemporaryDirectory(prefix="lakehouse-landing-") as tmp:
        local = settings.model_copy(update={"lakehouse_root": tmp})
        deliver_demo(source, run_date, scale, settings.lakehouse_seed, local)
        return upload_folder(s3, Path(landing_dir(source.name, run_date, local)), target)


def raw_table_rows(report: IngestReport, settings: Settings) -> list[RawTableRows]:
    """Rows now in each raw table the ingest report names, read back with deltalake."""
    counts = []
    for entity in report.entities.values():
        table = open_table(entity.raw_table, settings)
        rows = table.to_pyarrow_dataset().count_rows() if table is not None else 0
        counts.append(RawTableRows(entity.raw_table, rows, entity.rows_landed))
    return counts
