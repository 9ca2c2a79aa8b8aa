"""Fixtures of the deployment tests: the model the replicas serve, the data home they read the
CIViC knowledge base from, and the shared kill test (deploy/killtest.py, a script module outside
the package)."""

from __future__ import annotations

import os
import random
import subprocess
import sys
from pathlib import Path

import pytest
from threadpoolctl import threadpool_limits

REPO = Path(__file__).resolve().parents[2]
DEPLOY = REPO / "deploy"
# deploy/ holds scripts, not a package: its killtest module is shared with deploy/docker_test.py.
sys.path.insert(0, str(DEPLOY))

#: Enough CIViC samples for every class, few enough to train in seconds (as tests/api does).
N_TRAIN, N_VALID = 600, 150


@pytest.fixture(scope="session")
def lb_model_dir(tmp_path_factory: pytest.TempPathFactory, shared_data: Path) -> Path:
    """The model every replica serves: a ``baseline`` clinical-significance model trained on
    CIViC samples, saved once. (Mounted read-only into the Docker stack's replicas too.)"""
    from oncoclass.data import load_civic
    from oncoclass.models import create_model

    samples = load_civic(shared_data / "civic")
    random.Random(13).shuffle(samples)
    directory = tmp_path_factory.mktemp("lb-model")
    with threadpool_limits(limits=1):
        model = create_model("baseline", task="clinical-significance")
        model.fit(samples[:N_TRAIN], samples[N_TRAIN : N_TRAIN + N_VALID]).save(directory)
    return directory


@pytest.fixture(scope="session")
def lb_data_home(tmp_path_factory: pytest.TempPathFactory, shared_data: Path) -> Path:
    """A data home holding the CIViC release, shared by the replicas: a replica is ready only
    with its knowledge base loaded."""
    home = tmp_path_factory.mktemp("lb-home")
    oncoclass = Path(sys.executable).parent / "oncoclass"
    command = [str(oncoclass), "data", "fetch", "civic", "--from", str(shared_data / "civic")]
    done = subprocess.run(
        command,
        env={**os.environ, "ONCOCLASS_DATA_HOME": str(home)},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    if done.returncode != 0:
        pytest.fail(f"{' '.join(command)} failed:\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}")
    return home
