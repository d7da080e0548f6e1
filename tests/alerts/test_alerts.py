"""lakehouse.alerts against real loopback receivers: one message per receiver naming the failed check, none
again for the same run and kind, failures reported (not raised) and no secret anywhere."""

from __future__ import annotations

import logging
from datetime import date
from pathlib import Path

from conftest import SMTP_PASSWORD, WEBHOOK_TOKEN, Receivers, _free_port

from lakehouse.alerts import Alert, redact, send_alert
from lakehouse.layout import alert_marker
from lakehouse.settings import Settings

D = date(2026, 11, 21)
CHECK = "marts fct_orders: check 'relationships_fct_orders_customer_id' failed (1 row): fix the delivery"
ALERT = Alert(
    "blocking_quality_failure", D, "run-1", (CHECK,), "http://ui/flow-runs/flow-run/1", "lake/q/2026.html"
)
SECRETS = (SMTP_PASSWORD, WEBHOOK_TOKEN)


def ours(caplog) -> str:
    """What the application logged: everything but the loopback receivers' own logs."""
    return "\n".join(r.getMessage() for r in caplog.records if r.name not in ("werkzeug", "mail.log"))


def assert_no_secret(*texts: str) -> None:
    for text in texts:
        for secret in SECRETS:
            assert secret not in text


def test_one_alert_per_receiver_naming_the_failed_check(receivers: Receivers, lake_settings, caplog) -> None:
    caplog.set_level(logging.DEBUG)
    delivery = send_alert(ALERT, receivers.urls, lake_settings)

    assert receivers.received() == (1, 1, 1), delivery
    assert len(delivery.sent) == 3 and not delivery.failed
    webhook, slack, mail = receivers.webhook()[0], receivers.slack()[0], receivers.mailbox.messages[0]
    assert webhook["title"] == "lakehouse 2026-11-21: blocking quality check failed"
    assert CHECK in webhook["message"] and "http://ui/flow-runs/flow-run/1" in webhook["message"]
    assert CHECK in slack["text"] and "lake/q/2026.html" in slack["text"]
    assert CHECK in mail.get_body().get_content() and "blocking quality check failed" in mail["Subject"]
    marker = Path(alert_marker(D, "run-1", "blocking_quality_failure", lake_settings)).read_text()
    assert_no_secret(ours(caplog), "\n".join(delivery.lines()), marker, str(webhook), str(slack), str(mail))


def test_the_same_run_and_kind_is_not_sent_again(receivers: Receivers, lake_settings) -> None:
    send_alert(ALERT, receivers.urls, lake_settings)
    again = send_alert(ALERT, receivers.urls, lake_settings)  # a retried task, a rerun of the flow run

    assert receivers.received() == (1, 1, 1)
    assert not again.sent and len(again.already_sent) == 3
    other_kind = Alert("flow_failure", D, "run-1", ("boom",))
    other_run = Alert("blocking_quality_failure", D, "run-2", (CHECK,))
    for alert in (other_kind, other_run):
        send_alert(alert, receivers.urls, lake_settings)
    assert receivers.received() == (3, 3, 3)


def test_a_failing_receiver_is_reported_redacted_and_retried_alone(
    receivers: Receivers, lake_settings, caplog
) -> None:
    caplog.set_level(logging.DEBUG)
    closed = f"json://alerts:{SMTP_PASSWORD}@127.0.0.1:{_free_port()}/down"  # nothing listens there
    first = send_alert(ALERT, [receivers.urls[0], closed], lake_settings)

    assert len(first.sent) == 1 and len(first.failed) == 1
    assert first.failed[0].startswith(redact(closed)) and "not sent to" in ours(caplog)
    assert_no_secret(ours(caplog), "\n".join(first.lines()))
    second = send_alert(ALERT, [receivers.urls[0], closed], lake_settings)
    assert second.already_sent == first.sent and len(second.failed) == 1
    assert receivers.received()[0] == 1


def test_no_receivers_configured_sends_nothing(lake_settings, monkeypatch) -> None:
    monkeypatch.delenv("LAKEHOUSE_ALERT_URLS", raising=False)
    delivery = send_alert(ALERT, settings=Settings())
    assert not (delivery.sent or delivery.failed or delivery.already_sent)


def test_alert_urls_setting_is_comma_separated_and_secret(monkeypatch) -> None:
    monkeypatch.setenv("LAKEHOUSE_ALERT_URLS", f" json://h/p , mailtos://u:{SMTP_PASSWORD}@h?to=a@b ,")
    settings = Settings()
    assert settings.alert_urls() == ["json://h/p", f"mailtos://u:{SMTP_PASSWORD}@h?to=a@b"]
    assert SMTP_PASSWORD not in repr(settings)
    assert SMTP_PASSWORD not in redact(settings.alert_urls()[1])
