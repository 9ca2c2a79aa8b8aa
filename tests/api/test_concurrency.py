"""Many concurrent clients against the real server (uvicorn on loopback): every successful
prediction is stored exactly once, on SQLite (WAL, busy timeout, BEGIN IMMEDIATE) and on
PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import create_engine, text
from threadpoolctl import threadpool_limits

from oncoclass.settings import Settings
from tests.helpers import serve

N_REQUESTS = 500
N_CLIENTS = 24
VARIANTS = [
    ("BRAF", "V600E"),
    ("KRAS", "G12D"),
    ("EGFR", "L858R"),
    ("TP53", "R273C"),
    ("PIK3CA", "H1047R"),
    ("ALK", "EML4-ALK"),
    ("ERBB2", "Amplification"),
]


@pytest.fixture
def server(app: FastAPI) -> Iterator[str]:
    """The app served by uvicorn in a background thread; its base URL."""
    with serve(app) as base:
        yield base


# scikit-learn warns when its pipeline runs in a thread it did not configure (the server's).
@pytest.mark.filterwarnings("ignore:`sklearn.utils.parallel.delayed` should be used")
def test_concurrent_predictions_are_stored_exactly_once(server: str, settings: Settings) -> None:
    def predict(i: int) -> int | None:
        gene, variation = VARIANTS[i % len(VARIANTS)]
        body = {"gene": gene, "variation": variation, "text": f"Case {i} responded to therapy."}
        response = client.post("/v1/predict", json=body)
        return response.json()["id"] if response.status_code == 200 else None

    limits = httpx.Limits(max_connections=N_CLIENTS, max_keepalive_connections=N_CLIENTS)
    # One BLAS thread per request: the requests themselves already fill the cores.
    with (
        threadpool_limits(limits=1),
        httpx.Client(base_url=server, timeout=120, limits=limits) as client,
        ThreadPoolExecutor(N_CLIENTS) as pool,
    ):
        ids = list(pool.map(predict, range(N_REQUESTS)))
        stored = [i for i in ids if i is not None]
        assert len(stored) == N_REQUESTS, f"{N_REQUESTS - len(stored)} requests failed"
        assert len(set(stored)) == len(stored)
        page = client.get("/v1/predictions", params={"limit": 0}).json()
        assert page["total"] == len(stored)

    engine = create_engine(settings.resolved_database_url)
    try:
        with engine.connect() as connection:
            rows = connection.execute(text("SELECT id FROM predictions")).scalars().all()
    finally:
        engine.dispose()
    assert sorted(rows) == sorted(stored)
