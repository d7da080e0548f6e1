"""The model registry (MLflow): aliases `champion` (scores production) and `challenger` (the latest trained
model). A challenger replaces the champion only when its ROC AUC on the challenger's holdout (the same rows,
read at the Delta versions recorded on the challenger) beats the champion's by LAKEHOUSE_ML_PROMOTION_MARGIN.
Each decision is kept as tags on the challenger's model version and as a row of the ML ledger.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING, Any

import numpy as np

from lakehouse.settings import Settings, get_settings
from ml.dataset import Dataset, load_dataset
from ml.ledger import LedgerRow, write_ledger
from ml.tracking import mlflow_client

if TYPE_CHECKING:
    from mlflow.entities.model_registry import ModelVersion


CHAMPION = "champion"
CHALLENGER = "challenger"
DRIFT_REFERENCE = "drift_reference.json"  # artifact of a model's training run (ml/drift.py)
MODEL_CARD = "model_card.md"


def predict(model: Any, X: np.ndarray) -> np.ndarray:
    """The probability of the positive class."""
    return np.asarray(model.predict_proba(X))[:, 1]


class NoModel(LookupError):
    """The registry has no model version under the alias asked for."""


@dataclass(frozen=True)
class Decision:
    model_name: str
    challenger_version: str
    champion_version: str | None  # before the decision
    challenger_auc: float
    champion_auc: float | None
    margin: float
    promoted: bool
    holdout_rows: int

    @property
    def reason(self) -> str:
        if self.champion_auc is None:
            return "no champion yet: the first challenger becomes the champion"
        verdict = "beats" if self.promoted else "does not beat"
        return (
            f"challenger v{self.challenger_version} ROC AUC {self.challenger_auc:.4f} {verdict} champion "
            f"v{self.champion_version} {self.champion_auc:.4f} + margin {self.margin} on the same holdout "
            f"({self.holdout_rows} rows)"
        )


def aliased_version(alias: str, settings: Settings | None = None) -> ModelVersion | None:
    """The model version under `alias` (champion, challenger), None when there is none."""
    from mlflow.exceptions import MlflowException

    settings = settings or get_settings()
    client = mlflow_client(settings)
    try:
        return client.get_model_version_by_alias(settings.lakehouse_ml_model, alias)
    except MlflowException:
        return None


def load_version(version: ModelVersion, settings: Settings | None = None) -> Any:
    """The scikit-learn pipeline of a registered model version."""
    import mlflow.sklearn

    mlflow_client(settings)
    return mlflow.sklearn.load_model(f"models:/{version.name}/{version.version}")


def feature_names(version: ModelVersion) -> list[str]:
    return str(version.tags["feature_names"]).split(",")


def holdout_of(version: ModelVersion, settings: Settings | None = None) -> Dataset:
    """The holdout rows a version was evaluated on, read at the Delta versions it was trained from."""
    dates = [date.fromisoformat(d) for d in str(version.tags["holdout_dates"]).split(",")]
    versions = (int(version.tags["features_delta_version"]), int(version.tags["labels_delta_version"]))
    return load_dataset(settings, dates=dates, versions=versions)


def holdout_auc(version: ModelVersion, holdout: Dataset, settings: Settings) -> float:
    from sklearn.metrics import roc_auc_score

    data = holdout.select(feature_names(version))
    return float(roc_auc_score(data.y, predict(load_version(version, settings), data.X)))


def promote_challenger(run_date: date, settings: Settings | None = None) -> Decision:
    """Compare the challenger with the champion on the challenger's holdout; promote it when it wins by the
    margin (or when there is no champion). The decision is tagged on the challenger and written to the ledger.
    """
    settings = settings or get_settings()
    challenger = aliased_version(CHALLENGER, settings)
    if challenger is None:
        raise NoModel(
            f"model {settings.lakehouse_ml_model!r} has no {CHALLENGER!r} version: train one first "
            "(python orchestration/flows/ml/model_training_pipeline.py)."
        )
    champion = aliased_version(CHAMPION, settings)
    holdout = holdout_of(challenger, settings)
    challenger_auc = holdout_auc(challenger, holdout, settings)
    champion_auc = holdout_auc(champion, holdout, settings) if champion else None
    margin = settings.lakehouse_ml_promotion_margin
    promoted = champion_auc is None or challenger_auc >= champion_auc + margin
    decision = Decision(
        challenger.name,
        str(challenger.version),
        str(champion.version) if champion else None,
        challenger_auc,
        champion_auc,
        margin,
        promoted,
        len(holdout.y),
    )
    record_decision(decision, run_date, settings)
    return decision


def record_decision(decision: Decision, run_date: date, settings: Settings) -> None:
    """Tags on the challenger's version, the aliases moved when promoted, and a ledger row."""
    client = mlflow_client(settings)
    name, version = decision.model_name, decision.challenger_version
    tags = {
        "promotion_decision": "promoted" if decision.promoted else "rejected",
        "promotion_reason": decision.reason,
        "promotion_date": run_date.isoformat(),
        "promotion_challenger_auc": f"{decision.challenger_auc:.6f}",
        "promotion_champion_auc": "" if decision.champion_auc is None else f"{decision.champion_auc:.6f}",
        "promotion_champion_version": decision.champion_version or "",
    }
    for key, value in tags.items():
        client.set_model_version_tag(name, version, key, value)
    if decision.promoted:
        client.set_registered_model_alias(name, CHAMPION, version)
        client.delete_registered_model_alias(name, CHALLENGER)
        if decision.champion_version:
            client.set_model_version_tag(name, decision.champion_version, "replaced_by", version)
    row = LedgerRow(
        run_date=run_date,
        kind="promotion",
        subject=f"{name}@{version}",
        metric="holdout_roc_auc",
        value=decision.challenger_auc,
        threshold=None if decision.champion_auc is None else decision.champion_auc + decision.margin,
        outcome=str(tags["promotion_decision"]),
        model_version=version,
        detail=decision.reason,
    )
    write_ledger([row], run_date, "promotion", settings)
