"""dbt nodes as Prefect task runs, recorded from the events of one in-process dbt invocation.

prefect-dbt's runner gives every node a Prefect task engine in its own thread that waits for the node, and
routes every dbt log line through a Prefect context rebuilt from settings files: on this project the dbt stage
took 2-3x plain `dbt build`. Here a node's start and finish become its task run's Running and final state
events, which Prefect's events worker sends in the background (the way Prefect's own task engine records
task runs: no API call per node), and dbt's log lines become the task run's and flow run's logs.
"""

from __future__ import annotations

import contextvars
import logging
import threading
from datetime import timedelta
from typing import Any

from prefect.client.schemas.objects import StateDetails, TaskRun
from prefect.context import FlowRunContext
from prefect.events import Event
from prefect.logging.loggers import flow_run_logger, task_run_logger
from prefect.states import Cancelled, Completed, Failed, Pending, Running, State
from prefect.utilities.engine import emit_task_run_state_change_event

FAILED = {"error", "fail", "runtime error"}  # a dbt node_status that makes its task run Failed
LEVELS = {"info": logging.INFO, "warn": logging.WARNING, "error": logging.ERROR}  # debug lines are left out


class DbtNodeTaskRuns:
    """A dbt event callback (`dbtRunner(callbacks=[...])`) that makes each executed dbt node one task run of
    the current flow run, named `<resource type> <name>` (`model fct_orders`), Running while dbt runs it and
    Completed or Failed (with dbt's message) after, or Skipped (a Cancelled state) when an upstream failed;
    dbt's info, warning and error lines go to the node's task run or the flow run. Create it inside a flow
    run; dbt calls it from its worker threads."""

    def __init__(self) -> None:
        run = FlowRunContext.get()
        if run is None or run.flow_run is None:
            raise RuntimeError("DbtNodeTaskRuns records task runs of a flow run: create it inside a flow")
        self._flow_run, self._flow = run.flow_run, run.flow
        self._context = contextvars.copy_context()  # the flow run's: events carry it as related resources
        self._lock = threading.Lock()  # one thread at a time in the context, and on the dicts below
        self._runs: dict[str, TaskRun] = {}
        self._last_event: dict[str, Event | None] = {}
        self._flow_logger = flow_run_logger(self._flow_run, self._flow)

    @property
    def task_runs(self) -> dict[str, TaskRun]:
        """dbt unique id -> its task run as last recorded."""
        return dict(self._runs)

    def __call__(self, event: Any) -> None:  # dbt's EventMsg, a protobuf message of any event type
        name, level = event.info.name, LEVELS.get(event.info.level)
        node: Any = getattr(event.data, "node_info", None)
        node_id = node.unique_id if node is not None else ""
        with self._lock:
            if name == "NodeStart" and node_id:
                self._context.run(self._start, node_id, f"{node.resource_type} {node.node_name}")
            elif name == "NodeFinished" and node_id in self._runs:
                self._context.run(self._finish, node_id, node.node_status, event.data.run_result.message)
        if level is not None and event.info.msg:
            self._log(node_id, level, event.info.msg)

    def _start(self, node_id: str, name: str) -> None:
        pending: State[Any] = Pending()
        run = TaskRun(
            name=name,
            flow_run_id=self._flow_run.id,
            task_key=f"dbt-{node_id}"[:2000],
            dynamic_key=str(len(self._runs)),
            state=pending,
            expected_start_time=_at(pending),
        )
        self._runs[node_id] = run
        self._last_event[node_id] = None
        self._set_state(node_id, pending)
        running: State[Any] = Running()
        run.start_time, run.run_count = _at(running), 1  # sent with the Running event
        self._set_state(node_id, running)

    def _finish(self, node_id: str, status: str, message: str) -> None:
        final: State[Any]
        if status in FAILED:
            final = Failed(message=f"dbt: {status}: {message}".strip(": "))
        elif status == "skipped":  # dbt skips what depends on a failed node: not a success
            final = Cancelled(name="Skipped", message=f"dbt skipped it: {message}".strip(": "))
        else:
            final = Completed(message=f"dbt: {status}")
        run = self._runs[node_id]
        run.end_time = _at(final)  # sent with the final event
        run.total_run_time = max(final.timestamp - (run.start_time or final.timestamp), timedelta(0))
        self._set_state(node_id, final)

    def _set_state(self, node_id: str, state: State[Any]) -> State[Any]:
        run = self._runs[node_id]
        previous = run.state if run.state is not state else None
        state.state_details = StateDetails(task_run_id=run.id, flow_run_id=self._flow_run.id)
        if previous is not None and previous.timestamp >= state.timestamp:
            state.timestamp = previous.timestamp + timedelta(microseconds=1)  # states must move forward
        run.state, run.state_id, run.state_type, run.state_name = state, state.id, state.type, state.name
        self._last_event[node_id] = emit_task_run_state_change_event(
            task_run=run, initial_state=previous, validated_state=state, follows=self._last_event[node_id]
        )
        return state

    def _log(self, node_id: str, level: int, message: str) -> None:
        run = self._runs.get(node_id)
        if run is None:
            self._flow_logger.log(level, message)
        else:
            task_run_logger(run, flow_run=self._flow_run, flow=self._flow).log(level, message)


def _at(state: State[Any]) -> Any:
    """A state's timestamp as the TaskRun fields take it (Prefect types them as its own DateTime alias)."""
    return state.timestamp
