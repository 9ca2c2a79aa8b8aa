"""The history database: one engine per URL, set up for safe concurrent writes, and migrated
with Alembic at start-up.

SQLite is the zero-setup default, and a web server writes to it from many threads (and maybe
several worker processes), so every SQLite connection gets:

* WAL journaling: readers never block the writer and the writer never blocks readers;
* a busy timeout: a writer waits for the lock instead of failing with "database is locked";
* ``BEGIN IMMEDIATE`` for write transactions: the write lock is taken when the transaction
  starts, so two writers queue on the busy timeout instead of one failing later when it tries to
  upgrade a read lock (which SQLite refuses at once, without waiting).

PostgreSQL (``postgresql+psycopg2://...``) needs none of this; its migrations take an advisory
lock so that several workers starting at once apply them once.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import URL, Connection, make_url
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import StaticPool

log = logging.getLogger(__name__)

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
#: How long a SQLite writer waits for the lock before giving up.
BUSY_TIMEOUT_S = 30.0
#: Execution option that makes a SQLite transaction start with ``BEGIN IMMEDIATE``.
WRITE = "oncoclass_write"
#: Execution options of a write transaction (ignored by databases other than SQLite).
WRITE_OPTIONS: dict[str, Any] = {WRITE: True}
#: Alembic's command API keeps its context in module globals: one migration per process at a
#: time. (Processes are serialised by the database: SQLite's lock, PostgreSQL's advisory lock.)
_MIGRATION_LOCK = threading.Lock()


def _is_memory(url: URL) -> bool:
    return url.database in (None, "", ":memory:") or url.query.get("mode") == "memory"


def create_database_engine(url: str | URL) -> Engine:
    """An engine for ``url``; SQLite is configured as the module docstring says, and the folder
    of a SQLite file is created if needed."""
    url = make_url(url)
    if url.get_backend_name() != "sqlite":
        return create_engine(
            url, pool_pre_ping=True, pool_size=10, max_overflow=30, hide_parameters=True
        )

    memory = _is_memory(url)
    if not memory:
        Path(url.database).expanduser().parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(
        url,
        # Errors and logs never quote the parameters of a statement (a request's text).
        hide_parameters=True,
        connect_args={"check_same_thread": False, "timeout": BUSY_TIMEOUT_S},
        # One shared connection, or every connection would see its own empty in-memory database.
        poolclass=StaticPool if memory else None,
    )

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # The driver's own transaction handling would BEGIN lazily (deferred); we BEGIN ourselves.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        if not memory:
            cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA busy_timeout={int(BUSY_TIMEOUT_S * 1000)}")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Connection) -> None:
        write = connection.get_execution_options().get(WRITE, False)
        connection.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")

    return engine


class Database:
    """An engine, its sessions, and the schema migrations of the prediction history."""

    def __init__(self, url: str | URL) -> None:
        self.url = make_url(url)
        self.engine = create_database_engine(self.url)
        self.sessions = sessionmaker(self.engine, expire_on_commit=False)

    @property
    def backend(self) -> str:
        return self.url.get_backend_name()

    def migrate(self, revision: str = "head") -> None:
        """Apply the Alembic migrations shipped in the package (idempotent)."""
        config = Config()
        config.set_main_option("script_location", str(MIGRATIONS_DIR))
        # One write transaction: on SQLite, concurrent start-ups queue on its lock.
        with (
            _MIGRATION_LOCK,
            self.engine.execution_options(**WRITE_OPTIONS).begin() as connection,
        ):
            config.attributes["connection"] = connection
            command.upgrade(config, revision)

    def revision(self) -> str | None:
        """The schema revision the database is at (None before the first migration)."""
        from alembic.runtime.migration import MigrationContext

        with self.engine.connect() as connection:
            return MigrationContext.configure(connection).get_current_revision()

    def ping(self) -> bool:
        """Whether the database answers a trivial query."""
        try:
            with self.engine.connect() as connection:
                connection.execute(text("SELECT 1"))
        except SQLAlchemyError as exc:
            log.warning("database unreachable: %s", exc)
            return False
        return True

    @contextmanager
    def session(self) -> Iterator[Session]:
        with self.sessions() as session:
            yield session

    def dispose(self) -> None:
        self.engine.dispose()

    def __repr__(self) -> str:
        return f"Database({self.url.render_as_string(hide_password=True)!r})"
