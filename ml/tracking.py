"""MLflow for the lake: the tracking and registry store (MLFLOW_TRACKING_URI, else a SQLite file beside the
catalog) and the experiment whose artifacts live in the lake (`ml/mlflow/<experiment>`).

MLflow is imported only here and only when used (its import costs about a second and it reads telemetry
settings when imported): every entry point goes through `mlflow_client`.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

from lakehouse.layout import mlflow_artifacts
from lakehouse.settings import TELEMETRY_OFF, Settings, get_settings

if TYPE_CHECKING:
    from mlflow import MlflowClient

SQLITE_PREFIX = "sqlite:///"


def artifact_location(experiment: str, settings: Settings) -> str:
    """The experiment's artifact root in the lake (a file:// URI locally, s3://… on S3)."""
    location = f"{mlflow_artifacts(settings)}/{experiment}"
    return location if settings.is_s3 else Path(location).resolve().as_uri()


def mlflow_client(settings: Settings | None = None) -> MlflowClient:
    """A client on the lake's tracking and registry store, with MLflow's telemetry off (unless the operator
    set MLFLOW_DISABLE_TELEMETRY otherwise); also points the `mlflow` module's fluent API at the store."""
    settings = settings or get_settings()
    for key, value in TELEMETRY_OFF.items():
        os.environ.setdefault(key, value)
    import mlflow

    uri = settings.mlflow_uri
    if uri.startswith(SQLITE_PREFIX):
        Path(uri.removeprefix(SQLITE_PREFIX)).parent.mkdir(parents=True, exist_ok=True)
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    return mlflow.MlflowClient(tracking_uri=uri, registry_uri=uri)


def experiment_id(client: MlflowClient, settings: Settings | None = None) -> str:
    """The id of the experiment LAKEHOUSE_ML_EXPERIMENT, created with its artifacts in the lake."""
    settings = settings or get_settings()
    name = settings.lakehouse_ml_experiment
    found = client.get_experiment_by_name(name)
    if found is not None:
        return str(found.experiment_id)
    return str(client.create_experiment(name, artifact_location=artifact_location(name, settings)))
