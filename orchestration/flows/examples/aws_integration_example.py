"""AWS integration example: a date's demo shop files to S3 with boto3, raw Delta tables on S3, and every
Delta table of the lake registered in the Glue Data Catalog (for Athena, EMR, Glue jobs).

    python orchestration/flows/examples/aws_integration_example.py --date 2026-11-20 --bucket my-lake

Credentials come from the environment only (AWS_* variables, ~/.aws or an instance role). With no endpoint
and no credentials configured it starts moto's S3 + Glue API on 127.0.0.1 and runs there, offline.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from prefect import flow, task
from prefect.cache_policies import NONE

from ingestion.aws_example import RawTableRows, raw_table_rows, upload_demo_landing
from ingestion.pipeline import land_source
from ingestion.registry import get_source
from lakehouse.aws import aws_api, s3_lake_settings
from lakehouse.glue import GlueTable, register_delta_tables
from orchestration.flows.common import resolve_run_date, run_flow_cli

SOURCE = "shop"  # the demo source: the only one with a generator

upload_landing_task = task(name="s3-upload-landing", cache_policy=NONE)(upload_demo_landing)
land_source_task = task(name="land-raw-delta-on-s3", cache_policy=NONE)(land_source)
register_glue_task = task(name="register-glue-tables", cache_policy=NONE)(register_delta_tables)


class IngestionFailed(RuntimeError):
    """Some landing files or records did not land; the message says which and what to fix."""


@dataclass(frozen=True)
class AwsExampleResult:
    landing: list[str]
    raw_tables: list[RawTableRows]
    glue_tables: list[GlueTable]


@flow(name="aws-integration-example", log_prints=True)
def aws_integration_example(
    run_date: date | None = None,
    bucket: str = "lakehouse-example",
    prefix: str = "lakehouse",
    region: str | None = None,
    endpoint_url: str | None = None,
    scale: float | None = None,
) -> AwsExampleResult:
    """Upload a date's demo shop files to s3://BUCKET/PREFIX/landing/ with boto3, land them as raw Delta
    tables on S3 and register every Delta table of the lake in Glue. Region and endpoint default to
    AWS_REGION and AWS_ENDPOINT_URL; with neither an endpoint nor credentials, a local moto server is used."""
    day = resolve_run_date(run_date)
    with aws_api(s3_lake_settings(bucket, prefix, region, endpoint_url)) as api:
        print(api.note)
        settings, source = api.settings, get_source(SOURCE, api.settings)
        landing = upload_landing_task(source, day, scale or settings.lakehouse_scale, settings)
        print("\n".join(["uploaded with boto3:", *landing]))
        report = land_source_task(source, day, settings, generate=False)
        raw_tables = raw_table_rows(report, settings)
        print("\n".join(["raw Delta tables on S3:", *map(str, raw_tables)]))
        glue_tables = register_glue_task(settings)
        print("\n".join(["Glue Data Catalog:", *map(str, glue_tables)]))
    if report.has_problems:
        raise IngestionFailed("\n".join(report.problems()))
    return AwsExampleResult(landing, raw_tables, glue_tables)


if __name__ == "__main__":
    run_flow_cli(aws_integration_example)
