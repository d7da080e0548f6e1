"""Train -> register -> promote -> score (A/B) -> evaluate A/B on a small lake; drift of a shifted feature."""

from __future__ import annotations

from datetime import date

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest

from lakehouse.lake import duckdb_session, open_table, replace_partition
from lakehouse.settings import Settings
from ml.ab import evaluate_ab
from ml.assignment import challenger_mask
from ml.drift import check_drift
from ml.features import feature_table_uri, load_features
from ml.labels import build_mature_labels
from ml.ledger import read_ledger
from ml.registry import promote_challenger
from ml.scoring import read_scores, score_customers, scores_table_uri
from ml.train import train_models
from tests.alerts.conftest import Receivers

DAY = date(2026, 11, 30)
SCORED = date(2026, 10, 30)  # the last date whose labels have matured
EARLIER = date(2026, 10, 27)


def _champion_and_challenger(settings: Settings) -> None:
    build_mature_labels(settings=settings)
    train_models(DAY, settings, kinds=("logistic",))
    assert promote_challenger(DAY, settings).promoted  # v1: champion
    train_models(DAY, settings, kinds=("hist_gb",))
    assert not promote_challenger(DAY, settings).promoted  # v2: stays challenger (margin 0.05)


@pytest.fixture
def ab_settings(ml_lake: Settings, monkeypatch: pytest.MonkeyPatch) -> Settings:
    monkeypatch.setenv("LAKEHOUSE_ML_CHALLENGER_SHARE", "0.5")
    monkeypatch.setenv("LAKEHOUSE_ML_PROMOTION_MARGIN", "0.05")
    return Settings()


def test_train_register_promote_score_and_evaluate_ab(ab_settings: Settings):
    settings = ab_settings
    _champion_and_challenger(settings)

    earlier = score_customers(EARLIER, settings)
    report = score_customers(SCORED, settings)
    scores = read_scores(SCORED, settings)
    assert scores.num_rows == report.rows == load_features(SCORED, settings).num_rows == 1000
    assert report.experiment == "customer-repurchase:v1-vs-v2"
    # every score carries its model and version; the arm decides which
    rows = scores.to_pylist()
    assert {(r["arm"], r["model_version"]) for r in rows} == {("champion", "1"), ("challenger", "2")}
    assert {r["model_name"] for r in rows} == {"customer-repurchase"}
    assert all(0 <= r["score"] <= 1 for r in rows)
    # the split is the deterministic hash split, about the configured share
    ids = scores["customer_id"].to_numpy()
    expected = challenger_mask(ids, report.experiment, 0.5)
    assert np.array_equal(pc.equal(scores["arm"], "challenger").to_numpy(zero_copy_only=False), expected)
    assert 400 < expected.sum() < 600

    # a rerun for the date gives identical rows and leaves other dates alone
    before_other = read_scores(EARLIER, settings)
    again = score_customers(SCORED, settings)
    assert again.table_version > report.table_version > earlier.table_version
    assert read_scores(SCORED, settings).equals(scores)
    assert read_scores(EARLIER, settings).equals(before_other)
    table = open_table(scores_table_uri(settings), settings)
    assert table is not None and table.to_pyarrow_table().num_rows == 2000

    # analysts read the published version through the catalog
    with duckdb_session(str(settings.catalog_path), settings, read_only=True) as con:
        row = con.execute("select count(*), count(distinct as_of_date) from ml.scores").fetchone()
    assert row == (2000, 2)

    # the labels of the scored date have matured: evaluate the arms into the ledger
    arms = {a.arm: a for a in evaluate_ab(SCORED, settings)}
    assert set(arms) == {"champion", "challenger"}
    assert sum(a.customers for a in arms.values()) == 1000
    for arm in arms.values():
        low, high = arm.rate_interval
        assert low < arm.rate < high and high - low < 0.15
        assert arm.roc_auc is not None and arm.auc_interval[0] < arm.roc_auc < arm.auc_interval[1]
        assert arm.roc_auc > 0.85
    ledger = read_ledger(settings, kind="ab").to_pylist()
    assert {(r["subject"], r["metric"]) for r in ledger} >= {
        ("customer-repurchase:v1-vs-v2:champion", "repurchase_rate"),
        ("customer-repurchase:v1-vs-v2:challenger", "roc_auc"),
    }
    assert len(ledger) == 8
    evaluate_ab(SCORED, settings)  # a rerun replaces its rows
    assert len(read_ledger(settings, kind="ab")) == 8


def _shift_feature(settings: Settings, as_of: date, name: str, factor: float) -> None:
    features = load_features(as_of, settings)
    index = features.schema.get_field_index(name)
    shifted = pc.multiply(features[name], pa.scalar(factor))
    features = features.set_column(index, features.schema.field(name), shifted.cast(features[name].type))
    replace_partition(feature_table_uri(settings), features, f"as_of_date = '{as_of.isoformat()}'", settings)


def test_a_feature_shifted_on_purpose_raises_the_psi_alert(
    ml_lake: Settings, receivers: Receivers, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setenv("LAKEHOUSE_ALERT_URLS", f"json://127.0.0.1:{receivers.http.port}/webhook")
    settings = Settings()
    build_mature_labels(settings=settings)
    train_models(DAY, settings, kinds=("hist_gb",))
    promote_challenger(DAY, settings)

    inside = date(2026, 10, 9)  # a date of the training window: avg_basket as the model saw it
    calm = check_drift(score_customers(inside, settings), settings)
    assert calm.psi["avg_basket"] < 0.1, calm.psi

    _shift_feature(settings, inside, "avg_basket", 3.0)
    shifted = check_drift(score_customers(inside, settings), settings)
    assert shifted.psi["avg_basket"] > 0.2 and "avg_basket" in shifted.drifted
    assert shifted.delivery is not None and shifted.delivery.sent
    (message,) = [m for m in receivers.webhook() if "avg_basket: PSI" in m["message"]]
    assert "model input or score drifted" in message["title"]
    ledger = read_ledger(settings, kind="drift").to_pylist()
    basket = [r for r in ledger if r["subject"] == "avg_basket"]
    assert len(basket) == 1 and basket[0]["outcome"] == "drifted" and basket[0]["value"] > 0.2
    assert {r["subject"] for r in ledger} >= {"score", "recency_days", "frequency"}
