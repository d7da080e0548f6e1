"""The nightly run's alerts, sent once per run and kind (lakehouse.alerts sends them).

A failed run is one finding, the most specific that applies: a blocking quality check failed (Soda contract
or dbt test; the marts may also have been withheld), else the marts were withheld (a dbt model failed), else
the run failed (quarantined input, a source that could not be fetched, an error). A clean run sends nothing.
The monitor's findings (quality/monitoring) are one alert per kind: freshness breach, volume anomaly, schema
drift, performance degradation, each naming every table or stage it found; keyed by the root flow run (the
nightly run when the monitor runs inside it), so a retried night does not repeat them.
"""

from __future__ import annotations

import uuid
from datetime import date

from prefect.runtime import flow_run
from prefect.settings import PREFECT_UI_URL

from lakehouse.alerts import Alert, AlertKind, Delivery, send_alert
from orchestration.summary import RunSummary
from quality.monitoring.findings import MonitorReport


def run_alert_kind(summary: RunSummary) -> AlertKind | None:
    if summary.ok:
        return None
    if summary.failed_checks or (summary.dbt and summary.dbt.tests_failed):
        return "blocking_quality_failure"
    return "withheld_publication" if summary.withheld_run else "flow_failure"


def _where(run_key: str | None) -> tuple[str, str | None]:
    """The key that makes a run's alert unique (the Prefect flow run id, stable across retries of the flow
    run; else the run's own id, else a new one) and the flow run's UI URL when there is one."""
    run_id = flow_run.get_id()
    return (run_id or run_key or uuid.uuid4().hex), (flow_run.get_flow_run_ui_url() if run_id else None)


def run_alert(summary: RunSummary) -> Alert | None:
    """The alert of a finished run, or None for a clean run."""
    kind = run_alert_kind(summary)
    if kind is None:
        return None
    key, url = _where(summary.run_id)
    notes = tuple(f"Publication: {line}" for line in summary.publication() if summary.withheld_run)
    return Alert(kind, summary.run_date, key, tuple(summary.problems), url, summary.quality_report, notes)


def alert_run(summary: RunSummary) -> Delivery | None:
    """Send the run's alert (if any) and note in the summary where it went; never fails the run."""
    alert = run_alert(summary)
    if alert is None:
        return None
    try:
        delivery = send_alert(alert)
    except Exception as exc:  # e.g. the lake's ops/ unreadable: the run's outcome stands, the alert is lost
        summary.alerts.append(f"alert {alert.kind} NOT sent: {type(exc).__name__} reading its marker")
        return None
    summary.alerts += delivery.lines()
    for line in delivery.lines():
        print(line)  # the flow's log (log_prints): receivers masked
    return delivery


def alert_crash(run_date: date, exc: BaseException) -> Delivery | None:
    """A flow_failure alert for a run that ended with an exception before its summary was published."""
    key, url = _where(None)
    failed = (f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"[:500],)
    try:
        return send_alert(Alert("flow_failure", run_date, key, failed, url))
    except Exception:
        return None  # the run's own exception is what the operator sees


def _root_where() -> tuple[str, str | None]:
    """The root flow run (the nightly run around a monitor subflow, else this one) and its UI URL."""
    if flow_run.get_id() is None:
        return uuid.uuid4().hex, None
    root = flow_run.get_root_flow_run_id()
    ui = PREFECT_UI_URL.value()
    return root, (f"{ui}/flow-runs/flow-run/{root}" if ui else None)


def finding_alerts(report: MonitorReport, quality_report: str | None = None) -> list[Alert]:
    """One alert per kind of finding of a monitor run, listing every finding of that kind."""
    if not report.kinds():
        return []
    key, url = _root_where()
    notes = ("", f"Every check of the date: lakehouse monitor --date {report.run_date} --all")
    return [
        Alert(
            kind,
            report.run_date,
            key,
            tuple(c.message() for c in report.findings(kind)),
            url,
            quality_report,
            notes,
        )
        for kind in report.kinds()
    ]


def alert_findings(report: MonitorReport, quality_report: str | None = None) -> list[str]:
    """Send the monitor's alerts (one per kind); the lines say where each went. Never raises."""
    lines: list[str] = []
    for alert in finding_alerts(report, quality_report):
        try:
            lines += send_alert(alert).lines()
        except Exception as exc:  # e.g. the lake's ops/ unreadable: the finding is in the ledger anyway
            lines.append(f"alert {alert.kind} NOT sent: {type(exc).__name__} reading its marker")
    return lines
