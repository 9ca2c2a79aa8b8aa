"""POST /v1/predict/batch: JSON items and VCF / MAF / CSV uploads give one answer schema (the
annotation: distinct variants scored once, every row kept), per-row errors, 4xx for bad files
naming the line, limits while reading, and a CSV for people."""

from __future__ import annotations

import csv
import gzip
import io
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from oncoclass.api import batch as batch_io
from oncoclass.predictor import Predictor
from oncoclass.schemas import AnnotationPublic

sqlite_only = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
MAF = "msk_summit_neratinib/data_mutations_extended.txt"
VCF = "vcf/pvactools_protein_altering_TN_GRCh38_vep95.vcf"
BATCH = "/v1/predict/batch"


def upload(client: TestClient, name: str, content: bytes | str, **kwargs: object) -> object:
    return client.post(BATCH, files={"file": (name, content, "application/octet-stream")}, **kwargs)


def test_bad_rows_get_their_own_error_and_the_others_are_scored(client: TestClient) -> None:
    items = [
        {"gene": "BRAF", "variation": "V600E", "text": "Responds to vemurafenib."},
        {"gene": "", "variation": "V600E"},
        {"gene": "KRAS"},
        {"gene": "EGFR", "variation": "L858R", "text": "x" * 5_001},
        {"gene": "EGFR", "variation": "T790M", "drugs": "Erlotinib; Gefitinib", "sample": "S1"},
        "not an object",
    ]
    response = client.post(BATCH, json={"items": items})
    assert response.status_code == 200, response.text
    body = AnnotationPublic.model_validate(response.json())
    assert (body.summary.rows, body.summary.scored, body.summary.failed) == (6, 2, 4)
    assert (body.source, body.format) == ("json", "json")
    assert [r.line for r in body.rows] == [1, 2, 3, 4, 5, 6]
    assert [r.status for r in body.rows] == ["scored"] + ["error"] * 3 + ["scored", "error"]
    errors = {e.row: e for e in body.errors}
    assert errors[2].field == "gene" and "empty" in errors[2].message
    assert errors[3].field == "variation"
    assert errors[4].field == "text" and "5,000" in errors[4].message
    assert errors[6].field is None
    assert body.rows[3].gene == "EGFR"  # a failed row still says which variant it was

    egfr = body.variants[body.rows[4].variant]
    assert egfr.samples == ["S1"] and egfr.prediction is not None
    assert egfr.prediction.drugs == ["Erlotinib", "Gefitinib"]
    assert egfr.prediction.evidence == []  # not explained unless asked
    assert egfr.knowledge is not None and egfr.knowledge.available

    # The scored variants are in the history, under one batch id.
    history = client.get("/v1/predictions").json()
    assert history["total"] == 2
    assert {p["batch_id"] for p in history["items"]} == {body.batch_id}
    assert {p["row"] for p in history["items"]} == {1, 5}


@sqlite_only
def test_explain_on_request(client: TestClient) -> None:
    item = {"gene": "BRAF", "variation": "V600E", "text": "One sentence. Another sentence."}
    body = client.post(BATCH, json={"items": [item], "explain": True}).json()
    assert len(body["variants"][0]["prediction"]["evidence"]) == 2
    # The cost is per distinct text: 101 copies of one are one explanation, 101 texts too many.
    assert client.post(BATCH, json={"items": [item] * 101, "explain": True}).status_code == 200
    texts = [item | {"text": f"Sentence {i}. Another."} for i in range(101)]
    response = client.post(BATCH, json={"items": texts, "explain": True})
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "explain"]


