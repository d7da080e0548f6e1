"""Training: two scikit-learn pipelines (a logistic regression baseline and histogram gradient boosting) on
a time-based split of the labelled features, compared with the base rate and a recency-only rule; each run is
logged to MLflow with the Delta versions of the data, and the better model is registered as the challenger.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import numpy as np
from sklearn.base import ClassifierMixin
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler

from lakehouse.settings import Settings, get_settings
from ml.dataset import Dataset, load_dataset, time_split
from ml.metrics import Metrics, bin_shares, calibration_table, evaluate, reference_edges
from ml.registry import CHALLENGER, DRIFT_REFERENCE, MODEL_CARD, predict
from ml.tracking import experiment_id, mlflow_client

MODEL_KINDS = ("logistic", "hist_gb")


def make_model(kind: str, seed: int = 42) -> Pipeline:
    """A fresh pipeline: `logistic` (impute with missing indicators, scale, L2 logistic regression) or
    `hist_gb` (gradient boosting on histograms; handles missing values itself)."""
    estimator: ClassifierMixin
    if kind == "logistic":
        return make_pipeline(
            SimpleImputer(strategy="median", add_indicator=True),
            StandardScaler(),
            LogisticRegression(max_iter=1000),
        )
    if kind == "hist_gb":
        estimator = HistGradientBoostingClassifier(
            max_iter=200, learning_rate=0.05, max_leaf_nodes=15, l2_regularization=1.0, random_state=seed
        )
        return make_pipeline(estimator)
    raise ValueError(f"unknown model kind {kind!r}: choose one of {', '.join(MODEL_KINDS)}")


def recency_rule(data: Dataset) -> np.ndarray:
    """The trivial rule to beat: the more recent the last order, the likelier the next (never: last)."""
    recency = data.column("recency_days")
    return -np.where(np.isfinite(recency), recency, np.nanmax(recency, initial=0) + 1)


@dataclass
class Candidate:
    kind: str
    model: Pipeline
    metrics: Metrics
    run_id: str = ""


@dataclass
class TrainingResult:
    trained_on: date
    train_dates: list[date]
    holdout_dates: list[date]
    feature_names: tuple[str, ...]
    feature_version: int
    label_version: int
    candidates: list[Candidate]
    base_rate: Metrics
    recency: Metrics
    chosen: Candidate
    model_name: str = ""
    model_version: str = ""
    calibration: list[tuple[float, float, int]] = field(default_factory=list)

    def card(self) -> str:
        return model_card(self)


def fit_candidates(train: Dataset, holdout: Dataset, kinds: Sequence[str], seed: int) -> list[Candidate]:
    out = []
    for kind in kinds:
        model = make_model(kind, seed).fit(train.X, train.y)
        out.append(Candidate(kind, model, evaluate(holdout.y, predict(model, holdout.X))))
    return out


def drift_reference(train: Dataset, holdout_scores: np.ndarray) -> dict[str, Any]:
    """Per feature (training window) and for the score (holdout): decile edges and bin shares, for PSI."""
    reference: dict[str, Any] = {}
    for name in train.feature_names:
        values = train.column(name)
        edges = reference_edges(values)
        reference[name] = {"edges": edges.tolist(), "shares": bin_shares(values, edges).tolist()}
    edges = reference_edges(holdout_scores)
    reference["score"] = {"edges": edges.tolist(), "shares": bin_shares(holdout_scores, edges).tolist()}
    return reference


def train_models(
    trained_on: date,
    settings: Settings | None = None,
    kinds: Sequence[str] = MODEL_KINDS,
    holdout_share: float = 0.3,
    register: bool = True,
) -> TrainingResult:
    """Fit `kinds` on the labelled history, log each to MLflow, and register the best (by holdout ROC AUC)
    as a new version of the settings' model with the alias `challenger`."""
    settings = settings or get_settings()
    data = load_dataset(settings)
    train, holdout = time_split(data, holdout_share)
    candidates = fit_candidates(train, holdout, kinds, settings.lakehouse_seed)
    chosen = max(candidates, key=lambda c: c.metrics.roc_auc)
    result = TrainingResult(
        trained_on=trained_on,
        train_dates=train.dates,
        holdout_dates=holdout.dates,
        feature_names=data.feature_names,
        feature_version=data.feature_version,
        label_version=data.label_version,
        candidates=candidates,
        base_rate=evaluate(holdout.y, np.full(len(holdout.y), train.y.mean())),
        recency=evaluate(holdout.y, _rank_probability(recency_rule(holdout))),
        chosen=chosen,
        calibration=calibration_table(holdout.y, predict(chosen.model, holdout.X)),
    )
    reference = drift_reference(train, predict(chosen.model, holdout.X))
    log_training(result, train, reference, settings, register)
    return result


def _rank_probability(score: np.ndarray) -> np.ndarray:
    """A rule's score as a probability-like rank in (0, 1), so AUC and lift apply (log loss is not meant)."""
    ranks = np.argsort(np.argsort(score, kind="stable"), kind="stable")
    return (ranks + 1) / (len(score) + 1)


