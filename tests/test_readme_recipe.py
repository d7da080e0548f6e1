"""The README's "Add a source" recipe, followed to the letter: its files (taken from the README itself) are
added to a copy of this repository, and the nightly flow runs the shop and the new CRM API source (served on
127.0.0.1) together: both land, dbt builds the CRM staging models, and the CRM contract passes."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest
from deltalake import DeltaTable
from werkzeug import Request, Response

from lakehouse.settings import PROJECT_DIR

pytestmark = pytest.mark.integration

DAY = date(2026, 11, 20)
TOKEN = "crm-token-4f9c2e7d"
BLOCK = re.compile(r"```(?:yaml|sql)\n(?:#|--) (\S+)\n(.*?)```", re.S)
ACCOUNTS = [
    {"account_id": i, "name": f"Account {i}", "plan": "pro" if i % 2 else "free", "mrr": f"{i * 10}.50",
     "updated_at": f"2026-11-20T{i % 24:02d}:00:00Z"}
    for i in range(1, 13)
]  # fmt: skip
TICKETS = [
    {"ticket_id": 100 + i, "account_id": 1 + i % 12, "status": "open", "tags": ["billing", i],
     "opened_at": f"2026-11-20T{i % 24:02d}:30:00Z"}
    for i in range(25)
]  # fmt: skip


def recipe_files() -> dict[str, str]:
    """path -> content of every file the README's "Add a source" section adds."""
    readme = (PROJECT_DIR / "README.md").read_text()
    section = readme.split("## Add a source", 1)[1].split("\n## ", 1)[0]
    return {
        path: f"{'#' if path.endswith('.yml') else '--'} {path}\n{body}"
        for path, body in BLOCK.findall(section)
    }


def copy_of_repository(target: Path) -> Path:
    files = subprocess.run(
        ["git", "ls-files", "-co", "--exclude-standard"], cwd=PROJECT_DIR, capture_output=True, text=True
    ).stdout.split()
    for name in files:
        if (PROJECT_DIR / name).is_file():
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(PROJECT_DIR / name, target / name)
    return target


def crm_api(request: Request) -> Response:
    """/accounts pages of 5 with a Link header, /tickets pages of 10 with a next URL; the window honoured."""
    if request.headers.get("Authorization") != f"Bearer {TOKEN}":
        return Response("unauthorized", status=401)
    since, until = request.args["updated_since"], request.args["updated_before"]
    window = f"updated_since={since}&updated_before={until}"
    if request.path == "/accounts":
        rows = [a for a in ACCOUNTS if since <= a["updated_at"] < until]
        page = int(request.args.get("page", 1))
        more = page * 5 < len(rows)
        headers = {"Link": f'<{request.base_url}?page={page + 1}&{window}>; rel="next"'} if more else {}
        body: object = rows[(page - 1) * 5 : page * 5]
        return Response(json.dumps(body), headers=headers, content_type="application/json")
    rows = [t for t in TICKETS if since <= t["opened_at"] < until]
    start = int(request.args.get("start", 0))
    nxt = f"{request.base_url}?start={start + 10}&{window}" if start + 10 < len(rows) else None
    body = {"data": rows[start : start + 10], "next": nxt}
    return Response(json.dumps(body), content_type="application/json")


def test_the_recipe_lands_builds_and_passes_its_contract(tmp_path, httpserver, prefect_api):
    files = recipe_files()
    assert set(files) == {
        "ingestion/sources/crm.yml",
        "dbt_project/models/staging/crm/_crm__sources.yml",
        "dbt_project/models/staging/crm/stg_crm__accounts.sql",
        "dbt_project/models/staging/crm/stg_crm__tickets.sql",
        "dbt_project/models/staging/crm/_crm__models.yml",
        "quality/contracts/raw/crm/accounts.yml",
    }
    assert not any(p.endswith(".py") for p in files)  # no Python edits
    repo = copy_of_repository(tmp_path / "repo")
    for path, content in files.items():
        (repo / path).parent.mkdir(parents=True, exist_ok=True)
        (repo / path).write_text(content)
    httpserver.expect_request(re.compile("^/(accounts|tickets)$")).respond_with_handler(crm_api)
    lake = tmp_path / "lake"
    env = {
        **os.environ,
        "PYTHONPATH": str(repo),
        "PREFECT_API_URL": prefect_api,
        "LAKEHOUSE_ROOT": str(lake),
        "LAKEHOUSE_CATALOG": str(tmp_path / "catalog" / "lakehouse.duckdb"),
        "LAKEHOUSE_SOURCES_DIR": str(repo / "ingestion" / "sources"),
        "DBT_PROFILES_DIR": str(repo / "dbt_project"),
        "DBT_PROJECT_DIR": str(repo / "dbt_project"),
        "CRM_API_URL": httpserver.url_for("").rstrip("/"),
        "CRM_API_TOKEN": TOKEN,
        "COLUMNS": "200",
    }

    def lakehouse(*args: str) -> subprocess.CompletedProcess[str]:
        """The `lakehouse` command of the copy (its code first on the path)."""
        cli = [sys.executable, "-c", "from orchestration.cli import main; main()", *args]
        return subprocess.run(cli, cwd=repo, env=env, capture_output=True, text=True)

    check = lakehouse("sources", "check", "crm")
    assert check.returncode == 0, check.stdout + check.stderr

    run = lakehouse("run", "--date", DAY.isoformat(), "--scale", "0.05")
    output = run.stdout + run.stderr
    assert run.returncode == 0, output[-6000:]
    assert "raw/crm/accounts" in output and "raw/shop/orders" in output

    accounts = DeltaTable(str(lake / "raw" / "crm" / "accounts")).to_pyarrow_table()
    tickets = DeltaTable(str(lake / "raw" / "crm" / "tickets")).to_pyarrow_table()
    assert sorted(accounts["account_id"].to_pylist()) == list(range(1, 13))
    assert sorted(tickets["ticket_id"].to_pylist()) == [100 + i for i in range(25)]
    assert str(accounts.schema.field("mrr").type) == "decimal128(10, 2)"

    import duckdb

    with duckdb.connect(str(tmp_path / "catalog" / "lakehouse.duckdb"), read_only=True) as con:
        con.execute("LOAD delta")
        assert con.execute("select count(*) from stg_crm__tickets").fetchone() == (25,)
    ledger = DeltaTable(str(lake / "quality" / "ledger")).to_pyarrow_table().to_pylist()
    crm = [r for r in ledger if r["contract"].startswith("raw/crm/") and r["layer"] == "raw"]
    assert crm and all(r["outcome"] == "passed" for r in crm), crm

    rerun = lakehouse("run", "--date", DAY.isoformat(), "--source", "crm")
    assert rerun.returncode == 0, (rerun.stdout + rerun.stderr)[-6000:]
    assert DeltaTable(str(lake / "raw" / "crm" / "accounts")).count() == 12  # landed once
    for path in lake.rglob("*"):
        if path.is_file():
            assert TOKEN.encode() not in path.read_bytes(), path
    assert TOKEN not in output + rerun.stdout + rerun.stderr
