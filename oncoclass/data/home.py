"""The data home: where fetched data sets live, like scikit-learn's ``data_home``.

CIViC releases go to ``<data_home>/civic/<release>/<release>-<name>.tsv``, side by side, with a
``MANIFEST.json`` beside them recording each file's sha256, size, origin and time (so that a
present, intact file is not fetched again and :func:`verify` can tell a damaged copy) and the
release: which one was asked for ("latest", "nightly", "01-Aug-2024") and which one was got.

CIViC publishes a monthly release on the 1st of each month
(``https://civicdb.org/downloads/01-Nov-2026/01-Nov-2026-ClinicalEvidenceSummaries.tsv``) and a
nightly one (``.../downloads/nightly/nightly-ClinicalEvidenceSummaries.tsv``). "latest" is found
by probing month by month backwards from today; a nightly copy is kept as
``nightly-<the day it was fetched>``, so that it is dated and later copies sit beside it.

Downloads use only the standard library (urllib): stream to a temporary file in the target
directory, then rename it into place, so an interrupted download never looks complete.
"""

from __future__ import annotations

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
from datetime import UTC, date, datetime
from pathlib import Path
from typing import IO, Any

from oncoclass.checksums import sha256_of
from oncoclass.data.civic import (
    ASSERTIONS,
    EVIDENCE,
    FORMAT_FILES,
    LATEST,
    MANIFEST,
    NIGHTLY,
    VARIANT_GROUPS,
    CivicFormat,
    CivicRelease,
    civic_release,
    detect_format,
    find_civic_file,
    monthly_release,
    nightly_release,
    read_release_meta,
    release_date,
    release_key,
    release_of,
    validate_table,
)
from oncoclass.errors import DataError, DataNotFoundError, FetchError
from oncoclass.settings import get_settings

log = logging.getLogger(__name__)

__all__ = [
    "CIVIC_NAMES",
    "MANIFEST",
    "civic_data_dir",
    "civic_releases",
    "fetch_civic",
    "get_data_home",
    "resolve_release",
    "verify",
]

#: Every file a release may have (the current format's; the 2021 one lacks the profiles).
CIVIC_NAMES: tuple[str, ...] = FORMAT_FILES["current"]
#: Files a release may lack (older releases have no assertions, some no variant groups):
#: skipped with a warning.
OPTIONAL_NAMES = frozenset({ASSERTIONS, VARIANT_GROUPS})
FETCH_HINT = "run `oncoclass data fetch civic` (or `oncoclass data fetch civic --from DIR`)"
#: How many months back "latest" looks for a monthly release.
LATEST_MONTHS = 24
#: A release imported from files without a release prefix.
LOCAL_RELEASE = "local"
_CHUNK = 1 << 16
_TIMEOUT_S = 60
#: HTTP statuses that mean "no such release" while probing (S3-style hosts answer 403).
_ABSENT = frozenset({403, 404, 410})


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
    names: Sequence[str] | None = None,
    progress: bool = True,
    force: bool = False,
    today: date | None = None,
    max_months: int = LATEST_MONTHS,
) -> Path:
    """Download (or, with ``from_path``, copy) a CIViC release into the data home.

    ``release`` (default ``Settings.civic_release``) is ``"latest"`` (the newest monthly
    release, probed from ``today``'s month backwards, at most ``max_months``), ``"nightly"``
    (kept as ``nightly-<today>``) or a release name such as ``"01-Aug-2024"``. Each file comes
    from ``url_template.format(release=..., name=...)`` (default ``Settings.civic_url``).
    ``names`` defaults to every file of the release's format, which the evidence header tells
    (the 2021 format has no MolecularProfileSummaries); assertions and variant groups are
    optional. A file already recorded in the manifest with a matching checksum is kept unless
    ``force``. Every file is parsed before it is accepted.

    ``from_path`` is a directory holding the TSVs under any release prefix; the release is that
    prefix unless ``release`` names another. Returns the release directory.
    """
    settings = get_settings()
    today = today or datetime.now(UTC).date()
    url_template = url_template or settings.civic_url
    requested = release or (None if from_path is not None else settings.civic_release)
    source = Path(from_path).expanduser() if from_path is not None else None
    if source is not None:
        origin = find_civic_file(source, EVIDENCE)  # DataNotFoundError when there is none
        stored = _import_name(requested, release_of(origin), today)
        remote = stored
    else:
        remote, stored = resolve_release(
            requested or LATEST, url_template=url_template, today=today, max_months=max_months
        )
    target = get_data_home(data_home) / "civic" / stored
    target.mkdir(parents=True, exist_ok=True)
    manifest = _read_manifest(target)
    meta: dict[str, Any] = {
        **read_release_meta(target),
        "requested": requested or stored,
        "release": stored,
        "date": (release_date(stored) or today).isoformat(),
        "source": str(source)
        if source is not None
        else url_template.format(release=remote, name="{name}"),
    }

    pending = list(names) if names is not None else [EVIDENCE]
    explicit = names is not None
    while pending:
        name = pending.pop(0)
        dest = target / f"{stored}-{name}.tsv"
        if not force and _intact(dest, manifest.get(dest.name)):
            log.info("%s is present and verified; not fetched again", dest)
        else:
            if manifest.pop(dest.name, None) is not None:  # until a new copy is in and checked
                _write_manifest(target, manifest, meta)
            optional = name in OPTIONAL_NAMES
            if source is not None:
                entry = _import_file(source, name, dest, optional=optional)
            else:
                url = url_template.format(release=remote, name=name)
                entry = _download(url, dest, optional=optional, progress=progress)
            if entry is not None:  # None: an optional file the release does not have
                _validate(dest, name, entry["url"])
                manifest[dest.name] = entry
                meta["fetched_at"] = entry["fetched_at"]
        if name == EVIDENCE and dest.is_file():
            fmt = _format_of(dest)
            meta["format"] = fmt
            if not explicit:  # the evidence header tells which files the release has
                pending = [n for n in FORMAT_FILES[fmt] if n != EVIDENCE]
        _write_manifest(target, manifest, meta)
    return target


