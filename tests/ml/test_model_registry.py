"""Champion and challenger: a challenger is promoted only when it beats the champion on the same holdout by
the configured margin; every decision is kept on the model version and in the ML ledger."""

from __future__ import annotations

from datetime import date

import pytest

from lakehouse.settings import Settings
from ml.labels import build_mature_labels
from ml.ledger import read_ledger
from ml.registry import CHALLENGER, CHAMPION, NoModel, aliased_version, promote_challenger
from ml.train import train_models

DAY = date(2026, 11, 30)


def _version(alias: str, settings: Settings) -> str | None:
    version = aliased_version(alias, settings)
    return None if version is None else str(version.version)


def test_promotion_needs_the_margin_on_the_same_holdout(ml_lake: Settings, monkeypatch: pytest.MonkeyPatch):
    with pytest.raises(NoModel, match="train one first"):
        promote_challenger(DAY, ml_lake)
    build_mature_labels(settings=ml_lake)

    # 1. the first model becomes the champion
    train_models(DAY, ml_lake, kinds=("logistic",))
    first = promote_challenger(DAY, ml_lake)
    assert first.promoted and first.champion_auc is None
    assert (_version(CHAMPION, ml_lake), _version(CHALLENGER, ml_lake)) == ("1", None)

    # 2. a better model (gradient boosting) wins by more than a small margin: promoted
    monkeypatch.setenv("LAKEHOUSE_ML_PROMOTION_MARGIN", "0.001")
    settings = Settings()
    train_models(DAY, settings, kinds=("hist_gb",))
    second = promote_challenger(DAY, settings)
    assert second.champion_auc is not None
    assert second.promoted, second.reason
    assert second.challenger_auc >= second.champion_auc + 0.001
    assert (_version(CHAMPION, settings), _version(CHALLENGER, settings)) == ("2", None)

    # 3. the same better model again, but the margin asks for more than it gains: rejected, champion stays
    monkeypatch.setenv("LAKEHOUSE_ML_PROMOTION_MARGIN", "0.05")
    settings = Settings()
    train_models(DAY, settings, kinds=("hist_gb",))
    third = promote_challenger(DAY, settings)
    assert not third.promoted and third.champion_version == "2"
    assert third.holdout_rows == second.holdout_rows  # the same holdout rows, scored by both
    assert (_version(CHAMPION, settings), _version(CHALLENGER, settings)) == ("2", "3")

    rejected = aliased_version(CHALLENGER, settings)
    assert rejected is not None
    assert rejected.tags["promotion_decision"] == "rejected"
    assert "does not beat champion v2" in rejected.tags["promotion_reason"]
    old = aliased_version(CHAMPION, settings)
    assert old is not None and old.tags["promotion_decision"] == "promoted"

    ledger = read_ledger(settings, kind="promotion").to_pylist()
    decisions = {row["subject"]: row["outcome"] for row in ledger}
    assert decisions == {
        "customer-repurchase@1": "promoted",
        "customer-repurchase@2": "promoted",
        "customer-repurchase@3": "rejected",
    }
