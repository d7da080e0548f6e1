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


def read_text(uri: str, settings: Settings) -> str | None:
    """The text of the file at `uri`, or None when there is none."""
    fs = filesystem(settings)
    try:
        with fs.open_input_stream(_fs_path(uri)) as stream:
            return bytes(stream.read()).decode()
    except FileNotFoundError:
        return None


def write_text(uri: str, text: str, settings: Settings) -> None:
    """Write `text` to `uri`, replacing it (a whole-object put on S3; a rename into place locally)."""
    if settings.is_s3:
        with filesystem(settings).open_output_stream(_fs_path(uri)) as stream:
            stream.write(text.encode())
        return
    path = Path(uri)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text)
    tmp.replace(path)


def list_files(uri: str, settings: Settings, recursive: bool = False) -> list[str]:
    """The files under the folder `uri` (URIs, sorted); empty when the folder does not exist."""
    fs = filesystem(settings)
    selector = pafs.FileSelector(_fs_path(uri), allow_not_found=True, recursive=recursive)
    prefix = "s3://" if settings.is_s3 else ""
    return sorted(
        prefix + info.path for info in fs.get_file_info(selector) if info.type == pafs.FileType.File
    )


def list_dirs(uri: str, settings: Settings) -> list[str]:
    """The names of the folders directly under `uri` (sorted); empty when it does not exist."""
    fs = filesystem(settings)
    selector = pafs.FileSelector(_fs_path(uri), allow_not_found=True)
    return sorted(
        info.base_name for info in fs.get_file_info(selector) if info.type == pafs.FileType.Directory
    )


def delete_tree(uri: str, settings: Settings) -> None:
    """Delete the folder `uri` with everything under it (nothing happens when it does not exist)."""
    fs = filesystem(settings)
    path = _fs_path(uri)
    if fs.get_file_info(path).type != pafs.FileType.NotFound:
        fs.delete_dir(path)
