"""Hardening (issue 7): secrets never reach an error or a log, bad settings and dates are usage errors
(exit 2, one line), and a retried ingest task reports what this run landed."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, date, datetime
from pathlib import Path

import duckdb
import pytest
from pydantic import ValidationError

from ingestion.loader import ingest_source
from ingestion.registry import get_source
from ingestion.shop.generator import generate_landing
from lakehouse.dates import parse_run_date
from lakehouse.lake import configure_s3, install_extensions, prepare_connection
from lakehouse.settings import PROJECT_DIR, TELEMETRY_OFF, Settings
from orchestration.summary import landings

BIN = Path(sys.executable).parent
DAY = date(2026, 11, 20)
# moto accepts any key: this one breaks a SQL string literal (and a statement) if formatted into one
SECRET = "s3cr'et\"Quote');DROP--Zq9/x+y"
SECRET_PARTS = [SECRET, "s3cr'et", 'et"Quote', "Quote');DROP", "DROP--Zq9", "Zq9/x+y"]


def _leaks(text: str) -> list[str]:
    return [part for part in SECRET_PARTS if part in text]


def _env(**values: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LAKEHOUSE_", "DBT_", "PREFECT_API"))}
    return env | TELEMETRY_OFF | {"COLUMNS": "200"} | values


def _run(
    *cmd: str, env: dict[str, str] | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        list(cmd), env=env or _env(), capture_output=True, text=True, timeout=timeout, cwd=PROJECT_DIR
    )


# ----- S3 settings reach DuckDB as parameters, and its errors never quote them


def _s3(**overrides: object) -> Settings:
    values: dict[str, object] = {
        "lakehouse_root": "s3://lake-bucket/lakehouse",
        "aws_endpoint_url": "http://127.0.0.1:9",
        "aws_access_key_id": "AKIA'quoted",
        "aws_secret_access_key": SECRET,
        "aws_session_token": "tok'en\"x",
    }
    return Settings(**(values | overrides))  # type: ignore[arg-type]


def test_s3_secret_with_quotes_reaches_duckdb_exactly() -> None:
    con = duckdb.connect(config={"allow_unredacted_secrets": True})
    try:
        prepare_connection(con, _s3(aws_region="eu-west-1"))
        row = con.execute("select secret_string from duckdb_secrets(redact=false)").fetchone()
    finally:
        con.close()
    assert row is not None
    secret = str(row[0]) + ";"  # name=…;type=s3;…;key=value; in key order (the secret has a ';')
    for option in (f"secret={SECRET}", "key_id=AKIA'quoted", "session_token=tok'en\"x", "region=eu-west-1"):
        assert f";{option};" in secret, secret
    assert ";endpoint=127.0.0.1:9;" in secret and ";use_ssl=false;" in secret and ";url_style=path;" in secret


def test_a_duckdb_error_creating_the_secret_names_no_setting_value() -> None:
    con = duckdb.connect()
    install_extensions(con)
    con.close()  # any statement now fails inside DuckDB
    with pytest.raises(RuntimeError) as raised:
        configure_s3(con, _s3())
    error = raised.value
    assert "S3 secret" in str(error) and "AWS_SECRET_ACCESS_KEY" in str(error)
    assert not _leaks(str(error)) and "tok'en" not in str(error) and "AKIA'quoted" not in str(error)
    assert error.__cause__ is None and error.__context__ is None  # DuckDB's message is not even attached


def _s3_env(s3_settings: Settings, **extra: str) -> dict[str, str]:
    return _env(
        LAKEHOUSE_ROOT=s3_settings.root,
        LAKEHOUSE_CATALOG=str(s3_settings.catalog_path),
        LAKEHOUSE_SOURCES_DIR=os.environ["LAKEHOUSE_SOURCES_DIR"],
        AWS_ENDPOINT_URL=str(s3_settings.aws_endpoint_url),
        AWS_ACCESS_KEY_ID="testing",
        AWS_SECRET_ACCESS_KEY=SECRET,
        AWS_REGION="us-east-1",
        AWS_ALLOW_HTTP="true",
        **extra,
    )


@pytest.mark.integration
def test_ingest_and_quality_scan_on_s3_with_a_quoted_secret(s3_settings, monkeypatch, capfd) -> None:
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SECRET)
    settings = Settings()
    assert settings.aws_secret_access_key is not None
    assert settings.aws_secret_access_key.get_secret_value() == SECRET
    generate_landing(DAY, scale=0.05, settings=settings)
    report = ingest_source(get_source("shop", settings), DAY, settings)  # DuckDB, deltalake, pyarrow on S3
    assert not report.has_problems, report.problems()
    assert report.rows_landed > 0
    # the `lakehouse` command reads the raw tables on S3 through DuckDB's secret
    scan = _run(str(BIN / "lakehouse"), "quality", "scan", "--date", DAY.isoformat(), "--layer", "raw",
                env=_s3_env(s3_settings))  # fmt: skip
    assert scan.returncode == 0, scan.stdout[-3000:] + scan.stderr[-3000:]
    assert "No blocking failures." in scan.stdout
    captured = capfd.readouterr()
    assert not _leaks(scan.stdout + scan.stderr + captured.out + captured.err)


@pytest.mark.integration
def test_flow_on_s3_with_a_quoted_secret_logs_no_part_of_it(s3_settings, prefect_api) -> None:
    from prefect.settings import PREFECT_SERVER_DATABASE_CONNECTION_URL

    flow_file = PROJECT_DIR / "orchestration" / "flows" / "etl" / "s3_data_pipeline.py"
    env = _s3_env(s3_settings, PREFECT_API_URL=prefect_api)
    run = _run(
        sys.executable, str(flow_file), "--date", DAY.isoformat(), "--scale", "0.05", env=env, timeout=600
    )
    output = run.stdout + run.stderr
    assert run.returncode == 0, output[-5000:]
    assert "orders:" in output and "rows landed" in output
    assert not _leaks(output)
    database = Path(str(PREFECT_SERVER_DATABASE_CONNECTION_URL.value()).split(":///", 1)[1])
    stored = b"".join(p.read_bytes() for p in database.parent.glob(database.name + "*"))
    assert b"s3-data-pipeline" in stored and b"rows landed" in stored  # the flow run and its logs
    assert not [part for part in SECRET_PARTS if part.encode() in stored]


# ----- LAKEHOUSE_ROOT is validated; a settings error is a usage error


@pytest.mark.parametrize(
    ("root", "says"),
    [
        ("", "is empty"),
        ("/", "file system root"),
        ("S3://bucket/lake", "lower-case s3://"),
        ("s3://", "no valid S3 bucket"),
        ("s3:///lake", "no valid S3 bucket"),
        ("/tmp/o'brien/lake", "contains a quote"),
        ('/tmp/"lake"', "contains a quote"),
    ],
)
def test_invalid_lake_root_is_refused_with_what_to_set(root: str, says: str) -> None:
    with pytest.raises(ValidationError) as raised:
        Settings(lakehouse_root=root)
    message = raised.value.errors()[0]["msg"]
    assert "LAKEHOUSE_ROOT" in message and says in message and "s3://bucket/prefix" in message


def test_valid_lake_roots_are_kept(tmp_path: Path) -> None:
    assert Settings(lakehouse_root="s3://my-bucket/lake/").uri("raw") == "s3://my-bucket/lake/raw"
    assert Settings(lakehouse_root="s3://my.bucket").is_s3
    assert Settings(lakehouse_root=str(tmp_path / "lake")).root == str(tmp_path / "lake")


def _one_line_usage_error(proc: subprocess.CompletedProcess[str], *expected: str) -> None:
    output = proc.stdout + proc.stderr
    assert proc.returncode == 2, output
    assert "Traceback" not in output and len(output.strip().splitlines()) == 1, output
    assert all(text in output for text in expected), output


@pytest.mark.parametrize("root", ["", "S3://bucket/lake", "s3:///lake"])
def test_cli_and_flow_script_turn_a_bad_lake_root_into_one_line_and_exit_2(root: str) -> None:
    env = _env(LAKEHOUSE_ROOT=root)
    _one_line_usage_error(
        _run(str(BIN / "lakehouse"), "run", "--date", "2026-11-20", env=env), "LAKEHOUSE_ROOT"
    )
    _one_line_usage_error(_run(str(BIN / "lakehouse"), "info", env=env), "LAKEHOUSE_ROOT")
    flow = PROJECT_DIR / "orchestration" / "flows" / "transform" / "dbt_transform.py"
    _one_line_usage_error(_run(sys.executable, str(flow), env=env), "LAKEHOUSE_ROOT")


# ----- --date is a usage error when it is not a date


@pytest.mark.parametrize("text", ["2026-13-01", "", "foo", "20261120", "2026-02-30"])
def test_parse_run_date_refuses_anything_but_yyyy_mm_dd(text: str) -> None:
    with pytest.raises(ValueError, match="--date") as raised:
        parse_run_date(text)
    assert "YYYY-MM-DD" in str(raised.value)
    assert parse_run_date("2026-11-20") == date(2026, 11, 20)


@pytest.mark.parametrize("text", ["2026-13-01", "", "foo"])
def test_every_date_option_exits_2_with_one_line(text: str) -> None:
    shown = "is empty" if not text else f"'{text}' is not a date"
    lakehouse = str(BIN / "lakehouse")
    _one_line_usage_error(_run(lakehouse, "run", "--date", text), shown)
    _one_line_usage_error(_run(lakehouse, "quality", "scan", "--date", text), shown)
    _one_line_usage_error(_run(sys.executable, "-m", "orchestration.local", "trigger", "--date", text), shown)
    flow = PROJECT_DIR / "orchestration" / "flows" / "ml" / "feature_engineering_pipeline.py"
    _one_line_usage_error(_run(sys.executable, str(flow), "--date", text), shown, "--date")


# ----- a retried ingest reports what its earlier attempt landed


def test_a_retry_reports_the_batch_its_earlier_attempt_committed(lake_settings: Settings) -> None:
    generate_landing(DAY, scale=0.05, settings=lake_settings)
    orders = Path(lake_settings.uri("landing", "shop", DAY.isoformat(), "orders.jsonl"))
    lines = orders.read_text().splitlines()
    bad = json.loads(lines[0]) | {"order_id": "not a number"}
    orders.write_text("\n".join([*lines, json.dumps(bad)]) + "\n")  # one record is quarantined
    source = get_source("shop", lake_settings)
    started = datetime.now(UTC)

    first = ingest_source(source, DAY, lake_settings, landed_since=started)  # commits every batch
    retry = ingest_source(source, DAY, lake_settings, landed_since=started)  # finds them committed

    assert first.entities["orders"].rows_quarantined == 1
    for name, landed in first.entities.items():
        again = retry.entities[name]
        assert landed.rows_landed > 0 and not landed.skipped_already_loaded
        assert (again.rows_landed, again.rows_quarantined) == (landed.rows_landed, landed.rows_quarantined)
        assert again.landed_by_earlier_attempt and not again.skipped_already_loaded
        assert "landed by this run" in again.note
    assert [(t.table, t.rows_landed, t.rows_quarantined) for t in landings([retry])] == [
        (t.table, t.rows_landed, t.rows_quarantined) for t in landings([first])
    ]
    # a later run (or a plain rerun) of the date lands nothing and says so
    for rerun in (
        ingest_source(source, DAY, lake_settings, landed_since=datetime.now(UTC)),
        ingest_source(source, DAY, lake_settings),
    ):
        assert all(e.skipped_already_loaded and e.rows_landed == 0 for e in rerun.entities.values())
        assert all(t.rows_landed == 0 and "already loaded" in t.note for t in landings([rerun]))
