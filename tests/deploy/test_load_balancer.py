"""Load balancing, verified on loopback: 3 ``oncoclass serve`` replicas sharing one PostgreSQL,
behind nginx running deploy/nginx.conf (Debian's packages, no Docker); 1,000 predictions from 16
concurrent clients; one replica killed with SIGKILL a third of the way in.

What it checks (deploy/killtest.py): every 2xx answer has exactly one history row; the failures
are nginx's clear 502s, at most the requests in flight on the killed replica, never re-sent to
another replica (a POST is not idempotent: see deploy/nginx.conf); the two survivors answer
everything after the kill and are still ready at the end.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

import killtest  # deploy/killtest.py (conftest puts deploy/ on sys.path)
import pytest
from sqlalchemy import create_engine, text

from oncoclass.history.testing import PostgresServer, find_pg_bin, free_port, throwaway_postgres

from .conftest import DEPLOY

N_REPLICAS = 3
N_REQUESTS = 1000
N_CLIENTS = 16
ONCOCLASS = Path(sys.executable).parent / "oncoclass"


def find_nginx() -> str | None:
    # Debian puts it in /usr/sbin, which is not on every user's PATH.
    return shutil.which("nginx") or shutil.which("nginx", path="/usr/sbin:/usr/local/sbin")


@dataclass
class Replica:
    process: subprocess.Popen
    port: int
    log: Path

    def alive(self) -> bool:
        return self.process.poll() is None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def address(self) -> str:  # as nginx logs it
        return f"127.0.0.1:{self.port}"


def start_replica(folder: Path, database_url: str, model_dir: Path, data_home: Path) -> Replica:
    port = free_port()
    env = {
        **os.environ,
        "ONCOCLASS_DATABASE_URL": database_url,
        "ONCOCLASS_MODEL_DIR": str(model_dir),
        "ONCOCLASS_DATA_HOME": str(data_home),
        # One BLAS thread per replica: three replicas and nginx share two cores here.
        "OMP_NUM_THREADS": "1",
        "OPENBLAS_NUM_THREADS": "1",
    }
    log = folder / "replica.log"
    with log.open("wb") as output:
        process = subprocess.Popen(
            [str(ONCOCLASS), "serve", "--host", "127.0.0.1", "--port", str(port)],
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    return Replica(process, port, log)


def loopback_nginx_conf(folder: Path, listen_port: int, replica_ports: list[int]) -> str:
    """deploy/nginx.conf (the compose stack's) with the replicas, the listen address and the
    log folder of this test, inside a main configuration of its own (pid, temp folders)."""
    site = (DEPLOY / "nginx.conf").read_text()
    site, n = re.subn(
        r"server oncoclass(\d):8000",
        lambda m: f"server 127.0.0.1:{replica_ports[int(m.group(1)) - 1]}",
        site,
    )
    assert n == len(replica_ports), "deploy/nginx.conf should name oncoclass1..3"
    site = site.replace("listen 80;", f"listen 127.0.0.1:{listen_port};")
    site = site.replace("/var/log/nginx/", f"{folder}/")
    temp = "\n".join(
        f"    {kind}_temp_path {folder}/tmp-{kind};"
        for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    return f"""\
daemon off;
worker_processes 1;
pid {folder}/nginx.pid;
error_log {folder}/error.log warn;
events {{ worker_connections 1024; }}
http {{
{temp}
{site}
}}
"""


def start_nginx(nginx: str, folder: Path, replica_ports: list[int]) -> tuple[subprocess.Popen, int]:
    port = free_port()
    conf = folder / "nginx.conf"
    conf.write_text(loopback_nginx_conf(folder, port, replica_ports))
    # Check the configuration first, for a clear error instead of a dead process.
    subprocess.run(
        [nginx, "-t", "-q", "-p", str(folder), "-c", str(conf), "-e", str(folder / "error.log")],
        check=True,
    )
    with (folder / "nginx.stderr").open("wb") as stderr:
        process = subprocess.Popen(
            [nginx, "-p", str(folder), "-c", str(conf), "-e", str(folder / "error.log")],
            stdout=subprocess.DEVNULL,
            stderr=stderr,
        )
    return process, port


def stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.fixture
def postgres() -> Iterator[PostgresServer]:
    if find_pg_bin() is None:
        pytest.skip("PostgreSQL server binaries not found (apt-get install postgresql)")
    with throwaway_postgres() as server:
        yield server


@pytest.mark.slow
def test_nginx_spreads_load_and_survives_a_killed_replica(
    tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    nginx = find_nginx()
    if nginx is None:
        pytest.skip("nginx not found (apt-get install nginx)")
    # Only now (after the checks that may skip): a model to train, a server to start.
    postgres: PostgresServer = request.getfixturevalue("postgres")
    lb_model_dir: Path = request.getfixturevalue("lb_model_dir")
    lb_data_home: Path = request.getfixturevalue("lb_data_home")
    database_url = postgres.create_database("lb")

    with ExitStack() as stack:
        replicas = []
        for i in range(N_REPLICAS):
            folder = tmp_path / f"replica{i + 1}"
            folder.mkdir()
            replica = start_replica(folder, database_url, lb_model_dir, lb_data_home)
            stack.callback(stop, replica.process)
            replicas.append(replica)
        for replica in replicas:
            try:
                killtest.wait_ready(replica.url, timeout_s=300, alive=replica.alive)
            except TimeoutError as exc:
                pytest.fail(f"{exc}\n{replica.log.read_text()[-3000:]}")
        process, port = start_nginx(nginx, tmp_path, [r.port for r in replicas])
        stack.callback(stop, process)
        killtest.wait_ready(f"http://127.0.0.1:{port}", timeout_s=30)

        victim, survivors = replicas[0], replicas[1:]
        result = killtest.run_load(
            f"http://127.0.0.1:{port}",
            lambda: victim.process.send_signal(signal.SIGKILL),
            n_requests=N_REQUESTS,
            n_clients=N_CLIENTS,
        )
        assert victim.process.wait(timeout=10) == -signal.SIGKILL
        # The survivors carry on: still ready after the load.
        for replica in survivors:
            killtest.wait_ready(replica.url, timeout_s=10)

        engine = create_engine(database_url)
        try:
            with engine.connect() as connection:
                rows = connection.execute(text("SELECT id, text FROM predictions")).all()
        finally:
            engine.dispose()
        upstream_of = killtest.parse_access_log((tmp_path / "access.log").read_text().splitlines())
        summary = killtest.check(
            result,
            rows,
            n_clients=N_CLIENTS,
            survivors={r.address for r in survivors},
            upstream_of=upstream_of,
        )
        print(f"\nloopback kill test ({N_REPLICAS} replicas, {N_CLIENTS} clients):")
        print(summary.format())
        assert not summary.problems, summary.format()
        assert summary.requests == N_REQUESTS
