"""Fixtures of the annotation tests: the shipped model and the real CIViC release behind a
service without history (as the CLI runs), the real variant files, and an embedded Ray."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from pathlib import Path

import pytest

from oncoclass.knowledge import KnowledgeBase
from oncoclass.predictor import Predictor
from oncoclass.service import OncoClassService
from oncoclass.settings import Settings
from tests.annotate.data import MAF


@pytest.fixture(scope="session")
def knowledge(civic_dir: Path) -> KnowledgeBase:
    return KnowledgeBase.from_path(civic_dir)


@pytest.fixture(scope="session")
def predictor(shipped_model_dir: Path) -> Predictor:
    return Predictor.load(shipped_model_dir, max_text_chars=5_000)


@pytest.fixture(scope="session")
def service(
    tmp_path_factory: pytest.TempPathFactory, predictor: Predictor, knowledge: KnowledgeBase
) -> OncoClassService:
    """What ``oncoclass annotate`` runs on: a model, CIViC, no history."""
    settings = Settings(data_home=tmp_path_factory.mktemp("home"), max_text_chars=5_000)
    return OncoClassService(settings, knowledge=knowledge, predictor=predictor)


@pytest.fixture(scope="session")
def maf(shared_data: Path) -> Path:
    return shared_data / MAF


@pytest.fixture(scope="session")
def maf_rows(maf: Path) -> list[dict[str, str]]:
    """The MAF read independently of OncoClass's reader (csv module, tab-separated)."""
    with maf.open(encoding="utf-8") as handle:
        lines = (line for line in handle if not line.startswith("#"))
        return list(csv.DictReader(lines, delimiter="\t", quoting=csv.QUOTE_NONE))


@pytest.fixture(scope="session")
def embedded_ray() -> Iterator[object]:
    """An embedded Ray with 2 CPUs and a small object store, for every Ray test."""
    ray = pytest.importorskip("ray")
    if not ray.is_initialized():
        ray.init(
            num_cpus=2,
            include_dashboard=False,
            object_store_memory=100 * 2**20,
            log_to_driver=False,
        )
    yield ray
    ray.shutdown()
