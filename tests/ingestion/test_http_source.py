"""The http source kind against a real loopback server (pytest-httpserver on 127.0.0.1): every pagination
kind lands every record once, retries on 429/5xx/timeouts, windows sent and reused, the token never leaks."""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from typing import Any

import pyarrow.fs as pafs
import pytest
import yaml
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from ingestion.http_source import HttpSourceError, fetch_http, page_records, retry_after_seconds
from ingestion.registry import Source
from ingestion.windows import windows_uri
from lakehouse.files import filesystem
from lakehouse.lake import open_table, read_table
from lakehouse.layout import landing_file
from lakehouse.settings import PROJECT_DIR

D1, D2 = date(2026, 3, 1), date(2026, 3, 2)
TOKEN = "tok-3f9c1a7e-5b2d-never-log-me"
RECORDS = [{"id": i, "name": f"item {i}"} for i in range(1, 8)]  # 7 records: pages of 3 are 3, 3, 1
SIZE = 3
Handler = Callable[[Request], Response]


@pytest.fixture(scope="module")
def make_httpserver() -> Iterator[HTTPServer]:
    """A threaded server on 127.0.0.1, so a retry is answered while a too-slow answer is still sleeping."""
    server = HTTPServer(host="127.0.0.1", port=0, threaded=True)
    server.start()
    yield server
    server.clear()
    server.stop()


def make_source(server: HTTPServer, entity: dict[str, Any] | None = None, **http: Any) -> Source:
    return Source.model_validate(
        {
            "name": "api",
            "kind": "http",
            "http": {"base_url": server.url_for("/"), "backoff_seconds": 0.05, "timeout_seconds": 5, **http},
            "entities": {
                "items": {
                    "path": "/items",
                    "format": "json",
                    "primary_key": ["id"],
                    "columns": {"id": "bigint", "name": "string"},
                    **(entity or {}),
                }
            },
        }
    )


def page_dir(settings, run_date: date = D1) -> Path:
    return Path(landing_file("api", run_date, "items", settings))


def landed(settings, run_date: date = D1) -> list[Any]:
    """Every record of the landing pages, in page order."""
    pages = sorted(page_dir(settings, run_date).glob("page-*.json"))
    return [record for page in pages for record in json.loads(page.read_text())]


