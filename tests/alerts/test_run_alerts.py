"""The nightly run's alert (orchestration.alerts), without Prefect: which finding a run is, one message per
failed run to each receiver, none for a clean run or again for the same run."""

from __future__ import annotations

from datetime import date

import pytest
from conftest import SMTP_PASSWORD, Receivers

from lakehouse.transform import DbtSummary
from orchestration.alerts import alert_crash, alert_run, run_alert_kind
from orchestration.summary import RunSummary

D = date(2026, 11, 21)
CHECK = "raw shop.orders: check 'missing customer_id' failed (3 rows): fix the delivery"


def summary(**fields) -> RunSummary:
    return RunSummary(run_date=D, lake_root="lake", catalog="c.duckdb", run_id="run-7", **fields)


@pytest.mark.parametrize(
    ("fields", "kind"),
    [
        ({}, None),
        ({"problems": [CHECK], "failed_checks": [CHECK]}, "blocking_quality_failure"),
        ({"problems": ["test x failed"], "dbt": DbtSummary(tests_failed=1), "withheld_run": "r"},
         "blocking_quality_failure"),
        ({"problems": ["model fct_orders failed"], "withheld_run": "r"}, "withheld_publication"),
        ({"problems": ["shop: 2 records quarantined"]}, "flow_failure"),
    ],
)  # fmt: skip
def test_a_failed_run_is_one_finding(fields, kind) -> None:
    assert run_alert_kind(summary(**fields)) == kind


def test_a_blocking_failure_alerts_each_receiver_once(
    receivers: Receivers, lake_settings, monkeypatch
) -> None:
    monkeypatch.setenv("LAKEHOUSE_ALERT_URLS", ",".join(receivers.urls))
    failed = summary(problems=[CHECK], failed_checks=[CHECK], quality_report="lake/quality/reports/x.html")

    assert alert_run(summary()) is None  # a clean run
    assert receivers.received() == (0, 0, 0)
    alert_run(failed)
    alert_run(failed)  # the same run again (a retried task, a rerun of the flow run)

    assert receivers.received() == (1, 1, 1)
    assert CHECK in receivers.webhook()[0]["message"] and "x.html" in receivers.slack()[0]["text"]
    assert len(failed.alerts) == 6 and all(SMTP_PASSWORD not in line for line in failed.alerts)
    assert "already sent" in failed.alerts[-1]


def test_a_run_that_raised_alerts_a_flow_failure(receivers: Receivers, lake_settings, monkeypatch) -> None:
    monkeypatch.setenv("LAKEHOUSE_ALERT_URLS", receivers.urls[0])
    delivery = alert_crash(D, RuntimeError("the lake is held by another run\nsecond line"))
    assert delivery is not None and len(delivery.sent) == 1
    assert "RuntimeError: the lake is held by another run" in receivers.webhook()[0]["message"]


def test_the_run_summary_says_where_the_alert_went(capsys) -> None:
    from orchestration.cli import print_summary

    sent = "alert flow_failure sent to json://127.0.0.1:1/hook"
    failed = "alert flow_failure NOT sent to mailto://alerts:****@127.0.0.1:2/[ops]: Connection error"
    run = summary(problems=["boom"], alerts=[sent, failed])
    print_summary(run)
    out = capsys.readouterr().out
    assert (
        "flow_failure sent to json://127.0.0.1:1/hook" in out
        and "mailto://alerts:****@127.0.0.1:2/[ops]" in out
    )
    assert "## Alerts" in run.to_markdown() and failed in run.to_markdown()
