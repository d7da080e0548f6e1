"""Training on demo history: the model finds the generator's latent repeat-purchase propensity and beats the
base rate and a recency-only rule by a clear margin; the run records the Delta versions it was trained on."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import numpy as np
from scipy.stats import spearmanr

from ingestion.shop.population import build_customers
from lakehouse.lake import open_table
from lakehouse.settings import Settings
from ml.dataset import load_dataset, time_split
from ml.features import feature_table_uri
from ml.labels import build_mature_labels, label_table_uri
from ml.registry import CHALLENGER, aliased_version, predict
from ml.tracking import mlflow_client
from ml.train import train_models
from tests.ml.conftest import HISTORY_SCALE

TRAINED_ON = date(2026, 11, 30)


def test_model_beats_base_rate_and_recency_rule_and_finds_the_propensity(ml_lake: Settings):
    build_mature_labels(settings=ml_lake)
    result = train_models(TRAINED_ON, ml_lake)
    model = result.chosen.metrics
    assert result.train_dates[-1] < result.holdout_dates[0]  # a time-based split
    assert {c.kind for c in result.candidates} == {"logistic", "hist_gb"}
    # a clear margin over the trivial baselines on the held-out (later) dates
    assert model.roc_auc >= result.recency.roc_auc + 0.02, (model, result.recency)
    assert model.pr_auc >= result.recency.pr_auc + 0.005
    assert model.log_loss <= 0.7 * result.base_rate.log_loss
    assert model.brier <= 0.7 * result.base_rate.brier
    assert model.calibration_error < 0.08
    assert model.top_decile_lift > 1.05
    # the scores rank customers as the generator's hidden propensity does
    holdout = time_split(load_dataset(ml_lake))[1]
    last = holdout.rows(holdout.as_of == holdout.as_of.max())
    propensity = build_customers(HISTORY_SCALE, ml_lake.lakehouse_seed).propensity[last.customer_id - 1]
    correlation = spearmanr(predict(result.chosen.model, last.X), propensity).statistic
    assert correlation > 0.7, correlation


def test_run_and_model_version_record_the_data_versions(ml_lake: Settings):
    build_mature_labels(settings=ml_lake)
    result = train_models(TRAINED_ON, ml_lake, kinds=("logistic",))
    features, labels = open_table(feature_table_uri(ml_lake)), open_table(label_table_uri(ml_lake))
    assert features is not None and labels is not None
    assert (result.feature_version, result.label_version) == (features.version(), labels.version())
    version = aliased_version(CHALLENGER, ml_lake)
    assert version is not None and str(version.version) == result.model_version == "1"
    assert version.tags["features_delta_version"] == str(features.version())
    assert version.tags["labels_delta_version"] == str(labels.version())
    run = mlflow_client(ml_lake).get_run(result.chosen.run_id)
    assert run.data.tags["features_delta_version"] == str(features.version())
    assert run.data.metrics["holdout_roc_auc"] == result.chosen.metrics.roc_auc
    assert np.isfinite(run.data.metrics["holdout_top_decile_lift"])
    # artifacts live in the lake, the store beside the catalog
    assert run.info.artifact_uri.startswith(Path(ml_lake.root).resolve().as_uri() + "/ml/mlflow/")
    assert (ml_lake.catalog_path.parent / "mlflow.db").exists()
    card = result.card()
    assert f"features Delta version {features.version()}" in card and "recency-only rule" in card
