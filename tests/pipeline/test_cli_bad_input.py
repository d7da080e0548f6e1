"""`lakehouse run` on bad input: a malformed file is quarantined while the good files land, a batch that
breaks a blocking contract stops the run, and the command exits non-zero saying what failed and what to
fix."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest
from deltalake import DeltaTable

from ingestion.shop.generator import generate_landing
from lakehouse.settings import TELEMETRY_OFF, Settings

pytestmark = pytest.mark.integration
DAY = date(2026, 11, 20)


def _run_cli(settings: Settings, prefect_api: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LAKEHOUSE_", "DBT_", "PREFECT_API"))}
    env.update(TELEMETRY_OFF, LAKEHOUSE_ROOT=settings.root, PREFECT_API_URL=prefect_api, COLUMNS="200")
    lakehouse = Path(sys.executable).with_name("lakehouse")
    return subprocess.run(
        [str(lakehouse), "run", *args], env=env, capture_output=True, text=True, timeout=600
    )


def test_corrupt_batch_fails_the_run_and_quarantines_the_bad_file(prefect_api, lake_settings):
    generate_landing(DAY, scale=0.1, settings=lake_settings)
    day_dir = Path(lake_settings.uri("landing", "shop", DAY.isoformat()))
    # a malformed file: the order items arrive truncated
    (day_dir / "order_items.parquet").write_bytes(b"PAR1 this is not a parquet file")
    # a corrupted batch: the orders file repeats some of its order ids
    orders = (day_dir / "orders.jsonl").read_text().splitlines()
    repeated = [json.dumps(json.loads(line) | {"status": "shipped"}) for line in orders[:3]]
    (day_dir / "orders.jsonl").write_text("\n".join(orders + repeated) + "\n")

    proc = _run_cli(lake_settings, prefect_api, "--date", DAY.isoformat(), "--no-generate")
    output = proc.stdout + proc.stderr

    assert proc.returncode == 1, output[-5000:]
    assert "raw_shop.orders" in output and "duplicate" in output, output[-5000:]
    assert "order_items.parquet" in output and "could not be landed" in output
    assert "raw quality gate" in output
    # the good files landed, the bad one is kept in quarantine with its reason
    for entity in ("customers", "products", "orders", "payments"):
        assert DeltaTable(lake_settings.uri("raw", "shop", entity)).to_pyarrow_table().num_rows > 0, entity
    quarantined = Path(
        lake_settings.uri("quarantine", "shop", "files", DAY.isoformat(), "order_items.parquet")
    )
    assert quarantined.exists()
    reasons = DeltaTable(lake_settings.uri("quarantine", "shop", "records")).to_pyarrow_table()
    assert any("order_items" in (r or "") for r in reasons.column("source_file").to_pylist())
    # the blocking failure kept the marts from being built on the corrupted batch
    assert not Path(lake_settings.uri("analytics", "fct_orders")).exists()
