"""The nightly flow: ingest -> raw gate -> dbt build (candidates) -> marts gate -> publish -> features ->
scores (only once a champion model exists), then the monitor (freshness, volume, drift, performance) on every
outcome.

Wiring only: every step is a stage flow (visible on its own in the Prefect UI) over plain functions.
The run holds the lake's run lease (one run per lake at a time) and first completes what a killed run
decided (lakehouse.wap.recover). dbt writes the marts as write-audit-publish candidates; they are published
together only when dbt's tests and the blocking marts contracts passed on them, else withheld (the last good
versions stay what readers see). Quarantined input does not stop the run (good data lands) but fails it at
the end with what to fix.
"""

from __future__ import annotations

import sys
from pathlib import Path

if __name__ == "__main__":  # `python orchestration/flows/nightly.py`: the script's folder, whose ml/ is
    sys.path[0] = str(Path(__file__).resolve().parents[2])  # a flow package, must not hide the ml package

from datetime import date
from typing import Literal

from prefect import flow
from prefect.artifacts import create_markdown_artifact

from ingestion.batches import newest_batch_date
from lakehouse.files import write_text
from lakehouse.layout import run_summary_file
from lakehouse.lease import run_lease
from lakehouse.settings import get_settings
from lakehouse.transform import DbtBuildFailed
from lakehouse.wap import (
    full_refresh_done,
    new_run_id,
    pending_full_refresh,
    publish_run,
    recover,
    run_candidates,
    withhold_run,
)
from orchestration.alerts import alert_crash, alert_run
from orchestration.flows.common import resolve_run_date, run_flow_cli
from orchestration.flows.etl.s3_data_pipeline import s3_data_pipeline
from orchestration.flows.ml.batch_scoring_pipeline import batch_scoring_pipeline
from orchestration.flows.ml.feature_engineering_pipeline import feature_engineering_pipeline
from orchestration.flows.monitoring.data_quality_monitor import data_quality_monitor
from orchestration.flows.monitoring.pipeline_monitor import lakehouse_monitor
from orchestration.flows.monitoring.quality_report import quality_report
from orchestration.flows.transform.dbt_transform import dbt_transform
from orchestration.summary import QualityCounts, RunSummary, landings
from quality.ledger import sample_json, write_dbt_results, write_drift, write_publish_decision


class PipelineFailed(RuntimeError):
    """The nightly run failed; `summary` says what landed and what failed."""

    def __init__(self, summary: RunSummary) -> None:
        super().__init__("\n".join(summary.problems))
        self.summary = summary


def _publish(summary: RunSummary) -> RunSummary:
    try:  # the night's volumes and the HTML quality report, on every outcome of the run
        with summary.timed("report"):
            volumes = summary.marts_skipped is None  # a late rerun keeps the volumes its night recorded
            summary.quality_report = quality_report(run_date=summary.run_date, volumes=volumes).uri
    except Exception as exc:
        summary.problems.append(f"the quality report could not be written: {type(exc).__name__}: {exc}")
    run_id = summary.run_id = summary.run_id or new_run_id()
    alert_run(summary)  # one alert per failed run (LAKEHOUSE_ALERT_URLS); a clean run sends none
    _write_summary(summary, run_id)
    if _monitor(summary.run_date, summary, run_id):
        _write_summary(summary, run_id)  # again, with the monitor's findings
    create_markdown_artifact(
        key="lakehouse-run-summary",
        markdown=summary.to_markdown(),
        description=f"Nightly lakehouse run for {summary.run_date}",
    )
    if not summary.ok:
        raise PipelineFailed(summary)
    return summary


def _monitor(day: date, summary: RunSummary | None = None, run_id: str | None = None) -> bool:
    """The monitor after the pipeline, on every outcome (a crashed run has no timings to judge): its
    findings go to the ledger and alert, and never change the run's outcome. True when it ran."""
    try:
        report = lakehouse_monitor(run_date=day, run_id=run_id, performance=summary is not None)
    except Exception as exc:
        print(f"The monitor failed ({type(exc).__name__}: {exc}); the run's outcome stands")
        return False
    if summary is not None:
        summary.monitor = report.lines()
        summary.alerts += report.alerts
    return True


def _write_summary(summary: RunSummary, run_id: str) -> None:
    """The summary as JSON under ops/runs/ (the bench and `lakehouse status` read it); never fails the run."""
    settings = get_settings()
    try:
        write_text(run_summary_file(summary.run_date, run_id, settings), summary.to_json(), settings)
    except Exception as exc:
        summary.problems.append(f"the run summary could not be written: {type(exc).__name__}: {exc}")


def _quality_gate(
    summary: RunSummary,
    layer: Literal["raw", "marts"],
    stopped_at: str,
    sources: list[str] | None = None,
    candidates_of: str | None = None,
) -> bool:
    """Verify one layer's contracts into the summary; on a blocking failure record it and return False."""
    with summary.timed(f"{layer}_gate"):
        report = data_quality_monitor(
            run_date=summary.run_date,
            layer=layer,
            fail_on_blocking=False,
            sources=sources,
            candidates_of=candidates_of,
        )
        summary.quality.append(QualityCounts.from_outcomes(layer, report.outcome_counts()))
    if not report.blocking_failures:
        return True
    summary.failed_checks += report.failure_messages()
    summary.problems += report.failure_messages()
    summary.stopped_at = stopped_at
    return False


