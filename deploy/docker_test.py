"""The kill test through the Docker stack: build the images, bring up docker-compose.yml (3
replicas + nginx + PostgreSQL, on 127.0.0.1 only), send 1,000 predictions from 16 clients
through nginx, ``docker kill -s KILL`` one replica a third of the way in, check the history rows
in the stack's PostgreSQL (deploy/killtest.py says what is checked), tear it all down and print
a summary.

    .venv/bin/python deploy/docker_test.py [--model-dir DIR] [--keep]

It starts dockerd when none answers and we are root (and says so). Without --model-dir it
trains a small ``baseline`` model on ../shared/data/civic once, into build/docker/model.
Exit status 0 when every check holds.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import build_images
import httpx
import killtest

from oncoclass.history.testing import free_port

REPO = Path(__file__).resolve().parents[1]
BUILD = REPO / "build" / "docker"
PROJECT = "oncoclass-docker-test"
REPLICAS = ["oncoclass1", "oncoclass2", "oncoclass3"]
N_REQUESTS = 1000
N_CLIENTS = 16
SHARED_CIVIC = REPO.parent / "shared" / "data" / "civic"


def log(message: str) -> None:
    print(f"[docker_test] {message}", flush=True)


def docker_answers() -> bool:
    return subprocess.run(["docker", "info"], capture_output=True, check=False).returncode == 0


def ensure_dockerd() -> None:
    """A Docker engine that answers: the running one, or a dockerd started here (left running,
    as a system service would be)."""
    if docker_answers():
        return
    dockerd = shutil.which("dockerd") or shutil.which("dockerd", path="/usr/sbin:/usr/bin")
    if dockerd is None or os.geteuid() != 0:
        sys.exit(
            "no Docker engine answers, and dockerd cannot be started here (root + apt-get "
            "install docker.io)"
        )
    BUILD.mkdir(parents=True, exist_ok=True)
    daemon_log = BUILD / "dockerd.log"
    process = subprocess.Popen(
        [dockerd],
        stdout=daemon_log.open("ab"),
        stderr=subprocess.STDOUT,
        start_new_session=True,  # not killed with this script
    )
    log(f"no Docker engine answered: started dockerd (pid {process.pid}, log {daemon_log})")
    deadline = time.monotonic() + 60
    while not docker_answers():
        if process.poll() is not None or time.monotonic() > deadline:
            sys.exit(f"dockerd did not start; see {daemon_log}")
        time.sleep(1)


def compose_command() -> list[str]:
    """`docker compose` (v2) where installed, else Debian's `docker-compose` (v1)."""
    for command in (["docker", "compose"], ["docker-compose"]):
        found = shutil.which(command[0])
        done = found and subprocess.run([*command, "version"], capture_output=True, check=False)
        if done and done.returncode == 0:
            return command
    sys.exit("neither `docker compose` nor `docker-compose` works: apt-get install docker-compose")


def ensure_model(model_dir: Path | None) -> Path:
    """A model directory that the replicas' user (uid 10001) can read: a copy of ``model_dir``,
    or a small baseline trained on the shared CIViC data once."""
    if model_dir is None:
        model_dir = BUILD / "model"
        if not (model_dir / "model.json").exists():
            if not SHARED_CIVIC.is_dir():
                sys.exit(f"no --model-dir given and no CIViC data at {SHARED_CIVIC} to train one")
            log(f"training a small baseline model into {model_dir}")
            oncoclass = REPO / ".venv" / "bin" / "oncoclass"
            subprocess.run(
                [oncoclass, "train", "--model", "baseline", "--data", SHARED_CIVIC,
                 "--out", model_dir],
                check=True,
            )  # fmt: skip
    # A copy: pytest's folders (and many users' homes) are private to their owner.
    mounted = Path(tempfile.mkdtemp(prefix="model-", dir=BUILD))
    shutil.copytree(model_dir, mounted, dirs_exist_ok=True)
    for path in [mounted, *mounted.rglob("*")]:
        path.chmod(0o755 if path.is_dir() else 0o644)
    return mounted


