"""The monitor's checks and findings: one row each in the quality ledger (layer `monitor`), and the alert
kind a finding raises (lakehouse.alerts)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Literal

from lakehouse.alerts import AlertKind

MonitorOutcome = Literal["passed", "warned", "skipped"]
FINDING_KINDS: tuple[AlertKind, ...] = (
    "freshness_breach",
    "volume_anomaly",
    "schema_drift",
    "performance_degradation",
)


@dataclass(frozen=True)
class MonitorCheck:
    """One judgement: a table's freshness, a day's volume, a stage's duration. `warned` is a finding."""

    kind: AlertKind  # the alert a finding of this check raises
    check_type: str  # freshness | volume_anomaly | schema_drift | performance (the ledger's check_type)
    dataset: str  # the table, or `nightly.<stage>` for a stage of the nightly flow
    name: str
    outcome: MonitorOutcome
    configured_in: str  # where the threshold comes from (a registry file, quality/monitor.yml, settings)
    value: float | None = None  # hours, rows, seconds
    threshold: str | None = None
    detail: str | None = None
    hint: str = ""  # what to do about a finding

    @property
    def is_finding(self) -> bool:
        return self.outcome == "warned"

    def message(self) -> str:
        hint = f" To fix: {self.hint}" if self.hint else ""
        return f"{self.dataset}: {self.detail or self.name} ({self.configured_in}).{hint}"

    def ledger_row(self) -> dict[str, Any]:
        return {
            "contract": self.configured_in,
            "dataset": self.dataset,
            "check": f"monitor.{self.check_type}",
            "check_type": self.check_type,
            "check_name": self.name,
            "outcome": self.outcome,
            "value": self.value,
            "threshold": self.threshold,
            "detail": self.detail,
        }


@dataclass
class MonitorReport:
    """Every check of one monitor run, and where the report and the run are."""

    run_date: date
    checks: list[MonitorCheck] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)  # a check that could not run (not a finding)
    alerts: list[str] = field(default_factory=list)  # where its alerts went (receivers redacted)

    def findings(self, kind: AlertKind | None = None) -> list[MonitorCheck]:
        return [c for c in self.checks if c.is_finding and (kind is None or c.kind == kind)]

    def kinds(self) -> list[AlertKind]:
        """The kinds with at least one finding, in a fixed order."""
        return [k for k in FINDING_KINDS if self.findings(k)]

    def counts(self) -> dict[str, int]:
        return dict(Counter(c.outcome for c in self.checks))

    def lines(self) -> list[str]:
        """One line per finding and per problem, for logs and the run summary."""
        return [f"{c.kind}: {c.message()}" for c in self.findings()] + [
            f"monitor problem: {p}" for p in self.problems
        ]

    def to_markdown(self) -> str:
        lines = [f"# Monitor for {self.run_date.isoformat()}", "", f"Checks: {self.counts() or 'none'}", ""]
        if self.findings():
            lines += ["| kind | table / stage | finding |", "|---|---|---|"]
            lines += [f"| {c.kind} | {c.dataset} | {(c.detail or c.name)[:200]} |" for c in self.findings()]
        else:
            lines.append("No findings.")
        lines += [f"- problem: {p}" for p in self.problems] + [f"- {a}" for a in self.alerts]
        return "\n".join(lines)
