"""AWS plumbing on boto3: clients from the settings, buckets, uploads, and a local stand-in for AWS.

Credentials come from the environment (the settings or boto3's own chain: variables, ~/.aws, instance role);
nothing here prints or logs them. When neither an endpoint nor credentials are configured, `aws_api()`
starts moto's server on 127.0.0.1 so the same code runs on a laptop with no network.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
from botocore.exceptions import ClientError
from pydantic import SecretStr

from lakehouse.settings import Settings

LOCAL_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}


@dataclass(frozen=True)
class AwsApi:
    """Where the AWS calls of this run go (`endpoint_url` None: AWS itself; `local`: a moto server) and the
    settings that point boto3, deltalake and DuckDB there."""

    endpoint_url: str | None
    settings: Settings
    local: bool = False

    @property
    def note(self) -> str:
        if self.local:
            return (
                f"No AWS endpoint or credentials configured: using a local S3 + Glue API (moto) at "
                f"{self.endpoint_url} for this run; its contents vanish when the run ends."
            )
        return f"AWS API: {self.endpoint_url or 'AWS (default endpoints)'}"


def session(settings: Settings) -> boto3.session.Session:
    """A boto3 session in the settings' region; credentials from the settings, else boto3's chain."""
    secret, token = settings.aws_secret_access_key, settings.aws_session_token
    return boto3.session.Session(
        aws_access_key_id=settings.aws_access_key_id,
        aws_secret_access_key=secret.get_secret_value() if secret else None,
        aws_session_token=token.get_secret_value() if token else None,
        region_name=settings.aws_region,
    )


def client(service: str, settings: Settings) -> Any:
    return session(settings).client(service, endpoint_url=settings.aws_endpoint_url)


def has_credentials(settings: Settings) -> bool:
    """True when the settings or boto3's credential chain (variables, ~/.aws, instance role) has a key."""
    return bool(settings.aws_access_key_id) or session(settings).get_credentials() is not None


@contextmanager
def aws_api(settings: Settings) -> Iterator[AwsApi]:
    """The AWS API to use: the configured endpoint, AWS itself when credentials exist, else a local moto
    server on 127.0.0.1 with test credentials in this process's environment (restored on exit)."""
    if settings.aws_endpoint_url:
        if not has_credentials(settings):
            raise RuntimeError(
                f"AWS endpoint {settings.aws_endpoint_url} is configured but no credentials are: set "
                "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (or a profile) in the environment."
            )
        yield AwsApi(settings.aws_endpoint_url, settings)
    elif has_credentials(settings):
        yield AwsApi(None, settings)
    else:
        with local_moto_server() as endpoint:
            local = settings.model_copy(
                update={
                    "aws_endpoint_url": endpoint,
                    "aws_allow_http": True,
                    "aws_access_key_id": LOCAL_CREDENTIALS["AWS_ACCESS_KEY_ID"],
                    "aws_secret_access_key": SecretStr(LOCAL_CREDENTIALS["AWS_SECRET_ACCESS_KEY"]),
                    "aws_session_token": None,
                }
            )
            yield AwsApi(endpoint, local, local=True)


@contextmanager
def local_moto_server() -> Iterator[str]:
    """moto's S3/Glue server on a free port of 127.0.0.1; AWS_* point boto3, deltalake and DuckDB at it."""
    try:
        from moto.server import ThreadedMotoServer
    except ImportError:
        raise RuntimeError(
            "No AWS endpoint or credentials configured and moto[server] is not installed: set "
            "AWS_ENDPOINT_URL and credentials, or run `make install` (moto is a dev dependency)."
        ) from None
    werkzeug = logging.getLogger("werkzeug")
    level = werkzeug.level
    werkzeug.setLevel(logging.ERROR)  # one log line per request otherwise
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    try:
        with environment({"AWS_ENDPOINT_URL": endpoint, "AWS_ALLOW_HTTP": "true", **LOCAL_CREDENTIALS}):
            yield endpoint
    finally:
        server.stop()
        werkzeug.setLevel(level)


@contextmanager
def environment(values: dict[str, str]) -> Iterator[None]:
    """Set environment variables for the duration of the block, then restore what was there."""
    before = {key: os.environ.get(key) for key in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, value in before.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def split_s3_uri(uri: str) -> tuple[str, str]:
    """('bucket', 'key/prefix') of s3://bucket/key/prefix."""
    if not uri.startswith("s3://"):
        raise ValueError(f"{uri} is not an s3:// URI")
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    return bucket, key


def ensure_bucket(s3: Any, bucket: str, region: str) -> bool:
    """Create `bucket` unless it exists; True when it was created."""
    try:
        s3.head_bucket(Bucket=bucket)
        return False
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") not in ("404", "NoSuchBucket", "NotFound"):
            raise RuntimeError(f"bucket {bucket}: {exc} — check its name and your permissions") from None
    options: dict[str, Any] = {"Bucket": bucket}
    if region != "us-east-1":  # us-east-1 rejects an explicit LocationConstraint
        options["CreateBucketConfiguration"] = {"LocationConstraint": region}
    s3.create_bucket(**options)
    return True


def upload_folder(s3: Any, folder: Path, uri: str) -> list[str]:
    """Upload every file under `folder` to the s3:// prefix `uri`, keeping relative paths; their URIs."""
    bucket, prefix = split_s3_uri(uri.rstrip("/"))
    uploaded = []
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        key = f"{prefix}/{path.relative_to(folder).as_posix()}".lstrip("/")
        s3.upload_file(str(path), bucket, key)
        uploaded.append(f"s3://{bucket}/{key}")
    return uploaded


def s3_lake_settings(
    bucket: str, prefix: str = "", region: str | None = None, endpoint_url: str | None = None
) -> Settings:
    """Settings for a lake at s3://bucket/prefix; region and endpoint default to AWS_REGION and
    AWS_ENDPOINT_URL (read now), credentials always come from the environment."""
    overrides: dict[str, Any] = {
        "lakehouse_root": "/".join(filter(None, [f"s3://{bucket}", prefix.strip("/")]))
    }
    if region:
        overrides["aws_region"] = region
    if endpoint_url:
        overrides["aws_endpoint_url"] = endpoint_url
    return Settings(**overrides)
