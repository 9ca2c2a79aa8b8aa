"""Fixtures shared by every test package, above all the model that ships."""

from __future__ import annotations

import hashlib
import random
import shutil
from collections.abc import Sequence
from pathlib import Path

import pytest

from oncoclass.data.records import Sample
from oncoclass.settings import Settings, configure_runtime

# As the CLI and the service do: one intra-op thread (see Settings.torch_threads).
configure_runtime(Settings())

ROOT = Path(__file__).resolve().parents[1]
#: The real data sets, beside the repository (never copied into it): ../shared/data.
SHARED_DATA = ROOT / ".." / "shared" / "data"
#: The CIViC release the shipped model is trained on.
CIVIC_RELEASE = "civic_2024"
#: Known-class training items of the shipped-model fixture: every class, trained in a minute.
N_SHIPPED = 1000
#: What the fixture changes from the shipped defaults, to train fast: fewer epochs.
SHIPPED_PARAMS = {"member_params": {"encoder": {"epochs": 4}, "cnn": {"epochs": 4}}}
#: The code a trained model depends on: the fixture is trained again when any of it changes.
MODEL_CODE = ("models", "features", "training", "data", "workflows.py", "predictor.py")


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The real data folder (``../shared/data``); tests that need it skip when it is absent."""
    path = SHARED_DATA.resolve()
    if not path.is_dir():
        pytest.skip(f"real data not found at {path}")
    return path


@pytest.fixture(scope="session")
def civic_dir(shared_data: Path) -> Path:
    """The CIViC release the service is trained on and looks variants up in."""
    return shared_data / CIVIC_RELEASE


def subset_by_group(samples: Sequence[Sample], n: int, seed: int = 13) -> list[Sample]:
    """About ``n`` known-class samples made of whole groups (PubMed ids), plus every rare-class
    item of those groups: a small training set that keeps the grouping honest."""
    groups: dict[str, list[Sample]] = {}
    for s in samples:
        groups.setdefault(s.group_key, []).append(s)
    keys = sorted(groups)
    random.Random(seed).shuffle(keys)
    chosen: list[Sample] = []
    for key in keys:
        if sum(s.label != "Other" for s in chosen) >= n:
            break
        chosen += groups[key]
    return chosen


@pytest.fixture(scope="session")
def shipped_model_dir(request: pytest.FixtureRequest, civic_dir: Path) -> Path:
    """The default model (``Settings().default_model``) trained the way ``oncoclass train``
    trains it (``workflows.train``: grouped validation slice, calibration, prediction sets,
    novelty detector from the rare classes) on a CIViC subset, with fewer epochs.

    Cached in pytest's cache folder under a hash of the model code, so that a second session
    on unchanged code reuses it; a clean checkout (CI) trains it once per session.
    """
    from oncoclass import workflows
    from oncoclass.data.tasks import CLINICAL_SIGNIFICANCE

    model = Settings().default_model
    digest = hashlib.sha256(f"{model}{SHIPPED_PARAMS}{N_SHIPPED}".encode())
    for part in MODEL_CODE:
        code = ROOT / "oncoclass" / part
        for path in sorted(code.rglob("*.py")) if code.is_dir() else [code]:
            digest.update(path.read_bytes())
    cache = getattr(request.config, "cache", None)  # absent under -p no:cacheprovider
    root = (
        cache.mkdir("oncoclass-shipped-model")
        if cache is not None
        else request.getfixturevalue("tmp_path_factory").mktemp("shipped")
    )
    folder = root / digest.hexdigest()[:16]
    if (folder / "model.json").is_file():
        return folder
    samples = workflows.load_task_samples(CLINICAL_SIGNIFICANCE, civic_dir)
    train = subset_by_group(samples, N_SHIPPED)
    partial = folder.with_name(folder.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    workflows.train(CLINICAL_SIGNIFICANCE, model, train, partial, progress=False, **SHIPPED_PARAMS)
    partial.rename(folder)  # complete or absent: a stopped session leaves no half model
    return folder
