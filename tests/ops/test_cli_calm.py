"""A calm command line: usage errors exit 2 in one line, problems print literally (no rich markup), an
unexpected error is one line and the log's path (its traceback only with --debug)."""

from __future__ import annotations

import io
from datetime import date

import pytest
import typer
from lakehouse_cli import lakehouse
from rich.console import Console

from orchestration import cli
from orchestration.summary import RunSummary

DAY = date(2026, 11, 20)


@pytest.mark.parametrize(
    "argv",
    [
        ["backfill", "--from", "2026-11-05", "--to", "2026-11-01"],  # backwards
        ["backfill", "--from", "2026-13-01", "--to", "2026-11-01"],  # not a date
        ["backfill", "--to", "2026-11-01"],  # --from missing
        ["backfill", "--from", "2026-11-01", "--to", "2026-11-02", "--scale", "lots"],
        ["backfill", "--from", "2026-11-01", "--to", "2026-11-02", "--source", "nope"],  # unknown source
        ["run", "--date", "yesterday"],
        ["status", "--runs", "0"],
        ["status", "--bogus"],
        ["nosuchcommand"],
    ],
)
def test_usage_errors_exit_2_without_a_traceback(argv, lake_settings):
    proc = lakehouse(lake_settings, None, *argv, timeout=300)
    output = proc.stdout + proc.stderr
    assert proc.returncode == 2, output
    assert "Traceback" not in output and len(output.splitlines()) < 15, output


def _captured(monkeypatch: pytest.MonkeyPatch) -> io.StringIO:
    out = io.StringIO()
    monkeypatch.setattr(cli, "console", Console(file=out, width=200, color_system=None))
    return out


def test_problems_print_literally(monkeypatch):
    out = _captured(monkeypatch)
    summary = RunSummary(DAY, "/lake[1]", "/catalog", problems=["bad [x] value in [red]column[/red] a"])
    summary.stopped_at = "raw [gate]"
    cli.print_summary(summary)
    text = out.getvalue()
    assert "✗ bad [x] value in [red]column[/red] a" in text
    assert "Run stopped at the raw [gate]." in text and "lake: /lake[1]" in text


def test_an_unexpected_error_is_one_line_and_the_log_unless_debug(monkeypatch, tmp_path):
    out = _captured(monkeypatch)
    log = tmp_path / "run.log"
    with pytest.raises(typer.Exit) as exit_info:
        cli.unexpected_error(RuntimeError("disk [full]\nsecond line"), log, debug=False)
    assert exit_info.value.exit_code == 1
    assert out.getvalue().splitlines()[0] == "✗ RuntimeError: disk [full]"
    assert str(log) in out.getvalue() and "--debug" in out.getvalue()
    with pytest.raises(RuntimeError, match="disk"):
        cli.unexpected_error(RuntimeError("disk [full]"), log, debug=True)


def test_status_of_a_lake_without_runs_is_red(lake_settings):
    proc = lakehouse(lake_settings, None, "status", timeout=300)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "no run has finished on this lake yet" in proc.stdout
    assert "Traceback" not in proc.stdout + proc.stderr
