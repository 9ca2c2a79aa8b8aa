"""No input makes the service answer 5xx: odd text, huge numbers, nulls, wrong types, very long
strings, empty and binary bodies, on both databases (PostgreSQL refuses NUL characters, so
SQLite alone would hide a class of failures)."""

from __future__ import annotations

import json
from typing import Any

from fastapi import FastAPI
from fastapi.testclient import TestClient

JSON = {"content-type": "application/json"}
LONG = "V600E " * 200_000  # 1.2 MB


def _json(text: str) -> dict[str, Any]:
    return {"content": text.encode("utf-8", "surrogatepass"), "headers": JSON}


ODD_BODIES: list[Any] = [
    {"gene": "🧬", "variation": "V600E"},
    {"gene": "BRAF\u202e", "variation": "V600E\u200b", "text": "Ünïcödé ✓ 中文 \U0001f600. " * 50},
    {"gene": "BRAF", "variation": "V" + "9" * 400 + "E"},
    {"gene": "BRAF", "variation": "V999999999999E"},
    {"gene": "BRAF", "variation": "p."},
    {"gene": "BRAF", "variation": "(((("},
    {"gene": "BRAF", "variation": "*" * 499},
    {"gene": "BRAF", "variation": LONG},
    {"gene": "BRAF", "variation": "V600E", "text": LONG},
    {"gene": "BRAF", "variation": "V600E", "text": ". . . " * 800},
    {"gene": "BRAF", "variation": "V600E", "text": "\n\n\t \r"},
    {"gene": "BRAF", "variation": "V600E", "drugs": ["x"] * 51},
    {"gene": "BRAF", "variation": "V600E", "drugs": [None, "", " "]},
    {"gene": "BRAF", "variation": "V600E", "drugs": {"a": 1}},
    {"gene": {"a": 1}, "variation": ["V600E"]},
    {"gene": True, "variation": False},
    {"gene": None, "variation": None, "disease": None, "drugs": None, "text": None},
    {"gene": 10**100, "variation": 1e308},
    {"gene": "BRAF", "variation": "V600E", "task": 12},
    {"gene": "BRAF", "variation": "V600E", "task": "x" * 10_000},
    [],
    "BRAF V600E",
    12,
    None,
]
RAW_BODIES: list[str] = [
    "",
    " ",
    "{",
    '{"gene": NaN, "variation": Infinity}',
    '{"gene": "BRAF", "variation": -Infinity}',
    '{"gene": "BRAF", "variation": 1' + "0" * 5_000 + "}",
    '{"gene": "\\ud800", "variation": "\\udfff"}',
    '{"gene": "BRAF", "variation": "V600E", "text": "\\u0000\\u0000"}',
    '{"gene": "\\u0000", "variation": "\\u0000"}',
    '{"gene": "BRAF", "variation": "V600E", "disease": "\\ud83d"}',
    "[" * 100_000 + "]" * 100_000,
    '{"gene": "BRAF", "variation": "V600E", "gene": ""}',
]


