"""The data home: where fetched data sets live, like scikit-learn's ``data_home``.

CIViC releases go to ``<data_home>/civic/<release>/<release>-<name>.tsv``, with a
``MANIFEST.json`` beside them recording each file's sha256, size, origin and time, so that a
present, intact file is not fetched again and :func:`verify` can tell a damaged copy.
Downloads use only the standard library (urllib): stream to a temporary file in the target
directory, then rename it into place, so an interrupted download never looks complete.
"""

from __future__ import annotations

import hashlib
import http.client
import json
import logging
import os
import shutil
import tempfile
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

from oncoclass.data.civic import (
    ASSERTIONS,
    EVIDENCE,
    GENES,
    VARIANTS,
    find_civic_file,
    read_evidence,
    release_key,
    release_of,
)
from oncoclass.errors import DataError, DataNotFoundError, FetchError
from oncoclass.settings import get_settings

log = logging.getLogger(__name__)

MANIFEST = "MANIFEST.json"
CIVIC_NAMES: tuple[str, ...] = (EVIDENCE, VARIANTS, GENES, ASSERTIONS)
#: Files a release may lack (older releases have no assertions): skipped with a warning.
OPTIONAL_NAMES = frozenset({ASSERTIONS})
FETCH_HINT = "run `oncoclass data fetch civic` (or `oncoclass data fetch civic --from DIR`)"
_CHUNK = 1 << 16
_TIMEOUT_S = 60


def get_data_home(data_home: Path | str | None = None) -> Path:
    """The data home directory (``ONCOCLASS_DATA_HOME`` by default), created on demand."""
    home = Path(data_home if data_home is not None else get_settings().data_home).expanduser()
    home.mkdir(parents=True, exist_ok=True)
    return home


def fetch_civic(
    data_home: Path | str | None = None,
    *,
    url_template: str | None = None,
    release: str | None = None,
    from_path: Path | str | None = None,
    names: Sequence[str] = CIVIC_NAMES,
    progress: bool = True,
    force: bool = False,
) -> Path:
    """Download (or, with ``from_path``, copy) a CIViC release into the data home.

    Each file comes from ``url_template.format(release=release, name=name)`` (default:
    ``Settings.civic_url`` and ``Settings.civic_release``). A file already recorded in the
    manifest with a matching checksum is kept unless ``force``. ``from_path`` is a directory
    holding the TSVs under any release prefix (the release defaults to that prefix). The
    evidence file is parsed before it is accepted. Returns the release directory.
    """
    settings = get_settings()
    source = Path(from_path).expanduser() if from_path is not None else None
    if release is None and source is not None:
        release = _release_in(source)
    release = release or settings.civic_release
    url_template = url_template or settings.civic_url
    target = get_data_home(data_home) / "civic" / release
    target.mkdir(parents=True, exist_ok=True)
    manifest = _read_manifest(target)

    for name in names:
        dest = target / f"{release}-{name}.tsv"
        if not force and _intact(dest, manifest.get(dest.name)):
            log.info("%s is present and verified; not fetched again", dest)
            continue
        if manifest.pop(dest.name, None) is not None:  # until a new copy is in and checked
            _write_manifest(target, manifest)
        optional = name in OPTIONAL_NAMES
        if source is not None:
            entry = _import_file(source, name, dest, optional=optional)
        else:
            url = url_template.format(release=release, name=name)
            entry = _download(url, dest, optional=optional, progress=progress)
        if entry is not None:  # None: an optional file the release does not have
            if name == EVIDENCE:
                _validate_evidence(dest, entry["url"])
            manifest[dest.name] = entry
            _write_manifest(target, manifest)
    return target


def civic_data_dir(data_home: Path | str | None = None) -> Path:
    """The newest fetched or imported CIViC release directory in the data home."""
    root = get_data_home(data_home) / "civic"
    releases = [
        d
        for d in (root.iterdir() if root.is_dir() else ())
        if (d / MANIFEST).is_file() and any(d.glob(f"*{EVIDENCE}.tsv"))
    ]
    if not releases:
        raise DataNotFoundError(f"no CIViC release in the data home; {FETCH_HINT}", path=str(root))
    return max(releases, key=lambda d: release_key(d.name))


