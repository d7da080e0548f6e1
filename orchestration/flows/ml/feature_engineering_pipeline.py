"""Features stage: customer features as of the logical date, appended idempotently to a Delta table."""

from __future__ import annotations

from datetime import date

from prefect import flow, task

from ml.features import FeatureReport, build_customer_features
from orchestration.flows.common import resolve_run_date, run_flow_cli


@task(retries=2, retry_delay_seconds=5)
def build_features(as_of: date) -> FeatureReport:
    return build_customer_features(as_of)


@flow(name="feature-engineering-pipeline", log_prints=True)
def feature_engineering_pipeline(run_date: date | None = None) -> FeatureReport:
    """Point-in-time customer features (recency, frequency, monetary, tenure, basket, rhythm)."""
    report = build_features(resolve_run_date(run_date))
    print(f"{report.customers} customer feature rows as of {report.as_of} -> {report.table_uri}")
    return report


if __name__ == "__main__":
    run_flow_cli(feature_engineering_pipeline)