def _requests() -> list[tuple[str, str, dict[str, Any]]]:
    calls: list[tuple[str, str, dict[str, Any]]] = []
    for path in ("/v1/predict", "/v1/predict/batch"):
        for body in ODD_BODIES:
            calls.append(("POST", path, {"json": body}))
            calls.append(("POST", "/v1/predict/batch", {"json": {"items": [body]}}))
        for raw in RAW_BODIES:
            calls.append(("POST", path, _json(raw)))
        calls += [
            ("POST", path, {"content": bytes(range(256)) * 64, "headers": JSON}),
            ("POST", path, {"content": b"gene=BRAF", "headers": {"content-type": "text/plain"}}),
            ("POST", path, {"files": {"file": ("x.bin", bytes(range(256)) * 64)}}),
            ("POST", path, {"data": {"gene": "BRAF", "variation": "V600E"}}),
            ("PUT", path, {"json": {}}),
            ("DELETE", path, {}),
            ("GET", path, {}),
        ]
    batch = "/v1/predict/batch"
    calls += [
        (
            "POST",
            batch,
            {
                "json": {
                    "items": [{"gene": "BRAF", "variation": "V600E"}] * 3,
                    "explain": "yes please",
                }
            },
        ),
        ("POST", batch, {"json": {"items": ODD_BODIES}}),
        ("POST", batch, {"json": {"items": [[1, 2], None, 3.5, "x"]}}),
        (
            "POST",
            batch,
            {"files": {"file": ("u16.csv", "gene,variation\nBRAF,V600E\n".encode("utf-16"))}},
        ),
        (
            "POST",
            batch,
            {
                "files": {
                    "file": ("big.csv", "gene,variation,text\nBRAF,V600E," + "x" * 2_000_000 + "\n")
                }
            },
        ),
        ("POST", batch, {"files": {"file": ("q.csv", 'gene,variation\n"BRAF,V600E\n')}}),
        ("POST", batch, {"files": {"file": ("nul.csv", "gene,variation\nBR\x00AF,V600E\n")}}),
        ("POST", batch, {"files": {"file": ("wide.csv", "gene,variation\n" + "a," * 100_000)}}),
        (
            "POST",
            batch,
            {
                "files": [
                    ("file", ("a.csv", b"gene,variation\nBRAF,V600E\n")),
                    ("file", ("b.csv", b"gene,variation\nBRAF,V600E\n")),
                ]
            },
        ),
        (
            "POST",
            batch,
            {
                "files": {"file": ("a.csv", b"gene,variation\nBRAF,V600E\n")},
                "data": {"task": "nope", "explain": "\x00"},
            },
        ),
        (
            "POST",
            batch,
            {
                "content": b"--x\r\nbroken",
                "headers": {"content-type": "multipart/form-data; boundary=x"},
            },
        ),
        ("POST", batch, {"content": b"{}", "headers": {"content-type": "multipart/form-data"}}),
    ]
    for query in (
        "limit=1e10",
        "offset=99999999999999999999999999",
        "gene=%00",
        "gene=%ED%A0%80",
        "gene=" + "x" * 5_000,
        "limit=&offset=",
        "limit=NaN",
        "gene=BRAF&gene=KRAS",
    ):
        calls.append(("GET", f"/v1/predictions?{query}", {}))
    for ident in ("%00", "1.5", "9" * 30, "-1", "%F0%9F%A7%AC", "1e3", "0x10", " 1"):
        calls.append(("GET", f"/v1/predictions/{ident}", {}))
    for query in ("task=", "task=%00", "task=" + "t" * 1000, "task=mutation-effect"):
        calls.append(("GET", f"/v1/model?{query}", {}))
    calls += [
        ("GET", "/health?x=%00", {}),
        ("GET", "/metrics", {}),
        ("GET", "/v2/predict", {}),
        ("OPTIONS", "/v1/predict", {}),
        ("HEAD", "/health", {}),
    ]
    return calls


def test_no_input_makes_the_service_answer_5xx(app: FastAPI) -> None:
    failures = []
    # A server error is answered (500), not raised here, so that every failure is listed.
    with TestClient(app, raise_server_exceptions=False) as client:
        failures = _failures(client)
        assert client.get("/health").json()["status"] == "ok"
    assert not failures, "\n".join(map(str, failures))


def _failures(client: TestClient) -> list[tuple[Any, ...]]:
    failures = []
    for method, path, kwargs in _requests():
        response = client.request(method, path, **kwargs)
        if response.status_code >= 500:
            failures.append(
                (
                    method,
                    path,
                    json.dumps(kwargs, default=repr)[:200],
                    response.status_code,
                    response.text[:200],
                )
            )
        if response.status_code == 422:  # a validation answer names what is wrong
            assert response.json()["detail"], (method, path)
    return failures
