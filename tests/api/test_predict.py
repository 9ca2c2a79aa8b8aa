"""POST /v1/predict: the full answer, storage in the history, and clear 4xx on bad input."""

from __future__ import annotations

import math

import pytest
from fastapi.testclient import TestClient

from oncoclass.predictor import Predictor

sqlite_only = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


def _field_errors(response) -> list[str]:  # noqa: ANN001
    """The field names a 422/413 answer blames (last element of each ``loc``)."""
    detail = response.json()["detail"]
    assert isinstance(detail, list), detail
    return [str(e["loc"][-1]) for e in detail]


def test_predict_answers_everything_and_stores_it(
    client: TestClient, payload: dict, predictor: Predictor
) -> None:
    response = client.post("/v1/predict", json=payload)
    assert response.status_code == 200, response.text
    body = response.json()

    classes = {c.label: c.name for c in predictor.classes}
    assert body["label"] in classes and body["name"] == classes[body["label"]]
    probabilities = {p["label"]: p["probability"] for p in body["probabilities"]}
    assert set(probabilities) == set(classes)
    assert math.isclose(sum(probabilities.values()), 1.0, abs_tol=1e-6)
    assert body["probability"] == max(probabilities.values()) == probabilities[body["label"]]

    # Evidence: sentences of the text, with their occlusion weights.
    assert body["evidence"], "the text's sentences should be explained"
    for span in body["evidence"]:
        assert payload["text"][span["start"] : span["end"]] == span["text"]
        assert isinstance(span["weight"], float)

    # Saying when not to trust it: the set, the margin, novelty, warnings in words and as flags.
    flags = body["flags"]
    assert set(flags) == {
        "text_off_topic", "out_of_distribution", "close_call", "unknown_gene",
        "unknown_variation", "no_text",
    }  # fmt: skip
    assert {w["code"] for w in body["warnings"]} == {f for f, on in flags.items() if on}
    assert all(w["message"] and w["severity"] in ("warning", "info") for w in body["warnings"])
    ranked = sorted(probabilities.values(), reverse=True)
    assert body["margin"] == pytest.approx(ranked[0] - ranked[1])
    assert flags["close_call"] == (body["margin"] < predictor.min_margin)
    assert body["prediction_set"]["labels"][0] == body["label"]
    assert body["prediction_set"]["coverage"] == predictor.coverage == 0.9
    assert body["group"]["title"] == "evidence type"
    assert body["group"]["label"] == body["label"].split(":")[0]
    assert body["text_mentions"] == {"gene": True, "variation": True}
    novelty = body["novelty"]
    assert 0 <= novelty["score"] <= 1 and novelty["threshold"] is not None
    assert (
        novelty["flagged"]
        == flags["out_of_distribution"]
        == (novelty["score"] >= novelty["threshold"])
    )
    parsed = body["parsed_variation"]
    assert (
        parsed["type"],
        parsed["normalized"],
        parsed["ref"],
        parsed["alt"],
        parsed["position"],
    ) == ("missense", "V600E", "V", "E", 600)
    assert body["model"] == {
        "name": predictor.model_name,
        "version": predictor.model_version,
        "knowledge_release": "01-Aug-2024",
        "trained_on": "01-Aug-2024",
    }
    assert (body["gene"], body["variation"], body["disease"], body["drugs"]) == (
        "BRAF",
        "V600E",
        "Melanoma",
        ["Vemurafenib"],
    )

    kb = body["knowledge"]
    assert kb["match"] == "exact" and kb["total"] >= len(kb["items"]) > 0
    assert all(item["gene"] == "BRAF" for item in kb["items"])
    linked = [i for i in kb["items"] if i["pubmed_id"]]
    assert linked and all(
        i["pubmed_url"] == f"https://pubmed.ncbi.nlm.nih.gov/{i['pubmed_id']}/" for i in linked
    )

    # The same prediction, read back from the history.
    stored = client.get(f"/v1/predictions/{body['id']}")
    assert stored.status_code == 200
    again = stored.json()
    for key in (
        "id",
        "created_at",
        "label",
        "probabilities",
        "evidence",
        "flags",
        "warnings",
        "prediction_set",
        "novelty",
        "text",
        "parsed_variation",
        "model",
        "gene",
        "drugs",
    ):
        assert again[key] == body[key], key
    assert again["knowledge"]["match"] == "exact"


