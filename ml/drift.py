"""Drift: the population stability index (PSI) of each feature and of the score on a scoring date against the
champion's training window (its drift reference: decile bins of each feature on the training dates and of
the score on the holdout, kept with its MLflow run). Every PSI goes to the ML ledger; any above
LAKEHOUSE_ML_PSI_THRESHOLD (default 0.2) raises one `drift` alert for the date and model version."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import date
from typing import Any

import numpy as np

from lakehouse.alerts import Alert, Delivery, send_alert
from lakehouse.settings import Settings, get_settings
from ml.ledger import LedgerRow, write_ledger
from ml.metrics import psi_from_edges
from ml.registry import CHAMPION, DRIFT_REFERENCE, aliased_version
from ml.scoring import ScoreReport
from ml.tracking import mlflow_client


@dataclass(frozen=True)
class DriftReport:
    as_of: date
    model_version: str
    psi: dict[str, float]  # feature name (and "score") -> PSI
    threshold: float
    delivery: Delivery | None

    @property
    def drifted(self) -> list[str]:
        return [name for name, value in self.psi.items() if value > self.threshold]


def load_reference(settings: Settings) -> tuple[str, dict[str, Any]]:
    """The champion's version and drift reference (from its MLflow run)."""
    import mlflow.artifacts

    champion = aliased_version(CHAMPION, settings)
    if champion is None or not champion.run_id:
        raise LookupError("no champion with a training run: train and promote a model first")
    mlflow_client(settings)
    reference = mlflow.artifacts.load_dict(f"runs:/{champion.run_id}/{DRIFT_REFERENCE}")
    return str(champion.version), reference


def psi_values(report: ScoreReport, reference: dict[str, Any]) -> dict[str, float]:
    current = {**report.features, "score": report.scores}
    return {
        name: psi_from_edges(np.array(ref["edges"]), np.array(ref["shares"]), current[name])
        for name, ref in reference.items()
        if name in current
    }


def _digest(names: list[str]) -> str:
    return hashlib.sha256(",".join(names).encode()).hexdigest()[:12]


def check_drift(report: ScoreReport, settings: Settings | None = None) -> DriftReport:
    """PSI of the scoring date's features and champion scores against the champion's reference; ledger rows
    for each; a `drift` alert when any exceeds the threshold."""
    settings = settings or get_settings()
    version, reference = load_reference(settings)
    values = psi_values(report, reference)
    threshold = settings.lakehouse_ml_psi_threshold
    rows = [
        LedgerRow(
            run_date=report.as_of,
            kind="drift",
            subject=name,
            metric="psi",
            value=value,
            threshold=threshold,
            outcome="drifted" if value > threshold else "stable",
            model_version=version,
            detail=f"PSI of {name} as of {report.as_of} against the training window of v{version}",
        )
        for name, value in values.items()
    ]
    write_ledger(rows, report.as_of, "drift", settings)
    drifted = {n: v for n, v in values.items() if v > threshold}
    delivery = None
    if drifted:
        alert = Alert(
            kind="drift",
            run_date=report.as_of,
            run_key=f"{report.model_name}-v{version}-{_digest(sorted(drifted))}",  # new finding, new alert
            failed=tuple(f"{n}: PSI {v:.3f} > {threshold}" for n, v in sorted(drifted.items())),
            notes=(
                "",
                f"Against the training window of {report.model_name} version {version}; the ML ledger "
                "(<lake>/ml/ledger, kind drift) has every PSI. Check the feature pipeline, then retrain.",
            ),
        )
        delivery = send_alert(alert, settings=settings)
    return DriftReport(report.as_of, version, values, threshold, delivery)