class Stack:
    """docker-compose.yml under a project name of its own, published on a free port."""

    def __init__(self, model_dir: Path) -> None:
        self.compose = [*compose_command(), "-p", PROJECT, "-f", str(REPO / "docker-compose.yml")]
        self.port = free_port()
        self.env = {
            **os.environ,
            "ONCOCLASS_HOST_MODEL_DIR": str(model_dir),
            "ONCOCLASS_PORT": str(self.port),
            # The killed replica stays dead: the test is that the others carry on.
            "ONCOCLASS_RESTART": "no",
        }
        self.url = f"http://127.0.0.1:{self.port}"

    def run(self, *args: str, check: bool = True, capture: bool = False) -> str:
        done = subprocess.run(
            [*self.compose, *args],
            env=self.env,
            cwd=REPO,
            check=check,
            capture_output=capture,
            text=True,
        )
        return done.stdout if capture else ""

    def container(self, service: str) -> str:
        """The id of the service's (running) container."""
        return self.run("ps", "-q", service, capture=True).strip()

    def exec_ok(self, service: str, *command: str) -> tuple[bool, str]:
        done = subprocess.run(
            [*self.compose, "exec", "-T", service, *command],
            env=self.env,
            cwd=REPO,
            capture_output=True,
            text=True,
            check=False,
        )
        return done.returncode == 0, done.stdout + done.stderr

    def down(self) -> None:
        self.run(
            "down", "--volumes", "--remove-orphans", "--timeout", "5", check=False, capture=True
        )


def inspect(container: str, fmt: str) -> str:
    done = subprocess.run(
        ["docker", "inspect", "-f", fmt, container], capture_output=True, text=True, check=True
    )
    return done.stdout.strip()


def address(container: str) -> str:
    """A replica's address as nginx logs it (IP:8000)."""
    return inspect(container, "{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}") + ":8000"


#: The output of a container's last health checks.
HEALTH_LOG = "{{if .State.Health}}{{range .State.Health.Log}}{{.Output}}{{end}}{{end}}"


def state(container: str) -> str:
    """The container's status, exit code and health (by its image's health check)."""
    health = "{{if .State.Health}}{{.State.Health.Status}}{{end}}"
    return inspect(container, "{{.State.Status}} {{.State.ExitCode}} " + health)


def import_civic(stack: Stack, civic: Path | None) -> None:
    """A replica is ready only with the CIViC knowledge base: import a local copy into the
    shared data volume (or, without one, download the release)."""
    fetch = ["oncoclass", "data", "fetch", "civic"]
    if civic is not None and civic.is_dir():
        log(f"importing CIViC from {civic} into the data volume")
        volume = f"{civic.resolve()}:/civic:ro"
        stack.run("run", "--rm", "--no-deps", "-v", volume, REPLICAS[0], *fetch, "--from", "/civic",
                  capture=True)  # fmt: skip
    else:
        log("downloading CIViC into the data volume")
        stack.run("run", "--rm", "--no-deps", REPLICAS[0], *fetch, capture=True)


def create_api_key(stack: Stack) -> dict[str, str]:
    """An API key for the test's requests, when the service has them (`oncoclass keys`)."""
    has_keys, _ = stack.exec_ok("oncoclass1", "oncoclass", "keys", "--help")
    if not has_keys:
        log("this build has no `oncoclass keys`: requests are sent without an API key")
        return {}
    # Only what the test does (predict), and a rate limit above the test's ~100 requests/s.
    create = ["oncoclass", "keys", "create", "docker-test", "--scope", "predict", "--rate", "60000"]
    ok, output = stack.exec_ok("oncoclass1", *create)
    if not ok:
        sys.exit(f"`{' '.join(create)}` failed:\n{output}")
    key = output.strip().splitlines()[-1].strip()
    log(f"created an API key: {' '.join(create)}")
    return {"X-API-Key": key}