def resolve_release(
    release: str,
    *,
    url_template: str | None = None,
    today: date | None = None,
    max_months: int = LATEST_MONTHS,
) -> tuple[str, str]:
    """(the release name in the download URL, the name it is kept under) of a requested one.

    ``"latest"`` probes the monthly releases from ``today``'s month backwards (``max_months``
    at most) and answers the first one whose evidence file is there; ``"nightly"`` is fetched
    as "nightly" and kept as ``nightly-<today>``; any other name is taken as it is.
    """
    today = today or datetime.now(UTC).date()
    if release == NIGHTLY:
        return NIGHTLY, nightly_release(today)
    if release != LATEST:
        return release, release
    template = url_template or get_settings().civic_url
    year, month = today.year, today.month
    tried: list[str] = []
    for _ in range(max(max_months, 1)):
        name = monthly_release(date(year, month, 1))
        url = template.format(release=name, name=EVIDENCE)
        if _probe(url):
            log.info("latest CIViC release: %s", name)
            return name, name
        tried.append(name)
        year, month = (year, month - 1) if month > 1 else (year - 1, 12)
    raise FetchError(
        f"no CIViC monthly release found from {tried[0]} back to {tried[-1]} "
        f"({template.format(release='<release>', name=EVIDENCE)}); name one with --release"
    )


def civic_data_dir(data_home: Path | str | None = None, release: str | None = None) -> Path:
    """A fetched or imported CIViC release directory in the data home: the newest one (also for
    ``"latest"``), the newest nightly copy for ``"nightly"``, or the one named."""
    root = get_data_home(data_home) / "civic"
    releases = _release_dirs(root)
    if release == NIGHTLY:
        releases = [d for d in releases if d.name == NIGHTLY or d.name.startswith(f"{NIGHTLY}-")]
    elif release not in (None, LATEST):
        releases = [d for d in releases if d.name == release]
        if not releases:
            have = ", ".join(d.name for d in _release_dirs(root)) or "none"
            raise DataNotFoundError(
                f"CIViC release {release} is not in the data home (it has: {have}); {FETCH_HINT}",
                path=str(root),
            )
    if not releases:
        what = "no nightly CIViC copy" if release == NIGHTLY else "no CIViC release"
        raise DataNotFoundError(f"{what} in the data home; {FETCH_HINT}", path=str(root))
    return max(releases, key=lambda d: release_key(d.name))


def civic_releases(data_home: Path | str | None = None) -> list[CivicRelease]:
    """Every CIViC release in the data home, oldest first, with its format and date."""
    root = get_data_home(data_home) / "civic"
    dirs = sorted(_release_dirs(root), key=lambda d: release_key(d.name))
    return [civic_release(d) for d in dirs]


def _release_dirs(root: Path) -> list[Path]:
    """Release folders holding a manifest and an evidence file (not an interrupted fetch)."""
    return [
        d
        for d in (root.iterdir() if root.is_dir() else ())
        if (d / MANIFEST).is_file() and any(d.glob(f"*{EVIDENCE}.tsv"))
    ]


def _import_name(requested: str | None, prefix: str, today: date) -> str:
    """The name an imported copy is kept under: the release asked for, else its files' prefix
    (a nightly copy dated today), else "local"."""
    name = requested if requested not in (None, LATEST) else prefix
    if name == NIGHTLY:
        return nightly_release(today)
    return name or LOCAL_RELEASE


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


def _write_manifest(
    directory: Path, files: dict[str, dict[str, Any]], release: dict[str, Any]
) -> None:
    document = {"files": files, "release": release}
    with _atomic_file(directory / MANIFEST) as handle:
        handle.write(json.dumps(document, indent=2, sort_keys=True).encode("utf-8"))


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


def _probe(url: str) -> bool:
    """Whether ``url`` serves a CIViC evidence table: its first line must be one (a web site
    may answer a missing path with a page). Only the first line is read."""
    try:
        with urllib.request.urlopen(url, timeout=_TIMEOUT_S) as response:
            first = response.readline(_CHUNK).decode("utf-8", errors="replace")
    except urllib.error.HTTPError as exc:
        if exc.code in _ABSENT:
            return False
        raise FetchError(f"probing {url} failed: HTTP {exc.code} {exc.reason}") from exc
    except (urllib.error.URLError, OSError, http.client.HTTPException, ValueError) as exc:
        reason = getattr(exc, "reason", None) or repr(exc)
        raise FetchError(f"probing {url} failed: {reason}") from exc
    try:
        detect_format(first.rstrip("\r\n").split("\t"))
    except DataError:
        return False
    return True


def _format_of(path: Path) -> CivicFormat:
    with path.open(encoding="utf-8", errors="replace") as handle:
        return detect_format(handle.readline().rstrip("\r\n").split("\t"), path)


def _validate(path: Path, name: str, url: str) -> None:
    """Parse a fetched file; a bad one is removed so that it is never mistaken for data."""
    try:
        validate_table(path, name)
    except DataError as exc:
        path.unlink(missing_ok=True)
        raise FetchError(
            f"{url} is not a valid CIViC {name} table and was discarded: {exc}",
            path=str(path),
        ) from exc
