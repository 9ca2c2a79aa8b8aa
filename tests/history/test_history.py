"""The prediction history: migrations, the repository, and concurrent writers."""

from __future__ import annotations

import subprocess
import sys
import threading
import warnings
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, text

from oncoclass.history import Base, Database, PredictionRecord, PredictionRepository
from oncoclass.history.db import MIGRATIONS_DIR


def _record(gene: str = "BRAF", variation: str = "V600E", **fields: object) -> PredictionRecord:
    values: dict[str, object] = {
        "gene": gene,
        "variation": variation,
        "task": "clinical-significance",
        "label": "Predictive: Resistance",
        "name": "Predictive: Resistance",
        "probability": 0.7,
        "model_name": "baseline",
        "model_version": "0.1.0+abc",
        "outputs": {"flags": {"low_confidence": False}, "evidence": [{"weight": -0.5}]},
        "drugs": ["Vemurafenib"],
        "text": "Ünïcödé text ✓",
    }
    return PredictionRecord(**{**values, **fields})


def _head() -> str:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    return ScriptDirectory.from_config(config).get_current_head()


def test_migrations_build_the_schema_of_the_models(database: Database) -> None:
    assert database.revision() == _head()
    with database.engine.connect() as connection, warnings.catch_warnings():
        # The expression index upper(gene) cannot be reflected, so autogenerate skips it.
        warnings.simplefilter("ignore")
        diff = compare_metadata(MigrationContext.configure(connection), Base.metadata)
        assert [d for d in diff if "ix_predictions_gene_upper" not in str(d)] == []
        catalog = {
            "sqlite": "SELECT name FROM sqlite_master WHERE type = 'index'",
            "postgresql": "SELECT indexname FROM pg_indexes",
        }[database.backend]
        indexes = set(connection.execute(text(catalog)).scalars())
    assert {"ix_predictions_gene_upper", "ix_predictions_batch_id"} <= indexes


def test_migrate_is_idempotent_and_reversible(database: Database) -> None:
    with database.session() as session:
        PredictionRepository(session).add(_record())
    database.migrate()  # a restart: nothing to do, nothing lost
    with database.session() as session:
        assert PredictionRepository(session).count() == 1
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    with database.engine.begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, "base")
    assert not inspect(database.engine).has_table("predictions")
    database.migrate()
    assert database.revision() == _head()


def test_every_index_survives_the_migrations(database: Database) -> None:
    from sqlalchemy import text

    query = (
        "SELECT name FROM sqlite_master WHERE type = 'index'"
        if database.backend == "sqlite"
        else "SELECT indexname FROM pg_indexes WHERE tablename = 'predictions'"
    )
    with database.engine.connect() as connection:
        names = set(connection.execute(text(query)).scalars())
    assert {
        "ix_predictions_gene_upper", "ix_predictions_batch_id", "ix_predictions_created_at"
    } <= names  # fmt: skip


def test_repository_round_trip(database: Database) -> None:
    before = datetime.now(UTC)
    with database.session() as session:
        repository = PredictionRepository(session)
        stored = repository.add(_record(source="batch", batch_id="b1", row=3, sample="P1"))
        assert stored.id >= 1
    with database.session() as session:
        again = PredictionRepository(session).get(stored.id)
        assert again is not None
        assert (again.gene, again.variation, again.drugs, again.text) == (
            "BRAF",
            "V600E",
            ["Vemurafenib"],
            "Ünïcödé text ✓",
        )
        assert (again.source, again.batch_id, again.row, again.sample) == ("batch", "b1", 3, "P1")
        assert again.outputs == {"flags": {"low_confidence": False}, "evidence": [{"weight": -0.5}]}
        assert again.created_at.tzinfo is not None
        assert before - timedelta(seconds=5) <= again.created_at <= datetime.now(UTC)
        assert again.disease == ""


def test_list_pages_newest_first_and_filters_by_gene(database: Database) -> None:
    genes = ["BRAF", "KRAS", "braf", "TP53", "Braf"]
    with database.session() as session:
        repository = PredictionRepository(session)
        ids = [r.id for r in repository.add_all([_record(g) for g in genes])]
        assert len(set(ids)) == 5
        page, total = repository.list(limit=2, offset=1)
        assert total == 5 and [r.id for r in page] == sorted(ids, reverse=True)[1:3]
        braf, total = repository.list(gene=" bRaF ")
        assert total == 3 and [r.gene for r in braf] == ["Braf", "braf", "BRAF"]
        assert repository.count() == 5 and repository.count("nope") == 0
        assert repository.list(limit=0)[0] == []
        for missing in (0, -1, max(ids) + 1, 2**63, 10**30):
            assert repository.get(missing) is None


def test_add_all_is_atomic(database: Database) -> None:
    with database.session() as session:
        repository = PredictionRepository(session)
        with pytest.raises(Exception):  # noqa: B017 (the driver's IntegrityError)
            repository.add_all([_record(), _record(label=None)])  # NOT NULL violated
        assert repository.count() == 0
        repository.add(_record())  # the session is usable again
        assert repository.count() == 1


def test_concurrent_writers_lose_and_duplicate_nothing(database: Database) -> None:
    n_threads, per_thread = 16, 25
    barrier = threading.Barrier(n_threads)

    def write(t: int) -> list[int]:
        barrier.wait()  # all at once
        ids = []
        for i in range(per_thread):
            with database.session() as session:
                repository = PredictionRepository(session)
                repository.list(limit=1)  # a read first: the write must not be refused
                ids.append(repository.add(_record(f"G{t}", f"V{i}E")).id)
        return ids

    with ThreadPoolExecutor(n_threads) as pool:
        ids = [i for batch in pool.map(write, range(n_threads)) for i in batch]
    assert len(ids) == len(set(ids)) == n_threads * per_thread
    with database.engine.connect() as connection:
        count, distinct = connection.execute(
            text("SELECT count(*), count(DISTINCT id) FROM predictions")
        ).one()
    assert count == distinct == n_threads * per_thread


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_sqlite_is_set_up_for_concurrency(database: Database, database_url: str) -> None:
    assert Path(database.url.database).is_file()  # its folder was created
    with database.engine.connect() as connection:
        assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert connection.exec_driver_sql("PRAGMA busy_timeout").scalar() == 30_000


def test_in_memory_sqlite() -> None:
    database = Database("sqlite://")
    database.migrate()
    with database.session() as session:
        PredictionRepository(session).add(_record())
    with database.session() as session:
        assert PredictionRepository(session).count() == 1
    assert database.ping()


def test_ping_reports_an_unreachable_database(tmp_path: Path) -> None:
    assert not Database("postgresql+psycopg2://nobody@127.0.0.1:9/none").ping()


def test_concurrent_start_ups_migrate_once(database_url: str) -> None:
    """Several workers starting at once (``oncoclass serve --workers N``) on a new database:
    processes, and apps within one process."""
    script = "import sys; from oncoclass.history import Database; Database(sys.argv[1]).migrate()"
    workers = [subprocess.Popen([sys.executable, "-c", script, database_url]) for _ in range(3)]
    databases = [Database(database_url) for _ in range(3)]
    try:
        with ThreadPoolExecutor(len(databases)) as pool:
            list(pool.map(Database.migrate, databases))
        assert [w.wait(timeout=120) for w in workers] == [0, 0, 0]
        assert {d.revision() for d in databases} == {_head()}
    finally:
        for database in databases:
            database.dispose()
