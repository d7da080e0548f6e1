"""The source registry: one YAML file per source under ingestion/sources/ (LAKEHOUSE_SOURCES_DIR).

A source file names its kind (files, http, database), where its data comes from, and per entity the typed
columns, which are required, the primary key and the landing format. Every file is validated with pydantic;
`load_registry()` raises `RegistryError` naming the file, the field and what is wrong.
See ingestion/README.md ("Source files") for every field.
"""

from __future__ import annotations

import re
from datetime import date
from functools import cached_property
from pathlib import Path
from typing import Annotated, Any, Literal

import pyarrow as pa
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from ingestion.types import CHANGE_FIELD, LINEAGE_FIELDS, RESERVED_NAMES, ColumnType, parse_type
from lakehouse.settings import Settings, get_settings

NAME = r"^[a-z][a-z0-9_]*$"
Format = Literal["csv", "jsonl", "json", "parquet"]
# append: every delivered record lands (incremental deliveries). snapshot: each delivery is the entity's full
# state; only its inserts, updates and deletes against the previous snapshot land (ingestion/snapshots.py).
LoadMode = Literal["append", "snapshot"]
EXTENSIONS: dict[str, str] = {"csv": "csv", "jsonl": "jsonl", "json": "json", "parquet": "parquet"}
PULLED_FORMATS = {"http": "json", "database": "parquet"}  # what the fetch step writes to landing/


# kind -> (its section, what goes in it, the field each entity needs, an example)
KIND_NEEDS = {
    "http": ("http", "base_url, auth, …", "path", " (e.g. /orders)"),
    "database": ("database", "dsn_env, schema", "incremental_column", ""),
}


class RegistryError(ValueError):
    """A source file is missing, unreadable or invalid; the message names the file and the field."""


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Column(_Model):
    type: str
    required: bool = False
    description: str | None = None

    @field_validator("type")
    @classmethod
    def _known_type(cls, value: str) -> str:
        return parse_type(value).name

    @cached_property
    def column_type(self) -> ColumnType:
        return parse_type(self.type)


class CsvOptions(_Model):
    delimiter: str = ","
    quote: str = '"'
    escape: str = '"'
    header: bool = True
    encoding: Literal["utf-8", "latin-1", "utf-16"] = "utf-8"


class Pagination(_Model):
    """How an HTTP API hands out its pages (ingestion/http_source.py)."""

    # auto: a `Link: rel=next` header, else a next-page URL at `next_path` in the body
    type: Literal["none", "page_number", "offset", "cursor", "link_header", "next_url", "auto"] = (
        "link_header"
    )
    page_param: str = "page"
    first_page: int = 1
    size_param: str | None = "per_page"
    size: int = Field(default=100, ge=1)
    offset_param: str = "offset"
    limit_param: str = "limit"
    cursor_param: str = "cursor"
    cursor_path: str = "next_cursor"  # dotted path of the next cursor in the body
    next_path: str = "next"  # dotted path of the next page's URL in the body
    max_pages: int = Field(default=100_000, ge=1)


class VolumeMonitor(_Model):
    """Volume anomaly detection of a table (quality/monitoring/volume.py); unset: the settings' default."""

    check: bool = True
    sensitivity: float | None = Field(default=None, gt=0)  # robust z (MADs) LAKEHOUSE_VOLUME_SENSITIVITY
    training_days: int | None = Field(default=None, ge=7)
    min_history: int | None = Field(default=None, ge=3)
    min_change: float | None = Field(default=None, ge=0)  # relative: 0.3 = 30 %
    min_rows: int | None = Field(default=None, ge=0)


class Monitor(_Model):
    """What the monitor expects of a table: set on a source (all its entities), an entity (overrides the
    source) or a mart (quality/monitor.yml); what is unset takes the LAKEHOUSE_* default."""

    freshness_sla_hours: float | None = Field(default=None, gt=0)
    volume: VolumeMonitor = VolumeMonitor()


