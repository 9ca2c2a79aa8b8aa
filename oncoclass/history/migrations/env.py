"""Alembic environment of the prediction history.

The service runs the migrations itself at start-up (``Database.migrate``), handing over its own
connection in ``config.attributes["connection"]``. For hand-made revisions during development,
``alembic -x url=sqlite:///history.sqlite3 revision --autogenerate -m "..."`` with
``script_location`` pointing here works too.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection, create_engine

from oncoclass.history.models import Base

#: Arbitrary, fixed key of the PostgreSQL advisory lock that serialises concurrent migrations.
_LOCK_KEY = 0x0C0C1A55


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        render_as_batch=connection.dialect.name == "sqlite",  # SQLite cannot ALTER most things
    )
    with context.begin_transaction():
        if connection.dialect.name == "postgresql":
            connection.exec_driver_sql(f"SELECT pg_advisory_xact_lock({_LOCK_KEY})")
        context.run_migrations()


def _run_online() -> None:
    connection = context.config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    url = context.get_x_argument(as_dictionary=True).get("url") or context.config.get_main_option(
        "sqlalchemy.url"
    )
    with create_engine(url).connect() as connection:
        _run(connection)
        connection.commit()


if context.is_offline_mode():
    raise SystemExit("offline (--sql) migrations are not supported; run them against a database")
_run_online()
