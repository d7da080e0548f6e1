"""A/B evaluation: once a scoring date's labels have matured, compare the arms (champion, challenger) on the
customers each scored: realised repurchase rate (95 % Wilson interval), mean score (calibration in the large)
and ROC AUC (95 % bootstrap interval), into the ML ledger."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np

from lakehouse.lake import duckdb_session, open_table
from lakehouse.settings import Settings, get_settings
from ml.labels import build_labels, label_table_uri
from ml.ledger import LedgerRow, write_ledger
from ml.metrics import bootstrap_auc_interval, wilson_interval
from ml.scoring import scores_table_uri


@dataclass(frozen=True)
class ArmResult:
    experiment: str
    arm: str
    model_version: str
    customers: int
    positives: int
    rate: float
    rate_interval: tuple[float, float]
    mean_score: float
    roc_auc: float | None
    auc_interval: tuple[float, float]


Outcomes = dict[tuple[str, str, str], tuple[np.ndarray, np.ndarray]]


def scored_outcomes(as_of: date, settings: Settings) -> Outcomes:
    """(experiment, arm, model version) -> (scores, outcomes) of the date's A/B customers."""
    sql = f"""
        select
            s.experiment, s.arm, s.model_version,
            list(s.score order by s.customer_id) as scores,
            list(l.label::int order by s.customer_id) as labels,
        from delta_scan('{scores_table_uri(settings)}') as s
        join delta_scan('{label_table_uri(settings)}') as l using (customer_id, as_of_date)
        where s.as_of_date = $d and s.experiment is not null
        group by all
        order by s.arm
    """
    with duckdb_session(settings=settings) as con:
        groups = con.execute(sql, {"d": as_of}).fetchall()
    return {(e, a, v): (np.array(scores, float), np.array(labels, int)) for e, a, v, scores, labels in groups}


def arm_result(key: tuple[str, str, str], scores: np.ndarray, labels: np.ndarray) -> ArmResult:
    from sklearn.metrics import roc_auc_score

    positives = int(labels.sum())
    both = len(np.unique(labels)) == 2
    auc = float(roc_auc_score(labels, scores)) if both else None
    return ArmResult(
        *key,
        customers=len(labels),
        positives=positives,
        rate=positives / max(len(labels), 1),
        rate_interval=wilson_interval(positives, len(labels)),
        mean_score=float(scores.mean()),
        roc_auc=auc,
        auc_interval=bootstrap_auc_interval(labels, scores) if both else (float("nan"), float("nan")),
    )


def evaluate_ab(as_of: date, settings: Settings | None = None) -> list[ArmResult]:
    """Per-arm results of the A/B customers scored as of `as_of` (labels built if missing; LabelsNotMature
    while the window runs), recorded in the ML ledger (kind ab, subject <experiment>:<arm>)."""
    settings = settings or get_settings()
    if open_table(scores_table_uri(settings), settings) is None:
        return []
    build_labels(as_of, settings)
    results = [arm_result(k, s, y) for k, (s, y) in scored_outcomes(as_of, settings).items()]
    rows = [row for r in results for row in _ledger_rows(r, as_of)]
    write_ledger(rows, as_of, "ab", settings)
    return results


def _ledger_rows(r: ArmResult, as_of: date) -> list[LedgerRow]:
    detail = f"{r.customers} customers of arm {r.arm} (v{r.model_version}) scored as of {as_of}"
    metrics = [
        ("repurchase_rate", r.rate, r.rate_interval),
        ("roc_auc", r.roc_auc, r.auc_interval),
        ("mean_score", r.mean_score, (None, None)),
        ("customers", float(r.customers), (None, None)),
    ]
    return [
        LedgerRow(
            run_date=as_of,
            kind="ab",
            subject=f"{r.experiment}:{r.arm}",
            metric=metric,
            value=value,
            low=low,
            high=high,
            outcome="recorded",
            model_version=r.model_version,
            detail=detail,
        )
        for metric, value, (low, high) in metrics
    ]
