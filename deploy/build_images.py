"""Build OncoClass's Docker images from Debian's packages and a local wheelhouse.

No image registry is needed: the base image is a minimal Debian bookworm made with debootstrap
and loaded with ``docker import``; nginx and PostgreSQL are that base plus Debian's packages; the
service image installs the project and its pinned dependencies from a wheelhouse built here
(``pip install --no-index``), so the same wheels give the same image.

    python deploy/build_images.py all        # base, nginx, postgres, wheels, service
    python deploy/build_images.py base       # oncoclass-base:bookworm (skipped if it exists)
    python deploy/build_images.py stack      # oncoclass-nginx, oncoclass-postgres (if missing)
    python deploy/build_images.py wheels     # build/docker/wheelhouse and build/docker/project
    python deploy/build_images.py service    # oncoclass:latest (wheels first)

Users with a registry can skip ``base`` and build on the official image instead:
``docker build --build-arg BASE_IMAGE=python:3.11-slim -t oncoclass .`` (after ``wheels``).
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DEPLOY = REPO / "deploy"
BUILD = REPO / "build" / "docker"
WHEELHOUSE = BUILD / "wheelhouse"
PROJECT_WHEEL_DIR = BUILD / "project"
VENV_PYTHON = REPO / ".venv" / "bin" / "python"

BASE_IMAGE = "oncoclass-base:bookworm"
NGINX_IMAGE = "oncoclass-nginx:bookworm"
POSTGRES_IMAGE = "oncoclass-postgres:bookworm"
SERVICE_IMAGE = "oncoclass:latest"
DEPS_IMAGE = "oncoclass-deps:latest"

MIRROR = os.environ.get("DEBIAN_MIRROR", "http://deb.debian.org/debian")
#: Python 3.11 (bookworm's python3, the ABI of the wheels) with venv; certificates for HTTPS.
BASE_PACKAGES = ["python3", "python3-venv", "ca-certificates"]
SOURCES = f"""\
deb {MIRROR} bookworm main
deb {MIRROR} bookworm-updates main
deb http://deb.debian.org/debian-security bookworm-security main
"""
#: Only the project's runtime extras go into the image (not dev: pytest, playwright, ...).
PROJECT_SPEC = ".[postgres]"
#: The local torch CPU wheel (torch from an index would pull GBs of CUDA).
TORCH_WHEELS = Path("/opt/wheels")


def log(message: str) -> None:
    print(f"[build_images] {message}", flush=True)


def run(*command: str | Path, **kwargs) -> subprocess.CompletedProcess:  # noqa: ANN003
    return subprocess.run([str(c) for c in command], check=True, **kwargs)


def image_exists(name: str) -> bool:
    done = subprocess.run(["docker", "image", "inspect", name], capture_output=True, check=False)
    return done.returncode == 0


def docker_build(
    tag: str, dockerfile: Path, context: Path, *build_args: str, target: str | None = None
) -> None:
    args = [f"--build-arg={a}" for a in build_args] + ([f"--target={target}"] if target else [])
    # The classic builder: Debian's docker.io has no buildx, and it needs none here.
    env = {**os.environ, "DOCKER_BUILDKIT": "0"}
    command = [
        "docker",
        "build",
        "--force-rm",
        "-t",
        tag,
        "-f",
        str(dockerfile),
        *args,
        str(context),
    ]
    # Quiet unless it fails (the classic builder prints every step, and a deprecation notice).
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        sys.exit(f"{' '.join(command)} failed:\n{done.stdout[-5000:]}\n{done.stderr[-5000:]}")


def build_base(force: bool = False) -> None:
    """A minimal bookworm root file system (debootstrap), imported as BASE_IMAGE."""
    if image_exists(BASE_IMAGE) and not force:
        log(f"{BASE_IMAGE} exists")
        return
    if shutil.which("debootstrap") is None:
        sys.exit("debootstrap not found: apt-get install debootstrap")
    started = time.monotonic()
    BUILD.mkdir(parents=True, exist_ok=True)
    rootfs = Path(tempfile.mkdtemp(prefix="rootfs-", dir=BUILD))
    try:
        log(f"debootstrap bookworm into {rootfs} (a few minutes)")
        run(
            "debootstrap",
            "--variant=minbase",
            f"--include={','.join(BASE_PACKAGES)}",
            "bookworm",
            rootfs,
            MIRROR,
            stdout=subprocess.DEVNULL,
        )
        (rootfs / "etc/apt/sources.list").write_text(SOURCES)
        # Nothing the image does not need at run time: package lists and caches.
        for junk in ("var/lib/apt/lists", "var/cache/apt/archives"):
            for path in (rootfs / junk).glob("*"):
                if path.is_file():
                    path.unlink()
        tar = subprocess.Popen(["tar", "-C", str(rootfs), "-c", "."], stdout=subprocess.PIPE)
        run(
            "docker",
            "import",
            "--change",
            'CMD ["/bin/bash"]',
            "--change",
            "ENV LANG=C.UTF-8",
            "-",
            BASE_IMAGE,
            stdin=tar.stdout,
            stdout=subprocess.DEVNULL,
        )
        if tar.wait() != 0:
            sys.exit("tar of the root file system failed")
    finally:
        shutil.rmtree(rootfs, ignore_errors=True)
    log(f"{BASE_IMAGE} imported in {time.monotonic() - started:.0f} s")


def build_stack_images(force: bool = False) -> None:
    """nginx and PostgreSQL from Debian's packages on the base image (no registry needed)."""
    for tag, dockerfile in (
        (NGINX_IMAGE, DEPLOY / "nginx.Dockerfile"),
        (POSTGRES_IMAGE, DEPLOY / "postgres.Dockerfile"),
    ):
        if image_exists(tag) and not force:
            log(f"{tag} exists")
            continue
        log(f"building {tag}")
        docker_build(tag, dockerfile, DEPLOY, f"BASE_IMAGE={BASE_IMAGE}")


