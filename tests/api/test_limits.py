"""Bodies and inputs the service must refuse clearly, without reading them whole."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from oncoclass.api.app import MAX_BODY_BYTES
from tests.helpers import serve

sqlite_only = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


def _chunked_post(base: str, path: str, chunks: int, chunk: bytes) -> tuple[int, int]:
    """POST a chunked body (no Content-Length) of ``chunks`` x ``chunk`` over a raw socket;
    (status, bytes sent before the server answered)."""
    host, port = base.removeprefix("http://").split(":")
    sent = 0
    with socket.create_connection((host, int(port)), timeout=60) as sock:
        sock.sendall(
            f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            "Transfer-Encoding: chunked\r\n\r\n".encode()
        )
        try:
            for _ in range(chunks):
                sock.sendall(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
                sent += len(chunk)
            sock.sendall(b"0\r\n\r\n")
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server refused and closed: what we want
        answer = sock.recv(65536).decode("latin-1")
    return int(answer.split()[1]), sent


@sqlite_only
def test_a_chunked_body_is_refused_once_past_the_limit(app: FastAPI) -> None:
    chunk = b"x" * 2**20  # 1 MiB
    with serve(app) as base:
        status, sent = _chunked_post(base, "/v1/predict", MAX_BODY_BYTES // 2**20 + 200, chunk)
        assert status == 413
        # Refused on the way in: far less than the 200 MiB over the limit got sent.
        assert sent < MAX_BODY_BYTES + 100 * 2**20
        status, _ = _chunked_post(base, "/v1/predict/batch", MAX_BODY_BYTES // 2**20 + 50, chunk)
        assert status == 413


@sqlite_only
@pytest.mark.parametrize("task", [{}, [], 0, False, 1.5])
def test_fields_have_the_type_the_schema_says(client: TestClient, task: object) -> None:
    response = client.post("/v1/predict", json={"gene": "BRAF", "variation": "V600E", "task": task})
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"][-1] == "task"


@sqlite_only
@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        (b'{"gene": "BRAF", "variation": "V600\xff\xfe"}', "application/json"),
        (b"\xff\xfe\xfd", "application/json"),
        (b"", "application/json"),
        (b"--xyz--\r\n", "multipart/form-data; boundary=xyz"),
    ],
)
def test_undecodable_and_empty_bodies_are_422(
    client: TestClient, body: bytes, content_type: str
) -> None:
    for path in ("/v1/predict", "/v1/predict/batch"):
        response = client.post(path, content=body, headers={"content-type": content_type})
        assert response.status_code == 422, (path, response.status_code, response.text)


@sqlite_only
def test_history_retention_purge(client: TestClient, tmp_path: Path, settings) -> None:  # noqa: ANN001
    from datetime import UTC, datetime, timedelta

    from sqlalchemy import create_engine, text
    from typer.testing import CliRunner

    from oncoclass.cli import app as cli
    from oncoclass.settings import get_settings

    for _ in range(3):
        assert (
            client.post("/v1/predict", json={"gene": "KRAS", "variation": "G12D"}).status_code
            == 200
        )
    engine = create_engine(settings.resolved_database_url)
    old = datetime.now(UTC) - timedelta(days=100)
    with engine.begin() as connection:
        connection.execute(text("UPDATE predictions SET created_at = :t WHERE id <= 2"), {"t": old})
    engine.dispose()
    runner = CliRunner()
    env = {"ONCOCLASS_DATABASE_URL": settings.resolved_database_url}
    # The CLI reads its settings from the environment: not from a copy cached earlier in this
    # process (e.g. by the encoder looking for its cache folder).
    get_settings.cache_clear()
    dry = runner.invoke(cli, ["history", "purge", "--older-than", "90d", "--dry-run"], env=env)
    assert dry.exit_code == 0 and "would delete 2" in dry.output
    done = runner.invoke(cli, ["history", "purge", "--older-than", "90d"], env=env)
    assert done.exit_code == 0 and "deleted 2" in done.output
    assert client.get("/v1/predictions?limit=0").json()["total"] == 1
    bad = runner.invoke(cli, ["history", "purge", "--older-than", "soon"], env=env)
    get_settings.cache_clear()  # the copy read while the test's environment was set
    assert bad.exit_code == 2 and "not an age" in bad.output


@sqlite_only
def test_a_batch_over_its_time_limit_is_stopped_and_stores_nothing(
    tmp_path: Path,
    model_dir: Path,
    database_url: str,
    predictor,
    knowledge,  # noqa: ANN001
) -> None:
    from oncoclass.api.app import create_app
    from oncoclass.settings import Settings

    settings = Settings(
        data_home=tmp_path / "home", model_dir=model_dir, database_url=database_url,
        batch_time_limit_seconds=0.0,
    )  # fmt: skip
    items = [{"gene": "KRAS", "variation": f"G{12 + i}D"} for i in range(40)]
    with TestClient(create_app(settings, predictor, knowledge=knowledge)) as client:
        response = client.post("/v1/predict/batch", json={"items": items})
        assert response.status_code == 413
        assert "split it" in str(response.json()["detail"])
        assert client.get("/v1/predictions?limit=0").json()["total"] == 0
