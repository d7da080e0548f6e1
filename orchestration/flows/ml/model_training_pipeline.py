"""Training stage: labels for every feature date whose window has passed, two models on a time-based split
logged to MLflow (the better one registered as the challenger), its model card as a Prefect artifact, then
the promotion decision (champion or not)."""

from __future__ import annotations

from datetime import date

from prefect import flow, task
from prefect.artifacts import create_markdown_artifact

from ml.labels import LabelReport, build_mature_labels
from ml.registry import Decision, promote_challenger
from ml.train import MODEL_KINDS, TrainingResult, train_models
from orchestration.flows.common import resolve_run_date, run_flow_cli


@task
def build_labels() -> list[LabelReport]:
    return build_mature_labels()


@task
def train(run_date: date, kinds: list[str]) -> TrainingResult:
    return train_models(run_date, kinds=kinds)


@task
def promote(run_date: date) -> Decision:
    return promote_challenger(run_date)


@flow(name="model-training-pipeline", log_prints=True)
def model_training_pipeline(
    run_date: date | None = None, models: list[str] | None = None, promote_model: bool = True
) -> TrainingResult:
    """Label, train (logistic, hist_gb), register the challenger, decide its promotion."""
    day = resolve_run_date(run_date)
    labels = build_labels()
    if not labels:
        raise RuntimeError(
            "no feature date has a passed label window: build more history first "
            "(python orchestration/flows/ml/demo_history.py, or lakehouse backfill)"
        )
    print(f"labels for {len(labels)} dates, {labels[0].as_of} .. {labels[-1].as_of}")
    result = train(day, list(models or MODEL_KINDS))
    create_markdown_artifact(
        key="model-card", markdown=result.card(), description=f"Model card, trained {day}"
    )
    chosen = result.chosen.kind
    print(f"registered {result.model_name} version {result.model_version} ({chosen}) as challenger")
    if promote_model:
        decision = promote(day)
        print(f"promotion: {'promoted' if decision.promoted else 'rejected'}: {decision.reason}")
    return result


if __name__ == "__main__":
    run_flow_cli(model_training_pipeline)