def _withhold(summary: RunSummary, run_id: str) -> RunSummary:
    """Keep the run's candidates unpublished (for inspection) and say so; the summary already failed."""
    samples = summary.dbt.samples if summary.dbt else {}
    decision = withhold_run(run_id, summary.run_date.isoformat(), summary.problems, samples)
    summary.withheld_run = run_id
    detail = "; ".join(summary.problems)[:4000]
    sample = sample_json(next(iter(samples.values()))) if samples else None
    for candidate in run_candidates(run_id):
        write_publish_decision(
            summary.run_date, candidate.model, "withheld", None, detail, decision.run_id, sample=sample
        )
    return _publish(summary)


def _record_published(summary: RunSummary, run_id: str, versions: dict[str, int]) -> None:
    for model, version in versions.items():
        detail = f"published version {version}: dbt tests and blocking contracts passed on the candidate"
        write_publish_decision(summary.run_date, model, "published", version, detail, run_id)


def _lake_ahead_of(summary: RunSummary) -> str | None:
    """Why the marts are not rebuilt for a rerun of an earlier date (None when they are): nothing new
    landed and the raw tables already hold batches of later dates, so the marts (current state) include
    this date's data. Rebuilding them would judge and publish today's state under this date in the ledger;
    this date's own rows (and its point-in-time features) stay what its night recorded."""
    if not summary.landed or not all(t.already_loaded for t in summary.landed):
        return None
    newest = newest_batch_date([(t.source, t.entity) for t in summary.landed])
    if newest is None or newest <= summary.run_date:
        return None
    return (
        f"not rebuilt: nothing new landed for {summary.run_date} and the lake holds batches up to "
        f"{newest} (the marts include this date; its ledger rows stay those of its night)"
    )


@flow(name="lakehouse-nightly", log_prints=True)
def lakehouse_nightly(
    run_date: date | None = None,
    scale: float | None = None,
    full_refresh: bool = False,
    generate: bool = True,
    sources: list[str] | None = None,
    select: str | None = None,
    wait: bool = False,
) -> RunSummary:
    """Run the whole chain for one logical date (default: the scheduled date of this run), for every
    registered source (or `sources`) and every dbt model (or the `select`ed ones). Another run on the same
    lake makes this one fail at once naming it, or (`wait`) wait for it."""
    day = resolve_run_date(run_date)
    try:
        with run_lease(f"lakehouse run --date {day}", wait=wait):
            return _nightly(day, scale, full_refresh, generate, sources, select)
    except PipelineFailed:
        raise  # its summary was published and alerted
    except Exception as exc:
        alert_crash(day, exc)  # the run ended before it had a summary: a flow_failure alert
        _monitor(day)
        raise


def _nightly(
    day: date,
    scale: float | None,
    full_refresh: bool,
    generate: bool,
    sources: list[str] | None,
    select: str | None,
) -> RunSummary:
    settings = get_settings()
    summary = RunSummary(run_date=day, lake_root=settings.root, catalog=str(settings.catalog_path))
    summary.recovered = {p.model: p.version for p in recover(settings)}

    with summary.timed("ingest"):
        reports = s3_data_pipeline(
            run_date=day, scale=scale, generate=generate, sources=sources, fail_on_problems=False
        )
        summary.landed = landings(reports)
    summary.problems += [p for r in reports for p in r.problems()]
    write_drift(reports, day)

    if not _quality_gate(summary, "raw", "raw quality gate (marts were not rebuilt)", sources):
        return _publish(summary)

    requested = pending_full_refresh(settings)
    if not (requested or full_refresh) and (ahead := _lake_ahead_of(summary)):
        summary.marts_skipped = ahead  # a late rerun: the marts (and their ledger rows) stay as they are
        with summary.timed("features"):
            summary.feature_rows = feature_engineering_pipeline(run_date=day).customers
        return _publish(summary)
    if requested and not full_refresh:
        print("Rebuilding the marts in full (--full-refresh), as asked by: " + "; ".join(requested))
        full_refresh = True
    run_id = summary.run_id = new_run_id()
    try:
        with summary.timed("dbt"):
            summary.dbt = dbt_transform(run_date=day, full_refresh=full_refresh, select=select, run_id=run_id)
    except DbtBuildFailed as exc:
        summary.dbt = exc.summary
        summary.problems.append(str(exc))
        summary.stopped_at = "dbt build (the marts were withheld: the last good versions stay published)"
        write_dbt_results(exc.summary, day)
        return _withhold(summary, run_id)
    write_dbt_results(summary.dbt, day)

    stopped_at = "marts quality gate (the marts were withheld: the last good versions stay published)"
    if not _quality_gate(summary, "marts", stopped_at=stopped_at, candidates_of=run_id):
        return _withhold(summary, run_id)
    with summary.timed("publish"):
        summary.published = {
            p.model: p.version for p in publish_run(run_id, day.isoformat(), settings=settings)
        }
    summary.publish_seconds = summary.stage_seconds["publish"]
    if full_refresh and select is None:
        full_refresh_done(settings)
    _record_published(summary, run_id, summary.published)

    with summary.timed("features"):
        summary.feature_rows = feature_engineering_pipeline(run_date=day).customers
    try:  # the champion's scores, drift and matured A/B results; skipped cleanly while no champion exists
        with summary.timed("scoring"):
            batch_scoring_pipeline(run_date=day)
    except Exception as exc:
        summary.problems.append(f"scoring failed: {type(exc).__name__}: {exc}")
    return _publish(summary)


if __name__ == "__main__":
    run_flow_cli(lakehouse_nightly)
