"""The static HTML quality report, from a ledger of five real nights (report_ledger.py): what it says, that it
needs no network, that `lakehouse quality report` writes it, and that headless Chromium draws every chart.
The screenshot and rendered DOM are kept in test-artifacts/quality/."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest
import typer
from report_ledger import BAD_DAY, LAST_DAY, write_five_nights
from typer.testing import CliRunner

from lakehouse.layout import quality_report
from lakehouse.settings import PROJECT_DIR
from quality.cli import quality_app
from quality.html_report import build_report, write_report

sys.path.insert(0, str(Path(__file__).parents[1] / "ui"))  # the project's Chromium helpers
from ui_browser import FLAGS, ensure_chromium

ARTIFACTS = PROJECT_DIR / "test-artifacts" / "quality"
CHART_IDS = ["outcomes-heatmap", "outcomes-per-day", "volumes", "freshness", "publications"]


@pytest.fixture
def five_nights(lake_settings):
    write_five_nights(lake_settings)
    return lake_settings


def test_the_report_counts_the_night_and_lists_the_failures_with_their_sample_rows(five_nights):
    report, text = build_report(LAST_DAY, days=7, settings=five_nights)
    assert report.latest == {"passed": 6, "warned": 2}  # the recovered last night
    assert report.withheld == 1
    failing = [(r["run_date"], r["source"], r["dataset"], r["outcome"]) for r in report.failing]
    assert failing == [
        (BAD_DAY, "dbt", "fct_orders", "failed"),
        (BAD_DAY, "publish", "fct_orders", "withheld"),
    ]
    table = text[text.index('<table id="failing-checks">') :]
    assert "unique_fct_orders_order_id failed: 2 duplicate order ids" in table
    assert "<td>4711</td><td>2</td>" in table  # the sample rows, as a table
    for chart in CHART_IDS:
        assert f'id="{chart}"' in text


def test_the_report_needs_no_network(five_nights):
    _, text = build_report(LAST_DAY, days=7, settings=five_nights)
    assert not re.search(r"""<(script|link|img)[^>]+(src|href)=["']?(https?:)?//""", text)
    assert "<script src" not in text and len(text) > 1_000_000  # plotly.js is inlined, nothing loaded


def test_quality_report_command_writes_the_lake_report_and_a_chosen_file(five_nights, tmp_path):
    app = typer.Typer()
    app.add_typer(quality_app, name="quality")
    result = CliRunner().invoke(app, ["quality", "report", "--days", "3"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    assert "Quality report for 2026-11-26 (3 days)" in result.output  # the ledger's latest date
    assert Path(quality_report(LAST_DAY, five_nights)).is_file()

    out = tmp_path / "out" / "report.html"
    result = CliRunner().invoke(app, ["quality", "report", "--date", BAD_DAY.isoformat(), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "1 withheld publications" in result.output and out.is_file()


def test_quality_report_without_a_ledger_says_what_to_run(lake_settings):
    app = typer.Typer()
    app.add_typer(quality_app, name="quality")
    result = CliRunner().invoke(app, ["quality", "report", "--date", "2026-11-26"], env={"COLUMNS": "200"})
    assert result.exit_code == 1
    assert "No quality ledger" in result.output and "lakehouse run" in result.output


def _render(path: Path, name: str) -> str:
    """Load the file in headless Chromium (tall window: the whole report) and keep screenshot and DOM."""
    import subprocess
    import tempfile

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    screenshot = ARTIFACTS / f"{name}.png"
    with tempfile.TemporaryDirectory(prefix="chromium-") as profile:
        proc = subprocess.run(
            [ensure_chromium(), *FLAGS, "--window-size=1400,3200", f"--user-data-dir={profile}",
             f"--screenshot={screenshot}", "--dump-dom", path.as_uri()],
            capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=120, check=False,
        )  # fmt: skip
    assert proc.returncode == 0 and proc.stdout, proc.stderr[-2000:]
    assert screenshot.is_file() and screenshot.stat().st_size > 20_000
    screenshot.with_suffix(".html").write_text(proc.stdout)
    return proc.stdout


def _chart(dom: str, chart: str) -> str:
    start = dom.index(f'id="{chart}"')
    return dom[start : dom.find('<div class="plotly-graph-div"', start + 1) % (len(dom) + 1)]


def test_every_chart_draws_in_headless_chromium_without_script_errors(five_nights):
    report = write_report(LAST_DAY, days=7, settings=five_nights)
    dom = _render(Path(report.uri), "report")
    assert re.search(r'<div id="js-error" hidden', dom), (
        "a script failed: see test-artifacts/quality/report.html"
    )
    for chart in CHART_IDS:  # plotly replaced each div's contents with its drawn SVG
        drawn = _chart(dom, chart)
        assert drawn.count('class="main-svg"') >= 1, f"chart {chart} did not draw"
    assert dom.count("<path") > 50  # bars, cells, lines and markers
    heatmap = _chart(dom, "outcomes-heatmap")
    assert "fct_orders" in heatmap and "2026-11-25" in heatmap


def test_a_script_error_shows_the_error_banner(five_nights, tmp_path):
    """The banner check above is not vacuous: the same report with a failing script shows it."""
    report = write_report(LAST_DAY, days=7, settings=five_nights)
    broken = tmp_path / "broken.html"
    broken.write_text(
        Path(report.uri).read_text().replace("</body>", "<script>nosuch.call()</script></body>")
    )
    dom = _render(broken, "report-broken")
    assert not re.search(r'<div id="js-error" hidden', dom)
    assert "A chart failed to render: Uncaught ReferenceError: nosuch is not defined" in dom