@sqlite_only
def test_spellings_of_one_variant_parse_and_match_alike(client: TestClient) -> None:
    answers = [
        client.post("/v1/predict", json={"gene": "BRAF", "variation": v}).json()
        for v in ("V600E", "Val600Glu", "p.V600E")
    ]
    assert {a["parsed_variation"]["normalized"] for a in answers} == {"V600E"}
    assert {a["knowledge"]["match"] for a in answers} == {"exact"}
    assert len({a["id"] for a in answers}) == 3


@sqlite_only
def test_unknown_gene_is_normal_input(client: TestClient) -> None:
    response = client.post("/v1/predict", json={"gene": "NOTAGENE1", "variation": "Q61L"})
    assert response.status_code == 200
    body = response.json()
    assert body["flags"]["unknown_gene"] is True
    kb = body["knowledge"]
    assert (kb["available"], kb["match"], kb["normalized"], kb["total"]) == (
        True, "none", "Q61L", 0
    )  # fmt: skip
    assert kb["items"] == [] and kb["best_level"] is None and kb["release"] == "01-Aug-2024"
    assert body["evidence"] == []  # no text, nothing to explain


@sqlite_only
@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"gene": "", "variation": "V600E"}, "gene"),
        ({"gene": "   ", "variation": "V600E"}, "gene"),
        ({"variation": "V600E"}, "gene"),
        ({"gene": None, "variation": "V600E"}, "gene"),
        ({"gene": 7, "variation": "V600E"}, "gene"),
        ({"gene": "BRAF"}, "variation"),
        ({"gene": "BRAF", "variation": ""}, "variation"),
        ({"gene": "B" * 101, "variation": "V600E"}, "gene"),
        ({"gene": "BRAF", "variation": "V600E", "drugs": "x" * 201}, "0"),
        ({"gene": "BRAF", "variation": "V600E", "drugs": [1]}, "0"),
        ({"gene": "BRAF", "variation": "V600E", "colour": "red"}, "colour"),
        ({"gene": "BRAF", "variation": "V600E", "text": 5}, "text"),
    ],
)
def test_bad_fields_are_422_naming_the_field(client: TestClient, body: dict, field: str) -> None:
    response = client.post("/v1/predict", json=body)
    assert response.status_code == 422, response.text
    assert field in _field_errors(response)


@sqlite_only
def test_text_over_the_limit_is_refused_naming_text(client: TestClient, payload: dict) -> None:
    limit = client.get("/v1/model").json()["limits"]["max_text_chars"]
    response = client.post("/v1/predict", json={**payload, "text": "a" * (limit + 1)})
    assert response.status_code in (413, 422)
    assert _field_errors(response) == ["text"]
    assert f"{limit:,}" in response.json()["detail"][0]["msg"]
    assert client.post("/v1/predict", json={**payload, "text": "a" * limit}).status_code == 200


@sqlite_only
@pytest.mark.parametrize(
    "raw",
    [b"{", b'{"gene": "BRAF", "variation": }', b"", b"null", b"[]", b'"BRAF V600E"', b"{}"],
)
def test_malformed_json_is_422(client: TestClient, raw: bytes) -> None:
    response = client.post("/v1/predict", content=raw, headers={"content-type": "application/json"})
    assert response.status_code == 422, response.text


@sqlite_only
def test_a_body_that_is_not_text_is_a_client_error(client: TestClient) -> None:
    # FastAPI answers 400 for some bytes that are not UTF-8 at all (not even malformed JSON).
    response = client.post(
        "/v1/predict",
        content=b"\xff\xfe\x00\x81binary",
        headers={"content-type": "application/json"},
    )
    assert response.status_code in (400, 422)


@sqlite_only
def test_task_is_checked_against_the_loaded_model(client: TestClient, payload: dict) -> None:
    ok = client.post("/v1/predict", json={**payload, "task": "clinical-significance"})
    assert ok.status_code == 200
    for task in ("nope", "mutation-effect"):
        response = client.post("/v1/predict", json={**payload, "task": task})
        assert response.status_code == 422, task
        assert _field_errors(response) == ["task"]
        assert task in response.json()["detail"][0]["msg"]


@sqlite_only
def test_nul_and_lone_surrogates_are_cleaned(client: TestClient) -> None:
    body = '{"gene": "BRAF\\u0000", "variation": "V600E", "text": "odd \\ud800 text."}'
    response = client.post(
        "/v1/predict", content=body, headers={"content-type": "application/json"}
    )
    assert response.status_code == 200, response.text
    assert response.json()["gene"] == "BRAF"
    assert "\x00" not in response.json()["text"]
