"""Alerts: one message per run and finding kind, sent with apprise to every receiver in LAKEHOUSE_ALERT_URLS
and to the Prefect notification block LAKEHOUSE_ALERT_BLOCK.

A marker under `ops/alerts/<date>/<run>/<kind>.json` (lakehouse.layout.alert_marker) records which receivers
got the message, so a retried task or a rerun of the same flow run sends nothing twice; a receiver that failed
is tried again next time. Receiver URLs carry secrets (tokens, passwords): only their redacted form
(apprise's privacy mode) is ever logged, returned or written. Sending never raises: failures are returned.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date
from functools import partial
from typing import Literal

import apprise

from lakehouse.files import read_text, write_text
from lakehouse.layout import alert_marker
from lakehouse.settings import Settings, get_settings

AlertKind = Literal[
    "flow_failure",
    "blocking_quality_failure",
    "withheld_publication",
    # the monitor's findings (quality/monitoring): one alert per kind per run, naming every table or stage
    "freshness_breach",
    "volume_anomaly",
    "schema_drift",
    "performance_degradation",
    # ml/drift.py: a feature's or the score's PSI against the champion's training window over the threshold
    "drift",
]
TITLES: dict[AlertKind, str] = {
    "flow_failure": "nightly run failed",
    "blocking_quality_failure": "blocking quality check failed",
    "withheld_publication": "publication withheld",
    "freshness_breach": "tables older than their freshness SLA",
    "volume_anomaly": "volume anomaly",
    "schema_drift": "schema drift in a source",
    "performance_degradation": "performance degradation",
    "drift": "model input or score drifted",
}
# The section heading of an alert's list: a failure "failed", a monitor finding was "found".
FINDING_KINDS = ("freshness_breach", "volume_anomaly", "schema_drift", "performance_degradation", "drift")
MAX_LINES = 20
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Alert:
    """One finding of one run: what failed and where to look."""

    kind: AlertKind
    run_date: date
    run_key: str  # the Prefect flow run id when known, else the run's own id
    failed: tuple[str, ...]
    run_url: str | None = None
    report: str | None = None
    notes: tuple[str, ...] = ()

    @property
    def title(self) -> str:
        return f"lakehouse {self.run_date.isoformat()}: {TITLES[self.kind]}"

    @property
    def body(self) -> str:
        lines = [f"{TITLES[self.kind].capitalize()} ({self.kind}) for run date {self.run_date.isoformat()}."]
        heading = "What was found:" if self.kind in FINDING_KINDS else "What failed:"
        lines += ["", heading, *[f"- {f}" for f in self.failed[:MAX_LINES]]]
        if len(self.failed) > MAX_LINES:
            lines.append(f"- … and {len(self.failed) - MAX_LINES} more (see the run summary)")
        lines += [*self.notes, "", "Where to look:"]
        lines.append(f"- Prefect flow run: {self.run_url or f'run {self.run_key} (no Prefect UI URL known)'}")
        if self.report:
            lines.append(f"- Quality report: {self.report}")
        return "\n".join(lines)


@dataclass
class Delivery:
    """What send_alert did: receivers (redacted) that got the alert now, had it already, or failed."""

    alert: Alert
    sent: list[str] = field(default_factory=list)
    already_sent: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)  # "<redacted receiver>: <redacted reason>"
    problems: list[str] = field(default_factory=list)  # e.g. the marker could not be written

    def lines(self) -> list[str]:
        out = [f"alert {self.alert.kind} sent to {r}" for r in self.sent]
        out += [f"alert {self.alert.kind} already sent to {r} (not repeated)" for r in self.already_sent]
        out += [f"alert {self.alert.kind} NOT sent to {f}" for f in self.failed]
        return out + [f"alert {self.alert.kind}: {p}" for p in self.problems]


def _private_url(url: str) -> str:
    with _apprise_kept_to_itself():
        plugin = apprise.Apprise.instantiate(url)
    if not plugin:
        return f"<not an apprise URL: {url.partition('://')[0] or '?'}://…>"
    return str(plugin.url(privacy=True))


def redact(url: str) -> str:
    """The receiver URL with its secrets masked (apprise's privacy mode); never the URL itself."""
    return _private_url(url).partition("?")[0]  # the query holds apprise's defaults


def scrub(text: str, url: str) -> str:
    """`text` without any part of `url` that apprise's privacy mode hides (tokens, users, passwords)."""
    shown = _private_url(url)
    secrets = {p for p in re.split(r"[/:@?&=#,]+", url.partition("://")[2]) if len(p) >= 3 and p not in shown}
    for secret in sorted(secrets, key=len, reverse=True):
        text = text.replace(secret, "****")
    return text.replace(url, shown)


@contextmanager
def _apprise_kept_to_itself() -> Iterator[None]:
    """apprise and urllib3 (under requests) log whole receiver URLs at debug level (e.g. Mattermost's token
    in the path): while apprise works they reach no handler of the application; apprise's warnings are
    captured and scrubbed by _notify."""
    saved = []
    for name in ("apprise", "urllib3"):
        logger = logging.getLogger(name)
        saved.append((logger, logger.level, logger.propagate))
        logger.setLevel(logging.WARNING)
        logger.propagate = False
    try:
        yield
    finally:
        for logger, level, propagate in saved:
            logger.setLevel(level)
            logger.propagate = propagate


def _notify(url: str, alert: Alert) -> str | None:
    """Send to one receiver; None when delivered, else why not (scrubbed of the URL's secrets)."""
    with _apprise_kept_to_itself(), apprise.LogCapture(level=logging.WARNING, fmt="%(message)s") as captured:
        notifier = apprise.Apprise()
        if not notifier.add(url):
            return "not a valid apprise URL (see https://github.com/caronc/apprise/wiki)"
        ok = notifier.notify(title=alert.title, body=alert.body)
    if ok:
        return None
    reason = " ".join(captured.getvalue().split()) or "apprise reported a failure"
    return scrub(reason, url)[:500]


def _notify_block(name: str, alert: Alert) -> str | None:
    """Send through a saved Prefect notification block (`<type slug>/<name>`); None when delivered."""
    from prefect.blocks.abstract import NotificationBlock, NotificationError
    from prefect.blocks.core import Block

    # Called from sync code, Prefect's load and notify run synchronously (they return no coroutine here).
    try:
        with _apprise_kept_to_itself():
            block = Block.load(name)  # the base class reads `<type slug>/<name>`; a subclass, only a name
            if not isinstance(block, NotificationBlock):
                return f"{type(block).__name__} is not a notification block (e.g. slack-webhook/<name>)"
            with block.raise_on_failure():
                block.notify(body=alert.body, subject=alert.title)  # type: ignore[unused-coroutine]
    except NotificationError:  # its message quotes apprise's log, which may name the block's URL
        return "the block's receiver did not accept it (NotificationError)"
    except Exception as exc:  # e.g. no such block: the message names the block, no secret
        return f"{type(exc).__name__}: {exc}"[:300]
    return None


@dataclass(frozen=True)
class Receiver:
    key: str  # stable and secret-free: what the marker records
    shown: str  # what logs and summaries say
    send: Callable[[Alert], str | None]  # None when delivered, else why not (secret-free)


def receivers(urls: list[str], block: str | None = None) -> list[Receiver]:
    """The receivers of apprise URLs and of a Prefect notification block."""
    out = [Receiver(redact(u), redact(u), partial(_notify, u)) for u in urls]  # no hash of a secret kept
    if block:
        out.append(Receiver(f"block:{block}", f"Prefect block {block}", partial(_notify_block, block)))
    return out


def _delivered(marker: str, settings: Settings) -> set[str]:
    text = read_text(marker, settings)
    return set(json.loads(text)["delivered"]) if text else set()


def _write_marker(marker: str, alert: Alert, delivered: set[str], settings: Settings) -> None:
    record = {"kind": alert.kind, "run_date": alert.run_date.isoformat(), "run_key": alert.run_key}
    write_text(marker, json.dumps(record | {"delivered": sorted(delivered)}, indent=2), settings)


def send_alert(
    alert: Alert, urls: list[str] | None = None, settings: Settings | None = None, block: str | None = None
) -> Delivery:
    """Send `alert` once to each receiver that has not had it yet: `urls` and `block`, by default
    LAKEHOUSE_ALERT_URLS and LAKEHOUSE_ALERT_BLOCK."""
    settings = settings or get_settings()
    if urls is None:
        urls, block = settings.alert_urls(), settings.lakehouse_alert_block
    delivery = Delivery(alert)
    if not (targets := receivers(urls, block)):
        return delivery
    marker = alert_marker(alert.run_date, alert.run_key, alert.kind, settings)
    delivered = _delivered(marker, settings)
    for receiver in targets:
        if receiver.key in delivered:
            delivery.already_sent.append(receiver.shown)
        elif (problem := receiver.send(alert)) is None:
            delivered.add(receiver.key)
            delivery.sent.append(receiver.shown)
        else:
            delivery.failed.append(f"{receiver.shown}: {problem}")
            log.warning("Alert %s for %s not sent to %s", alert.kind, alert.run_date, delivery.failed[-1])
    if delivery.sent:
        try:
            _write_marker(marker, alert, delivered, settings)
        except Exception as exc:  # the alert went out; a rerun may repeat it, so say so
            problem = f"marker {marker} not written ({type(exc).__name__}): a rerun may repeat it"
            delivery.problems.append(problem)
            log.warning("Alert %s", delivery.problems[-1])
    return delivery
