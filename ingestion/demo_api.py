"""A built-in JSON API on 127.0.0.1 serving the demo shop's orders of a date, page by page.

It answers GET /orders?page=N with {"data": [...]} and a `Link: <…?page=N+1>; rel="next"` header, so the
example flows run with no network and no external service.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import duckdb

from ingestion.shop.generator import generate_day

PAGE_SIZE = 500


def order_pages(run_date: date, scale: float) -> list[str]:
    """The orders of `run_date` as JSON arrays of PAGE_SIZE records (DuckDB writes the JSON)."""
    orders = generate_day(run_date, scale)["orders"]
    with duckdb.connect() as con:
        con.execute("SET TimeZone = 'UTC'")
        con.register("orders", orders)
        numbered = (
            "SELECT row_number() OVER (ORDER BY updated_at, order_id) - 1 AS n, "
            "CAST(to_json(orders) AS VARCHAR) AS record FROM orders"
        )
        rows = con.execute(
            f"SELECT '[' || string_agg(record, ',' ORDER BY n) || ']' FROM ({numbered}) "
            "GROUP BY n // ? ORDER BY min(n)",
            [PAGE_SIZE],
        ).fetchall()
    return [str(r[0]) for r in rows] or ["[]"]


def _handler(pages: list[str]) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            url = urlsplit(self.path)
            page = int(parse_qs(url.query).get("page", ["1"])[0])
            if url.path != "/orders" or not 1 <= page <= len(pages):
                self.send_error(404)
                return
            body = f'{{"data": {pages[page - 1]}}}'.encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            if page < len(pages):
                self.send_header("Link", f'</orders?page={page + 1}>; rel="next"')
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:  # quiet
            return

    return Handler


@contextmanager
def serve_shop_orders(run_date: date, scale: float = 0.2) -> Iterator[str]:
    """Serve the shop's orders of `run_date`; yields the API's URL (http://127.0.0.1:<port>/orders)."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(order_pages(run_date, scale)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/orders"
    finally:
        server.shutdown()
        server.server_close()
