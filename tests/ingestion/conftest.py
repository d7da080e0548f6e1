"""A real Postgres for the database source tests: Debian's server binaries, a fresh cluster per session.

`make test` installs the `postgresql` package when it is missing (Makefile `system-tools`). The server runs
as the `postgres` system user when the tests run as root (Postgres refuses to run as root), listens on a
free port on 127.0.0.1 only, keeps its socket in its own temporary folder and is stopped at the end.
"""

from __future__ import annotations

import glob
import os
import pwd
import shlex
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import pytest

PG_USER, PG_PASSWORD, PG_DATABASE = "lake_reader", "s3cr:t@pw/Zq9", "shop"
START_TIMEOUT_S = 120  # a busy CI machine can take long to start a cluster


def _bindir() -> Path:
    """The newest installed server's bin folder (/usr/lib/postgresql/<version>/bin on Debian)."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(Path(p).parts[-3]))
    initdb = found[-1] if found else shutil.which("initdb")
    if initdb:
        return Path(initdb).parent
    message = (
        "Postgres server binaries are missing: `make system-tools` (Debian, as root) or install postgresql"
    )
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)


def _as_server_user(cmd: list[str]) -> list[str]:
    """Run `cmd` as the postgres system user when we are root (the server refuses to run as root)."""
    if os.geteuid() != 0:
        return cmd
    if shutil.which("runuser"):
        return ["runuser", "-u", "postgres", "--", *cmd]
    return ["su", "postgres", "-s", "/bin/sh", "-c", shlex.join(cmd)]


def _run(cmd: list[str], timeout: float = START_TIMEOUT_S) -> None:
    done = subprocess.run(
        _as_server_user(cmd), stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=timeout
    )
    if done.returncode != 0:
        raise RuntimeError(f"{shlex.join(cmd)} failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_ready(port: int, socket_dir: Path, log: Path) -> None:
    """Poll until the server accepts connections (up to START_TIMEOUT_S: the machine may be busy)."""
    import psycopg

    deadline = time.monotonic() + START_TIMEOUT_S
    while True:
        try:
            with psycopg.connect(
                host=str(socket_dir), port=port, user="postgres", dbname="postgres", connect_timeout=5
            ):
                return
        except psycopg.OperationalError:
            if time.monotonic() > deadline:
                tail = log.read_text()[-2000:] if log.exists() else "(no log)"
                raise RuntimeError(
                    f"Postgres did not accept connections in {START_TIMEOUT_S}s:\n{tail}"
                ) from None
            time.sleep(0.25)


def _create_user_and_database(port: int, socket_dir: Path) -> None:
    import psycopg
    from psycopg import sql

    with psycopg.connect(
        host=str(socket_dir), port=port, user="postgres", dbname="postgres", autocommit=True
    ) as con:
        con.execute(sql.SQL("CREATE ROLE {} LOGIN PASSWORD {}").format(sql.Identifier(PG_USER), PG_PASSWORD))
        con.execute(
            sql.SQL("CREATE DATABASE {} OWNER {}").format(
                sql.Identifier(PG_DATABASE), sql.Identifier(PG_USER)
            )
        )


@pytest.fixture(scope="session")
def postgres_dsn() -> Iterator[str]:
    """A DSN `postgresql://lake_reader:…@127.0.0.1:PORT/shop` of a fresh server for the whole session."""
    bindir = _bindir()
    home = Path(tempfile.mkdtemp(prefix="pg-test-"))  # short: a socket path is limited to ~107 bytes
    if os.geteuid() == 0:
        server_user = pwd.getpwnam("postgres")
        os.chown(home, server_user.pw_uid, server_user.pw_gid)
    data, log, port = home / "data", home / "server.log", _free_port()
    _run(
        [str(bindir / "initdb"), "-D", str(data), "-U", "postgres", "-E", "UTF8", "--no-locale", "--no-sync",
         "--auth-local=trust", "--auth-host=scram-sha-256"]
    )  # fmt: skip
    options = (
        f"-p {port} -k {home} -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off "
        "-c full_page_writes=off"
    )
    pg_ctl = str(bindir / "pg_ctl")
    try:
        _run(
            [
                pg_ctl,
                "-D",
                str(data),
                "-l",
                str(log),
                "-o",
                options,
                "-w",
                "-t",
                str(START_TIMEOUT_S),
                "start",
            ]
        )
        _wait_ready(port, home, log)
        _create_user_and_database(port, home)
        yield f"postgresql://{PG_USER}:{quote(PG_PASSWORD, safe='')}@127.0.0.1:{port}/{PG_DATABASE}"
    finally:
        if (data / "postmaster.pid").exists():
            _run([pg_ctl, "-D", str(data), "-m", "fast", "-w", "stop"])
        shutil.rmtree(home, ignore_errors=True)
