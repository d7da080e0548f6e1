"""Shared fixtures: a tiny lake in tmp_path, and a real S3 API (moto's HTTP server on 127.0.0.1)."""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from lakehouse.settings import PREFECT_DEFAULTS, TELEMETRY_OFF, Settings

# Before any test module imports Prefect (it reads its settings once, on import): the start-up limit of its
# temporary server and telemetry off, as the entry points set them (apply_runtime_defaults), hold for
# in-process tests and the session's Prefect server too.
for _key, _value in {**PREFECT_DEFAULTS, **TELEMETRY_OFF}.items():
    os.environ.setdefault(_key, _value)


@pytest.fixture(autouse=True)
def _offline_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    for key, value in TELEMETRY_OFF.items():
        monkeypatch.setenv(key, value)


@pytest.fixture(scope="session")
def shop_registry(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A source registry holding only the demo shop."""
    import shutil

    from ingestion.shop.schema import SHOP_SOURCE_FILE

    folder = tmp_path_factory.mktemp("sources")
    shutil.copy(SHOP_SOURCE_FILE, folder / "shop.yml")
    return folder


@pytest.fixture(autouse=True)
def _shop_only_registry(shop_registry: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The suite's pipeline runs see the demo shop only, so the tests pass whatever sources a fork has
    registered in ingestion/sources/ (a test that needs another registry sets LAKEHOUSE_SOURCES_DIR)."""
    monkeypatch.setenv("LAKEHOUSE_SOURCES_DIR", str(shop_registry))


@pytest.fixture
def lake_settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    """Settings for a fresh local lake under tmp_path, also exported to the environment for subprocesses."""
    root = tmp_path / "lake"
    monkeypatch.setenv("LAKEHOUSE_ROOT", str(root))
    monkeypatch.setenv("LAKEHOUSE_CATALOG", str(tmp_path / "catalog" / "lakehouse.duckdb"))
    return Settings()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[str]:
    """moto's S3 HTTP server on 127.0.0.1 for the whole session, in its own process (as a real S3 endpoint
    is): in-process, its thread competes for the GIL with the DuckDB/deltalake I/O it serves."""
    import subprocess
    import sys
    import time
    import urllib.request

    port = _free_port()
    server = subprocess.Popen(
        [str(Path(sys.executable).with_name("moto_server")), "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(f"{url}/moto-api/", timeout=2)
                break
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("moto_server did not start") from None
                time.sleep(0.2)
        yield url
    finally:
        server.terminate()
        server.wait(timeout=10)


@pytest.fixture
def s3_settings(moto_endpoint: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, request) -> Settings:
    """Settings for a fresh bucket on the moto server, exported to the environment for subprocesses."""
    import boto3

    bucket = "lake-" + request.node.name.lower().replace("_", "-")[:40].strip("-")
    env = {
        "AWS_ENDPOINT_URL": moto_endpoint,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_REGION": "us-east-1",
        "AWS_ALLOW_HTTP": "true",
    }
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    boto3.client("s3", endpoint_url=moto_endpoint, region_name="us-east-1").create_bucket(Bucket=bucket)
    monkeypatch.setenv("LAKEHOUSE_ROOT", f"s3://{bucket}/lakehouse")
    monkeypatch.setenv("LAKEHOUSE_CATALOG", str(tmp_path / "catalog" / "lakehouse.duckdb"))
    return Settings()


@pytest.fixture(scope="session")
def prefect_api() -> Iterator[str]:
    """One real (temporary, SQLite) Prefect server for the session; yields its API URL for subprocesses."""
    from prefect.settings import PREFECT_API_URL
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=900):  # a loaded CI machine needs minutes
        yield str(PREFECT_API_URL.value())