def verify(data_home: Path | str | None = None) -> dict[str, dict[str, str]]:
    """Check every manifest in the data home: ``{release dir: {file: status}}``.

    A status is ``"ok"``, ``"missing"``, ``"size mismatch"`` or ``"checksum mismatch"``.
    """
    home = get_data_home(data_home)
    report: dict[str, dict[str, str]] = {}
    for manifest_path in sorted(home.glob(f"*/*/{MANIFEST}")):
        directory = manifest_path.parent
        report[str(directory.relative_to(home))] = {
            name: _status(directory / name, entry)
            for name, entry in _read_manifest(directory).items()
        }
    return report


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(_CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _status(path: Path, entry: dict[str, Any]) -> str:
    if not path.is_file():
        return "missing"
    if path.stat().st_size != entry.get("size"):
        return "size mismatch"
    if sha256_of(path) != entry.get("sha256"):
        return "checksum mismatch"
    return "ok"


def _intact(path: Path, entry: dict[str, Any] | None) -> bool:
    return entry is not None and _status(path, entry) == "ok"


def _entry(path: Path, url: str) -> dict[str, Any]:
    return {
        "sha256": sha256_of(path),
        "size": path.stat().st_size,
        "url": url,
        "fetched_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }


def _read_manifest(directory: Path) -> dict[str, dict[str, Any]]:
    path = directory / MANIFEST
    if not path.is_file():
        return {}
    try:
        files = json.loads(path.read_text(encoding="utf-8"))["files"]
    except (ValueError, KeyError, TypeError) as exc:
        raise DataError(
            f"unreadable manifest ({exc}); delete it and fetch again", path=str(path)
        ) from exc
    return dict(files)


def _write_manifest(directory: Path, files: dict[str, dict[str, Any]]) -> None:
    with _atomic_file(directory / MANIFEST) as handle:
        handle.write(json.dumps({"files": files}, indent=2, sort_keys=True).encode("utf-8"))


@contextmanager
def _atomic_file(dest: Path) -> Iterator[IO[bytes]]:
    """A temporary file beside ``dest`` that replaces it only when the block succeeds."""
    fd, name = tempfile.mkstemp(dir=dest.parent, prefix=f".{dest.name}.")
    temporary = Path(name)
    try:
        with os.fdopen(fd, "wb") as handle:
            yield handle
        os.replace(temporary, dest)
    finally:
        temporary.unlink(missing_ok=True)  # only left when the block failed


def _release_in(source: Path) -> str | None:
    """The release prefix of the evidence file in ``source``, if it has one."""
    try:
        return release_of(find_civic_file(source, EVIDENCE)) or None
    except DataNotFoundError:
        return None  # the import itself reports the missing file


def _import_file(source: Path, name: str, dest: Path, *, optional: bool) -> dict[str, Any] | None:
    try:
        origin = find_civic_file(source, name)
    except DataNotFoundError:
        if optional:
            log.warning("no %s file in %s; skipped", name, source)
            return None
        raise
    with _atomic_file(dest) as handle, origin.open("rb") as src:
        shutil.copyfileobj(src, handle, _CHUNK)
    return _entry(dest, origin.resolve().as_uri())


def _download(url: str, dest: Path, *, optional: bool, progress: bool) -> dict[str, Any] | None:
    try:
        with urllib.request.urlopen(url, timeout=_TIMEOUT_S) as response, _atomic_file(dest) as out:
            total = int(response.headers.get("Content-Length") or 0) or None
            received = 0
            with _progress_bar(dest.name, total, enabled=progress) as advance:
                for chunk in iter(lambda: response.read(_CHUNK), b""):
                    out.write(chunk)
                    received += len(chunk)
                    advance(len(chunk))
            if total is not None and received < total:  # urllib ends a cut stream silently
                raise http.client.IncompleteRead(b"", total - received)
    except urllib.error.HTTPError as exc:
        if exc.code == 404 and optional:
            log.warning("%s not found (HTTP 404); skipped", url)
            return None
        raise FetchError(f"download of {url} failed: HTTP {exc.code} {exc.reason}") from exc
    # URLError: DNS, refused connection; OSError: timeout, reset; HTTPException: a truncated
    # body; ValueError: a URL urllib cannot open.
    except (urllib.error.URLError, OSError, http.client.HTTPException, ValueError) as exc:
        reason = getattr(exc, "reason", None) or repr(exc)
        raise FetchError(f"download of {url} failed: {reason}") from exc
    return _entry(dest, url)


@contextmanager
def _progress_bar(
    label: str, total: int | None, *, enabled: bool
) -> Iterator[Callable[[int], None]]:
    """A callable ``advance(n_bytes)`` that drives a rich download bar (or does nothing)."""
    if not enabled:
        yield lambda n: None
        return
    from rich.progress import (  # imported here: only interactive fetches need rich
        BarColumn,
        DownloadColumn,
        Progress,
        TextColumn,
        TransferSpeedColumn,
    )

    columns = (TextColumn("{task.description}"), BarColumn(), DownloadColumn())
    with Progress(*columns, TransferSpeedColumn(), transient=True) as bar:
        task = bar.add_task(label, total=total)
        yield lambda n: bar.advance(task, n)


def _validate_evidence(path: Path, url: str) -> None:
    """Parse the evidence file; a bad one is removed so that it is never mistaken for data."""
    try:
        read_evidence(path)
    except DataError as exc:
        path.unlink(missing_ok=True)
        raise FetchError(
            f"{url} is not a valid CIViC {EVIDENCE} table and was discarded: {exc}",
            path=str(path),
        ) from exc
