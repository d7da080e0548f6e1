"""Files in the lake outside Delta tables: existence checks and byte-for-byte copies (local or S3)."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlparse

import duckdb
import pyarrow.fs as pafs

from lakehouse.settings import Settings


def file_exists(con: duckdb.DuckDBPyConnection, uri: str) -> bool:
    """True when `uri` names an existing file (`con` from lakehouse.lake.duckdb_session)."""
    row = con.execute("SELECT count(*) FROM glob(?)", [uri]).fetchone()
    return bool(row and row[0])


def filesystem(settings: Settings) -> pafs.FileSystem:
    """A pyarrow filesystem for the lake root, configured from the settings (not the environment)."""
    if not settings.is_s3:
        return pafs.LocalFileSystem()
    endpoint = urlparse(settings.aws_endpoint_url) if settings.aws_endpoint_url else None
    secret = settings.aws_secret_access_key
    token = settings.aws_session_token
    return pafs.S3FileSystem(
        access_key=settings.aws_access_key_id,
        secret_key=secret.get_secret_value() if secret else None,
        session_token=token.get_secret_value() if token else None,
        region=settings.aws_region,
        endpoint_override=endpoint.netloc if endpoint else None,
        scheme=endpoint.scheme if endpoint else "https",
    )


def _fs_path(uri: str) -> str:
    return uri.removeprefix("s3://")


def copy_file(src: str, dst: str, settings: Settings) -> None:
    """Copy the file at `src` to `dst` (both under the lake root), creating local folders as needed."""
    if not settings.is_s3:
        Path(dst).parent.mkdir(parents=True, exist_ok=True)
    fs = filesystem(settings)
    pafs.copy_files(_fs_path(src), _fs_path(dst), source_filesystem=fs, destination_filesystem=fs)


def write_text(uri: str, text: str, settings: Settings) -> None:
    """Write `text` (UTF-8) to the file at `uri` under the lake root, replacing it (local folders created)."""
    if not settings.is_s3:
        Path(uri).parent.mkdir(parents=True, exist_ok=True)
    with filesystem(settings).open_output_stream(_fs_path(uri)) as out:
        out.write(text.encode())
