"""dbt nodes as Prefect task runs (orchestration.dbt_task_runs): the transform flow's one in-process dbt build
shows every executed node as its own task run with its state; a failing test is a Failed task run and the
flow still raises DbtBuildFailed naming it. Under the session's real Prefect server."""

from __future__ import annotations

import time
from typing import Any

import pytest
from shop_batches import BATCHES, DAY1, DAY2, batch_id, entity_table, load_batch, ts

from lakehouse.lake import append_batch
from lakehouse.settings import Settings
from lakehouse.transform import DbtBuildFailed

pytestmark = pytest.mark.integration

FAILING_TEST = "positive_stg_shop__payments_amount"
BAD_DAY2: dict[str, list[tuple[Any, ...]]] = {  # a negative payment on an order of the night
    "orders": [(105, 3, DAY2, ts("2024-03-02T10:00"), "placed", ts("2024-03-02T10:00"))],
    "payments": [(5050, 105, "card", -5.0, ts("2024-03-02T10:05"))],
}


def _land_bad_night(settings: Settings) -> None:
    load_batch(DAY1, settings)
    clean = BATCHES.get(DAY2, {})
    for entity in sorted(set(clean) | set(BAD_DAY2)):
        table = entity_table(entity, clean.get(entity, []) + BAD_DAY2.get(entity, []), DAY2)
        append_batch(settings.uri("raw", "shop", entity), table, batch_id(entity, DAY2), settings)


def _final_task_runs(flow_run_id: Any, timeout: float = 120) -> list[Any]:
    """The flow run's task runs once the server has recorded them all in a final state (events are sent
    in the background)."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId

    deadline = time.monotonic() + timeout
    of_the_flow_run = FlowRunFilter(id=FlowRunFilterId(any_=[flow_run_id]))
    with get_client(sync_client=True) as client:
        while True:
            runs = client.read_task_runs(flow_run_filter=of_the_flow_run)
            if (runs and all(r.state and r.state.is_final() for r in runs)) or time.monotonic() > deadline:
                return runs
            time.sleep(1)


def test_each_dbt_node_is_a_task_run_with_its_state(prefect_api, tmp_path, monkeypatch) -> None:
    from orchestration.flows.transform.dbt_transform import dbt_transform

    monkeypatch.setenv("LAKEHOUSE_ROOT", str(tmp_path / "lake"))
    monkeypatch.delenv("LAKEHOUSE_CATALOG", raising=False)
    monkeypatch.setenv("DBT_TARGET_PATH", str(tmp_path / "target"))
    monkeypatch.setenv("DBT_LOG_PATH", str(tmp_path / "logs"))
    _land_bad_night(Settings())

    state = dbt_transform(run_date=DAY2, run_id="task-runs-test", return_state=True)

    assert state.is_failed()
    failure = state.result(raise_on_failure=False)
    assert isinstance(failure, DbtBuildFailed) and FAILING_TEST in str(failure)
    assert failure.summary is not None and any(n.name == FAILING_TEST for n in failure.summary.nodes)
    runs = _final_task_runs(state.state_details.flow_run_id)
    states = {r.name: (r.state.type.value, r.state.name) for r in runs if r.state}
    assert len(states) == len(runs), "two task runs share a name"
    assert all(name.split(" ")[0] in ("model", "test", "unit_test") for name in states), sorted(states)
    assert states[f"test {FAILING_TEST}"][0] == "FAILED"
    assert states["model stg_shop__payments"] == ("COMPLETED", "Completed")
    skipped = {n for n, (_, state_name) in states.items() if state_name == "Skipped"}
    assert any(n.startswith("model ") for n in skipped), states  # downstream of the failed test
    assert all(states[n][0] == "CANCELLED" for n in skipped)
    others = set(states) - skipped - {f"test {FAILING_TEST}"}
    assert others and {states[n][0] for n in others} == {"COMPLETED"}, states
    assert all(r.start_time and r.end_time and r.end_time >= r.start_time for r in runs)
