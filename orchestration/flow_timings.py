"""Pipeline health from the Prefect API: each nightly flow run and its stage flow runs (subflows), with
their durations and states, as timings the monitor judges (quality/monitoring/performance.py).

The run summaries under ops/runs/ hold the same stages as the pipeline measured them; the API adds what
Prefect saw of every flow run, also of runs that ended before writing a summary (crashed, cancelled)."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from uuid import UUID

from prefect.client.orchestration import SyncPrefectClient, get_client
from prefect.client.schemas.filters import (
    FlowFilter,
    FlowFilterName,
    FlowRunFilter,
    FlowRunFilterParentFlowRunId,
    FlowRunFilterStartTime,
)
from prefect.client.schemas.objects import FlowRun, StateType
from prefect.client.schemas.sorting import FlowRunSort
from prefect.types import DateTime

from quality.monitoring.performance import RunTiming

NIGHTLY_FLOW = "lakehouse-nightly"
TOTAL_KEY = "flow lakehouse-nightly"
PAGE = 200


def _run_date(run: FlowRun) -> date:
    """The logical date of a nightly run: its run_date parameter, else its scheduled day (UTC)."""
    value = run.parameters.get("run_date")
    if value:
        return date.fromisoformat(str(value)[:10])
    moment = run.expected_start_time or run.start_time or run.created or datetime.now(UTC)
    return moment.astimezone(UTC).date()


def _seconds(run: FlowRun) -> float | None:
    """Wall seconds of a finished flow run (None while it runs)."""
    if run.start_time is None or run.end_time is None:
        return None
    return (run.end_time - run.start_time).total_seconds()


def _stage_key(name: str, run: FlowRun) -> str:
    """`flow <name>`, with the layer for the quality gate that runs twice a night."""
    layer = run.parameters.get("layer")
    return f"flow {name}" + (f"[{layer}]" if isinstance(layer, str) else "")


def nightly_flow_timings(up_to: date, days: int = 60) -> list[RunTiming]:
    """Every nightly flow run of the `days` run dates up to `up_to` that Prefect knows, oldest first, with
    the seconds of the whole run and of each finished stage flow run; `ok` when the run completed."""
    since = datetime.combine(up_to - timedelta(days=days + 1), time(), UTC)
    with get_client(sync_client=True) as client:
        nightly = client.read_flow_runs(
            flow_filter=FlowFilter(name=FlowFilterName(any_=[NIGHTLY_FLOW])),
            flow_run_filter=FlowRunFilter(
                start_time=FlowRunFilterStartTime(after_=DateTime.fromisoformat(since.isoformat()))
            ),
            sort=FlowRunSort.START_TIME_ASC,
            limit=PAGE,
        )
        first = up_to - timedelta(days=days)
        nightly = [r for r in nightly if r.start_time is not None and first <= _run_date(r) <= up_to]
        stages = {str(r.id): _stage_runs(client, r) for r in nightly}
        names = {f.id: f.name for f in client.read_flows(limit=PAGE)} if nightly else {}
    return [_timing(run, stages[str(run.id)], names) for run in nightly]


def _stage_runs(client: SyncPrefectClient, run: FlowRun) -> list[FlowRun]:
    """The flow runs started inside `run` (its stage flows)."""
    parent = FlowRunFilterParentFlowRunId(any_=[run.id])
    return client.read_flow_runs(flow_run_filter=FlowRunFilter(parent_flow_run_id=parent), limit=PAGE)


def _timing(run: FlowRun, stages: list[FlowRun], names: dict[UUID, str]) -> RunTiming:
    seconds = {
        _stage_key(names.get(s.flow_id, str(s.flow_id)), s): value
        for s in stages
        if (value := _seconds(s)) is not None
    }
    if (total := _seconds(run)) is not None:
        seconds[TOTAL_KEY] = total
    ok = run.state_type == StateType.COMPLETED if run.state_type else False
    started = run.start_time or datetime.now(UTC)
    return RunTiming(_run_date(run), str(run.id), started, ok, seconds)