def json_response(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(json.dumps(body), status=status, headers=headers, content_type="application/json")


def int_arg(request: Request, name: str) -> int:
    return int(request.args[name])


# --- one handler per pagination kind, serving RECORDS ----------------------------------------------


def page_number_api(records: list[Any]) -> Handler:
    def handle(request: Request) -> Response:
        page, size = int_arg(request, "page"), int_arg(request, "per_page")
        return json_response(records[(page - 1) * size : page * size])

    return handle


def offset_api(request: Request) -> Response:
    offset, limit = int_arg(request, "offset"), int_arg(request, "limit")
    return json_response({"items": RECORDS[offset : offset + limit]})


def cursor_api(request: Request) -> Response:
    start = int(request.args.get("after", "0"))
    nxt = start + SIZE if start + SIZE < len(RECORDS) else None
    return json_response({"data": RECORDS[start : start + SIZE], "meta": {"next_cursor": nxt and str(nxt)}})


def link_header_api(request: Request) -> Response:
    page = int(request.args.get("page", "1"))
    headers = {}
    if page * SIZE < len(RECORDS):
        headers["Link"] = (
            f'</items?page={page + 1}&per_page={SIZE}>; rel="next", </items?page=1>; rel="first"'
        )
    return json_response(RECORDS[(page - 1) * SIZE : page * SIZE], headers=headers)


def next_url_api(server: HTTPServer) -> Handler:
    def handle(request: Request) -> Response:
        page = int(request.args.get("p", "1"))
        nxt = server.url_for(f"/items?p={page + 1}") if page * SIZE < len(RECORDS) else None
        return json_response({"results": RECORDS[(page - 1) * SIZE : page * SIZE], "links": {"next": nxt}})

    return handle


def single_page_api(request: Request) -> Response:
    return json_response({"payload": {"rows": RECORDS}})


PAGINATIONS: dict[str, tuple[dict[str, Any], Callable[[HTTPServer], Handler]]] = {
    "page_number": ({"type": "page_number", "size": SIZE}, lambda s: page_number_api(RECORDS)),
    "page_number_empty_last": ({"type": "page_number", "size": 2}, lambda s: page_number_api(RECORDS[:6])),
    "offset": ({"type": "offset", "size": SIZE}, lambda s: offset_api),
    "cursor": (
        {"type": "cursor", "cursor_param": "after", "cursor_path": "meta.next_cursor", "size_param": None},
        lambda s: cursor_api,
    ),
    "link_header": ({"type": "link_header", "size": SIZE}, lambda s: link_header_api),
    "next_url": ({"type": "next_url", "next_path": "links.next", "size_param": None}, next_url_api),
    "none": ({"type": "none"}, lambda s: single_page_api),
}


@pytest.mark.parametrize("kind", PAGINATIONS)
def test_every_pagination_kind_lands_every_record_once(kind, httpserver, lake_settings):
    pagination, handler = PAGINATIONS[kind]
    httpserver.expect_request("/items").respond_with_handler(handler(httpserver))
    entity = {"pagination": pagination, "records_path": "payload.rows" if kind == "none" else None}

    report = fetch_http(make_source(httpserver, entity), D1, lake_settings)

    expected = RECORDS[:6] if kind == "page_number_empty_last" else RECORDS
    assert landed(lake_settings) == expected
    fetched = report.entities["items"]
    assert fetched.records == len(expected)
    pages = 1 if kind == "none" else 3
    assert fetched.files == [landing_file("api", D1, f"items/page-{n:05d}.json") for n in range(1, pages + 1)]
    assert "items: " in report.summary()


def test_entity_params_are_sent_with_the_page_params(httpserver, lake_settings):
    httpserver.expect_request(
        "/items", query_string={"status": "open", "page": "1", "per_page": "3"}
    ).respond_with_json([])
    entity = {"params": {"status": "open"}, "pagination": {"type": "page_number", "size": SIZE}}
    report = fetch_http(make_source(httpserver, entity), D1, lake_settings)
    assert report.entities["items"].records == 0
    assert landed(lake_settings) == []  # an empty window still lands one (empty) page
    assert len(report.entities["items"].files) == 1


# --- retries and failures --------------------------------------------------------------------------


def test_429_with_retry_after_then_success(httpserver, lake_settings):
    httpserver.expect_ordered_request("/items").respond_with_data("slow down", 429, {"Retry-After": "1"})
    httpserver.expect_ordered_request("/items").respond_with_json(RECORDS)
    fetch_http(make_source(httpserver, {"pagination": {"type": "none"}}), D1, lake_settings)
    assert landed(lake_settings) == RECORDS
    assert len(httpserver.log) == 2


def test_two_500s_then_success(httpserver, lake_settings):
    for _ in range(2):
        httpserver.expect_ordered_request("/items").respond_with_data("oops", 500)
    httpserver.expect_ordered_request("/items").respond_with_json(RECORDS)
    fetch_http(make_source(httpserver, {"pagination": {"type": "none"}}), D1, lake_settings)
    assert landed(lake_settings) == RECORDS
    assert len(httpserver.log) == 3


def test_a_response_slower_than_the_timeout_is_retried(httpserver, lake_settings):
    answered = threading.Event()

    def too_slow(request: Request) -> Response:
        time.sleep(1.0)
        answered.set()
        return json_response([{"id": 99, "name": "late"}])

    httpserver.expect_ordered_request("/items").respond_with_handler(too_slow)
    httpserver.expect_ordered_request("/items").respond_with_json(RECORDS)
    source = make_source(httpserver, {"pagination": {"type": "none"}}, timeout_seconds=0.3)
    fetch_http(source, D1, lake_settings)
    assert landed(lake_settings) == RECORDS
    assert answered.wait(10)  # let the late answer finish before the next test uses the server


def test_a_final_failure_names_source_entity_url_and_status(httpserver, lake_settings, monkeypatch):
    monkeypatch.setenv("API_TOKEN", TOKEN)
    httpserver.expect_request("/items").respond_with_data(f"down; your token {TOKEN} is fine", 503)
    auth = {"type": "bearer", "token_env": "API_TOKEN"}
    source = make_source(httpserver, {"pagination": {"type": "none"}}, max_attempts=3, auth=auth)
    with pytest.raises(HttpSourceError) as failure:
        fetch_http(source, D1, lake_settings)
    message = str(failure.value)
    assert "api/items" in message and httpserver.url_for("/items") in message and "503" in message
    assert "after 3 attempt(s)" in message and "rerun the date later" in message
    assert TOKEN not in message and "***" in message  # the body's echo of the token is masked
    assert len(httpserver.log) == 3
    assert open_table(windows_uri("api", lake_settings), lake_settings) is None  # window not recorded


def test_401_is_not_retried_and_says_to_check_the_token(httpserver, lake_settings, monkeypatch):
    monkeypatch.setenv("API_TOKEN", TOKEN)
    httpserver.expect_request("/items").respond_with_data("bad credentials", 401)
    source = make_source(
        httpserver, {"pagination": {"type": "none"}}, auth={"type": "bearer", "token_env": "API_TOKEN"}
    )
    with pytest.raises(HttpSourceError, match=r"401 UNAUTHORIZED.*Check the token") as failure:
        fetch_http(source, D1, lake_settings)
    assert TOKEN not in str(failure.value) and "Authorization" not in str(failure.value)
    assert len(httpserver.log) == 1


def test_a_partial_pull_is_replaced_by_the_next_attempt(httpserver, lake_settings):
    stale = page_dir(lake_settings) / "page-00009.json"
    stale.parent.mkdir(parents=True)
    stale.write_text('[{"id": 1000}]')  # left by an earlier attempt with other page boundaries
    entity = {"pagination": {"type": "page_number", "size": SIZE}}
    source = make_source(httpserver, entity, max_attempts=1)
    httpserver.expect_ordered_request("/items").respond_with_json(RECORDS[:3])
    httpserver.expect_ordered_request("/items").respond_with_data("oops", 500)
    with pytest.raises(HttpSourceError):
        fetch_http(source, D1, lake_settings)
    assert landed(lake_settings) == RECORDS[:3]  # the stale page is gone, page 1 was written

    httpserver.clear()
    httpserver.expect_request("/items").respond_with_handler(page_number_api(RECORDS))
    fetch_http(source, D1, lake_settings)
    assert landed(lake_settings) == RECORDS


def test_max_pages_stops_an_endless_api(httpserver, lake_settings):
    def endless(request: Request) -> Response:
        return json_response({"data": [{"id": 1}], "next_cursor": str(time.monotonic_ns())})

    httpserver.expect_request("/items").respond_with_handler(endless)
    source = make_source(httpserver, {"pagination": {"type": "cursor", "max_pages": 3}})
    with pytest.raises(HttpSourceError, match=r"more than pagination.max_pages=3 pages"):
        fetch_http(source, D1, lake_settings)
    assert len(httpserver.log) == 3


# --- windows ---------------------------------------------------------------------------------------


def window_args(server: HTTPServer) -> list[tuple[str, str]]:
    return [(r.args["updated_since"], r.args["updated_before"]) for r, _ in server.log]


def test_windows_are_sent_reused_on_a_rerun_and_chained(httpserver, lake_settings):
    today = datetime.now(UTC).date()
    yesterday = today - timedelta(days=1)
    httpserver.expect_request("/items").respond_with_json(RECORDS)
    source = make_source(
        httpserver,
        {"pagination": {"type": "none"}},
        since_param="updated_since",
        until_param="updated_before",
        initial_since="2020-01-01T00:00:00Z",
    )

    fetch_http(source, yesterday, lake_settings)
    first = fetch_http(source, today, lake_settings).entities["items"]
    rerun = fetch_http(source, today, lake_settings).entities["items"]

    end_of_yesterday = f"{today.isoformat()}T00:00:00Z"
    sent = window_args(httpserver)
    assert sent[0] == ("2020-01-01T00:00:00Z", end_of_yesterday)
    assert sent[1][0] == end_of_yesterday and sent[1][1] < f"{today + timedelta(days=1)}T00:00:00Z"
    assert sent[2] == sent[1]  # the rerun asks for exactly the recorded window, not a later "now"
    assert rerun.reused_window and not first.reused_window and rerun.window == first.window
    recorded = read_table(windows_uri("api", lake_settings), lake_settings).sort_by("run_date").to_pylist()
    assert [(r["run_date"], r["window_start"], r["window_end"]) for r in recorded] == [
        (yesterday, *sent[0]),
        (today, *sent[1]),
    ]
    assert recorded[1]["records"] == len(RECORDS) and recorded[1]["files"] == first.files


# --- the token -------------------------------------------------------------------------------------


def test_the_token_is_sent_but_never_logged_printed_landed_or_recorded(
    httpserver, lake_settings, monkeypatch, caplog, capfd, tmp_path
):
    caplog.set_level(logging.DEBUG)
    for name in ("httpx", "httpcore", "tenacity", "ingestion", "lakehouse"):
        caplog.set_level(logging.DEBUG, logger=name)
    monkeypatch.setenv("API_TOKEN", TOKEN)
    httpserver.expect_ordered_request("/items").respond_with_data("oops", 500)  # a retry is logged too
    httpserver.expect_request("/items").respond_with_handler(link_header_api)
    source = make_source(
        httpserver,
        {"pagination": {"type": "link_header", "size": SIZE}},
        auth={"type": "bearer", "token_env": "API_TOKEN"},
    )

    report = fetch_http(source, D1, lake_settings)
    print(report.summary())

    assert [r.headers["Authorization"] for r, _ in httpserver.log] == [f"Bearer {TOKEN}"] * 4
    assert landed(lake_settings) == RECORDS
    # every level was captured: httpx's request lines, httpcore's DEBUG trace, the retry warning
    assert all(s in caplog.text for s in ("HTTP Request: GET", "send_request_headers", "attempt 1 of 6"))
    assert TOKEN not in caplog.text
    out, err = capfd.readouterr()
    assert TOKEN not in out + err
    for path in tmp_path.rglob("*"):  # landing pages, the ops table (data and log), the catalog
        assert not path.is_file() or TOKEN.encode() not in path.read_bytes(), path
    assert TOKEN not in str(read_table(windows_uri("api", lake_settings), lake_settings).to_pylist())


def test_a_header_token(httpserver, lake_settings, monkeypatch):
    monkeypatch.setenv("API_KEY", TOKEN)
    httpserver.expect_request("/items", headers={"X-Api-Key": TOKEN}).respond_with_json(RECORDS)
    auth = {"type": "header", "header": "X-Api-Key", "token_env": "API_KEY"}
    fetch_http(make_source(httpserver, {"pagination": {"type": "none"}}, auth=auth), D1, lake_settings)
    assert landed(lake_settings) == RECORDS
    assert "Authorization" not in httpserver.log[0][0].headers


def test_a_missing_token_variable_says_what_to_set(httpserver, lake_settings, monkeypatch):
    monkeypatch.delenv("API_TOKEN", raising=False)
    source = make_source(httpserver, auth={"type": "bearer", "token_env": "API_TOKEN"})
    with pytest.raises(HttpSourceError, match=r"API_TOKEN \(http.auth.token_env\) is not set"):
        fetch_http(source, D1, lake_settings)
    assert httpserver.log == []


def test_the_token_is_not_sent_to_another_host(httpserver, lake_settings, monkeypatch):
    monkeypatch.setenv("API_TOKEN", TOKEN)
    elsewhere = httpserver.url_for("/items?page=2").replace("127.0.0.1", "localhost")
    httpserver.expect_request("/items").respond_with_json(
        RECORDS[:3], headers={"Link": f'<{elsewhere}>; rel="next"'}
    )
    auth = {"type": "bearer", "token_env": "API_TOKEN"}
    with pytest.raises(HttpSourceError, match="on another host"):
        fetch_http(
            make_source(httpserver, {"pagination": {"type": "link_header"}}, auth=auth), D1, lake_settings
        )
    assert len(httpserver.log) == 1


class FakeSecret:
    def __init__(self, value: str) -> None:
        self.value = value

    def get(self) -> str:
        return self.value


def test_a_secret_block_token(httpserver, lake_settings, monkeypatch):
    from prefect.blocks.system import Secret

    loaded: list[str] = []
    monkeypatch.setattr(Secret, "load", lambda name: loaded.append(name) or FakeSecret(TOKEN))
    httpserver.expect_request("/items", headers={"Authorization": f"Bearer {TOKEN}"}).respond_with_json(
        RECORDS
    )
    auth = {"type": "bearer", "token_block": "api-token"}
    fetch_http(make_source(httpserver, {"pagination": {"type": "none"}}, auth=auth), D1, lake_settings)
    assert loaded == ["api-token"] and landed(lake_settings) == RECORDS


def test_a_missing_secret_block_says_how_to_create_it(httpserver, lake_settings, monkeypatch):
    from prefect.blocks.system import Secret

    def missing(name: str) -> None:
        raise ValueError(f"Unable to find block document named {name}")

    monkeypatch.setattr(Secret, "load", missing)
    source = make_source(httpserver, auth={"type": "bearer", "token_block": "api-token"})
    with pytest.raises(HttpSourceError, match=r"cannot load the Prefect Secret block 'api-token'.*save\("):
        fetch_http(source, D1, lake_settings)


@pytest.mark.integration
def test_a_secret_block_on_a_real_prefect_server(prefect_api, httpserver, lake_settings):
    from prefect.blocks.system import Secret

    Secret(value=TOKEN).save("lakehouse-test-api-token", overwrite=True)
    httpserver.expect_request("/items", headers={"Authorization": f"Bearer {TOKEN}"}).respond_with_json(
        RECORDS
    )
    auth = {"type": "bearer", "token_block": "lakehouse-test-api-token"}
    fetch_http(make_source(httpserver, {"pagination": {"type": "none"}}, auth=auth), D1, lake_settings)
    assert landed(lake_settings) == RECORDS


# --- S3 --------------------------------------------------------------------------------------------


@pytest.mark.integration
def test_pages_land_on_s3(httpserver, s3_settings):
    httpserver.expect_request("/items").respond_with_handler(page_number_api(RECORDS))
    report = fetch_http(
        make_source(httpserver, {"pagination": {"type": "page_number", "size": SIZE}}), D1, s3_settings
    )
    fs = filesystem(s3_settings)
    files = report.entities["items"].files
    assert all(f.startswith("s3://") for f in files) and len(files) == 3
    records = []
    for uri in files:
        with fs.open_input_stream(uri.removeprefix("s3://")) as page:
            records += json.loads(page.read())
    assert records == RECORDS
    folder = landing_file("api", D1, "items", s3_settings).removeprefix("s3://")
    listed = fs.get_file_info(pafs.FileSelector(folder))
    assert sorted(i.base_name for i in listed) == ["page-00001.json", "page-00002.json", "page-00003.json"]


# --- helpers ---------------------------------------------------------------------------------------


def test_retry_after_is_seconds_or_an_http_date():
    now = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
    assert retry_after_seconds("1") == 1.0
    assert retry_after_seconds(format_datetime(now + timedelta(seconds=30), usegmt=True), now) == 30.0
    assert retry_after_seconds(format_datetime(now - timedelta(seconds=30), usegmt=True), now) == 0.0
    assert retry_after_seconds("soon") is None and retry_after_seconds(None) is None


def test_the_example_source_file_is_a_valid_http_source():
    example = PROJECT_DIR / "ingestion" / "sources" / "examples" / "shop_api.yml.example"
    source = Source.model_validate(yaml.safe_load(example.read_text()))
    assert source.name == "shop_api" and source.kind == "http" and source.http is not None
    assert source.http.auth.token_env and {e.pagination.type for e in source.entities.values()} == {
        "cursor",
        "page_number",
    }


def test_records_are_found_at_a_path_or_under_a_usual_key():
    assert page_records({"a": {"b": [1]}}, "a.b") == [1]
    assert page_records([1, 2], None) == [1, 2]
    assert page_records({"total": 2, "results": [1, 2]}, None) == [1, 2]
    with pytest.raises(ValueError, match="set records_path"):
        page_records({"rows": [1]}, None)
