"""The basic ETL example: every page of a loopback JSON API lands once as raw/api/<name>."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest
from deltalake import DeltaTable
from werkzeug import Request, Response

from ingestion.adhoc_api import land_api
from ingestion.demo_api import order_pages, serve_shop_orders
from lakehouse.layout import raw_table
from lakehouse.settings import PROJECT_DIR

DAY = date(2026, 11, 20)
RECORDS = [{"id": i, "name": f"item {i}", "price": i * 1.5, "tags": {"n": i}} for i in range(1, 24)]


def link_api(request: Request) -> Response:
    """Pages of 5 records; the next page in a Link header (pages 1-3) or a `next` URL in the body (page 4)."""
    page = int(request.args.get("page", 1))
    records = RECORDS[(page - 1) * 5 : page * 5]
    headers = {}
    body: object = records
    if page < 4:
        headers["Link"] = f'<{request.base_url}?page={page + 1}>; rel="next"'
    elif page == 4:
        body = {"items": records, "next": f"{request.base_url}?page=5"}
    else:
        body = {"results": records, "next": None}
    return Response(json.dumps(body), headers=headers, content_type="application/json")


def test_every_page_lands_exactly_once(lake_settings, httpserver):
    httpserver.expect_request("/v1/items").respond_with_handler(link_api)
    url = httpserver.url_for("/v1/items")

    first = land_api(url, "items", DAY, lake_settings)
    table = DeltaTable(raw_table("api", "items", lake_settings)).to_pyarrow_table().sort_by("id")
    assert table["id"].to_pylist() == list(range(1, 24)) and first.entities["items"].rows_landed == 23
    assert table["price"].to_pylist()[:2] == [1.5, 3.0] and json.loads(table["tags"][0].as_py()) == {"n": 1}

    again = land_api(url, "items", DAY, lake_settings)
    assert again.entities["items"].skipped_already_loaded
    assert DeltaTable(raw_table("api", "items", lake_settings)).count() == 23


def test_the_built_in_demo_api_serves_the_shop_orders_page_by_page():
    pages = order_pages(DAY, 0.2)
    with serve_shop_orders(DAY, 0.2) as url:
        import httpx

        first = httpx.get(url)
        assert first.status_code == 200 and "next" in first.links
        assert first.json()["data"] == json.loads(pages[0])


@pytest.mark.integration
def test_python_file_with_api_url_lands_every_record_once(lake_settings, httpserver, tmp_path):
    httpserver.expect_request("/v1/items").respond_with_handler(link_api)
    flow_file = PROJECT_DIR / "orchestration" / "flows" / "examples" / "basic_etl_pipeline.py"
    env = {**os.environ, "PREFECT_HOME": str(tmp_path / "prefect")}
    command = [
        sys.executable,
        str(flow_file),
        "--api-url",
        httpserver.url_for("/v1/items"),
        "--name",
        "items",
    ]
    for _ in range(2):
        result = subprocess.run(
            [*command, "--date", DAY.isoformat()], capture_output=True, text=True, env=env
        )
        assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
        assert f"{raw_table('api', 'items', lake_settings)} — 23 rows" in result.stdout + result.stderr
    assert DeltaTable(raw_table("api", "items", lake_settings)).count() == 23


@pytest.mark.integration
def test_python_file_without_api_url_reads_the_built_in_demo_api(lake_settings, tmp_path):
    flow_file = PROJECT_DIR / "orchestration" / "flows" / "examples" / "basic_etl_pipeline.py"
    env = {**os.environ, "PREFECT_HOME": str(tmp_path / "prefect")}
    result = subprocess.run(
        [sys.executable, str(flow_file), "--date", DAY.isoformat()], capture_output=True, text=True, env=env
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    expected = sum(len(json.loads(p)) for p in order_pages(DAY, 0.2))
    assert DeltaTable(raw_table("api", "orders", lake_settings)).count() == expected
    assert Path(raw_table("api", "orders", lake_settings)).exists()