class Entity(_Model):
    """One table of a source: landed as raw/<source>/<name>."""

    name: str = Field(default="", pattern=r"^$|" + NAME)
    description: str | None = None
    format: Format = "csv"
    load: LoadMode = "append"
    file: str | None = None  # file name or glob under the date's folder; default <name>.<format ext>
    csv: CsvOptions = CsvOptions()
    primary_key: list[str] = Field(min_length=1)
    columns: dict[str, Column] = Field(min_length=1)
    # http kind
    path: str | None = None
    records_path: str | None = None  # dotted path of the records in a page body; default: auto
    params: dict[str, str | int | float | bool] = {}
    pagination: Pagination = Pagination()
    # database kind
    table: str | None = None
    incremental_column: str | None = None  # watermark column (updated_at or an increasing id)
    monitor: Monitor | None = None  # freshness SLA and volume checks of this entity (over the source's)

    @field_validator("columns", mode="before")
    @classmethod
    def _short_columns(cls, value: Any) -> Any:
        """`name: bigint` is short for `name: {type: bigint}`."""
        if isinstance(value, dict):
            return {k: {"type": v} if isinstance(v, str) else v for k, v in value.items()}
        return value

    @model_validator(mode="after")
    def _keys_are_columns(self) -> Entity:
        for name in self.columns:
            if not re.match(r"^[A-Za-z_][A-Za-z0-9_]*$", name) or name in RESERVED_NAMES:
                raise ValueError(f"column name {name!r}: use letters, digits and _ (not a lineage name)")
        missing = [k for k in self.primary_key if k not in self.columns]
        if missing:
            raise ValueError(f"primary_key {missing} not among the columns {list(self.columns)}")
        if self.incremental_column and self.incremental_column not in self.columns:
            raise ValueError(f"incremental_column {self.incremental_column!r} is not a column")
        if self.is_snapshot and self.incremental_column:
            raise ValueError(
                "load: snapshot needs the full state each night; an incremental_column pulls only a window "
                "(drop one of them)"
            )
        return self

    @property
    def is_snapshot(self) -> bool:
        """Delivered as full snapshots, landed as changes (inserts, updates, deletes) keyed on primary_key."""
        return self.load == "snapshot"

    @property
    def file_pattern(self) -> str:
        return self.file or f"{self.name}.{EXTENSIONS[self.format]}"

    @property
    def required(self) -> tuple[str, ...]:
        """Columns a record must have: declared required, plus the primary key."""
        return tuple(n for n, c in self.columns.items() if c.required or n in self.primary_key)

    @property
    def arrow_schema(self) -> pa.Schema:
        return pa.schema([pa.field(n, c.column_type.arrow) for n, c in self.columns.items()])

    @property
    def raw_schema(self) -> pa.Schema:
        change = [CHANGE_FIELD] if self.is_snapshot else []
        return pa.schema([*self.arrow_schema, *LINEAGE_FIELDS, *change])


class Limits(_Model):
    max_field_bytes: int = Field(default=1_048_576, ge=1)
    min_date: date = date(1900, 1, 1)
    max_date: date = date(2200, 12, 31)


class FilesConfig(_Model):
    # Where a date's files are: default <lake>/landing/<source>/<date>/. Any local path or s3:// prefix with
    # {date} (ISO) or strftime codes ({date:%Y/%m/%d}) is allowed, e.g. s3://partner-drop/exports/{date:%Y%m%d}/
    location: str | None = None


class Auth(_Model):
    type: Literal["none", "bearer", "header"] = "none"
    header: str = "Authorization"
    token_env: str | None = None  # environment variable holding the token
    token_block: str | None = None  # or a Prefect Secret block's name

    @model_validator(mode="after")
    def _token_source(self) -> Auth:
        if self.type != "none" and not (self.token_env or self.token_block):
            raise ValueError("auth needs token_env (an environment variable) or token_block (a Secret)")
        return self


class HttpConfig(_Model):
    base_url: str | None = None
    base_url_env: str | None = None  # read the base URL from this environment variable instead
    auth: Auth = Auth()
    timeout_seconds: float = Field(default=30, gt=0)
    max_attempts: int = Field(default=6, ge=1)
    backoff_seconds: float = Field(default=1, ge=0)
    max_backoff_seconds: float = Field(default=60, ge=0)
    since_param: str | None = None  # incremental window start, e.g. updated_since
    until_param: str | None = None  # incremental window end, e.g. updated_before
    initial_since: str = "1970-01-01T00:00:00Z"  # window start of the very first run

    @model_validator(mode="after")
    def _has_base_url(self) -> HttpConfig:
        if not (self.base_url or self.base_url_env):
            raise ValueError("http needs base_url or base_url_env")
        return self


