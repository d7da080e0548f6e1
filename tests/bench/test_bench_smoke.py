"""A smoke run of `make bench` at a tiny scale: the harness makes complete tables (no timing assertions)."""

from __future__ import annotations

import re

import pytest

from bench.harness import bench_history, bench_scale, bench_series, compile_project
from bench.report import LABELS, history_table, scale_table, series_table

pytestmark = pytest.mark.integration

NUMBER = r"\d+\.\d\d"


@pytest.fixture(scope="module")
def work(tmp_path_factory):
    work = tmp_path_factory.mktemp("bench")
    return work, compile_project(work)


def test_scale_table_has_every_stage_with_both_columns_and_ratios(work):
    path, manifest = work
    result = bench_scale(0.05, 1, path, manifest)
    table = scale_table(result)
    for label in [*LABELS.values(), "**whole night**"]:
        row = next(line for line in table.splitlines() if line.startswith(f"| {label} |"))
        cells = [c.strip().strip("*") for c in row.strip("|").split("|")]
        assert re.fullmatch(NUMBER, cells[1]) and re.fullmatch(NUMBER, cells[2]), row
    for stage in ("ingest", "raw_gate", "dbt", "marts_gate", "publish", "features"):
        assert re.search(rf"\| {re.escape(LABELS[stage])} \| {NUMBER} \| {NUMBER} \| \d+\.\dx \|", table), (
            stage
        )
    assert re.search(
        r"\| \*\*whole night\*\* \| \*\*[\d.]+\*\* \| \*\*[\d.]+\*\* \| \*\*\d+\.\dx\*\* \|", table
    )
    assert re.search(r"\| peak RSS of the process tree, MB \| [1-9]\d* \| [1-9]\d* \|", table)
    # Both sides did the night's work: the same rows landed, the floor's data tests found nothing to fail.
    assert result.project[0].counts["rows_landed"] == result.floor[0].counts["rows_landed"] > 0
    assert result.floor[0].counts["tests_failed"] == 0 and result.floor[0].counts["feature_rows"] > 0


def test_series_table_has_each_night_the_growth_and_the_full_refresh(work):
    path, manifest = work
    table = series_table(bench_series(0.05, 2, path, manifest))
    assert re.search(rf"\| 1 \| 2026-11-01 \| {NUMBER} \| {NUMBER} \| {NUMBER} \| {NUMBER} \|", table)
    assert re.search(rf"\| 2 \| 2026-11-02 \| {NUMBER} \| {NUMBER} \| {NUMBER} \| {NUMBER} \|", table)
    assert re.search(rf"\| full refresh \| 2026-11-02 \| {NUMBER} \| {NUMBER} \|", table)
    assert re.search(r"growth, night 2 vs night 2: dbt \d+\.\dx, night \d+\.\dx", table)
    assert re.search(r"full refresh vs incremental night 2: dbt \d+\.\dx, night \d+\.\dx", table)


def test_overhead_table_has_start_up_to_first_task_and_overhead_per_dbt_node(work, prefect_api):
    from bench.overhead import bench_overhead, overhead_table

    path, _ = work
    (result,) = bench_overhead(0.05, 1, path, prefect_api)
    assert result.nodes >= 20 and result.startup_to_first_task > 0 and result.plain_dbt > 0
    table = overhead_table(0.05, [result])
    for label in ("start-up to first task run", "plain `dbt build`", "Prefect overhead per dbt node, ms"):
        assert re.search(rf"\| {re.escape(label)}[^|]* \| -?[\d.]+x? \|", table), label
    assert re.search(r"\| dbt nodes run \(task runs\) \| [1-9]\d* \|", table)


def test_history_table_has_the_build_the_incremental_night_and_its_full_refresh(work):
    path, _ = work
    result = bench_history(0.05, 2, path)
    night = result.incremental.counts["rows_landed"]
    assert result.history_rows > night > 0  # the history holds two dates, the night one
    table = history_table(result)
    assert re.search(
        rf"\| date 2: the marts built from empty over the history \| {NUMBER} \| {NUMBER} \|", table
    )
    assert re.search(rf"\| date 3: incremental \| {NUMBER} \| {NUMBER} \| [1-9]\d* \|", table)
    assert re.search(rf"\| date 3 again: --full-refresh on the same lake \| {NUMBER} \| {NUMBER} \|", table)
    assert re.search(
        r"against the full refresh of the same lake: dbt stage \d+\.\d %, whole night \d+\.\d %", table
    )
    assert f"({result.history_rows:,} raw rows), then a night of {night:,} new or changed rows" in table
