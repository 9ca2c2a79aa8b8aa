"""The Docker stack, built and run: deploy/docker_test.py (images from Debian's packages and
the local wheels, docker-compose.yml with 3 replicas + nginx + PostgreSQL, the kill test through
nginx) when a Docker engine answers; skipped, saying why, when none does."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import DEPLOY

#: A first build (debootstrap, the images) takes minutes; later ones reuse the images.
TIMEOUT_S = 1800


def docker_engine() -> str | None:
    """None when a Docker engine answers, else why not."""
    if shutil.which("docker") is None:
        return "no docker command (apt-get install docker.io)"
    done = subprocess.run(["docker", "info"], capture_output=True, text=True, check=False)
    if done.returncode != 0:
        return f"no Docker engine answers (`docker info`: {done.stderr.strip()[-300:]})"
    if shutil.which("docker-compose") is None:
        compose = subprocess.run(["docker", "compose", "version"], capture_output=True, check=False)
        if compose.returncode != 0:
            return "no docker compose (apt-get install docker-compose)"
    return None


@pytest.mark.slow
def test_docker_stack_survives_a_killed_replica(request: pytest.FixtureRequest) -> None:
    if reason := docker_engine():
        pytest.skip(reason)
    lb_model_dir: Path = request.getfixturevalue("lb_model_dir")  # trained only when needed
    done = subprocess.run(
        [sys.executable, str(DEPLOY / "docker_test.py"), "--model-dir", str(lb_model_dir)],
        capture_output=True,
        text=True,
        timeout=TIMEOUT_S,
        check=False,
    )
    print(done.stdout[-4000:])
    assert done.returncode == 0, f"{done.stdout[-6000:]}\n{done.stderr[-6000:]}"
