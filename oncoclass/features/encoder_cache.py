"""Built artefacts (an exported network, distilled vectors), cached on disk and checked on load.

``cached_artifact(root, key, build)`` returns ``root/key``, a folder holding what ``build``
wrote and a ``manifest.json`` with the sha256 and size of every file in it:

* **built atomically**: ``build`` writes into a fresh temporary folder beside the final one,
  which is renamed into place only once complete; a build that fails or is killed leaves at
  most a stray temporary folder, never a half-written artefact under its final name;
* **built once**: a lock file serialises the processes that build the same key; the ones
  that waited find the artefact ready;
* **verified on load**: every file must match the manifest. A corrupted artefact (a file
  truncated, changed or missing) is moved aside and rebuilt once; if the rebuilt one does not
  verify either, :class:`EncoderArtifactError` says which file and why.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from oncoclass.checksums import sha256_of
from oncoclass.errors import DataError

log = logging.getLogger(__name__)

MANIFEST = "manifest.json"


class EncoderArtifactError(DataError):
    """A cached encoder artefact that cannot be trusted, even after a rebuild. Names the file."""


def cached_artifact(
    root: Path,
    key: str,
    build: Callable[[Path], None],
    describe: dict[str, Any] | None = None,
) -> Path:
    """The verified folder ``root/key``; built with ``build(folder)`` when missing or corrupt."""
    final = root / key
    problem = _problem(final) if final.exists() else "missing"
    if problem is None:
        return final
    root.mkdir(parents=True, exist_ok=True)
    with _file_lock(root / f".{key}.lock"):
        # Another process may have built (or repaired) it while this one waited for the lock.
        problem = _problem(final) if final.exists() else "missing"
        if problem is None:
            return final
        if problem != "missing":
            log.warning("encoder artefact %s is corrupt (%s): rebuilding it", final, problem)
            _discard(final)
        _build(root, key, build, describe or {})
    problem = _problem(final)
    if problem is not None:
        raise EncoderArtifactError(
            f"the freshly built encoder artefact does not verify ({problem}); remove the "
            "folder and try again, or choose another cache folder (ONCOCLASS_ENCODER_CACHE_DIR)",
            path=str(final),
        )
    return final


def verify(folder: Path) -> None:
    """Raise :class:`EncoderArtifactError` unless every file matches the folder's manifest."""
    problem = _problem(folder)
    if problem is not None:
        raise EncoderArtifactError(problem, path=str(folder))


def _build(root: Path, key: str, build: Callable[[Path], None], describe: dict[str, Any]) -> None:
    tmp = Path(tempfile.mkdtemp(prefix=f".{key}.building-", dir=root))
    try:
        build(tmp)
        files = {
            p.relative_to(tmp).as_posix(): {"sha256": sha256_of(p), "bytes": p.stat().st_size}
            for p in sorted(tmp.rglob("*"))
            if p.is_file()
        }
        manifest = {
            "key": key,
            **describe,
            "built_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "files": files,
        }
        (tmp / MANIFEST).write_text(json.dumps(manifest, indent=1))
        _fsync_tree(tmp)
        os.rename(tmp, root / key)  # atomic: the artefact appears complete or not at all
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _problem(folder: Path) -> str | None:
    """What is wrong with an artefact folder (None: it matches its manifest)."""
    try:
        manifest = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
        files = manifest["files"]
        if not isinstance(files, dict) or not files:
            return "the manifest lists no file"
    except (OSError, ValueError, KeyError, TypeError) as exc:
        return f"unreadable manifest ({type(exc).__name__})"
    for name, expected in sorted(files.items()):
        path = folder / name
        if not path.is_file():
            return f"{name} is missing"
        if path.stat().st_size != expected.get("bytes"):
            return f"{name} has {path.stat().st_size} bytes, the manifest says {expected['bytes']}"
        if sha256_of(path) != expected.get("sha256"):
            return f"{name} does not match its checksum"
    return None


def _discard(folder: Path) -> None:
    """Move a corrupt artefact out of the way (a rename: readers never see it half-deleted)."""
    trash = Path(tempfile.mkdtemp(prefix=f".{folder.name}.corrupt-", dir=folder.parent))
    os.rename(folder, trash / folder.name)
    shutil.rmtree(trash, ignore_errors=True)


@contextlib.contextmanager
def _file_lock(path: Path) -> Iterator[None]:
    """An exclusive lock between processes (released by the kernel if the holder dies)."""
    import fcntl

    with path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _fsync_tree(folder: Path) -> None:
    """Flush the files to disk before the rename makes them visible (a crash right after the
    rename must not leave an artefact whose files are empty)."""
    for path in folder.rglob("*"):
        if path.is_file():
            with path.open("rb") as handle:
                os.fsync(handle.fileno())
