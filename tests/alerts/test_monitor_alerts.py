"""The monitor end to end (integration: 45 days of the demo shop landed loader-only on a real Delta lake, a
real Prefect server, loopback receivers): 30 ordinary days raise no volume alert; a day with 10 % of the
usual orders and a stale table are found, recorded in the ledger and alerted once per kind, also when the
flow run around the monitor is retried."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
import yaml
from conftest import SMTP_PASSWORD, WEBHOOK_TOKEN, Receivers

from ingestion.loader import ingest_date
from ingestion.shop.generator import generate_landing
from ingestion.shop.schema import SHOP_SOURCE_FILE
from lakehouse.settings import Settings
from quality.ledger import write_volumes

FIRST = date(2026, 9, 1)
ORDINARY = 45  # days landed before the drop; the last 30 are judged with 14+ days of history
DROP = FIRST + timedelta(days=ORDINARY)
SCALE = 0.1


@pytest.fixture
def payments_sla_one_hour(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    spec = yaml.safe_load(SHOP_SOURCE_FILE.read_text())
    spec["entities"]["payments"]["monitor"] = {"freshness_sla_hours": 1}
    folder = tmp_path / "sources"
    folder.mkdir()
    (folder / "shop.yml").write_text(yaml.safe_dump(spec))
    monkeypatch.setenv("LAKEHOUSE_SOURCES_DIR", str(folder))


def _land(day: date, settings: Settings, keep_orders: float = 1.0) -> None:
    generate_landing(day, scale=SCALE, settings=settings)
    if keep_orders < 1:
        orders = Path(settings.uri("landing", "shop", day.isoformat(), "orders.jsonl"))
        lines = orders.read_text().splitlines()
        orders.write_text("\n".join(lines[: int(len(lines) * keep_orders)]) + "\n")
    ingest_date(day, settings=settings)
    write_volumes(day, settings)  # as the nightly's quality report stage does


@pytest.mark.integration
def test_a_volume_drop_and_a_stale_table_alert_once_ordinary_days_do_not(
    prefect_api, payments_sla_one_hour, lake_settings: Settings, receivers: Receivers, monkeypatch
) -> None:
    from prefect import flow

    from orchestration.alerts import finding_alerts
    from orchestration.flows.monitoring.pipeline_monitor import lakehouse_monitor
    from quality.html_report import read_ledger
    from quality.monitoring.monitor import run_monitor

    settings = Settings()
    for i in range(ORDINARY):
        _land(FIRST + timedelta(days=i), settings)
    judged = 0
    for i in range(ORDINARY - 30, ORDINARY):  # 30 ordinary days, each with 14+ days of history
        report = run_monitor(FIRST + timedelta(days=i), settings, performance=False)
        assert not report.findings("volume_anomaly"), report.lines()
        assert "volume_anomaly" not in {a.kind for a in finding_alerts(report)}
        judged += sum(c.outcome == "passed" for c in report.checks if c.check_type == "volume_anomaly")
    assert judged >= 30 * 3  # orders, order_items and payments at least, every day

    _land(DROP, settings, keep_orders=0.1)
    monkeypatch.setenv("LAKEHOUSE_ALERT_URLS", ",".join(receivers.urls))
    as_of = (datetime.now(UTC) + timedelta(hours=2)).isoformat()  # payments (SLA 1 h) is stale by then

    @flow(retries=1, retry_delay_seconds=0)
    def night_with_a_retry() -> None:
        lakehouse_monitor(run_date=DROP, as_of=as_of)
        raise RuntimeError("first attempt fails after the monitor: the retry must not alert again")

    night_with_a_retry(return_state=True)

    titles = sorted(m["title"] for m in receivers.webhook())
    assert titles == [
        f"lakehouse {DROP}: tables older than their freshness SLA",
        f"lakehouse {DROP}: volume anomaly",
    ]  # one per kind, though the monitor ran twice (two attempts of one flow run)
    assert receivers.received() == (2, 2, 2)
    by_title = {m["title"]: m["message"] for m in receivers.webhook()}
    volume = by_title[f"lakehouse {DROP}: volume anomaly"]
    assert (
        "raw_shop.orders:" in volume and "fewer than the usual" in volume and "/flow-runs/flow-run/" in volume
    )
    stale = by_title[f"lakehouse {DROP}: tables older than their freshness SLA"]
    assert "raw_shop.payments:" in stale and "older than its freshness SLA of 1 h" in stale
    assert "raw_shop.orders:" not in stale  # 26 h by default
    assert f"{DROP}.html" in stale  # where to look: the quality report
    mail = receivers.mailbox.messages[0]
    assert mail["subject"].startswith(f"lakehouse {DROP}:")
    for text in (volume, stale, str(mail)):
        assert SMTP_PASSWORD not in text and WEBHOOK_TOKEN not in text

    ledger = read_ledger(settings)
    assert ledger is not None
    rows = [r for r in ledger.to_pylist() if r["layer"] == "monitor" and r["run_date"] == DROP]
    found = {(r["check_type"], r["dataset"]) for r in rows if r["outcome"] == "warned"}
    assert ("volume_anomaly", "raw_shop.orders") in found and ("freshness", "raw_shop.payments") in found
    assert ("volume_anomaly", "raw_shop.order_items") not in found  # only the orders file was short


def test_an_artificially_slow_stage_is_alerted_as_performance_degradation(
    lake_settings: Settings, receivers: Receivers, monkeypatch
) -> None:
    """Eight nights of run summaries whose dbt stage takes ~60 s, then one where it takes 400 s."""
    import json

    from lakehouse.files import write_text
    from lakehouse.layout import run_summary_file
    from orchestration.alerts import alert_findings
    from quality.monitoring.findings import MonitorReport
    from quality.monitoring.performance import performance_checks

    settings = Settings()
    start = datetime(2026, 11, 1, 2, tzinfo=UTC)
    for i in range(9):
        day = date(2026, 11, 1) + timedelta(days=i)
        stages = {"ingest": 20.0 + i, "raw_gate": 8.0, "dbt": 400.0 if i == 8 else 60.0 - i, "features": 5.0}
        summary = {"run_date": day.isoformat(), "run_id": f"run-{i}", "ok": True, "stage_seconds": stages}
        summary |= {"started_at": (start + timedelta(days=i)).isoformat(), "seconds": sum(stages.values())}
        write_text(run_summary_file(day, f"run-{i}", settings), json.dumps(summary), settings)
    monkeypatch.setenv("LAKEHOUSE_ALERT_URLS", ",".join(receivers.urls))

    report = MonitorReport(date(2026, 11, 9), performance_checks(date(2026, 11, 9), Settings()))
    sent = alert_findings(report)

    assert [c.dataset for c in report.findings()] == ["nightly.dbt", "nightly.total"]
    assert receivers.received() == (1, 1, 1) and len(sent) == 3
    (message,) = receivers.webhook()
    assert message["title"] == "lakehouse 2026-11-09: performance degradation"
    assert "nightly.dbt: stage dbt of run run-8 (2026-11-09) took 400.0 s" in message["message"]
    assert "nightly.ingest" not in message["message"]
    assert "lakehouse monitor --date 2026-11-09 --all" in message["message"]
