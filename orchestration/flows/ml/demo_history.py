"""Demo history for the model: many dates of the demo shop landed through the loader alone, the marts built
once, and the features for every few dates (ml/history.py), so a model can be trained in minutes."""

from __future__ import annotations

from datetime import date

from prefect import flow

from ml.history import History, build_history
from orchestration.flows.common import resolve_run_date, run_flow_cli


@flow(name="ml-demo-history", log_prints=True)
def demo_history(
    run_date: date | None = None, days: int = 75, scale: float = 0.2, feature_step: int = 3
) -> History:
    """Land `days` dates of the demo shop up to the date, build the marts, compute features every few days."""
    history = build_history(resolve_run_date(run_date), days, scale, feature_step=feature_step)
    print(
        f"{history.rows_landed} raw rows for {history.first} .. {history.last}; features for "
        f"{len(history.feature_dates)} dates"
    )
    return history


if __name__ == "__main__":
    run_flow_cli(demo_history)
