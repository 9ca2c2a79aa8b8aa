"""Versioned model directories and the ``current`` pointer the service follows.

Training never overwrites the model being served: each training run writes a new directory

    <models_dir>/<task>-<model>/<version>/      (version: UTC time + training-data fingerprint)

completely (under a temporary name, renamed when done), then moves the ``current`` symlink to
it in one atomic step (``os.replace`` of a new link). A service that resolves ``current`` gets
either the old model or the new one, never a half-written one, and switches to the new one when
told to (``POST /v1/admin/reload``, SIGHUP) or when it notices the pointer moved (every replica
of a deployment polls it, so one ``oncoclass train`` updates them all).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from oncoclass.errors import ModelNotFoundError
from oncoclass.models.base import MODEL_FILE

CURRENT = "current"


def model_home(models_dir: Path, task: str, model: str) -> Path:
    """The folder holding every version of one task's model."""
    return models_dir / f"{task}-{model}"


def current_version(home: Path) -> Path | None:
    """The version ``current`` points at (resolved), or None when there is none yet."""
    link = home / CURRENT
    if not link.is_symlink() and not link.is_dir():
        return None
    target = link.resolve()
    return target if (target / MODEL_FILE).is_file() else None


def resolve_model_dir(path: Path) -> Path:
    """A model directory as given, or the version a model home's ``current`` points at."""
    if (path / MODEL_FILE).is_file():
        return path.resolve()
    version = current_version(path)
    if version is None:
        raise ModelNotFoundError(
            f"no trained model at {path} (no {MODEL_FILE}, no '{CURRENT}' version); "
            "train one with `oncoclass train`"
        )
    return version


def versions(home: Path) -> list[Path]:
    """Every complete version in ``home``, oldest first."""
    if not home.is_dir():
        return []
    return sorted(
        p
        for p in home.iterdir()
        if p.is_dir() and not p.is_symlink() and (p / MODEL_FILE).is_file()
    )


def publish(home: Path, build: Callable[[Path], str]) -> Path:
    """Build a new version with ``build(tmp_dir) -> fingerprint`` and make it ``current``.

    The version is complete before anyone can see it: built under a temporary name, renamed,
    then pointed at by an atomically replaced symlink.
    """
    home.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    tmp = home / f".building-{stamp}-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        fingerprint = build(tmp)
        version = home / f"{stamp}-{fingerprint[:8]}"
        os.replace(tmp, version)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    point_current(home, version)
    return version


def point_current(home: Path, version: Path) -> None:
    """Make ``current`` point at ``version`` in one atomic step (a relative link, so the
    model home can be moved or mounted elsewhere)."""
    link, tmp = home / CURRENT, home / f".{CURRENT}-{os.getpid()}"
    tmp.unlink(missing_ok=True)
    os.symlink(version.name, tmp)
    os.replace(tmp, link)