class DatabaseConfig(_Model):
    type: Literal["postgres"] = "postgres"
    dsn_env: str  # environment variable holding the libpq connection string (a secret)
    schema_name: str = Field(default="public", alias="schema")


class DemoConfig(_Model):
    # "module:function" called as function(run_date, scale=..., seed=..., settings=...) -> list of URIs
    generator: str


class Source(_Model):
    """A registered source (one YAML file)."""

    name: str = Field(pattern=NAME)
    kind: Literal["files", "http", "database"]
    description: str | None = None
    demo: DemoConfig | None = None
    files: FilesConfig = FilesConfig()
    http: HttpConfig | None = None
    database: DatabaseConfig | None = None
    limits: Limits = Limits()
    monitor: Monitor | None = None  # freshness SLA and volume checks of every entity (an entity overrides)
    entities: Annotated[dict[str, Entity], Field(min_length=1)]

    @model_validator(mode="before")
    @classmethod
    def _entity_defaults(cls, data: Any) -> Any:
        """Entities take their key as name; a pulled source's entities land in the fetch step's format."""
        if not isinstance(data, dict) or not isinstance(data.get("entities"), dict):
            return data
        landed = PULLED_FORMATS.get(str(data.get("kind")))
        entities = {}
        for key, entity in data["entities"].items():
            if isinstance(entity, dict):
                if landed and entity.get("format", landed) != landed:
                    raise ValueError(
                        f"entity {key}: a {data['kind']} source lands as {landed}; drop `format`"
                    )
                entity = {**entity, "name": key, **({"format": landed} if landed else {})}
            entities[key] = entity
        return {**data, "entities": entities}

    @model_validator(mode="after")
    def _kind_config(self) -> Source:
        for name in self.entities:
            if not re.match(NAME, name):
                raise ValueError(f"entity name {name!r} must match {NAME}")
        if self.kind in KIND_NEEDS:
            section, section_hint, entity_field, entity_hint = KIND_NEEDS[self.kind]
            if getattr(self, section) is None:
                raise ValueError(f"kind {self.kind} needs an `{section}:` section ({section_hint})")
            for entity in self.entities.values():
                if not getattr(entity, entity_field):
                    raise ValueError(
                        f"entity {entity.name}: kind {self.kind} needs `{entity_field}`{entity_hint}"
                    )
        return self

    @property
    def schema_name(self) -> str:
        return f"raw_{self.name}"


def _error_text(path: Path, exc: ValidationError) -> str:
    lines = [f"{path}: invalid source file"]
    for err in exc.errors():
        where = ".".join(str(p) for p in err["loc"]) or "(top level)"
        lines.append(f"  {where}: {err['msg']}")
    return "\n".join(lines)


def load_source(path: Path) -> Source:
    """Read and validate one source file."""
    try:
        data = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as exc:
        raise RegistryError(f"{path}: cannot read the source file: {exc}") from None
    if not isinstance(data, dict):
        raise RegistryError(f"{path}: a source file is a YAML mapping (name, kind, entities, …)")
    try:
        source = Source.model_validate(data)
    except ValidationError as exc:
        raise RegistryError(_error_text(path, exc)) from None
    if source.name != path.stem:
        raise RegistryError(f"{path}: name {source.name!r} must match the file name ({path.stem}.yml)")
    return source


def source_files(settings: Settings | None = None) -> list[Path]:
    directory = Path((settings or get_settings()).lakehouse_sources_dir)
    return sorted(directory.glob("*.yml"))


def load_registry(settings: Settings | None = None) -> dict[str, Source]:
    """Every registered source by name; RegistryError on the first invalid file."""
    return {s.name: s for s in (load_source(p) for p in source_files(settings))}


def get_source(name: str, settings: Settings | None = None) -> Source:
    registry = load_registry(settings)
    if name not in registry:
        known = ", ".join(registry) or "none"
        raise RegistryError(f"no source named {name!r} is registered (registered: {known})")
    return registry[name]
