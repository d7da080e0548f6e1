"""One settings object for the whole stack, read at call time (never at import time).

Every value comes from the environment (or a git-ignored `.env`); defaults are the embedded default: a local
lake folder inside the repository, DuckDB, and Prefect's local ephemeral server.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

PROJECT_DIR = Path(__file__).resolve().parent.parent
DBT_PROJECT_DIR = PROJECT_DIR / "dbt_project"

# Telemetry of every tool is off unless the operator turns it on explicitly in the environment.
TELEMETRY_OFF = {
    "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
    "DO_NOT_TRACK": "1",
    "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
    "SODA_CORE_TELEMETRY_ENABLED": "false",
}


class Settings(BaseSettings):
    """Configuration of the lakehouse. Environment variable names are the field names in upper case."""

    model_config = SettingsConfigDict(env_file=".env", extra="ignore", case_sensitive=False)

    lakehouse_root: str = Field(
        default=str(PROJECT_DIR / "lake"),
        description="Lake root: a local folder or s3://bucket/prefix. Every table is a Delta table under it.",
    )
    lakehouse_catalog: str | None = Field(
        default=None,
        description="DuckDB catalog file (views over the Delta tables); defaults to <lake>/_catalog for a "
        "local lake and .lakehouse/ in the project for S3.",
    )
    lakehouse_target: Literal["dev", "ci", "prod"] = "dev"
    lakehouse_sources_dir: Path = Field(
        default=PROJECT_DIR / "ingestion" / "sources",
        description="The source registry: one <name>.yml per source (ingestion/README.md).",
    )
    lakehouse_seed: int = 42
    lakehouse_scale: float = 1.0

    aws_endpoint_url: str | None = None
    aws_access_key_id: str | None = None
    aws_secret_access_key: SecretStr | None = None
    aws_session_token: SecretStr | None = None
    aws_region: str = "us-east-1"
    aws_allow_http: bool = False

    @property
    def is_s3(self) -> bool:
        return self.lakehouse_root.startswith("s3://")

    @property
    def root(self) -> str:
        return self.lakehouse_root.rstrip("/")

    def uri(self, *parts: str) -> str:
        """URI of a path under the lake root, e.g. uri('raw', 'shop', 'orders')."""
        return "/".join([self.root, *(p.strip("/") for p in parts)])

    @property
    def catalog_path(self) -> Path:
        if self.lakehouse_catalog:
            return Path(self.lakehouse_catalog)
        if self.is_s3:
            return PROJECT_DIR / ".lakehouse" / "lakehouse.duckdb"
        return Path(self.root) / "_catalog" / "lakehouse.duckdb"

    def storage_options(self) -> dict[str, str]:
        """Options for deltalake's object store; empty for a local lake."""
        if not self.is_s3:
            return {}
        opts = {"AWS_REGION": self.aws_region}
        if self.aws_endpoint_url:
            opts["AWS_ENDPOINT_URL"] = self.aws_endpoint_url
        if self.aws_allow_http or (self.aws_endpoint_url or "").startswith("http://"):
            opts["AWS_ALLOW_HTTP"] = "true"
        if self.aws_access_key_id:
            opts["AWS_ACCESS_KEY_ID"] = self.aws_access_key_id
        if self.aws_secret_access_key:
            opts["AWS_SECRET_ACCESS_KEY"] = self.aws_secret_access_key.get_secret_value()
        if self.aws_session_token:
            opts["AWS_SESSION_TOKEN"] = self.aws_session_token.get_secret_value()
        return opts


def get_settings() -> Settings:
    """Read the settings now; call this inside functions, never at module level."""
    return Settings()


def apply_runtime_defaults() -> None:
    """Turn telemetry off (unless set explicitly) and point dbt at the project's profiles (this process)."""
    for key, value in TELEMETRY_OFF.items():
        os.environ.setdefault(key, value)
    os.environ.setdefault("DBT_PROFILES_DIR", str(DBT_PROJECT_DIR))
    os.environ.setdefault("DBT_PROJECT_DIR", str(DBT_PROJECT_DIR))
