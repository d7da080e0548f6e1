"""The README's "Add a model" and "Add a contract" recipes, followed to the letter: their files (taken
from the README itself) are added to a copy of the dbt project and the contracts; `dbt build` builds, tests
and publishes the new mart on a small lake, and the marts gate verifies its contract."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest
from dbt_harness import DbtLake
from shop_batches import DAY1, DAY2, load_batch

from lakehouse.settings import DBT_PROJECT_DIR, PROJECT_DIR, Settings
from quality.scan import CONTRACTS_DIR, verify_contracts

pytestmark = pytest.mark.integration

BLOCK = re.compile(r"```(?:yaml|sql)\n(?:#|--) (\S+)\n(.*?)```", re.S)


def recipe_files() -> dict[str, str]:
    """path -> content of every file the README's "Add a model" and "Add a contract" sections add."""
    readme = (PROJECT_DIR / "README.md").read_text()
    files = {}
    for title in ("## Add a model", "## Add a contract"):
        section = readme.split(title, 1)[1].split("\n## ", 1)[0]
        files |= dict(BLOCK.findall(section))
    return files


def test_the_model_recipe_builds_publishes_and_passes_its_contract(tmp_path: Path) -> None:
    files = recipe_files()
    assert set(files) == {
        "dbt_project/models/marts/fct_country_revenue.sql",
        "dbt_project/models/marts/_country_revenue__models.yml",
        "quality/contracts/marts/fct_country_revenue.yml",
    }
    project = tmp_path / "dbt_project"
    shutil.copytree(DBT_PROJECT_DIR, project, ignore=shutil.ignore_patterns("target", "logs", "dbt_packages"))
    contracts = tmp_path / "contracts"
    shutil.copytree(CONTRACTS_DIR, contracts)
    for path, body in files.items():
        target = project / path.removeprefix("dbt_project/")
        if path.startswith("quality/contracts/"):
            target = contracts / path.removeprefix("quality/contracts/")
        target.write_text(body)

    settings = Settings(
        lakehouse_root=str(tmp_path / "lake"), lakehouse_catalog=str(tmp_path / "c" / "lakehouse.duckdb")
    )
    lake = DbtLake(settings, tmp_path, project_dir=project)
    for day in (DAY1, DAY2):
        load_batch(day, settings)
        output = lake.dbt("build", "--vars", json.dumps({"run_date": day.isoformat()}))
    assert "country_revenue_counts_customers_without_orders" in output
    assert "unique_fct_country_revenue_country" in output and "published" in output

    revenue = {r["country"]: r for r in lake.read_mart("fct_country_revenue", "country").to_pylist()}
    customers = lake.read_mart("dim_customers", "customer_id").to_pylist()
    assert set(revenue) == {c["country"] for c in customers}
    assert sum(r["customer_count"] for r in revenue.values()) == len(customers)
    assert sum(r["lifetime_value"] for r in revenue.values()) == sum(c["lifetime_value"] for c in customers)

    report = verify_contracts(DAY2, "marts", settings, contracts_dir=contracts)
    rows = [r for r in report.results if r.dataset == "fct_country_revenue"]
    assert len(rows) == 4 and all(r.outcome == "passed" for r in rows), rows
