"""A fresh history database per test, SQLite and PostgreSQL (a throwaway local server)."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from pathlib import Path

import pytest

from oncoclass.history import Database
from oncoclass.history.testing import PostgresServer, find_pg_bin, throwaway_postgres

_names = itertools.count()


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresServer]:
    if find_pg_bin() is None:
        pytest.skip("PostgreSQL server binaries not found (apt-get install postgresql)")
    with throwaway_postgres() as server:
        yield server


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'db' / 'history.sqlite3'}"
    server: PostgresServer = request.getfixturevalue("postgres")
    return server.create_database(f"history_{next(_names)}")


@pytest.fixture
def database(database_url: str) -> Iterator[Database]:
    """Migrated to the newest revision."""
    db = Database(database_url)
    db.migrate()
    yield db
    db.dispose()