@sqlite_only
def test_too_many_rows_or_too_much_text_is_413(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    items = [{"gene": "BRAF", "variation": "V600E"}] * 201
    response = client.post(BATCH, json={"items": items})
    assert response.status_code == 413
    error = response.json()["detail"][0]
    assert "200" in error["msg"] and error["loc"][-1] == "items"
    table = "gene,variation\n" + "BRAF,V600E\n" * 201
    response = upload(client, "t.csv", table)
    assert response.status_code == 413 and "200 rows" in response.json()["detail"][0]["msg"]

    monkeypatch.setattr(batch_io, "MAX_BATCH_TEXT_CHARS", 1_000)
    texts = [{"gene": "BRAF", "variation": "V600E", "text": "t" * 400}] * 3
    response = client.post(BATCH, json={"items": texts})
    assert response.status_code == 413 and "1,000 characters" in response.text
    assert client.get("/v1/predictions").json()["total"] == 0  # nothing stored


@sqlite_only
def test_upload_over_the_byte_limit_is_stopped_while_read(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Also without a Content-Length (a chunked body): the limit is counted as it streams."""
    monkeypatch.setattr(batch_io, "MAX_UPLOAD_BYTES", 10_000)
    monkeypatch.setattr(batch_io, "FORM_OVERHEAD_BYTES", 1_000)
    sent: list[int] = []
    boundary = "oncoclass-test-boundary"

    def chunked() -> Iterator[bytes]:
        yield (
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="big.csv"\r\n'
            "Content-Type: text/csv\r\n\r\ngene,variation\r\n"
        ).encode()
        for _ in range(1_000):  # 100 kB in all, far over the limit
            sent.append(1)
            yield b"BRAF,V600E\n" * 10
        yield f"\r\n--{boundary}--\r\n".encode()

    response = client.post(
        BATCH,
        content=chunked(),
        headers={"content-type": f"multipart/form-data; boundary={boundary}"},
    )
    assert response.status_code == 413, response.text
    assert "MiB" in response.json()["detail"][0]["msg"]
    # A file under the form limit but over the file limit is refused while it is copied.
    monkeypatch.setattr(batch_io, "FORM_OVERHEAD_BYTES", 100_000)
    response = upload(client, "big.csv", "gene,variation\n" + "BRAF,V600E\n" * 1_000)
    assert response.status_code == 413
    chunked_json = (b'{"items": []' + b" " * 20_000 + b"}" for _ in range(1))
    response = client.post(
        BATCH, content=chunked_json, headers={"content-type": "application/json"}
    )
    assert response.status_code == 413


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
    response = client.post(BATCH, json=body)
    assert response.status_code == 422, response.text
    assert response.json()["detail"][0]["loc"][-1] == field


@sqlite_only
def test_empty_batch_is_fine(client: TestClient) -> None:
    body = client.post(BATCH, json={"items": []}).json()
    assert (body["summary"]["rows"], body["summary"]["scored"], body["batch_id"]) == (0, 0, None)


def test_csv_upload_with_optional_columns(client: TestClient) -> None:
    table = (
        "Gene,Variation,Disease,Drugs,Text,Sample\n"
        'BRAF,V600E,Melanoma,"Dabrafenib, Trametinib","Responds, durably, to dabrafenib.",P1\n'
        ",R273C,,,,P2\n"
        "TP53,R273C,,,,P2\n"
    )
    response = upload(client, "mine.csv", table)
    assert response.status_code == 200, response.text
    body = AnnotationPublic.model_validate(response.json())
    assert (body.format, body.source, body.summary.scored, body.summary.failed) == (
        "table",
        "mine.csv",
        2,
        1,
    )
    braf = body.variants[0].prediction
    assert braf.drugs == ["Dabrafenib", "Trametinib"] and braf.disease == "Melanoma"
    assert braf.text == "Responds, durably, to dabrafenib."
    assert [(e.row, e.field, e.message) for e in body.errors] == [(3, "gene", "gene is empty")]


def test_real_maf_upload(client: TestClient, shared_data: Path) -> None:
    """The MSK SUMMIT MAF: each of its 137 variants scored once, 190 rows kept per sample."""
    maf = (shared_data / MAF).read_bytes()
    response = upload(
        client, "data_mutations_extended.txt", maf, data={"disease": "Biliary Tract Cancer"}
    )
    assert response.status_code == 200, response.text
    body = AnnotationPublic.model_validate(response.json())
    s = body.summary
    assert (s.rows, s.variants, s.samples, s.scored, s.failed) == (190, 137, 32, 137, 0)
    assert body.format == "maf" and body.disease == "Biliary Tract Cancer"
    atm = body.variants[body.rows[0].variant]
    assert (atm.gene, atm.variation, atm.samples) == ("ATM", "R1917T", ["P7_A"])
    assert atm.prediction.parsed_variation.normalized == "R1917T"
    assert atm.prediction.disease == "Biliary Tract Cancer"
    splice = body.variants[body.rows[1].variant]
    assert splice.prediction.parsed_variation.type == "splice"  # p.X2151_splice
    erbb2 = next(v for v in body.variants if (v.gene, v.variation) == ("ERBB2", "S310F"))
    assert erbb2.n_samples == 13 and erbb2.tier is not None and erbb2.therapies
    # One history row per distinct scored variant, not per sample.
    assert client.get("/v1/predictions?limit=0").json()["total"] == 137


@sqlite_only
def test_real_vcf_upload_plain_and_gzipped(client: TestClient, shared_data: Path) -> None:
    vcf = (shared_data / VCF).read_bytes()
    plain = upload(client, "tumour.vcf", vcf).json()
    packed = upload(client, "tumour.vcf.gz", gzip.compress(vcf)).json()
    assert plain["format"] == packed["format"] == "vcf"
    assert plain["summary"] == packed["summary"]
    assert plain["summary"]["rows"] == 140 and plain["summary"]["non_coding"] > 0
    statuses = {r["status"] for r in plain["rows"]}
    assert statuses == {"scored", "non_coding"}
    non_coding = [v for v in plain["variants"] if not v["coding"]]
    assert all(v["prediction"] is None and v["note"] for v in non_coding)


@sqlite_only
def test_csv_download(client: TestClient, predictor: Predictor) -> None:
    items = [
        {"gene": "BRAF", "variation": "V600E", "sample": "=cmd()", "disease": "Melanoma"},
        {"gene": "BRAF", "variation": "V600E", "sample": "S2", "disease": "Melanoma"},
        {"gene": "BRAF", "sample": "S3"},
    ]
    for kwargs in ({"params": {"format": "csv"}}, {"headers": {"accept": "text/csv"}}):
        response = client.post(BATCH, json={"items": items}, **kwargs)
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/csv")
        assert "attachment" in response.headers["content-disposition"]
        rows = list(csv.DictReader(io.StringIO(response.text)))
        assert [r["status"] for r in rows] == ["scored", "scored", "error"]
        assert rows[0]["sample"] == "'=cmd()"  # no formula injection in spreadsheets
        assert rows[0]["tier"].startswith("Tier I") and "Vemurafenib" in rows[0]["therapies"]
        assert rows[0]["civic_url"].startswith("https://civicdb.org/")
        assert len(rows[0]["probability"]) <= 5  # rounded for people, not 17 digits
        assert rows[0]["prediction_set"].split(" | ")[0] == rows[0]["class"]
        assert rows[0]["class"] in {c.name for c in predictor.classes}
        assert "no evidence text" in rows[0]["warnings"]
        assert rows[2]["error"].startswith("variation:") and rows[2]["sample"] == "S3"


@sqlite_only
@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("x.png", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "binary"),
        ("x.csv", b"", "empty"),
        ("x.csv", b"name,colour\nBRAF,red\n", "no gene column"),
        ("x.csv", b"gene\nBRAF\n", "no variation column"),
        ("x.csv", b"# only a comment\n", "empty"),
        ("x.xlsx", b"PK\x03\x04 a workbook", "ZIP"),
        ("x.vcf", b"##fileformat=VCFv4.2\n#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n", "VEP"),
    ],
)
def test_unreadable_uploads_are_422_naming_the_file(
    client: TestClient, name: str, content: bytes, message: str
) -> None:
    response = upload(client, name, content)
    assert response.status_code == 422, response.text
    error = response.json()["detail"][0]
    assert error["loc"][-1] == "file" and message in error["msg"] and name in error["msg"]


@sqlite_only
def test_a_bad_line_is_named(client: TestClient) -> None:
    table = 'gene,variation,text\nBRAF,V600E,fine\nKRAS,G12D,"never closed\n' + "x\n" * 150
    response = upload(client, "C:\\lab\\runs\\mine.csv", table)
    assert response.status_code == 422
    message = response.json()["detail"][0]["msg"]
    assert message.startswith("mine.csv, line 3: ")  # the name without the client's path
    assert client.get("/v1/predictions").json()["total"] == 0


@sqlite_only
def test_upload_without_a_file_field_and_other_media_types(client: TestClient) -> None:
    response = client.post(BATCH, data={"other": "x"}, files={"nofile": ("x.csv", b"g,v\n")})
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"][-1] == "file"
    two = [("file", ("a.csv", b"gene,variation\n")), ("file", ("b.csv", b"gene,variation\n"))]
    assert client.post(BATCH, files=two).status_code == 422
    response = client.post(BATCH, content=b"gene,variation", headers={"content-type": "text/csv"})
    assert response.status_code == 415


@sqlite_only
def test_metrics_count_batch_variants_and_row_errors(client: TestClient) -> None:
    items = [{"gene": "BRAF", "variation": "V600E", "sample": s} for s in ("A", "B")]
    items.append({"gene": "", "variation": "X"})
    client.post(BATCH, json={"items": items})
    text = client.get("/metrics").text
    scored = [
        line
        for line in text.splitlines()
        if line.startswith("oncoclass_predictions_total") and 'source="batch"' in line
    ]
    assert sum(float(line.rsplit(" ", 1)[1]) for line in scored) == 1.0  # one variant
    assert 'oncoclass_batch_row_errors_total{field="gene"} 1.0' in text
