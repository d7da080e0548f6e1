"""Leases on the lake: one holder at a time for a name, with an expiry, on a local folder or S3.

A lease is a sequence of small JSON objects `ops/leases/<name>/<generation>.json`. The holder is the newest
generation while it is live (not expired); taking the lease creates the next generation with an exclusive
create — a hard link locally, a conditional put (`If-None-Match: *`) on S3 — so of any number of processes
exactly one wins, also when they take over an expired lease at the same moment. The holder renews its expiry
from a background thread; a holder killed with kill -9 stops renewing, and its lease expires after `ttl`.

Used for one run per lake (`run_lease`) and for exactly-once commits of a batch (`lakehouse.lake`).
"""

from __future__ import annotations

import json
import os
import re
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from lakehouse.files import list_files, read_text, write_text
from lakehouse.layout import ops_table
from lakehouse.settings import Settings, get_settings

RUN_LEASE = "run"
_GENERATION = re.compile(r"(\d{12})\.json$")
_HELD_HERE: dict[str, Lease] = {}  # leases this process holds through held(): held() nests


@dataclass(frozen=True)
class Holder:
    host: str
    pid: int
    since: str  # ISO 8601 UTC
    what: str
    expires_at: float  # seconds since the epoch
    token: str

    def describe(self) -> str:
        return f"{self.what} on host {self.host}, pid {self.pid}, since {self.since}"

    @property
    def live(self) -> bool:
        return self.expires_at > time.time()


class LeaseHeld(RuntimeError):
    """Someone else holds the lease; `holder` says who."""

    def __init__(self, name: str, holder: Holder) -> None:
        super().__init__(
            f"The lake is busy: lease '{name}' is held by {holder.describe()} (expires in "
            f"{max(0, round(holder.expires_at - time.time()))} s unless renewed). Wait for it to finish, "
            f"or rerun with --wait."
        )
        self.holder = holder


class Lease:
    """A held lease; renewed in the background until `release()`."""

    def __init__(self, name: str, uri: str, holder: Holder, ttl: float, settings: Settings) -> None:
        self.name, self.uri, self.holder, self.ttl, self._settings = name, uri, holder, ttl, settings
        self.lost = threading.Event()  # set when another process took the lease over (we expired)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._renew_loop, name=f"lease-{name}", daemon=True)
        self._thread.start()

    def _renew_loop(self) -> None:
        while not self._stop.wait(self.ttl / 3):
            try:
                self.renew()
            except Exception:  # a failed renewal is retried; expiry is the safety net
                continue

    def renew(self) -> None:
        folder = _folder(self.name, self._settings)
        if _newest(folder, self._settings) != self.uri:
            self.lost.set()
            self._stop.set()
            return
        self.holder = _with_expiry(self.holder, self.ttl)
        write_text(self.uri, json.dumps(asdict(self.holder)), self._settings)

    def release(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        current = _read(self.uri, self._settings)
        if current is not None and current.token == self.holder.token:
            write_text(self.uri, json.dumps({**asdict(current), "expires_at": 0}), self._settings)


def _folder(name: str, settings: Settings) -> str:
    return ops_table("leases", name, settings=settings)


def _generation(uri: str) -> int:
    match = _GENERATION.search(uri)
    return int(match.group(1)) if match else -1


def _newest(folder: str, settings: Settings) -> str | None:
    files = [f for f in list_files(folder, settings) if _generation(f) >= 0]
    return max(files, key=_generation) if files else None


def _read(uri: str, settings: Settings) -> Holder | None:
    text = read_text(uri, settings)
    if not text:
        return None
    try:
        return Holder(**json.loads(text))
    except (ValueError, TypeError):
        return None


def _with_expiry(holder: Holder, ttl: float) -> Holder:
    return Holder(**{**asdict(holder), "expires_at": time.time() + ttl})


def _create_exclusive(uri: str, text: str, settings: Settings) -> bool:
    """Create the object `uri` with `text` unless it exists; True when this call created it."""
    if settings.is_s3:
        from botocore.exceptions import ClientError

        from lakehouse.aws import client, split_s3_uri

        bucket, key = split_s3_uri(uri)
        try:
            client("s3", settings).put_object(Bucket=bucket, Key=key, Body=text.encode(), IfNoneMatch="*")
        except ClientError as exc:
            status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
            if status in (409, 412) or exc.response.get("Error", {}).get("Code") in (
                "PreconditionFailed",
                "ConditionalRequestConflict",
            ):
                return False
            raise
        return True
    path = Path(uri)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}")
    tmp.write_text(text)
    try:
        os.link(tmp, path)  # atomic, fails if the name exists, and the content is complete when visible
    except FileExistsError:
        return False
    finally:
        tmp.unlink(missing_ok=True)
    return True


