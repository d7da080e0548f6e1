"""Scoring stage: every customer's score as of the date by the champion (an A/B share by the challenger),
published through write-audit-publish; drift of features and score against the training window; and the A/B
evaluation of the date whose label window has just closed. Skipped cleanly while no champion exists."""

from __future__ import annotations

from datetime import date, timedelta

from prefect import flow, task

from lakehouse.settings import get_settings
from ml.ab import ArmResult, evaluate_ab
from ml.drift import DriftReport, check_drift
from ml.labels import is_mature
from ml.scoring import ScoreReport, champion_exists, score_customers
from orchestration.flows.common import resolve_run_date, run_flow_cli


@task(retries=1, retry_delay_seconds=5)
def score(as_of: date) -> ScoreReport:
    return score_customers(as_of)


@task
def drift(report: ScoreReport) -> DriftReport:
    return check_drift(report)


@task
def ab_evaluation(as_of: date) -> list[ArmResult]:
    return evaluate_ab(as_of)


@flow(name="batch-scoring-pipeline", log_prints=True)
def batch_scoring_pipeline(run_date: date | None = None, evaluate: bool = True) -> ScoreReport | None:
    """Score every customer as of the date, check drift, evaluate the A/B test whose labels matured."""
    day = resolve_run_date(run_date)
    if not champion_exists():
        print("no champion model in the registry: scoring skipped (train one: model_training_pipeline.py)")
        return None
    report = score(day)
    ab = f", {report.challenger_rows} by challenger v{report.challenger_version}" if report.experiment else ""
    print(
        f"{report.rows} scores as of {day} by {report.model_name} v{report.champion_version}{ab}"
        f" -> scores table version {report.table_version}"
    )
    found = drift(report)
    print(f"drift: {', '.join(found.drifted) or 'none'} above PSI {found.threshold}")
    matured = day - timedelta(days=get_settings().lakehouse_ml_label_days)
    if evaluate and is_mature(matured):
        for arm in ab_evaluation(matured):
            print(
                f"A/B {arm.experiment} {arm.arm}: {arm.customers} customers, repurchase rate {arm.rate:.3f} "
                f"[{arm.rate_interval[0]:.3f}, {arm.rate_interval[1]:.3f}], ROC AUC {arm.roc_auc}"
            )
    return report


if __name__ == "__main__":
    run_flow_cli(batch_scoring_pipeline)
