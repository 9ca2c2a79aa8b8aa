"""Switching the served model while requests are in flight: none is dropped or fails, each
answer and history row names the model that gave it, a damaged model changes nothing, and
replicas follow a new ``current`` version by themselves."""

from __future__ import annotations

import random
import shutil
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from sqlalchemy import create_engine, text

from oncoclass.api.app import create_app
from oncoclass.data.tasks import CLINICAL_SIGNIFICANCE
from oncoclass.knowledge import KnowledgeBase
from oncoclass.models import create_model
from oncoclass.models.store import point_current
from oncoclass.settings import Settings
from tests.helpers import serve

pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


@pytest.fixture(scope="module")
def other_version(tmp_path_factory, civic_dir) -> Path:
    """A second, different model (a baseline on a few hundred real items)."""
    from oncoclass import workflows

    samples = workflows.load_task_samples(CLINICAL_SIGNIFICANCE, civic_dir)
    random.Random(3).shuffle(samples)
    path = tmp_path_factory.mktemp("other") / "model"
    create_model("baseline").fit(samples[:500], samples[500:650]).save(path)
    return path


def _version(card_dir: Path) -> str:
    import json

    card = json.loads((card_dir / "model.json").read_text())
    return f"{card['package_version']}+{card['training']['fingerprint']}"


def test_reload_under_load_drops_nothing(
    tmp_path, model_dir, other_version, database_url, knowledge: KnowledgeBase
) -> None:
    home = tmp_path / "models"
    shutil.copytree(model_dir, home / "v1")
    point_current(home, home / "v1")
    settings = Settings(
        data_home=tmp_path / "data", model_dir=home, database_url=database_url,
        model_poll_seconds=0,
    )  # fmt: skip
    v1, v2 = _version(model_dir), _version(other_version)
    app = create_app(settings, knowledge=knowledge)
    with serve(app) as base, httpx.Client(base_url=base, timeout=60) as client:
        answers: list[tuple[int, int, str]] = []
        stop = threading.Event()

        def hammer(worker: int) -> None:
            i = 0
            while not stop.is_set() or i < 5:
                r = client.post(
                    "/v1/predict",
                    json={"gene": "BRAF", "variation": "V600E", "text": f"Case {worker}-{i}."},
                )
                answers.append((r.status_code, r.json().get("id", -1), r.json()["model"]["version"]
                                if r.status_code == 200 else r.text))  # fmt: skip
                i += 1

        with ThreadPoolExecutor(4) as pool:
            futures = [pool.submit(hammer, w) for w in range(4)]
            time.sleep(1.5)
            shutil.copytree(other_version, home / "v2")
            point_current(home, home / "v2")
            reloaded = client.post("/v1/admin/reload")
            assert reloaded.status_code == 200, reloaded.text
            assert reloaded.json()["model"]["version"] == v2
            time.sleep(1.0)
            stop.set()
            for f in futures:
                f.result()
        assert all(status == 200 for status, _, _ in answers), [a for a in answers if a[0] != 200]
        seen = [version for _, _, version in answers]
        assert {v1, v2} <= set(seen)
        assert seen[-1] == v2

        # A damaged newer version: refused, the current model keeps answering.
        shutil.copytree(other_version, home / "v3")
        weights = home / "v3" / "coefficients.npz"
        weights.write_bytes(weights.read_bytes()[:100])
        point_current(home, home / "v3")
        refused = client.post("/v1/admin/reload")
        assert refused.status_code == 422 and "coefficients.npz" in refused.text
        again = client.post("/v1/predict", json={"gene": "KRAS", "variation": "G12D"})
        assert again.status_code == 200 and again.json()["model"]["version"] == v2

    engine = create_engine(settings.resolved_database_url)
    with engine.connect() as connection:
        rows = dict(connection.execute(text("SELECT id, model_version FROM predictions")).all())
    engine.dispose()
    for _status, id_, version in answers:
        assert rows[id_] == version  # every answer's history row names the model that gave it


def test_replicas_follow_a_new_current_version(
    tmp_path, model_dir, other_version, database_url, knowledge: KnowledgeBase
) -> None:
    home = tmp_path / "models"
    shutil.copytree(model_dir, home / "v1")
    point_current(home, home / "v1")
    settings = Settings(
        data_home=tmp_path / "data", model_dir=home, database_url=database_url,
        model_poll_seconds=0.2,
    )  # fmt: skip
    app = create_app(settings, knowledge=knowledge)
    with serve(app) as base, httpx.Client(base_url=base, timeout=60) as client:
        assert client.get("/v1/model").json()["version"] == _version(model_dir)
        shutil.copytree(other_version, home / "v2")
        point_current(home, home / "v2")
        deadline = time.monotonic() + 30
        while client.get("/v1/model").json()["version"] != _version(other_version):
            assert time.monotonic() < deadline, "the service did not follow current"
            time.sleep(0.2)
