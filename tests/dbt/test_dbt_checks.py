"""The checks that were missing (issue 4): payment amounts positive, dates not beyond the run date, foreign
keys resolving, quantities in a sane range — each caught by its dbt test on a tiny lake with that corruption.

Staging tests judge only the run's batches when run_date is given: the bad night fails, the next clean night
passes with the bad batch still in the raw history, and a build without run_date judges the whole history.
Night 1 passes run_date as an analyst does (--vars), nights 2 and 3 as the pipeline does
(LAKEHOUSE_DBT_RUN_DATE, macros/run_var.sql): from night 3 on dbt reuses its saved parse, and each night is
still judged on its own date.
"""

from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from dbt_harness import DBT, DbtLake
from shop_batches import BATCHES, DAY1, DAY2, batch_id, entity_table, load_batch, ts

from lakehouse.lake import append_batch
from lakehouse.settings import DBT_PROJECT_DIR, Settings
from lakehouse.transform import dbt_run_env, dbt_run_vars

DAY3 = date(2024, 3, 3)
FUTURE = date(2030, 1, 1)

# Day 2, corrupted (each row breaks exactly one new check; nothing here breaks a mart test later)
BAD_DAY2: dict[str, list[tuple[Any, ...]]] = {
    "orders": [(105, 3, FUTURE, ts("2030-01-01T10:00"), "placed", ts("2024-03-02T10:00"))],  # a future date
    "order_items": [
        (1050, 105, 99, 1, 5.0),  # an unknown product
        (1051, 105, 10, 0, 5.0),  # quantity 0
        (1052, 105, 11, 5000, 12.5),  # quantity far beyond a shop's order line
    ],
    "payments": [
        (5050, 105, "card", -5.0, ts("2024-03-02T10:05")),  # a negative amount
        (5051, 105, "card", 5.0, ts("2030-01-01T10:05")),  # paid in the future
        (5052, 424242, "card", 5.0, ts("2024-03-02T11:00")),  # an unknown order
    ],
}
# the unknown customer of an order also fails the whole-mart relationship fct_orders -> dim_customers on every
# later night until the batch is retracted, so it is checked on a lake of its own
UNKNOWN_CUSTOMER = {"orders": [(106, 77, DAY1, ts("2024-03-01T12:00"), "placed", ts("2024-03-01T12:00"))]}
CLEAN_DAY3: dict[str, list[tuple[Any, ...]]] = {
    "orders": [(107, 1, DAY3, ts("2024-03-03T09:00"), "placed", ts("2024-03-03T09:00"))],
    "order_items": [(1070, 107, 10, 2, 5.0)],
    "payments": [(5070, 107, "card", 10.0, ts("2024-03-03T09:05"))],
}
NEW_CHECKS_CAUGHT_ON_DAY2 = {
    "not_after_run_date_stg_shop__orders_order_date",
    "not_after_run_date_stg_shop__payments_paid_at",
    "relationships_stg_shop__order_items_product_id",
    "in_range_stg_shop__order_items_quantity",
    "positive_stg_shop__payments_amount",
    "relationships_after_first_night_stg_shop__payments_order_id",
}
UNKNOWN_CUSTOMER_CHECK = "relationships_stg_shop__orders_customer_id"
NEW_CHECKS = NEW_CHECKS_CAUGHT_ON_DAY2 | {UNKNOWN_CUSTOMER_CHECK}


def check_name(test_name: str) -> str:
    """A new check's name without the arguments dbt appends (`…__customer_id__ref_stg_shop__customers_`)."""
    return next((n for n in NEW_CHECKS if test_name == n or test_name.startswith(n + "__")), test_name)


@dataclass
class Build:
    returncode: int
    output: str
    results: dict[str, str]  # check name (see check_name) -> status
    reused_parse: bool  # dbt parsed nothing again: target/partial_parse.msgpack was valid as saved


def append(settings: Settings, run_date: date, extra: dict[str, list[tuple[Any, ...]]]) -> None:
    """Land a night's batches as ingestion does (one per entity): the shop's rows of the date plus `extra`."""
    clean = BATCHES.get(run_date, {})
    for entity in sorted(set(clean) | set(extra)):
        table = entity_table(entity, clean.get(entity, []) + extra.get(entity, []), run_date)
        append_batch(settings.uri("raw", "shop", entity), table, batch_id(entity, run_date), settings)