def stored_rows(stack: Stack, run_id: str) -> list[tuple[int, str]]:
    """(id, marker) of this run's rows, from the stack's PostgreSQL."""
    query = (
        "SELECT id, substring(text from 'lbtest-[a-z]+-[0-9]+') FROM predictions "
        f"WHERE text LIKE '%lbtest-{run_id}-%'"
    )
    ok, output = stack.exec_ok(
        "db", "psql", "-U", "oncoclass", "-d", "oncoclass", "-At", "-F", "\t", "-c", query
    )
    if not ok:
        sys.exit(f"psql failed:\n{output}")
    rows = []
    for line in output.splitlines():
        row_id, marker = line.split("\t")
        rows.append((int(row_id), marker))
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model-dir", type=Path, help="a trained model directory to serve")
    parser.add_argument(
        "--civic", type=Path, default=SHARED_CIVIC, help="a local CIViC release to import"
    )
    parser.add_argument("--keep", action="store_true", help="leave the stack running")
    parser.add_argument("--requests", type=int, default=N_REQUESTS)
    parser.add_argument("--clients", type=int, default=N_CLIENTS)
    args = parser.parse_args()
    timings = {}

    started = time.monotonic()
    ensure_dockerd()
    compose_command()  # fail early, before building
    build_images.build_base()
    build_images.build_stack_images()
    build_images.build_service()
    timings["images"] = time.monotonic() - started
    model_dir = ensure_model(args.model_dir)

    stack = Stack(model_dir)
    stack.down()  # what a failed earlier run may have left
    try:
        started = time.monotonic()
        import_civic(stack, args.civic)
        log(f"starting the stack (project {PROJECT}) on {stack.url}")
        try:
            stack.run("up", "-d")
        except subprocess.CalledProcessError:
            # Why a replica did not become healthy: its output and its health check's.
            print(stack.run("logs", "--no-color", "--tail", "40", capture=True, check=False))
            for service in REPLICAS:
                print(f"{service}: {inspect(stack.container(service), HEALTH_LOG)}")
            raise
        endpoint = killtest.wait_ready(stack.url, timeout_s=300)
        timings["stack up"] = time.monotonic() - started
        log(f"ready ({endpoint} through nginx) in {timings['stack up']:.0f} s")
        headers = create_api_key(stack)

        victim, survivors = REPLICAS[0], REPLICAS[1:]
        containers = {s: stack.container(s) for s in REPLICAS}
        addresses = {s: address(c) for s, c in containers.items()}

        def kill() -> None:
            subprocess.run(["docker", "kill", "-s", "KILL", containers[victim]], check=True,
                           capture_output=True)  # fmt: skip
            log(f"killed {victim} (docker kill -s KILL)")

        log(f"{args.requests} requests from {args.clients} clients; {victim} killed at 1/3")
        result = killtest.run_load(
            stack.url, kill, n_requests=args.requests, n_clients=args.clients, headers=headers
        )
        # The survivors carry on: healthy by their image's own health check (readiness).
        states = {s: state(c) for s, c in containers.items()}
        with httpx.Client(base_url=stack.url, headers=headers, timeout=10) as client:
            after = client.get("/health")  # still served through nginx
        rows = stored_rows(stack, result.run_id)
        access_log = stack.run("logs", "--no-color", "lb", capture=True).splitlines()
        summary = killtest.check(
            result,
            rows,
            n_clients=args.clients,
            survivors={addresses[s] for s in survivors},
            upstream_of=killtest.parse_access_log(access_log),
        )
        if not states[victim].startswith("exited 137"):
            summary.problems.append(f"{victim} after docker kill -s KILL: {states[victim]}")
        for service in survivors:
            if states[service] != "running 0 healthy":
                summary.problems.append(f"{service} after the test: {states[service]}")
        if after.status_code != 200:
            summary.problems.append(
                f"GET /health through nginx after the test: {after.status_code}"
            )
    finally:
        if args.keep:
            log(f"left running: {' '.join(stack.compose)} down --volumes")
        else:
            stack.down()
            shutil.rmtree(model_dir, ignore_errors=True)

    names = {v: k for k, v in addresses.items()}
    summary.answered_after_kill = {
        names.get(k, k): n for k, n in summary.answered_after_kill.items()
    }
    print("\n## Docker kill test (make -f deploy/docker.mk docker-test)\n")
    print(f"3 replicas + nginx + PostgreSQL (docker-compose.yml), {args.clients} clients, "
          f"{victim} killed with SIGKILL after {result.killed_after} answers")  # fmt: skip
    print(summary.format())
    print(f"images: {timings['images']:.0f} s, stack up: {timings['stack up']:.0f} s")
    print("result: PASS" if not summary.problems else "result: FAIL")
    return 0 if not summary.problems else 1


if __name__ == "__main__":
    sys.exit(main())
