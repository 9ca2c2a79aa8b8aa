"""A throwaway PostgreSQL server for tests: ``initdb`` into a temporary folder, ``pg_ctl start`` on
a free loopback port, and everything removed afterwards.

It needs the PostgreSQL server binaries (Debian: ``apt-get install postgresql``, which puts them
in ``/usr/lib/postgresql/<version>/bin``; or set ``ONCOCLASS_PG_BIN``). PostgreSQL refuses to
run as root, so as root the server runs as the ``postgres`` user, in a folder that user owns.
"""

from __future__ import annotations

import os
import shlex
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import create_engine, text

PG_USER = "postgres"
_TIMEOUT_S = 120


def find_pg_bin() -> Path | None:
    """The folder of ``initdb`` and ``pg_ctl``: ``$ONCOCLASS_PG_BIN``, the newest Debian
    ``/usr/lib/postgresql/*/bin``, or the PATH; None if there is none."""
    candidates = [Path(p) for p in [os.environ.get("ONCOCLASS_PG_BIN")] if p]
    debian = Path("/usr/lib/postgresql")
    if debian.is_dir():
        versions = [d for d in debian.iterdir() if d.name.isdigit()]
        candidates += [d / "bin" for d in sorted(versions, key=lambda d: -int(d.name))]
    if initdb := shutil.which("initdb"):
        candidates.append(Path(initdb).parent)
    return next(
        (c for c in candidates if (c / "initdb").is_file() and (c / "pg_ctl").is_file()), None
    )


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass(frozen=True)
class PostgresServer:
    host: str
    port: int
    user: str = PG_USER

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+psycopg2://{self.user}@{self.host}:{self.port}/{database}"

    def create_database(self, name: str) -> str:
        """Create an empty database and return its SQLAlchemy URL."""
        engine = create_engine(self.url(), isolation_level="AUTOCOMMIT")
        try:
            with engine.connect() as connection:
                connection.execute(text(f'CREATE DATABASE "{name}"'))
        finally:
            engine.dispose()
        return self.url(name)


def _as_postgres(command: list[str]) -> list[str]:
    """``command`` run as the ``postgres`` user when we are root (PostgreSQL refuses root)."""
    if os.geteuid() != 0:
        return command
    if shutil.which("runuser"):
        return ["runuser", "-u", PG_USER, "--", *command]
    return ["su", PG_USER, "-s", "/bin/sh", "-c", shlex.join(command)]


def _run(command: list[str]) -> None:
    done = subprocess.run(
        _as_postgres(command), capture_output=True, text=True, timeout=_TIMEOUT_S, check=False
    )
    if done.returncode != 0:
        raise RuntimeError(
            f"{shlex.join(command)} failed ({done.returncode}):\n{done.stdout}\n{done.stderr}"
        )


@contextmanager
def throwaway_postgres(pg_bin: Path | None = None) -> Iterator[PostgresServer]:
    """A running PostgreSQL server (trust authentication, loopback only, fsync off), stopped
    and deleted on exit. Raises FileNotFoundError without the binaries."""
    pg_bin = pg_bin or find_pg_bin()
    if pg_bin is None:
        raise FileNotFoundError(
            "PostgreSQL server binaries (initdb, pg_ctl) not found; "
            "install Debian's `postgresql` package or set ONCOCLASS_PG_BIN"
        )
    # Not under pytest's tmp_path: its folders are private to the current user.
    root = Path(tempfile.mkdtemp(prefix="oncoclass-pg-"))
    data, sockets, log = root / "data", root / "sockets", root / "server.log"
    sockets.mkdir()
    if os.geteuid() == 0:
        for path in (root, sockets):
            shutil.chown(path, PG_USER, PG_USER)
    port = free_port()
    started = False
    try:
        _run(
            [
                str(pg_bin / "initdb"),
                "-D",
                str(data),
                "-U",
                PG_USER,
                "-A",
                "trust",
                "-E",
                "UTF8",
                "--no-sync",
                "--no-instructions",
            ]
        )
        options = f"-p {port} -k {sockets} -c listen_addresses=127.0.0.1 -F -c max_connections=200"
        _run(
            [
                str(pg_bin / "pg_ctl"),
                "-D",
                str(data),
                "-l",
                str(log),
                "-w",
                "-t",
                "60",
                "-o",
                options,
                "start",
            ]
        )
        started = True
        yield PostgresServer("127.0.0.1", port)
    finally:
        if started:
            _run([str(pg_bin / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "stop"])
        shutil.rmtree(root, ignore_errors=True)
