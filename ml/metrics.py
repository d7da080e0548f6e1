"""Model metrics on numpy arrays: discrimination, calibration, lift, population stability, intervals.

scikit-learn is imported where a metric needs it: the nightly flow imports this module, and sklearn's import
costs about a second."""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

CALIBRATION_BINS = 10
EPS = 1e-6


@dataclass(frozen=True)
class Metrics:
    rows: int
    base_rate: float
    roc_auc: float
    pr_auc: float
    log_loss: float
    brier: float
    calibration_error: float  # expected calibration error over CALIBRATION_BINS equal-count bins
    top_decile_lift: float  # positive rate among the top 10 % of scores / base rate

    def as_dict(self) -> dict[str, float]:
        return {k: float(v) for k, v in asdict(self).items()}


def _clip(p: np.ndarray) -> np.ndarray:
    return np.clip(p.astype(float), EPS, 1 - EPS)


def top_decile_lift(y: np.ndarray, score: np.ndarray) -> float:
    top = max(1, len(y) // 10)
    order = np.argsort(-score, kind="stable")
    return float(y[order[:top]].mean() / max(y.mean(), EPS))


def calibration_table(
    y: np.ndarray, p: np.ndarray, bins: int = CALIBRATION_BINS
) -> list[tuple[float, float, int]]:
    """(mean predicted, observed rate, rows) per equal-count bin of the predictions, lowest first."""
    order = np.argsort(p, kind="stable")
    return [
        (float(p[part].mean()), float(y[part].mean()), len(part))
        for part in np.array_split(order, bins)
        if len(part)
    ]


def expected_calibration_error(y: np.ndarray, p: np.ndarray) -> float:
    table = calibration_table(y, p)
    return float(sum(n * abs(pred - obs) for pred, obs, n in table) / max(len(y), 1))


def evaluate(y: np.ndarray, p: np.ndarray) -> Metrics:
    """Metrics of probabilities `p` against binary outcomes `y` (both classes must occur)."""
    from sklearn.metrics import average_precision_score, brier_score_loss, log_loss, roc_auc_score

    y = y.astype(int)
    if len(np.unique(y)) < 2:
        raise ValueError(f"cannot evaluate on {len(y)} rows holding only one class: use more dates")
    p = _clip(p)
    return Metrics(
        rows=len(y),
        base_rate=float(y.mean()),
        roc_auc=float(roc_auc_score(y, p)),
        pr_auc=float(average_precision_score(y, p)),
        log_loss=float(log_loss(y, p, labels=[0, 1])),
        brier=float(brier_score_loss(y, p)),
        calibration_error=expected_calibration_error(y, p),
        top_decile_lift=top_decile_lift(y, p),
    )


def psi(reference: np.ndarray, current: np.ndarray, bins: int = 10) -> float:
    """Population stability index of `current` against `reference` over the reference's decile bins
    (missing values are a bin of their own)."""
    edges = reference_edges(reference, bins)
    return psi_from_edges(edges, bin_shares(reference, edges), current)


def reference_edges(values: np.ndarray, bins: int = 10) -> np.ndarray:
    """Inner bin edges: the distinct deciles of the non-missing values."""
    finite = values[np.isfinite(values)]
    if not len(finite):
        return np.array([])
    return np.unique(np.quantile(finite, np.linspace(0, 1, bins + 1)[1:-1]))


def bin_shares(values: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Share of `values` in each bin (bins split at `edges`, right-closed), then the missing share."""
    missing = ~np.isfinite(values)
    counts = np.bincount(np.searchsorted(edges, values[~missing], side="left"), minlength=len(edges) + 1)
    shares = np.append(counts, missing.sum()).astype(float)
    return shares / max(len(values), 1)


def psi_from_edges(edges: np.ndarray, reference_shares: np.ndarray, current: np.ndarray) -> float:
    expected = np.maximum(np.asarray(reference_shares, float), 1e-4)
    actual = np.maximum(bin_shares(current, edges), 1e-4)
    return float(np.sum((actual - expected) * np.log(actual / expected)))


def wilson_interval(positives: int, n: int, z: float = 1.96) -> tuple[float, float]:
    """95 % Wilson score interval of a proportion."""
    if n == 0:
        return (float("nan"), float("nan"))
    rate = positives / n
    centre = (rate + z * z / (2 * n)) / (1 + z * z / n)
    half = z * np.sqrt(rate * (1 - rate) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return (float(centre - half), float(centre + half))


def bootstrap_auc_interval(
    y: np.ndarray, score: np.ndarray, resamples: int = 200, seed: int = 0
) -> tuple[float, float]:
    """95 % percentile bootstrap interval of ROC AUC (resamples holding one class are skipped)."""
    from sklearn.metrics import roc_auc_score

    rng = np.random.default_rng(seed)
    aucs = []
    for _ in range(resamples):
        idx = rng.integers(0, len(y), len(y))
        if len(np.unique(y[idx])) == 2:
            aucs.append(roc_auc_score(y[idx], score[idx]))
    if not aucs:
        return (float("nan"), float("nan"))
    low, high = np.percentile(aucs, [2.5, 97.5])
    return (float(low), float(high))
