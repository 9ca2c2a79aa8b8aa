"""API keys as a hospital deploys the service: required beyond loopback, scoped, revocable,
rate limited; and none needed on loopback."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from oncoclass.api.app import create_app
from oncoclass.cli import app as cli
from oncoclass.knowledge import KnowledgeBase
from oncoclass.predictor import Predictor
from oncoclass.settings import Settings, get_settings

sqlite_only = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
BODY = {"gene": "BRAF", "variation": "V600E"}


@pytest.fixture
def exposed(
    tmp_path: Path, model_dir: Path, database_url: str, predictor: Predictor,
    knowledge: KnowledgeBase,
) -> Iterator[TestClient]:  # fmt: skip
    """The service as it runs beyond loopback (bound to every interface)."""
    settings = Settings(
        data_home=tmp_path / "home", model_dir=model_dir, database_url=database_url,
        host="0.0.0.0", rate_limit_per_minute=10_000,
    )  # fmt: skip
    with TestClient(create_app(settings, predictor, knowledge=knowledge)) as client:
        yield client


def _key(client: TestClient, *scopes: str, rate: int | None = None) -> str:
    keys = client.app.state.api.keys
    return keys.create(f"test-{'-'.join(scopes)}-{rate}", scopes, rate)[1]


@sqlite_only
def test_without_a_key_beyond_loopback_the_api_refuses(exposed: TestClient) -> None:
    for method, path in (
        ("post", "/v1/predict"), ("get", "/v1/predictions"), ("get", "/v1/model"),
        ("get", "/v1/knowledge?gene=BRAF&variation=V600E"), ("post", "/v1/admin/reload"),
        ("get", "/metrics"), ("get", "/openapi.json"),
    ):  # fmt: skip
        response = getattr(exposed, method)(path, json=BODY) if method == "post" else (
            exposed.get(path))  # fmt: skip
        assert response.status_code == 401, (path, response.text)
        assert "API key" in response.json()["detail"]
        assert response.headers["www-authenticate"].startswith("ApiKey")
    wrong = exposed.post("/v1/predict", json=BODY, headers={"X-API-Key": "onc_0000_nope"})
    assert wrong.status_code == 401 and "not valid" in wrong.json()["detail"]
    # What orchestrators and people need without a key: health, the page.
    assert exposed.get("/health/ready").status_code == 200
    assert exposed.get("/health/live").status_code == 200
    assert exposed.get("/").status_code == 200


@sqlite_only
def test_scopes_decide_what_a_key_may_do(exposed: TestClient) -> None:
    predict = {"X-API-Key": _key(exposed, "predict")}
    history = {"Authorization": f"Bearer {_key(exposed, 'history')}"}
    admin = {"X-API-Key": _key(exposed, "admin")}
    made = exposed.post("/v1/predict", json=BODY, headers=predict)
    assert made.status_code == 200
    denied = exposed.get("/v1/predictions", headers=predict)
    assert denied.status_code == 403 and "'history' scope" in denied.json()["detail"]
    assert exposed.get(f"/v1/predictions/{made.json()['id']}", headers=history).status_code == 200
    assert exposed.post("/v1/predict", json=BODY, headers=history).status_code == 403
    assert exposed.get("/metrics", headers=admin).status_code == 200
    assert exposed.get("/openapi.json", headers=predict).status_code == 200
    listed = exposed.get("/v1/admin/keys", headers=admin).json()
    assert all("key" not in k and "key_hash" not in k for k in listed) and len(listed) == 3


@sqlite_only
def test_keys_are_created_revoked_and_stored_hashed(exposed: TestClient) -> None:
    admin = {"X-API-Key": _key(exposed, "admin")}
    created = exposed.post(
        "/v1/admin/keys", json={"name": "lims", "scopes": ["predict"]}, headers=admin
    )
    assert created.status_code == 201
    secret = created.json()["key"]
    assert exposed.post("/v1/predict", json=BODY, headers={"X-API-Key": secret}).status_code == 200
    from sqlalchemy import create_engine, text

    engine = create_engine(exposed.app.state.api.service.settings.resolved_database_url)
    with engine.connect() as connection:
        stored = connection.execute(text("SELECT * FROM api_keys")).mappings().all()
    engine.dispose()
    assert secret not in str(stored)  # only its hash
    assert exposed.delete("/v1/admin/keys/lims", headers=admin).status_code == 200
    after = exposed.post("/v1/predict", json=BODY, headers={"X-API-Key": secret})
    assert after.status_code == 401
    bad = exposed.post("/v1/admin/keys", json={"name": "x", "scopes": ["root"]}, headers=admin)
    assert bad.status_code == 422


@sqlite_only
def test_each_key_is_rate_limited(exposed: TestClient) -> None:
    limited = {"X-API-Key": _key(exposed, "predict", rate=60)}  # 1/s, bursts of 6... (min 5)
    codes = [exposed.get("/v1/model", headers=limited).status_code for _ in range(12)]
    assert codes.count(200) >= 5 and codes[-1] == 429
    response = exposed.get("/v1/model", headers=limited)
    assert response.status_code == 429 and int(response.headers["retry-after"]) >= 1
    other = {"X-API-Key": _key(exposed, "predict")}
    assert exposed.get("/v1/model", headers=other).status_code == 200  # per key


@sqlite_only
def test_on_loopback_no_key_is_needed(client: TestClient) -> None:
    assert client.post("/v1/predict", json=BODY).status_code == 200
    assert client.get("/v1/predictions").status_code == 200
    assert client.get("/openapi.json").status_code == 200


@sqlite_only
def test_every_answer_carries_the_security_headers(client: TestClient) -> None:
    for path in ("/", "/v1/model", "/health/live", "/nope"):
        headers = client.get(path).headers
        assert headers["x-content-type-options"] == "nosniff", path
        assert headers["referrer-policy"] == "no-referrer", path


def test_keys_from_the_command_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ONCOCLASS_DATA_HOME", str(tmp_path / "home"))
    get_settings.cache_clear()
    runner = CliRunner()
    try:
        made = runner.invoke(cli, ["keys", "create", "lims", "--scope", "predict", "-s", "history"])
        assert made.exit_code == 0, made.output
        secret = made.output.strip().splitlines()[-1]
        assert secret.startswith("onc_")
        listed = runner.invoke(cli, ["keys", "list"])
        assert "lims" in listed.output and secret not in listed.output
        assert "predict" in listed.output and "history" in listed.output
        assert runner.invoke(cli, ["keys", "revoke", "lims"]).exit_code == 0
        assert "revoked" in runner.invoke(cli, ["keys", "list"]).output
        bad = runner.invoke(cli, ["keys", "create", "x", "--scope", "root"])
        assert bad.exit_code == 2 and "scopes must be" in bad.output
    finally:
        get_settings.cache_clear()
