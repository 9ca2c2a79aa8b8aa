"""POST /v1/predict/batch: JSON items, CSV and real MAF uploads, per-row errors, limits, CSV."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from oncoclass.api.batch import read_table
from oncoclass.errors import InvalidInputError

sqlite_only = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
MAF = "msk_summit_neratinib/data_mutations_extended.txt"


def test_bad_rows_get_their_own_error_and_the_others_are_scored(client: TestClient) -> None:
    items = [
        {"gene": "BRAF", "variation": "V600E", "text": "Responds to vemurafenib."},
        {"gene": "", "variation": "V600E"},
        {"gene": "KRAS"},
        {"gene": "EGFR", "variation": "L858R", "text": "x" * 5_001},
        {"gene": "EGFR", "variation": "T790M", "drugs": "Erlotinib; Gefitinib", "sample": "S1"},
        "not an object",
    ]
    response = client.post("/v1/predict/batch", json={"items": items})
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["total"], body["scored"], body["failed"]) == (6, 2, 4)
    assert [r["row"] for r in body["results"]] == [1, 2, 3, 4, 5, 6]
    assert [r["ok"] for r in body["results"]] == [True, False, False, False, True, False]
    errors = {e["row"]: e for e in body["errors"]}
    assert errors[2]["field"] == "gene" and "empty" in errors[2]["message"]
    assert errors[3]["field"] == "variation"
    assert errors[4]["field"] == "text" and "5,000" in errors[4]["message"]
    assert errors[6]["field"] is None
    assert body["results"][3]["gene"] == "EGFR"  # a failed row still says which variant it was

    ok = body["results"][4]
    assert ok["prediction"]["drugs"] == ["Erlotinib", "Gefitinib"]
    assert ok["sample"] == ok["prediction"]["sample"] == "S1"
    assert ok["prediction"]["evidence"] == []  # batch rows are not explained unless asked
    assert ok["prediction"]["knowledge"]["match"] in ("exact", "position", "type", "none")

    # The scored rows are in the history, under one batch id.
    history = client.get("/v1/predictions").json()
    assert history["total"] == 2
    assert {p["batch_id"] for p in history["items"]} == {body["batch_id"]}
    assert {p["row"] for p in history["items"]} == {1, 5}


@sqlite_only
def test_explain_on_request(client: TestClient) -> None:
    item = {"gene": "BRAF", "variation": "V600E", "text": "One sentence. Another sentence."}
    body = client.post("/v1/predict/batch", json={"items": [item], "explain": True}).json()
    assert len(body["results"][0]["prediction"]["evidence"]) == 2
    too_many = {"items": [item] * 101, "explain": True}
    response = client.post("/v1/predict/batch", json=too_many)
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "explain"]


@sqlite_only
def test_too_many_rows_is_413_with_a_clear_message(client: TestClient) -> None:
    items = [{"gene": "BRAF", "variation": "V600E"}] * 201
    response = client.post("/v1/predict/batch", json={"items": items})
    assert response.status_code == 413
    assert "200" in response.json()["detail"][0]["msg"]
    table = "gene,variation\n" + "BRAF,V600E\n" * 201
    upload = client.post("/v1/predict/batch", files={"file": ("t.csv", table, "text/csv")})
    assert upload.status_code == 413
    assert client.get("/v1/predictions").json()["total"] == 0


@sqlite_only
@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"items": "BRAF"}, "items"),
        ({}, "items"),
        ([], "items"),
        ({"items": [], "task": "nope"}, "task"),
        ({"items": [], "explain": "maybe"}, "explain"),
        ({"items": [], "colour": 1}, "colour"),
    ],
)
def test_malformed_batches_are_422(client: TestClient, body: object, field: str) -> None:
    response = client.post("/v1/predict/batch", json=body)
    assert response.status_code == 422, response.text
    assert response.json()["detail"][0]["loc"][-1] == field


@sqlite_only
def test_empty_batch_is_fine(client: TestClient) -> None:
    body = client.post("/v1/predict/batch", json={"items": []}).json()
    assert (body["total"], body["scored"], body["batch_id"]) == (0, 0, None)


def test_csv_upload_with_optional_columns(client: TestClient) -> None:
    table = (
        "Gene,Variation,Disease,Drugs,Text\n"
        'BRAF,V600E,Melanoma,"Dabrafenib, Trametinib","Responds, durably, to dabrafenib."\n'
        ",R273C,,,\n"
        "TP53,R273C,,,\n"
    )
    response = client.post("/v1/predict/batch", files={"file": ("mine.csv", table, "text/csv")})
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["scored"], body["failed"]) == (2, 1)
    first = body["results"][0]["prediction"]
    assert first["drugs"] == ["Dabrafenib", "Trametinib"]
    assert first["text"] == "Responds, durably, to dabrafenib."
    assert body["errors"] == [{"row": 2, "field": "gene", "message": "gene is empty"}]


def test_real_maf_upload(client: TestClient, shared_data: Path) -> None:
    """The MSK SUMMIT MAF: '#' comments skipped, Hugo_Symbol + HGVSp_Short, 190 rows."""
    maf = (shared_data / MAF).read_bytes()
    response = client.post(
        "/v1/predict/batch",
        files={"file": ("data_mutations_extended.txt", maf, "text/plain")},
        data={"disease": "Biliary Tract Cancer"},
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["total"] == 190
    assert body["scored"] + body["failed"] == 190 and body["scored"] >= 180
    rows = {r["row"]: r for r in body["results"]}
    atm = rows[1]["prediction"]
    assert (atm["gene"], atm["variation"], atm["sample"]) == ("ATM", "p.R1917T", "P7_A")
    assert atm["parsed_variation"]["normalized"] == "R1917T"
    assert atm["disease"] == "Biliary Tract Cancer"
    assert rows[2]["prediction"]["parsed_variation"]["type"] == "splice"  # p.X2151_splice
    assert client.get("/v1/predictions?limit=0").json()["total"] == body["scored"]


@sqlite_only
def test_csv_download(client: TestClient, predictor) -> None:  # noqa: ANN001
    items = [{"gene": "BRAF", "variation": "V600E", "sample": "=cmd()"}, {"gene": "BRAF"}]
    for kwargs in ({"params": {"format": "csv"}}, {"headers": {"accept": "text/csv"}}):
        response = client.post("/v1/predict/batch", json={"items": items}, **kwargs)
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/csv")
        assert "attachment" in response.headers["content-disposition"]
        rows = list(csv.DictReader(io.StringIO(response.text)))
        assert [r["status"] for r in rows] == ["ok", "error"]
        assert rows[0]["sample"] == "'=cmd()"  # no formula injection in spreadsheets
        assert rows[0]["civic_match"] == "exact" and int(rows[0]["civic_items"]) > 0
        assert float(rows[0][f"p[{rows[0]['label']}]"]) == float(rows[0]["probability"])
        assert len(rows[0]["probability"]) <= 6  # rounded for people, not 17 digits
        assert rows[0]["prediction_set"].split(" | ")[0] == rows[0]["name"]
        assert "no_text" in rows[0]["warnings"].split(" | ")
        assert (rows[1]["error_field"], rows[1]["gene"]) == ("variation", "BRAF")
        assert len([k for k in rows[0] if k.startswith("p[")]) == len(predictor.classes)


@sqlite_only
@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "binary"),
        (b"", "empty"),
        (b"name,colour\nBRAF,red\n", "no gene column"),
        (b"gene\nBRAF\n", "no variation column"),
        (b"# only a comment\n", "empty"),
    ],
)
def test_unreadable_uploads_are_422_naming_the_file(
    client: TestClient, content: bytes, message: str
) -> None:
    response = client.post("/v1/predict/batch", files={"file": ("x.csv", content)})
    assert response.status_code == 422, response.text
    error = response.json()["detail"][0]
    assert error["loc"][-1] == "file" and message in error["msg"]


@sqlite_only
def test_upload_without_a_file_field_and_other_media_types(client: TestClient) -> None:
    response = client.post(
        "/v1/predict/batch", data={"other": "x"}, files={"nofile": ("x.csv", b"gene,variation\n")}
    )
    assert response.status_code == 422
    response = client.post(
        "/v1/predict/batch", content=b"gene,variation", headers={"content-type": "text/csv"}
    )
    assert response.status_code == 415


def test_read_table_formats() -> None:
    tsv = b"#version 2.4\n#more\nHugo_Symbol\tHGVSp_Short\tTumor_Sample_Barcode\nTP53\tp.R273C\tS\n"
    [row] = read_table(tsv, max_rows=10)
    assert row.values == {"gene": "TP53", "variation": "p.R273C", "sample": "S"}
    semicolon = "gène;variation;text\nBRAF;V600E;caf\xe9\n".encode("latin-1")  # an Excel export
    with pytest.raises(InvalidInputError, match="no gene column"):
        read_table(semicolon, max_rows=10)
    [row] = read_table("gene;variation;text\nBRAF;V600E;caf\xe9\n".encode("cp1252"), max_rows=10)
    assert row.values["text"] == "café"
    blank_lines = b"gene,variation\n\nBRAF,V600E\n,\n"
    assert [r.row for r in read_table(blank_lines, max_rows=10)] == [1]
