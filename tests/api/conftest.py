"""Fixtures of the API tests: the shipped model, the real CIViC knowledge base, and an app on a
fresh history database, SQLite or PostgreSQL (a throwaway server on loopback)."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from oncoclass.api.app import create_app
from oncoclass.history.testing import PostgresServer, find_pg_bin, throwaway_postgres
from oncoclass.knowledge import KnowledgeBase
from oncoclass.predictor import Predictor
from oncoclass.settings import Settings

DATABASES = ["sqlite", "postgresql"]
_names = itertools.count()


@pytest.fixture(scope="session")
def model_dir(shipped_model_dir: Path) -> Path:
    """The API suites serve the model that ships (see tests/conftest.py)."""
    return shipped_model_dir


@pytest.fixture(scope="session")
def predictor(model_dir: Path) -> Predictor:
    """Shared by every app: a predictor is read-only once loaded."""
    return Predictor.load(model_dir, max_text_chars=5_000, min_margin=0.2)


@pytest.fixture(scope="session")
def knowledge(civic_dir: Path) -> KnowledgeBase:
    return KnowledgeBase.from_path(civic_dir)


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresServer]:
    if find_pg_bin() is None:
        pytest.skip("PostgreSQL server binaries not found (apt-get install postgresql)")
    with throwaway_postgres() as server:
        yield server


@pytest.fixture(params=DATABASES)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh, empty history database of each kind."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'history.sqlite3'}"
    server: PostgresServer = request.getfixturevalue("postgres")
    return server.create_database(f"api_{next(_names)}")


@pytest.fixture
def settings(tmp_path: Path, model_dir: Path, database_url: str) -> Settings:
    return Settings(
        data_home=tmp_path / "home",
        model_dir=model_dir,
        database_url=database_url,
        max_text_chars=5_000,
        max_batch_rows=200,
    )


@pytest.fixture
def app(settings: Settings, predictor: Predictor, knowledge: KnowledgeBase) -> FastAPI:
    return create_app(settings, predictor, knowledge=knowledge)


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    """The app, started (lifespan: migrations) and stopped around the test."""
    with TestClient(app) as test_client:
        yield test_client


@pytest.fixture
def payload() -> dict:
    """A typical request of POST /v1/predict."""
    return {
        "gene": "BRAF",
        "variation": "V600E",
        "disease": "Melanoma",
        "drugs": ["Vemurafenib"],
        "text": "BRAF V600E mutant melanoma responded to vemurafenib. "
        "Patients without the mutation did not respond. The trial enrolled 48 patients.",
    }