def build_wheelhouse(force: bool = False) -> None:
    """Wheels of every runtime dependency, pinned to the versions installed in .venv (the ones
    the tests ran with, and the ones a model trained here was pickled with), torch from the
    local CPU wheel; and the project's own wheel, in a folder of its own (the Dockerfile
    installs it in a later layer, so that a code change does not reinstall torch).

    The dependencies are fetched again only when .venv's versions or the project's declared
    requirements change."""
    if not VENV_PYTHON.exists():
        sys.exit(f"{VENV_PYTHON} not found: run `make setup` first")
    started = time.monotonic()
    BUILD.mkdir(parents=True, exist_ok=True)
    shutil.rmtree(PROJECT_WHEEL_DIR, ignore_errors=True)
    pip_wheel(PROJECT_WHEEL_DIR, "--no-deps")
    # name==version of each installed distribution (`pip freeze` would give the file or URL
    # some were installed from, which may be gone).
    pins = run(
        VENV_PYTHON,
        "-m",
        "pip",
        "list",
        "--format=freeze",
        "--exclude-editable",
        capture_output=True,
        text=True,
    ).stdout.strip()
    (BUILD / "pins.txt").write_text(pins)
    key = f"{pins}\n# the project requires\n{project_requirements()}"
    # The wheelhouse keeps the key it was built for: written last, it marks it complete.
    built_for = WHEELHOUSE / "built-for.txt"
    if force or not built_for.exists() or built_for.read_text() != key:
        shutil.rmtree(WHEELHOUSE, ignore_errors=True)
        WHEELHOUSE.mkdir()
        log(f"pip wheel {PROJECT_SPEC} and its dependencies (pinned to .venv) into {WHEELHOUSE}")
        pip_wheel(WHEELHOUSE, "--constraint", BUILD / "pins.txt")
        for wheel in WHEELHOUSE.glob("oncoclass-*.whl"):
            wheel.unlink()  # the project has its own folder
        cuda = [w.name for w in WHEELHOUSE.glob("nvidia_*")]
        if cuda:
            sys.exit(f"CUDA wheels in the wheelhouse (a non-CPU torch was resolved): {cuda}")
        built_for.write_text(key)
    else:
        log(f"{WHEELHOUSE} is up to date")
    wheels = list(WHEELHOUSE.glob("*.whl"))
    size = sum(w.stat().st_size for w in wheels) / 2**20
    seconds = time.monotonic() - started
    log(f"{len(wheels)} wheels ({size:.0f} MiB) and the project's, in {seconds:.0f} s")


def project_requirements() -> str:
    """The Requires-Dist lines of the project's wheel (pyproject's dependencies and extras)."""
    (wheel,) = PROJECT_WHEEL_DIR.glob("oncoclass-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        name = next(n for n in archive.namelist() if n.endswith(".dist-info/METADATA"))
        metadata = archive.read(name).decode()
    return "\n".join(line for line in metadata.splitlines() if line.startswith("Requires-Dist:"))


def pip_wheel(folder: Path, *options: str | Path) -> None:
    run(
        VENV_PYTHON,
        "-m",
        "pip",
        "wheel",
        "--quiet",
        "--wheel-dir",
        folder,
        "--find-links",
        TORCH_WHEELS,
        *options,
        f"{REPO}{PROJECT_SPEC[1:]}",
        cwd=REPO,
    )


def build_service(base_image: str = BASE_IMAGE) -> None:
    """The service image (the Dockerfile), from the wheelhouse and the project's wheel."""
    build_wheelhouse()
    started = time.monotonic()
    log(f"building {SERVICE_IMAGE} on {base_image}")
    arg = f"BASE_IMAGE={base_image}"
    # The dependencies' stage gets a tag of its own: it stays the cache of the next build,
    # while the images that earlier builds left untagged can be removed.
    docker_build(DEPS_IMAGE, REPO / "Dockerfile", REPO, arg, target="deps")
    docker_build(SERVICE_IMAGE, REPO / "Dockerfile", REPO, arg)
    run(
        "docker", "image", "prune", "--force", "--filter", "label=oncoclass.build",
        stdout=subprocess.DEVNULL,
    )  # fmt: skip
    log(f"{SERVICE_IMAGE} built in {time.monotonic() - started:.0f} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("what", choices=["all", "base", "stack", "wheels", "service"])
    parser.add_argument("--force", action="store_true", help="rebuild images that exist")
    parser.add_argument("--base-image", default=BASE_IMAGE, help="base of the service image")
    args = parser.parse_args()
    if args.what in ("all", "base"):
        build_base(args.force)
    if args.what in ("all", "stack"):
        build_stack_images(args.force)
    if args.what == "wheels":
        build_wheelhouse(args.force)
    if args.what in ("all", "service"):
        build_service(args.base_image)


if __name__ == "__main__":
    main()
