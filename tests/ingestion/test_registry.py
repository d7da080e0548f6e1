"""The source registry: every source file validated, with errors that name the file, the field and the fix."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pytest
import yaml
from typer.testing import CliRunner

from ingestion.registry import RegistryError, load_registry, load_source
from ingestion.shop.schema import shop_entities
from ingestion.types import UTC_TS, parse_type

GOOD = {
    "name": "crm",
    "kind": "files",
    "files": {"location": "s3://partner-drop/crm/{date:%Y/%m/%d}/"},
    "entities": {
        "contacts": {
            "format": "csv",
            "primary_key": ["tenant", "contact_id"],
            "columns": {"tenant": "string", "contact_id": "bigint", "spend": "decimal(10, 2)"},
        }
    },
}


def write(tmp_path: Path, data: dict, name: str = "crm") -> Path:
    path = tmp_path / f"{name}.yml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def test_a_valid_source_gives_typed_entities(tmp_path):
    source = load_source(write(tmp_path, GOOD))
    entity = source.entities["contacts"]
    assert entity.arrow_schema == pa.schema(
        [("tenant", pa.string()), ("contact_id", pa.int64()), ("spend", pa.decimal128(10, 2))]
    )
    assert entity.required == ("tenant", "contact_id")  # the primary key is always required
    assert entity.file_pattern == "contacts.csv"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"kind": "ftp"}, "kind: Input should be 'files', 'http' or 'database'"),
        ({"entities": {"contacts": {**GOOD["entities"]["contacts"], "primary_key": ["id"]}}}, "primary_key"),
        (
            {"entities": {"contacts": {**GOOD["entities"]["contacts"], "columns": {"tenant": "varchar(9)"}}}},
            "unknown column type 'varchar(9)'",
        ),
        ({"kind": "http"}, "a http source lands as json; drop `format`"),
        (
            {"kind": "http", "entities": {"c": {"primary_key": ["a"], "columns": {"a": "bigint"}}}},
            "`http:` section",
        ),
        ({"name": "CRM"}, "name: String should match pattern"),
        ({"entities": {"contacts": {**GOOD["entities"]["contacts"], "format": "xml"}}}, "format"),
        (
            {"entities": {"contacts": {**GOOD["entities"]["contacts"], "load": "merge"}}},
            "'append' or 'snapshot'",
        ),
        (
            {"entities": {"contacts": {**GOOD["entities"]["contacts"], "columns": {"_change": "string"}}}},
            "not a lineage name",
        ),
        (
            {
                "entities": {
                    "contacts": {
                        **GOOD["entities"]["contacts"],
                        "load": "snapshot",
                        "incremental_column": "contact_id",
                    }
                }
            },
            "load: snapshot needs the full state each night",
        ),
    ],
)
def test_an_invalid_source_names_the_file_and_the_field(tmp_path, change, message):
    path = write(tmp_path, {**GOOD, **change})
    with pytest.raises(RegistryError) as error:
        load_source(path)
    assert str(path) in str(error.value) and message in str(error.value)


def test_a_snapshot_entity_lands_with_a_change_column(tmp_path):
    contacts = {**GOOD["entities"]["contacts"], "load": "snapshot"}
    entity = load_source(write(tmp_path, {**GOOD, "entities": {"contacts": contacts}})).entities["contacts"]
    assert entity.is_snapshot and entity.raw_schema.names[-1] == "_change"
    assert not load_source(write(tmp_path, GOOD)).entities["contacts"].is_snapshot  # append by default
    assert {n for n, e in shop_entities().items() if e.is_snapshot} == {"customers", "products"}


def test_the_file_name_is_the_source_name(tmp_path):
    with pytest.raises(RegistryError, match="must match the file name"):
        load_source(write(tmp_path, GOOD, name="other"))


def test_types_cover_what_sources_declare():
    assert parse_type("DECIMAL(38, 9)").arrow == pa.decimal128(38, 9)
    assert parse_type("timestamp with time zone").arrow == UTC_TS
    assert parse_type("json").duckdb == "JSON"
    with pytest.raises(ValueError, match="scale <= precision"):
        parse_type("decimal(2,3)")


def test_every_source_file_of_the_repository_is_valid_and_the_shop_is_one_of_them():
    from lakehouse.settings import PROJECT_DIR, Settings

    registry = load_registry(Settings(lakehouse_sources_dir=PROJECT_DIR / "ingestion" / "sources"))
    assert "shop" in registry and registry["shop"].demo is not None
    assert set(shop_entities()) == {"customers", "products", "orders", "order_items", "payments"}


def test_sources_check_and_list_commands(tmp_path, monkeypatch):
    from orchestration.sources_cli import sources_app

    write(tmp_path, GOOD)
    write(tmp_path, {**GOOD, "name": "broken", "kind": "ftp"}, name="broken")
    monkeypatch.setenv("LAKEHOUSE_SOURCES_DIR", str(tmp_path))
    runner = CliRunner()
    ok = runner.invoke(sources_app, ["check", "crm"], env={"COLUMNS": "200"})
    assert ok.exit_code == 0 and "files source crm, 1 entities" in ok.output
    bad = runner.invoke(sources_app, ["check"], env={"COLUMNS": "200"})
    assert bad.exit_code == 1 and "broken.yml: invalid source file" in bad.output and "kind:" in bad.output
    listing = runner.invoke(sources_app, ["list"], env={"COLUMNS": "200"})
    assert listing.exit_code == 1 and "crm" in listing.output and "invalid" in listing.output
