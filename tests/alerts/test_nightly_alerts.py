"""The nightly flow alerts (integration: a real Prefect server, loopback receivers): a clean night sends
nothing; a night whose raw delivery breaks a blocking contract sends one alert to each receiver naming the
check, with the Prefect flow run URL and the quality report, also when its flow run is retried."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest
from conftest import SMTP_PASSWORD, WEBHOOK_TOKEN, Receivers

from ingestion.shop.generator import generate_landing
from lakehouse.settings import Settings

pytestmark = pytest.mark.integration
D1, D2 = date(2026, 11, 20), date(2026, 11, 21)
CHECK = "order_id is unique within a landing batch"


def test_one_alert_for_a_blocking_failure_none_for_a_clean_night(
    prefect_api, lake_settings: Settings, receivers: Receivers, monkeypatch
) -> None:
    from orchestration.flows.nightly import lakehouse_nightly

    monkeypatch.setenv("LAKEHOUSE_ALERT_URLS", ",".join(receivers.urls))
    clean = lakehouse_nightly(run_date=D1, scale=0.1, return_state=True)
    assert clean.is_completed(), clean.message
    assert receivers.received() == (0, 0, 0)
    from quality.html_report import read_ledger

    ledger = read_ledger(lake_settings)  # the monitor ran after the pipeline: its rows, no finding
    assert ledger is not None
    monitor = [r for r in ledger.to_pylist() if r["layer"] == "monitor" and r["run_date"] == D1]
    assert {(r["check_type"], r["dataset"], r["outcome"]) for r in monitor} >= {
        ("freshness", "fct_orders", "passed"),
        ("freshness", "raw_shop.orders", "passed"),
        ("volume_anomaly", "raw_shop.orders", "skipped"),  # no history yet
    }
    assert not [r for r in monitor if r["outcome"] == "warned"]

    generate_landing(D2, scale=0.1, settings=lake_settings)
    orders = Path(lake_settings.uri("landing", "shop", D2.isoformat(), "orders.jsonl"))
    lines = orders.read_text().splitlines()
    orders.write_text("\n".join([*lines, lines[0]]) + "\n")  # an order delivered twice in one batch
    retried = lakehouse_nightly.with_options(retries=1, retry_delay_seconds=0)  # the flow run tried twice
    failed = retried(run_date=D2, generate=False, return_state=True)

    assert failed.is_failed()
    attempts = list(Path(lake_settings.uri("ops", "runs", D2.isoformat())).glob("*.json"))
    assert len(attempts) == 2  # two attempts of one flow run: one alert
    assert sum("already sent" in json.loads(a.read_text())["alerts"][0] for a in attempts) == 1
    assert receivers.received() == (1, 1, 1)
    message = receivers.webhook()[0]["message"]
    assert CHECK in message and CHECK in receivers.slack()[0]["text"]
    assert CHECK in receivers.mailbox.messages[0].get_body().get_content()
    assert "/flow-runs/flow-run/" in message and "2026-11-21.html" in message
    assert receivers.webhook()[0]["title"] == "lakehouse 2026-11-21: blocking quality check failed"
    for text in (message, str(receivers.mailbox.messages[0])):
        assert SMTP_PASSWORD not in text and WEBHOOK_TOKEN not in text


def test_a_prefect_notification_block_gets_the_alert_once(
    prefect_api, lake_settings: Settings, receivers: Receivers, monkeypatch
) -> None:
    from prefect.blocks.notifications import MattermostWebhook

    from lakehouse.alerts import Alert, send_alert

    port = receivers.http.port
    hook = MattermostWebhook(hostname="127.0.0.1", port=port, token=WEBHOOK_TOKEN, secure=False)
    hook.save("lakehouse-alerts-test", overwrite=True)
    monkeypatch.setenv("LAKEHOUSE_ALERT_BLOCK", "mattermost-webhook/lakehouse-alerts-test")
    monkeypatch.delenv("LAKEHOUSE_ALERT_URLS", raising=False)
    alert = Alert("withheld_publication", D2, "flow-run-1", ("model fct_orders failed",))

    first, again = send_alert(alert), send_alert(alert)
    missing = send_alert(alert, [], block="mattermost-webhook/no-such-block")

    assert receivers.received() == (0, 1, 0) and "model fct_orders failed" in receivers.slack()[0]["text"]
    assert first.sent == ["Prefect block mattermost-webhook/lakehouse-alerts-test"] and not first.failed
    assert again.already_sent == first.sent and not again.sent
    assert missing.failed and "no-such-block" in missing.failed[0] and WEBHOOK_TOKEN not in missing.failed[0]
