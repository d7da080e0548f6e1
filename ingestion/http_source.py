"""HTTP JSON API sources (kind http): pull every page of each entity's window into landing/.

For (source, entity, run date) the window comes from ingestion/windows.py (a rerun of a date asks for the
recorded window again). Every page of `base_url + path` is fetched with the entity's params, the window params
and the pagination params, and its records are written as one JSON array file:

    landing/<source>/<date>/<entity>/page-00001.json, page-00002.json, …

Only after the last page is written is the window recorded, so a failed pull is simply pulled again. The
token lives only in the request header: never in a URL, a log line, an exception, a file or a table.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from email.utils import parsedate_to_datetime
from typing import Any, cast

import httpx
import pyarrow.fs as pafs
from tenacity import RetryCallState, Retrying, retry_if_exception, stop_after_attempt, wait_exponential

from ingestion.registry import Auth, Entity, HttpConfig, Pagination, Source
from ingestion.windows import EntityFetch, FetchReport, Window, planned_window, record_window, time_window_end
from lakehouse.files import filesystem
from lakehouse.layout import landing_file
from lakehouse.settings import Settings, get_settings

log = logging.getLogger(__name__)

AUTO_RECORD_KEYS = ("data", "items", "results")
PAGE_PREFIX, PAGE_SUFFIX = "page-", ".json"
BODY_SNIPPET_CHARS = 200
Params = dict[str, Any]


class HttpSourceError(RuntimeError):
    """A pull from an HTTP source failed; the message names the source, entity, URL and what to do.

    It carries only text (no request or response objects, which would hold the token in their headers).
    """


class _RetryableStatus(Exception):
    """A 429 or 5xx answer: worth another attempt."""

    def __init__(self, status: str, retry_after: float | None, body: str) -> None:
        super().__init__(status)
        self.status, self.retry_after, self.body = status, retry_after, body


@dataclass(frozen=True)
class PageRequest:
    url: str
    params: Params


@dataclass(frozen=True)
class Pull:
    """One entity's pull: what error messages and retries need to know."""

    source: str
    entity: Entity
    http: HttpConfig
    token: str | None
    origin: str  # scheme://host:port of base_url; the token is sent nowhere else

    @property
    def name(self) -> str:
        return f"{self.source}/{self.entity.name}"


# --- configuration: base URL and token --------------------------------------------------------------


def base_url(source: str, http: HttpConfig) -> str:
    """`http.base_url`, or the value of the environment variable `http.base_url_env`."""
    if http.base_url:
        return http.base_url
    value = os.environ.get(http.base_url_env or "", "")
    if not value:
        raise HttpSourceError(
            f"source {source}: the environment variable {http.base_url_env} (http.base_url_env) is not set; "
            "export it with the API's base URL."
        )
    return value


def entity_url(base: str, entity: Entity) -> str:
    return base.rstrip("/") + "/" + (entity.path or "").lstrip("/")


def secret_block_value(name: str) -> str:
    """The value of the Prefect Secret block `name`."""
    from prefect.blocks.system import Secret

    block = cast("Secret[str]", Secret.load(name))  # sync here: fetch_http is a plain function
    return str(block.get())


def resolve_token(source: str, auth: Auth) -> str | None:
    """The API token from `auth.token_env` or the Secret block `auth.token_block`; None without auth."""
    if auth.type == "none":
        return None
    if auth.token_env:
        token = os.environ.get(auth.token_env, "")
        if not token:
            raise HttpSourceError(
                f"source {source}: the environment variable {auth.token_env} (http.auth.token_env) is not "
                "set or empty; export the API token in it (or use http.auth.token_block)."
            )
        return token
    try:
        token = secret_block_value(str(auth.token_block))
    except Exception as exc:
        raise HttpSourceError(
            f"source {source}: cannot load the Prefect Secret block {auth.token_block!r} "
            f"(http.auth.token_block): {type(exc).__name__}: {exc}. Create it, e.g. "
            f"`Secret(value=...).save({auth.token_block!r})`, on the Prefect server the run uses."
        ) from None
    if not token:
        raise HttpSourceError(f"source {source}: the Secret block {auth.token_block!r} is empty.")
    return token


