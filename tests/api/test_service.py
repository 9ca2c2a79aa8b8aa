"""The model card, /health, /metrics, OpenAPI, and how the service starts (with or without a
model, a knowledge base, an existing database)."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from oncoclass.api.app import create_app
from oncoclass.data import fetch_civic
from oncoclass.knowledge import KnowledgeBase
from oncoclass.predictor import Predictor
from oncoclass.settings import Settings

sqlite_only = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


def _samples(text: str, name: str) -> dict[tuple[tuple[str, str], ...], float]:
    """Prometheus samples of the metric family ``name``: labels -> value."""
    for family in text_string_to_metric_families(text):
        if family.name == name:
            return {
                tuple(sorted(s.labels.items())): s.value
                for s in family.samples
                if s.name.endswith("_total") or s.name == name
            }
    return {}


@sqlite_only
def test_model_card(client: TestClient, predictor: Predictor) -> None:
    response = client.get("/v1/model")
    assert response.status_code == 200
    card = response.json()
    assert card["task"] == "clinical-significance" and card["task_description"]
    assert card["name"] == predictor.model_name == "ensemble"  # the model that ships
    assert card["version"] == predictor.model_version
    assert [c["label"] for c in card["classes"]] == [c.label for c in predictor.classes]
    assert all(c["name"] for c in card["classes"])
    training = card["training"]
    assert training["n_samples"] == sum(training["label_counts"].values()) > 100
    assert training["fingerprint"] == predictor.card["training"]["fingerprint"]
    assert len(training["fingerprint"]) == 16
    assert isinstance(card["metrics"], dict)
    assert card["limits"] == {
        "max_text_chars": 5_000, "max_batch_rows": 200, "min_margin": 0.2, "set_coverage": 0.9
    }  # fmt: skip
    assert client.get("/v1/model", params={"task": "clinical-significance"}).status_code == 200
    unknown = client.get("/v1/model", params={"task": "nope"})
    assert unknown.status_code == 422
    assert unknown.json()["detail"][0]["loc"] == ["query", "task"]
    assert client.get("/v1/model", params={"task": "mutation-effect"}).status_code == 404


@sqlite_only
def test_health(client: TestClient, predictor: Predictor) -> None:
    health = client.get("/health").json()
    assert health["status"] == "ok" and health["model_loaded"] is True
    assert health["model"] == {
        "name": predictor.model_name,
        "version": predictor.model_version,
        "knowledge_release": "01-Aug-2024",
        "trained_on": "01-Aug-2024",
    }
    assert health["problems"] == []
    assert client.get("/health/live").json() == {"status": "alive"}
    ready = client.get("/health/ready")
    assert ready.status_code == 200 and ready.json()["status"] == "ok"
    assert health["database"] == {"reachable": True, "backend": "sqlite"}
    assert health["knowledge_base"]["loaded"] is True
    assert health["knowledge_base"]["size"] == 4375
    assert health["knowledge_base"]["release"] == "01-Aug-2024"


@sqlite_only
def test_metrics_count_requests_per_route_and_predictions_per_class(
    client: TestClient,
    app,
    settings: Settings,
    predictor: Predictor,  # noqa: ANN001
    knowledge: KnowledgeBase,
) -> None:
    labels = [
        client.post("/v1/predict", json={"gene": "BRAF", "variation": v}).json()["label"]
        for v in ("V600E", "V600K", "K601E")
    ]
    client.get("/v1/predictions/999")
    client.get("/no/such/path/123")
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    text = response.text

    requests = _samples(text, "oncoclass_http_requests")
    key = (("method", "POST"), ("route", "/v1/predict"), ("status", "200"))
    assert requests[key] == 3
    assert (
        requests[
            (("method", "GET"), ("route", "/v1/predictions/{prediction_id}"), ("status", "404"))
        ]
        == 1
    )
    assert requests[(("method", "GET"), ("route", "<unmatched>"), ("status", "404"))] == 1
    assert "oncoclass_http_request_duration_seconds_bucket" in text
    predictions = _samples(text, "oncoclass_predictions")
    for label in set(labels):
        assert predictions[(("label", label), ("source", "predict"))] == labels.count(label)
    assert "oncoclass_knowledge_base_items 4375.0" in text

    # Another app in the same process counts on its own (a registry per app).
    with TestClient(create_app(settings, predictor, knowledge=knowledge)) as other:
        fresh = _samples(other.get("/metrics").text, "oncoclass_http_requests")
        assert key not in fresh


@sqlite_only
def test_openapi_is_published(client: TestClient) -> None:
    schema = client.get("/openapi.json").json()
    paths = schema["paths"]
    for path, method in [
        ("/v1/predict", "post"),
        ("/v1/predict/batch", "post"),
        ("/v1/predictions", "get"),
        ("/v1/predictions/{prediction_id}", "get"),
        ("/v1/model", "get"),
        ("/health", "get"),
        ("/metrics", "get"),
    ]:
        assert method in paths[path], path
    batch_body = paths["/v1/predict/batch"]["post"]["requestBody"]["content"]
    assert set(batch_body) == {"application/json", "multipart/form-data"}
    components = schema["components"]["schemas"]
    for name in (
        "PredictionCreate",
        "PredictionPublic",
        "BatchCreate",
        "BatchItem",
        "AnnotationPublic",
        "ModelPublic",
        "PredictionList",
        "HealthPublic",
    ):
        assert name in components, name
    assert components["BatchCreate"]["properties"]["items"]["items"]["$ref"].endswith("BatchItem")
    assert client.get("/docs").status_code == 200


def test_without_a_model_the_service_starts_degraded(tmp_path: Path, database_url: str) -> None:
    settings = Settings(
        data_home=tmp_path / "home", model_dir=tmp_path / "no-model", database_url=database_url
    )
    with TestClient(create_app(settings)) as client:
        health = client.get("/health").json()
        assert health["status"] == "degraded" and health["model_loaded"] is False
        assert "no trained model" in health["model_error"]
        kb = health["knowledge_base"]
        assert (kb["loaded"], kb["status"], kb["size"]) == (False, "missing", 0)
        assert "oncoclass data fetch civic" in kb["reason"]
        ready = client.get("/health/ready")
        assert ready.status_code == 503
        assert any("no model" in p for p in ready.json()["problems"])
        assert client.get("/health/live").status_code == 200
        response = client.post("/v1/predict", json={"gene": "BRAF", "variation": "V600E"})
        assert response.status_code == 503 and "oncoclass train" in response.json()["detail"]
        assert client.get("/v1/model").status_code == 503
        assert client.get("/v1/predictions").json()["total"] == 0


@sqlite_only
def test_model_and_knowledge_base_from_the_data_home(
    tmp_path: Path, database_url: str, model_dir: Path, civic_dir: Path
) -> None:
    """What ``oncoclass serve`` does: everything from Settings, nothing passed in."""
    home = tmp_path / "home"
    fetch_civic(home, from_path=civic_dir, progress=False)
    settings = Settings(data_home=home, model_dir=model_dir)  # default database: in the home
    with TestClient(create_app(settings)) as client:
        health = client.get("/health").json()
        assert health["status"] == "ok" and health["knowledge_base"]["size"] == 4375
        body = client.post("/v1/predict", json={"gene": "BRAF", "variation": "Val600Glu"}).json()
        assert body["knowledge"]["match"] == "exact"
    assert (home / "history.sqlite3").is_file()

    # A restart finds the history (and its migrations) in place.
    with TestClient(create_app(settings)) as client:
        assert client.get("/v1/predictions").json()["total"] == 1


@sqlite_only
def test_a_damaged_model_is_refused_naming_the_file(
    tmp_path: Path, database_url: str, model_dir: Path
) -> None:
    """A truncated weight file: the service starts, is not ready, and says which file."""
    import shutil

    damaged = tmp_path / "model"
    shutil.copytree(model_dir, damaged)
    weights = next(damaged.rglob("weights.pt"))
    weights.write_bytes(weights.read_bytes()[:1000])
    settings = Settings(data_home=tmp_path / "home", model_dir=damaged, database_url=database_url)
    with TestClient(create_app(settings)) as client:
        ready = client.get("/health/ready")
        assert ready.status_code == 503
        assert "weights.pt" in ready.json()["model_error"]
        assert "checksum" in ready.json()["model_error"]
        assert (
            client.post("/v1/predict", json={"gene": "BRAF", "variation": "V600E"}).status_code
            == 503
        )
