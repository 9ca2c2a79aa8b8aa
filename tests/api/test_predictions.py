"""GET /v1/predictions (paginated history) and GET /v1/predictions/{id}."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient

sqlite_only = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
VARIANTS = [
    ("BRAF", "V600E"),
    ("KRAS", "G12D"),
    ("braf", "V600K"),
    ("TP53", "R273C"),
    ("BRAF", "K601E"),
]


def test_history_pages_newest_first_with_gene_filter(client: TestClient) -> None:
    ids = [
        client.post("/v1/predict", json={"gene": g, "variation": v}).json()["id"]
        for g, v in VARIANTS
    ]
    assert len(set(ids)) == len(ids)

    page = client.get("/v1/predictions", params={"limit": 2}).json()
    assert (page["total"], page["limit"], page["offset"]) == (5, 2, 0)
    assert [p["id"] for p in page["items"]] == ids[::-1][:2]
    rest = client.get("/v1/predictions", params={"limit": 2, "offset": 4}).json()
    assert [p["id"] for p in rest["items"]] == [ids[0]]
    beyond = client.get("/v1/predictions", params={"offset": 50}).json()
    assert beyond["items"] == [] and beyond["total"] == 5

    braf = client.get("/v1/predictions", params={"gene": "BRAF"}).json()
    assert braf["total"] == 3  # case-insensitive: "braf" too
    assert [p["variation"] for p in braf["items"]] == ["K601E", "V600K", "V600E"]
    assert client.get("/v1/predictions", params={"gene": "NOPE"}).json()["total"] == 0

    item = page["items"][0]
    created = datetime.fromisoformat(item["created_at"])
    assert created.tzinfo is not None
    assert abs(datetime.now(UTC) - created) < timedelta(minutes=5)
    assert item["knowledge"] is None  # looked up for a single prediction only


def test_unknown_ids_are_404(client: TestClient) -> None:
    for bad in ("1", "0", "-3", str(2**63), str(10**40)):
        response = client.get(f"/v1/predictions/{bad}")
        assert response.status_code == 404, bad
        assert "no prediction" in response.json()["detail"]
    assert client.get("/v1/predictions/abc").status_code == 422


@sqlite_only
@pytest.mark.parametrize(
    "params",
    [
        {"limit": -1},
        {"limit": 201},
        {"offset": -1},
        {"offset": 2**40},
        {"limit": "ten"},
        {"gene": "G" * 101},
    ],
)
def test_bad_paging_is_422(client: TestClient, params: dict) -> None:
    assert client.get("/v1/predictions", params=params).status_code == 422