def build(lake: DbtLake, run_date: date | None, as_pipeline: bool = False) -> Build:
    """`dbt build` (passing or not) and the status of every test it ran; `as_pipeline` passes run_date in the
    environment as lakehouse.transform.run_dbt_build does, else as --vars."""
    args = ["build", "--project-dir", str(DBT_PROJECT_DIR), "--profiles-dir", str(DBT_PROJECT_DIR)]
    env = lake.env()
    if run_date and as_pipeline:
        env.update(dbt_run_env(dbt_run_vars(run_date)))
    elif run_date:
        args += ["--vars", json.dumps({"run_date": run_date.isoformat()})]
    results_file = lake.work_dir / "target" / "run_results.json"
    results_file.unlink(missing_ok=True)  # never read an earlier build's results
    log_file = lake.work_dir / "logs" / "dbt.log"
    log_file.unlink(missing_ok=True)
    proc = subprocess.run([str(DBT), *args], env=env, capture_output=True, text=True, timeout=600)
    assert results_file.exists(), (
        f"dbt ran nothing ({proc.returncode}):\n{(proc.stdout + proc.stderr)[-4000:]}"
    )
    run_results = json.loads(results_file.read_text())
    results = {
        check_name(r["unique_id"].split(".")[2]): r["status"]
        for r in run_results["results"]
        if r["unique_id"].startswith("test.")
    }
    log = log_file.read_text()
    reused = "Partial parsing enabled" in log and "Unable to do partial parsing" not in log
    return Build(proc.returncode, proc.stdout + proc.stderr, results, reused)


def failed(result: Build) -> set[str]:
    return {name for name, status in result.results.items() if status in ("fail", "error")}


def _lake(tmp: Path) -> DbtLake:
    settings = Settings(
        lakehouse_root=str(tmp / "lake"), lakehouse_catalog=str(tmp / "cat" / "lakehouse.duckdb")
    )
    return DbtLake(settings, tmp)


@pytest.fixture(scope="module")
def nights(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Build]:
    lake = _lake(tmp_path_factory.mktemp("dbt_checks"))
    load_batch(DAY1, lake.settings)
    nights = {"day1": build(lake, DAY1)}
    append(lake.settings, DAY2, BAD_DAY2)
    nights["day2"] = build(lake, DAY2, as_pipeline=True)
    append(lake.settings, DAY3, CLEAN_DAY3)
    nights["day3"] = build(lake, DAY3, as_pipeline=True)
    nights["whole_history"] = build(lake, None)
    other = DbtLake(_lake(lake.work_dir / "other").settings, lake.work_dir)  # another lake, same target
    log_file = lake.work_dir / "logs" / "dbt.log"
    log_file.unlink(missing_ok=True)
    output = other.dbt("parse")
    log = log_file.read_text()
    reused = "Partial parsing enabled" in log and "Unable to do partial parsing" not in log
    nights["other_lake_parse"] = Build(0, output + log[-3000:], {}, reused)
    return nights


def test_the_new_checks_pass_on_clean_data(nights: dict[str, Build]) -> None:
    day1 = nights["day1"]
    assert day1.returncode == 0, day1.output[-4000:]
    assert set(day1.results) >= NEW_CHECKS
    assert not failed(day1)


def test_each_corruption_fails_its_own_check(nights: dict[str, Build]) -> None:
    day2 = nights["day2"]
    assert day2.returncode != 0
    assert failed(day2) == NEW_CHECKS_CAUGHT_ON_DAY2, day2.output[-4000:]
    assert "positive_stg_shop__payments_amount" in day2.output  # dbt names the failing test


def test_a_bad_batch_blocks_only_its_own_night(nights: dict[str, Build]) -> None:
    day3 = nights["day3"]  # day 2's bad rows are still in the raw history
    assert day3.returncode == 0, day3.output[-4000:]
    assert not failed(day3)


def test_the_pipelines_run_date_keeps_the_saved_parse(nights: dict[str, Build]) -> None:
    assert not nights["day2"].reused_parse  # night 1 passed --vars: a change of --vars is a full parse
    # the run_date changed from night 2 to 3 and is gone in the analyst's build, yet dbt parsed nothing again
    # (and each night's checks above still judged its own batches: nothing of a date was baked into the parse)
    assert nights["day3"].reused_parse, nights["day3"].output[-2000:]
    assert nights["whole_history"].reused_parse
    # the profile names no lake path: another lake (another root and catalog folder) keeps the parse too
    assert nights["other_lake_parse"].reused_parse, nights["other_lake_parse"].output


def test_without_run_date_the_whole_history_is_judged(nights: dict[str, Build]) -> None:
    # an analyst's plain `dbt build`: every batch, and no date after today (UTC) — 2030 is still ahead
    assert failed(nights["whole_history"]) == NEW_CHECKS_CAUGHT_ON_DAY2


def test_an_order_of_an_unknown_customer_fails(tmp_path: Path) -> None:
    lake = _lake(tmp_path)
    append(lake.settings, DAY1, UNKNOWN_CUSTOMER)
    night = build(lake, DAY1)
    assert night.returncode != 0
    assert failed(night) == {UNKNOWN_CUSTOMER_CHECK}, night.output[-4000:]