def _tags(result: TrainingResult) -> dict[str, str]:
    return {
        "features_delta_version": str(result.feature_version),
        "labels_delta_version": str(result.label_version),
        "train_dates": ",".join(d.isoformat() for d in result.train_dates),
        "holdout_dates": ",".join(d.isoformat() for d in result.holdout_dates),
        "feature_names": ",".join(result.feature_names),
        "trained_on": result.trained_on.isoformat(),
    }


def log_training(
    result: TrainingResult, train: Dataset, reference: dict[str, Any], settings: Settings, register: bool
) -> None:
    """One MLflow run per candidate (params, holdout metrics, data versions, the model); the chosen one also
    holds the drift reference and the model card, and is registered as the challenger."""
    import mlflow
    from mlflow.models import infer_signature

    client = mlflow_client(settings)
    experiment = experiment_id(client, settings)
    signature = infer_signature(train.X[:5], np.zeros(5))
    for candidate in result.candidates:
        run_name = f"{candidate.kind} {result.trained_on}"
        with mlflow.start_run(experiment_id=experiment, run_name=run_name) as run:
            candidate.run_id = run.info.run_id
            mlflow.set_tags(_tags(result) | {"model_kind": candidate.kind})
            mlflow.log_params({"model_kind": candidate.kind, "train_rows": len(train.y)})
            mlflow.log_params({f"model.{k}": v for k, v in _short_params(candidate.model).items()})
            mlflow.log_metrics({f"holdout_{k}": v for k, v in candidate.metrics.as_dict().items()})
            mlflow.log_metrics({"holdout_recency_rule_roc_auc": result.recency.roc_auc})
            info = mlflow.sklearn.log_model(
                candidate.model,
                name="model",
                signature=signature,
                serialization_format="cloudpickle",
                pip_requirements=_requirements(),  # else MLflow exports the whole uv project (slow)
            )
            if candidate is result.chosen:
                mlflow.log_dict(reference, DRIFT_REFERENCE)
                if register:
                    _register(result, info.model_uri, run.info.run_id, settings)
                mlflow.log_text(result.card(), MODEL_CARD)


def _requirements() -> list[str]:
    from importlib.metadata import version

    return [f"{name}=={version(name)}" for name in ("scikit-learn", "numpy", "cloudpickle")]


def _short_params(model: Pipeline) -> dict[str, Any]:
    estimator = model.steps[-1][1]
    return {k: v for k, v in estimator.get_params().items() if isinstance(v, int | float | str)}


def _register(result: TrainingResult, model_uri: str, run_id: str, settings: Settings) -> None:
    import mlflow

    client = mlflow_client(settings)
    name = settings.lakehouse_ml_model
    version = mlflow.register_model(model_uri, name, tags=_tags(result) | {"run_id": run_id})
    client.set_registered_model_alias(name, CHALLENGER, version.version)
    result.model_name, result.model_version = name, str(version.version)


def model_card(result: TrainingResult) -> str:
    """The model card (Markdown): what was trained on which data, and how it did on the holdout."""
    cols = ("roc_auc", "pr_auc", "log_loss", "brier", "calibration_error", "top_decile_lift")
    rows = [(c.kind + (" (registered)" if c is result.chosen else ""), c.metrics) for c in result.candidates]
    rows += [("base rate", result.base_rate), ("recency-only rule", result.recency)]
    table = ["| model | " + " | ".join(cols) + " |", "|---" * (len(cols) + 1) + "|"]
    table += [f"| {name} | " + " | ".join(f"{m.as_dict()[c]:.4f}" for c in cols) + " |" for name, m in rows]
    calibration = ["| mean predicted | observed | rows |", "|---|---|---|"]
    calibration += [f"| {p:.3f} | {o:.3f} | {n} |" for p, o, n in result.calibration]
    registered = (
        f"`{result.model_name}` version {result.model_version} (alias `{CHALLENGER}`)"
        if result.model_version
        else "not registered"
    )
    return "\n".join(
        [
            f"# Model card: customer repurchase, trained {result.trained_on}",
            "",
            "**Predicts** whether a customer places a non-cancelled order within the label window after "
            "`as_of` (ml/labels.py).",
            f"**Registered:** {registered}; chosen by holdout ROC AUC.",
            f"**Data:** features Delta version {result.feature_version}, labels Delta version "
            f"{result.label_version}; train as_of {_span(result.train_dates)}, holdout as_of "
            f"{_span(result.holdout_dates)} ({result.chosen.metrics.rows} rows, base rate "
            f"{result.chosen.metrics.base_rate:.3f}).",
            f"**Features:** {', '.join(result.feature_names)}.",
            "",
            "## Holdout metrics",
            *table,
            "",
            "Lift: positive rate in the top decile of scores over the base rate. The rules' log loss is of a "
            "rank, not a probability: compare them by ROC AUC, PR AUC and lift.",
            "",
            "## Calibration of the registered model (deciles of the prediction)",
            *calibration,
            "",
            "Caveat: the label windows of the last training dates reach into the holdout's dates (no gap is "
            "left between them, to keep short histories usable).",
        ]
    )


def _span(dates: Sequence[date]) -> str:
    return f"{dates[0]} .. {dates[-1]} ({len(dates)} dates)" if dates else "none"