def auth_headers(auth: Auth, token: str | None) -> dict[str, str]:
    if token is None or auth.type == "none":
        return {}
    if auth.type == "bearer":
        return {"Authorization": f"Bearer {token}"}
    return {auth.header: token}


def origin(url: str | httpx.URL) -> str:
    u = httpx.URL(url)
    return f"{u.scheme}://{u.host}:{u.port or (443 if u.scheme == 'https' else 80)}"


def display_url(request: PageRequest) -> str:
    """The request's URL for messages: with its query, without user info."""
    return str(httpx.URL(request.url).copy_merge_params(request.params).copy_with(userinfo=b""))


# --- one request, with retries ----------------------------------------------------------------------


def retry_after_seconds(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds to wait from a Retry-After header: delta seconds or an HTTP date; None if absent or bad."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return max(0.0, (moment - (now or datetime.now(UTC))).total_seconds())


def _redacted(text: str, token: str | None) -> str:
    return text.replace(token, "***") if token else text


def body_snippet(response: httpx.Response, token: str | None) -> str:
    """The start of a response body for an error message, with the token (should an API echo it) masked."""
    text = " ".join(_redacted(response.text, token).split())
    return text[:BODY_SNIPPET_CHARS] + ("…" if len(text) > BODY_SNIPPET_CHARS else "")


def _status(response: httpx.Response) -> str:
    return f"{response.status_code} {response.reason_phrase}".strip()


def send_once(client: httpx.Client, pull: Pull, request: PageRequest) -> httpx.Response:
    """GET one page; raise _RetryableStatus on 429 and 5xx (transport errors raise from httpx)."""
    response = client.get(request.url, params=request.params or None)
    if response.status_code == 429 or response.status_code >= 500:
        retry_after = retry_after_seconds(response.headers.get("Retry-After"))
        raise _RetryableStatus(_status(response), retry_after, body_snippet(response, pull.token))
    return response


RETRYABLE = (_RetryableStatus, httpx.TimeoutException, httpx.NetworkError, httpx.RemoteProtocolError)


def is_retryable(exc: BaseException) -> bool:
    """429/5xx, timeouts, refused or dropped connections; not e.g. an unsupported URL scheme."""
    return isinstance(exc, RETRYABLE)


def retry_wait(http: HttpConfig) -> Any:
    """Exponential backoff in [backoff_seconds, max_backoff_seconds]; a Retry-After answer is honoured (up
    to max_backoff_seconds) instead."""
    exponential = wait_exponential(
        multiplier=http.backoff_seconds, min=http.backoff_seconds, max=http.max_backoff_seconds
    )

    def wait(state: RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome else None
        if isinstance(exc, _RetryableStatus) and exc.retry_after is not None:
            return min(exc.retry_after, http.max_backoff_seconds)
        return float(exponential(state))

    return wait


def describe_failure(exc: BaseException, http: HttpConfig) -> str:
    """What went wrong, in words that hold no header (httpx's messages name the URL at most)."""
    if isinstance(exc, _RetryableStatus):
        waited = f"; it asked to wait {exc.retry_after:g}s (Retry-After)" if exc.retry_after else ""
        return f"HTTP {exc.status}{waited}; body: {exc.body or '(empty)'}"
    if isinstance(exc, httpx.TimeoutException):
        return f"no answer within {http.timeout_seconds:g}s (http.timeout_seconds) ({type(exc).__name__})"
    return f"{type(exc).__name__}: {exc}"


def _log_retry(pull: Pull, request: PageRequest) -> Any:
    def before_sleep(state: RetryCallState) -> None:
        exc = state.outcome.exception() if state.outcome else None
        wait = state.next_action.sleep if state.next_action else 0
        log.warning(
            "%s: GET %s failed (%s); attempt %d of %d, next in %.2fs",
            pull.name,
            display_url(request),
            describe_failure(exc, pull.http) if exc else "?",
            state.attempt_number,
            pull.http.max_attempts,
            wait,
        )

    return before_sleep


def get_page(client: httpx.Client, pull: Pull, request: PageRequest) -> httpx.Response:
    """GET one page with retries on 429, 5xx, timeouts and connection errors; a 2xx answer or
    HttpSourceError."""
    check_target(pull, request)
    retrying = Retrying(
        stop=stop_after_attempt(pull.http.max_attempts),
        wait=retry_wait(pull.http),
        retry=retry_if_exception(is_retryable),
        before_sleep=_log_retry(pull, request),
        reraise=True,
    )
    try:
        response = retrying(send_once, client, pull, request)
    except (_RetryableStatus, httpx.TransportError) as exc:
        attempts = retrying.statistics.get("attempt_number", 1)
        raise HttpSourceError(
            f"{pull.name}: GET {display_url(request)} failed after {attempts} attempt(s): "
            f"{describe_failure(exc, pull.http)}. The API is down, slow or rate-limiting: rerun the date "
            "later (the same window is asked for again), or raise http.max_attempts, http.timeout_seconds "
            "or http.max_backoff_seconds in the source file."
        ) from None
    if not response.is_success:
        raise HttpSourceError(
            f"{pull.name}: GET {display_url(request)} answered HTTP {_status(response)}; body: "
            f"{body_snippet(response, pull.token) or '(empty)'}. {status_advice(response.status_code)}"
        )
    return response


def status_advice(status: int) -> str:
    if status in (401, 403):
        return "Check the token (http.auth: token_env / token_block) and its permissions."
    if status == 404:
        return "Check http.base_url and the entity's path."
    if 300 <= status < 400:
        return "Redirects are not followed (the token must stay with base_url's host): fix http.base_url."
    return "Check the entity's params and pagination settings against the API's documentation."


def check_target(pull: Pull, request: PageRequest) -> None:
    """Refuse to send the token to another host, or to put it in a URL (httpx logs URLs)."""
    if pull.token is None:
        return
    if origin(request.url) != pull.origin:
        raise HttpSourceError(
            f"{pull.name}: the next page is on another host ({origin(request.url)}, not {pull.origin}); "
            "the token is only sent to http.base_url's host. Check the API's pagination settings."
        )
    if pull.token in request.url or pull.token in json.dumps(request.params, default=str):
        raise HttpSourceError(
            f"{pull.name}: the API's next-page URL contains the token; refusing to request (and log) it."
        )


# --- pages and records ------------------------------------------------------------------------------


def dotted(body: Any, path: str) -> Any:
    """The value at a dotted path (`meta.next_cursor`, `links.0.href`) in a JSON body, or None."""
    value = body
    for key in path.split("."):
        if isinstance(value, dict):
            value = value.get(key)
        elif isinstance(value, list) and key.isdigit() and int(key) < len(value):
            value = value[int(key)]
        else:
            return None
    return value


def page_records(body: Any, records_path: str | None) -> list[Any]:
    """The records of a page: at `records_path`, else the body if it is a list, else the list under
    data, items or results."""
    if records_path:
        found = dotted(body, records_path)
        if not isinstance(found, list):
            raise ValueError(
                f"records_path {records_path!r} is not a list in the page (got {type(found).__name__})"
            )
        return found
    if isinstance(body, list):
        return body
    if isinstance(body, dict):
        for key in AUTO_RECORD_KEYS:
            if isinstance(body.get(key), list):
                return list(body[key])
        keys = ", ".join(list(body)[:10])
        raise ValueError(
            f"no list of records under {'/'.join(AUTO_RECORD_KEYS)} (keys: {keys}); set records_path"
        )
    raise ValueError(f"the page is a JSON {type(body).__name__}, not a list or object; set records_path")


def first_request(url: str, params: Params, p: Pagination) -> PageRequest:
    extra: Params = {}
    if p.type == "page_number":
        extra[p.page_param] = p.first_page
    if p.type == "offset":
        extra |= {p.offset_param: 0, p.limit_param: p.size}
    elif p.type != "none" and p.size_param:
        extra[p.size_param] = p.size
    return PageRequest(url, {**params, **extra})


def next_request(
    p: Pagination, sent: PageRequest, response: httpx.Response, body: Any, records: list[Any]
) -> PageRequest | None:
    """The request for the page after `sent`, or None when `sent` was the last page."""
    if p.type == "page_number":
        short = not records or (p.size_param is not None and len(records) < p.size)
        return (
            None
            if short
            else PageRequest(sent.url, {**sent.params, p.page_param: sent.params[p.page_param] + 1})
        )
    if p.type == "offset":
        offset = sent.params[p.offset_param] + len(records)
        return (
            None if len(records) < p.size else PageRequest(sent.url, {**sent.params, p.offset_param: offset})
        )
    if p.type == "cursor":
        return next_cursor_request(p, sent, dotted(body, p.cursor_path))
    if p.type in ("link_header", "auto"):
        link = response.links.get("next", {}).get("url")
        if link or p.type == "link_header":
            return PageRequest(str(response.url.join(link)), {}) if link else None
    if p.type in ("next_url", "auto"):
        url = dotted(body, p.next_path) if isinstance(body, dict) else None
        return PageRequest(str(response.url.join(str(url))), {}) if url else None
    return None


def next_cursor_request(p: Pagination, sent: PageRequest, cursor: Any) -> PageRequest | None:
    if cursor is None or cursor == "":
        return None
    if sent.params.get(p.cursor_param) == cursor:
        raise ValueError(f"the API returned the cursor it was sent ({p.cursor_path}); paging would never end")
    return PageRequest(sent.url, {**sent.params, p.cursor_param: cursor})


def iter_pages(client: httpx.Client, pull: Pull, first: PageRequest) -> Iterator[list[Any]]:
    """The records of every page, in order, following the entity's pagination up to max_pages."""
    p = pull.entity.pagination
    request: PageRequest | None = first
    pages = 0
    while request is not None:
        if pages == p.max_pages:
            raise HttpSourceError(
                f"{pull.name}: more than pagination.max_pages={p.max_pages} pages (next: "
                f"{display_url(request)}); raise max_pages or check the pagination settings."
            )
        response = get_page(client, pull, request)
        try:
            body = json.loads(response.content)
        except ValueError:
            raise HttpSourceError(
                f"{pull.name}: GET {display_url(request)} did not answer JSON (Content-Type "
                f"{response.headers.get('Content-Type', 'missing')}): {body_snippet(response, pull.token)}"
            ) from None
        try:
            records = page_records(body, pull.entity.records_path)
            following = next_request(p, request, response, body, records)
        except ValueError as exc:
            raise HttpSourceError(f"{pull.name}: GET {display_url(request)}: {exc}") from None
        yield records
        pages += 1
        request = following


# --- landing files ----------------------------------------------------------------------------------


def _fs_path(uri: str) -> str:
    return uri.removeprefix("s3://")


def remove_stale_pages(fs: pafs.FileSystem, folder_uri: str) -> int:
    """Delete page files left in `folder_uri` by an earlier (partial) pull; returns how many."""
    selector = pafs.FileSelector(_fs_path(folder_uri), allow_not_found=True)
    stale = [
        info.path
        for info in fs.get_file_info(selector)
        if info.type == pafs.FileType.File
        and info.base_name.startswith(PAGE_PREFIX)
        and info.base_name.endswith(PAGE_SUFFIX)
    ]
    for path in stale:
        fs.delete_file(path)
    return len(stale)


def write_page(fs: pafs.FileSystem, uri: str, records: list[Any], settings: Settings) -> None:
    """Write `records` as one JSON array file (local folder or S3)."""
    path = _fs_path(uri)
    if not settings.is_s3:
        fs.create_dir(path.rsplit("/", 1)[0], recursive=True)
    with fs.open_output_stream(path) as out:
        out.write(json.dumps(records, ensure_ascii=False, separators=(",", ":")).encode())


def page_uri(source: str, run_date: date, entity: str, n: int, settings: Settings) -> str:
    return landing_file(source, run_date, f"{entity}/page-{n:05d}.json", settings)


# --- the fetch step ---------------------------------------------------------------------------------


def window_params(http: HttpConfig, window: Window) -> Params:
    params: Params = {}
    if http.since_param:
        params[http.since_param] = window.start
    if http.until_param:
        params[http.until_param] = window.end
    return params


def fetch_entity(
    client: httpx.Client, pull: Pull, url: str, run_date: date, settings: Settings
) -> EntityFetch:
    """Pull every page of one entity's window into landing/, then record the window."""
    entity = pull.entity
    window, reused = planned_window(
        pull.source, entity.name, run_date, pull.http.initial_since, time_window_end(run_date), settings
    )
    fs = filesystem(settings)
    removed = remove_stale_pages(fs, landing_file(pull.source, run_date, entity.name, settings))
    if removed:
        log.info("%s: removed %d page files of an earlier pull of %s", pull.name, removed, run_date)
    fetch = EntityFetch(entity.name, window, reused_window=reused)
    params = {**entity.params, **window_params(pull.http, window)}
    for records in iter_pages(client, pull, first_request(url, params, entity.pagination)):
        if records:
            write_landing_page(fs, pull, run_date, fetch, records, settings)
    if not fetch.files:  # an empty window still lands one (empty) page: the pull happened
        write_landing_page(fs, pull, run_date, fetch, [], settings)
    record_window(pull.source, fetch, run_date, settings)
    pages = len(fetch.files)
    log.info(
        "%s: %d records in %d pages, window [%s, %s)",
        pull.name,
        fetch.records,
        pages,
        window.start,
        window.end,
    )
    return fetch


def write_landing_page(
    fs: pafs.FileSystem,
    pull: Pull,
    run_date: date,
    fetch: EntityFetch,
    records: list[Any],
    settings: Settings,
) -> None:
    uri = page_uri(pull.source, run_date, pull.entity.name, len(fetch.files) + 1, settings)
    write_page(fs, uri, records, settings)
    fetch.files.append(uri)
    fetch.records += len(records)


def selected_entities(source: Source, names: list[str] | None) -> list[Entity]:
    if names is None:
        return list(source.entities.values())
    unknown = [n for n in names if n not in source.entities]
    if unknown:
        raise HttpSourceError(
            f"source {source.name} has no entities {unknown} (entities: {', '.join(source.entities)})"
        )
    return [source.entities[n] for n in names]


def http_client(http: HttpConfig, token: str | None) -> httpx.Client:
    """A client that sends the token in its header only; redirects are not followed (they could leave the
    API's host with the token)."""
    return httpx.Client(
        headers=auth_headers(http.auth, token), timeout=http.timeout_seconds, follow_redirects=False
    )


def fetch_http(
    source: Source, run_date: date, settings: Settings | None = None, entities: list[str] | None = None
) -> FetchReport:
    """Pull every page of each entity's window of `run_date` into landing/<source>/<date>/<entity>/."""
    if source.kind != "http" or source.http is None:
        raise HttpSourceError(f"source {source.name} is of kind {source.kind}, not http")
    settings = settings or get_settings()
    http = source.http
    base = base_url(source.name, http)
    token = resolve_token(source.name, http.auth)
    report = FetchReport(source.name, run_date)
    with http_client(http, token) as client:
        for entity in selected_entities(source, entities):
            pull = Pull(source.name, entity, http, token, origin(base))
            report.entities[entity.name] = fetch_entity(
                client, pull, entity_url(base, entity), run_date, settings
            )
    return report