def try_acquire(name: str, what: str, ttl: float, settings: Settings | None = None) -> Lease:
    """Take the lease `name` now, or raise LeaseHeld naming its live holder."""
    settings = settings or get_settings()
    folder = _folder(name, settings)
    while True:
        newest = _newest(folder, settings)
        current = _read(newest, settings) if newest else None
        if current is not None and current.live:
            raise LeaseHeld(name, current)
        generation = _generation(newest) + 1 if newest else 0
        uri = f"{folder}/{generation:012d}.json"
        holder = Holder(
            host=socket.gethostname(),
            pid=os.getpid(),
            since=datetime.now(UTC).isoformat(timespec="seconds"),
            what=what,
            expires_at=time.time() + ttl,
            token=uuid.uuid4().hex,
        )
        if _create_exclusive(uri, json.dumps(asdict(holder)), settings):
            _forget_older(folder, generation, settings)
            return Lease(name, uri, holder, ttl, settings)
        # another process created that generation first: look again (it is now the live holder)


def _forget_older(folder: str, generation: int, settings: Settings) -> None:
    from lakehouse.files import filesystem

    fs = filesystem(settings)
    for uri in list_files(folder, settings):
        if 0 <= _generation(uri) < generation - 1:  # keep the one before: a late reader may still read it
            with suppress(OSError):
                fs.delete_file(uri.removeprefix("s3://"))


def acquire(
    name: str,
    what: str,
    ttl: float,
    wait: bool = False,
    timeout: float | None = None,
    poll: float = 1.0,
    settings: Settings | None = None,
) -> Lease:
    """Take the lease; with `wait`, retry until it is free (or `timeout` seconds passed)."""
    deadline = None if timeout is None else time.monotonic() + timeout
    while True:
        try:
            return try_acquire(name, what, ttl, settings)
        except LeaseHeld:
            if not wait or (deadline is not None and time.monotonic() >= deadline):
                raise
            time.sleep(poll)


@contextmanager
def held(
    name: str,
    what: str,
    ttl: float,
    wait: bool = False,
    timeout: float | None = None,
    settings: Settings | None = None,
) -> Iterator[Lease]:
    """Hold the lease for the block; inside a block holding it already (this process), just go on."""
    settings = settings or get_settings()
    key = f"{settings.root}|{name}"
    if key in _HELD_HERE:
        yield _HELD_HERE[key]
        return
    lease = acquire(name, what, ttl, wait=wait, timeout=timeout, poll=min(1.0, ttl / 10), settings=settings)
    _HELD_HERE[key] = lease
    try:
        yield lease
    finally:
        del _HELD_HERE[key]
        lease.release()


def run_lease(what: str, wait: bool = False, settings: Settings | None = None) -> Any:
    """The lake's one-run-at-a-time lease (`with run_lease(...)`), raising LeaseHeld unless `wait`."""
    settings = settings or get_settings()
    return held(RUN_LEASE, what, settings.lakehouse_lease_seconds, wait=wait, settings=settings)
