"""Fixtures of the deployment tests: the model the replicas serve, the data home they read the
CIViC knowledge base from, and the shared kill test (deploy/killtest.py, a script module outside
the package)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
DEPLOY = REPO / "deploy"
# deploy/ holds scripts, not a package: its killtest module is shared with deploy/docker_test.py.
sys.path.insert(0, str(DEPLOY))


@pytest.fixture(scope="session")
def lb_model_dir(shipped_model_dir: Path) -> Path:
    """The model every replica serves: the shipped default (tests/conftest.py). (Mounted
    read-only into the Docker stack's replicas too.)"""
    return shipped_model_dir


@pytest.fixture(scope="session")
def lb_data_home(tmp_path_factory: pytest.TempPathFactory, civic_dir: Path) -> Path:
    """A data home holding the CIViC release, shared by the replicas: a replica is ready only
    with its knowledge base loaded."""
    home = tmp_path_factory.mktemp("lb-home")
    oncoclass = Path(sys.executable).parent / "oncoclass"
    command = [str(oncoclass), "data", "fetch", "civic", "--from", str(civic_dir)]
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
