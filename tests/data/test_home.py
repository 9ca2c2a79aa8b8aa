"""The data home and CIViC fetching, against a loopback HTTP server serving the real release."""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import socket
import threading
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from oncoclass.data import civic_data_dir, fetch_civic, get_data_home, read_evidence
from oncoclass.data.civic import civic_release, read_assertions
from oncoclass.data.home import MANIFEST, civic_releases, resolve_release, verify
from oncoclass.errors import DataNotFoundError, FetchError
from oncoclass.settings import get_settings

RELEASE = "01-Aug-2021"
RELEASE_2024 = "01-Aug-2024"
EVIDENCE_FILE = f"{RELEASE}-ClinicalEvidenceSummaries.tsv"
#: The files of each format, as the server has them (VariantGroupSummaries: optional).
NAMES = (
    "ClinicalEvidenceSummaries",
    "VariantSummaries",
    "GeneSummaries",
    "AssertionSummaries",
    "VariantGroupSummaries",
)
NAMES_2024 = (*NAMES, "MolecularProfileSummaries")


@dataclass
class Server:
    """A CIViC look-alike: ``/downloads/<release>/<release>-<name>.tsv`` from the folder that
    ``releases`` maps the release to (under the prefix its files have there), or from
    ``overrides``."""

    #: release in the URL -> (folder, release prefix of the files in it).
    releases: dict[str, tuple[Path, str]]
    url_template: str = ""
    #: file name -> bytes to serve instead, or None for a 404.
    overrides: dict[str, bytes | None] = field(default_factory=dict)
    hits: Counter[str] = field(default_factory=Counter)
    #: file names whose body is cut short of the announced Content-Length.
    truncated: set[str] = field(default_factory=set)

    def local(self, name: str) -> Path:
        """The served file behind a requested name ("01-Aug-2021-GeneSummaries.tsv")."""
        for release, (folder, prefix) in self.releases.items():
            if name.startswith(f"{release}-"):
                return folder / f"{prefix}-{name.removeprefix(f'{release}-')}"
        return Path("/nonexistent") / name


@pytest.fixture
def server(shared_data: Path) -> Iterator[Server]:
    state = Server(
        {
            RELEASE: (shared_data / "civic", RELEASE),
            RELEASE_2024: (shared_data / "civic_2024", RELEASE_2024),
        }
    )

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (the http.server API)
            release, name = self.path.rsplit("/", 2)[-2:]
            state.hits[name] += 1
            if name in state.overrides:
                body = state.overrides[name]
            else:
                path = state.local(name)
                body = path.read_bytes() if path.is_file() and release in state.releases else None
            if body is None:
                self.send_error(404)
                return
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            with contextlib.suppress(BrokenPipeError, ConnectionResetError):  # a probe reads
                self.wfile.write(body[: len(body) // 2] if name in state.truncated else body)

        def log_message(self, *args: object) -> None:  # keep the test output quiet
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    port = httpd.server_address[1]
    state.url_template = f"http://127.0.0.1:{port}/downloads/{{release}}/{{release}}-{{name}}.tsv"
    thread = threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield state
    httpd.shutdown()
    httpd.server_close()
    thread.join()


def fetch(server: Server, home: Path, **kwargs) -> Path:
    kwargs.setdefault("progress", False)
    kwargs.setdefault("release", RELEASE)
    return fetch_civic(home, url_template=server.url_template, **kwargs)


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def manifest_of(target: Path) -> dict:
    return json.loads((target / MANIFEST).read_text())


@pytest.mark.integration
def test_download_records_checksums(server: Server, tmp_path: Path) -> None:
    home = tmp_path / "home"
    target = fetch(server, home, progress=True)
    assert target == home / "civic" / RELEASE
    manifest = json.loads((target / MANIFEST).read_text())["files"]
    assert sorted(manifest) == sorted(f"{RELEASE}-{n}.tsv" for n in NAMES)
    for name, entry in manifest.items():
        assert (target / name).read_bytes() == server.local(name).read_bytes()
        assert entry["sha256"] == sha256(server.local(name))
        assert entry["size"] == server.local(name).stat().st_size
        assert entry["url"].endswith(f"/downloads/{RELEASE}/{name}") and entry["fetched_at"]
    assert not [p for p in target.iterdir() if p.name.startswith(".")]  # no temporary files left
    assert civic_data_dir(home) == target
    assert len(read_evidence(civic_data_dir(home))) == 3650
    assert verify(home) == {f"civic/{RELEASE}": dict.fromkeys(manifest, "ok")}
    release = manifest_of(target)["release"]
    assert (release["requested"], release["release"], release["format"]) == (
        RELEASE,
        RELEASE,
        "2021",
    )
    assert server.hits[f"{RELEASE}-MolecularProfileSummaries.tsv"] == 0  # not in the 2021 format


@pytest.mark.integration
def test_present_files_are_not_fetched_again(server: Server, tmp_path: Path) -> None:
    names = ("GeneSummaries", "AssertionSummaries")
    target = fetch(server, tmp_path, names=names)
    fetch(server, tmp_path, names=names)
    assert set(server.hits.values()) == {1}

    fetch(server, tmp_path, names=names, force=True)
    assert set(server.hits.values()) == {2}

    damaged = target / f"{RELEASE}-GeneSummaries.tsv"
    damaged.write_text("tampered")
    assert verify(tmp_path)[f"civic/{RELEASE}"][damaged.name] == "size mismatch"
    fetch(server, tmp_path, names=names)
    assert server.hits[damaged.name] == 3
    assert sha256(damaged) == sha256(server.local(damaged.name))


@pytest.mark.integration
def test_404_on_the_evidence_file_is_a_fetch_error(server: Server, tmp_path: Path) -> None:
    server.overrides[EVIDENCE_FILE] = None
    with pytest.raises(FetchError, match="HTTP 404") as info:
        fetch(server, tmp_path)
    assert f"/downloads/{RELEASE}/{EVIDENCE_FILE}" in str(info.value)
    with pytest.raises(DataNotFoundError, match="oncoclass data fetch civic"):
        civic_data_dir(tmp_path)


@pytest.mark.integration
def test_missing_assertions_are_skipped_with_a_warning(
    server: Server, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    server.overrides[f"{RELEASE}-AssertionSummaries.tsv"] = None
    with caplog.at_level(logging.WARNING, logger="oncoclass.data.home"):
        target = fetch(server, tmp_path, names=("GeneSummaries", "AssertionSummaries"))
    assert "AssertionSummaries" in caplog.text and "404" in caplog.text
    assert [p.name for p in target.glob("*.tsv")] == [f"{RELEASE}-GeneSummaries.tsv"]


@pytest.mark.integration
def test_corrupt_evidence_file_is_rejected_and_removed(server: Server, tmp_path: Path) -> None:
    good = server.local(EVIDENCE_FILE).read_bytes().splitlines(keepends=True)
    server.overrides[EVIDENCE_FILE] = b"".join(good[:3]) + b"JAK2\tV617F\ttruncated row\n"
    with pytest.raises(FetchError, match="not a valid CIViC") as info:
        fetch(server, tmp_path, names=("ClinicalEvidenceSummaries",))
    assert "line 4" in str(info.value) and EVIDENCE_FILE in str(info.value)
    assert not (tmp_path / "civic" / RELEASE / EVIDENCE_FILE).exists()
    assert not (tmp_path / "civic" / RELEASE / MANIFEST).exists()  # nothing was accepted

    server.overrides[EVIDENCE_FILE] = b"<html>Service unavailable</html>\n"
    with pytest.raises(FetchError, match="missing column"):
        fetch(server, tmp_path, names=("ClinicalEvidenceSummaries",))


@pytest.mark.integration
def test_truncated_download_leaves_nothing_behind(server: Server, tmp_path: Path) -> None:
    server.truncated.add(f"{RELEASE}-GeneSummaries.tsv")
    with pytest.raises(FetchError, match="GeneSummaries.tsv failed"):
        fetch(server, tmp_path, names=("GeneSummaries",))
    assert list((tmp_path / "civic" / RELEASE).iterdir()) == []


def test_unreachable_server_is_a_fetch_error(tmp_path: Path) -> None:
    with socket.socket() as sock:  # a port that nothing listens on once closed
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    url = f"http://127.0.0.1:{port}/{{release}}-{{name}}.tsv"
    with pytest.raises(FetchError, match=f"127.0.0.1:{port}"):
        fetch_civic(tmp_path, url_template=url, release="r", progress=False)


@pytest.mark.integration
def test_import_from_a_local_copy(shared_data: Path, tmp_path: Path) -> None:
    target = fetch_civic(tmp_path, from_path=shared_data / "civic")
    assert target.name == RELEASE  # the release comes from the files' prefix
    manifest = json.loads((target / MANIFEST).read_text())["files"]
    assert manifest[EVIDENCE_FILE]["sha256"] == sha256(shared_data / "civic" / EVIDENCE_FILE)
    assert manifest[EVIDENCE_FILE]["url"].startswith("file://")
    assert civic_data_dir(tmp_path) == target


def test_import_needs_the_evidence_file(tmp_path: Path) -> None:
    (tmp_path / "copy").mkdir()
    with pytest.raises(DataNotFoundError, match="ClinicalEvidenceSummaries"):
        fetch_civic(tmp_path / "home", from_path=tmp_path / "copy", progress=False)


def test_newest_release_wins(tmp_path: Path) -> None:
    for release in ("01-Jul-2021", "01-Aug-2021", "01-Jan-2020"):
        folder = tmp_path / "civic" / release
        folder.mkdir(parents=True)
        (folder / f"{release}-ClinicalEvidenceSummaries.tsv").touch()
        (folder / MANIFEST).write_text('{"files": {}}')
    (tmp_path / "civic" / "01-Dec-2021").mkdir()  # an interrupted fetch: no manifest, no data
    assert civic_data_dir(tmp_path).name == "01-Aug-2021"


def test_data_home_defaults_to_settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ONCOCLASS_DATA_HOME", str(tmp_path / "from-env"))
    get_settings.cache_clear()
    try:
        assert get_data_home() == tmp_path / "from-env"
        assert (tmp_path / "from-env").is_dir()
        assert get_data_home(tmp_path / "given") == tmp_path / "given"
    finally:
        get_settings.cache_clear()


# --- releases: the current format, "latest", "nightly", side by side -----------------------------


@pytest.mark.integration
def test_fetch_a_current_format_release(server: Server, tmp_path: Path) -> None:
    target = fetch(server, tmp_path, release=RELEASE_2024)
    assert target == tmp_path / "civic" / RELEASE_2024
    manifest = manifest_of(target)
    assert sorted(manifest["files"]) == sorted(f"{RELEASE_2024}-{n}.tsv" for n in NAMES_2024)
    for name, entry in manifest["files"].items():
        assert entry["sha256"] == sha256(server.local(name))
    release = manifest["release"]
    assert (release["requested"], release["release"], release["format"]) == (
        RELEASE_2024,
        RELEASE_2024,
        "current",
    )
    items = read_evidence(target)
    assert len(items) == 4375 and sum(ev.is_complex for ev in items) == 413
    assert all(c.variant_id for ev in items[:100] for c in ev.components)  # profiles resolved
    assert len(read_assertions(target)) == 66
    info = civic_release(target)
    assert (info.name, info.format, info.date, info.requested) == (
        RELEASE_2024,
        "current",
        date(2024, 8, 1),
        RELEASE_2024,
    )


@pytest.mark.integration
def test_latest_probes_back_month_by_month(server: Server, tmp_path: Path) -> None:
    target = fetch(server, tmp_path, release="latest", today=date(2024, 10, 15))
    assert target.name == RELEASE_2024
    probed = [f"{r}-ClinicalEvidenceSummaries.tsv" for r in ("01-Oct-2024", "01-Sep-2024")]
    assert [server.hits[name] for name in probed] == [1, 1]  # two 404s, then found
    assert manifest_of(target)["release"]["requested"] == "latest"
    assert manifest_of(target)["release"]["release"] == RELEASE_2024
    assert len(read_evidence(civic_data_dir(tmp_path, "latest"))) == 4375


@pytest.mark.integration
def test_latest_skips_a_page_that_is_not_a_release(server: Server, tmp_path: Path) -> None:
    # A web site may answer a missing path with a page (HTTP 200): that is no release.
    server.overrides["01-Sep-2024-ClinicalEvidenceSummaries.tsv"] = b"<html>CIViC</html>\n"
    name, kept = resolve_release("latest", url_template=server.url_template, today=date(2024, 9, 2))
    assert (name, kept) == (RELEASE_2024, RELEASE_2024)


@pytest.mark.integration
def test_latest_gives_up_after_max_months(server: Server, tmp_path: Path) -> None:
    with pytest.raises(
        FetchError, match="no CIViC monthly release found from 01-Jan-2026 back to 01-Nov-2025"
    ):
        fetch(server, tmp_path, release="latest", today=date(2026, 1, 20), max_months=3)
    assert sum(server.hits.values()) == 3


@pytest.mark.integration
def test_nightly_is_kept_dated(server: Server, tmp_path: Path) -> None:
    server.releases["nightly"] = server.releases[RELEASE_2024]  # the nightly files, served
    target = fetch(server, tmp_path, release="nightly", today=date(2024, 10, 15))
    assert target.name == "nightly-2024-10-15"
    evidence = target / "nightly-2024-10-15-ClinicalEvidenceSummaries.tsv"
    manifest = manifest_of(target)
    assert manifest["files"][evidence.name]["url"].endswith(
        "/downloads/nightly/nightly-ClinicalEvidenceSummaries.tsv"
    )
    assert (manifest["release"]["requested"], manifest["release"]["date"]) == (
        "nightly",
        "2024-10-15",
    )
    info = civic_release(target)
    assert (info.name, info.date, info.format) == (
        "nightly-2024-10-15",
        date(2024, 10, 15),
        "current",
    )
    assert len(read_evidence(target)) == 4375
    assert civic_data_dir(tmp_path, "nightly") == target
    with pytest.raises(DataNotFoundError, match="no nightly"):
        civic_data_dir(tmp_path / "other", "nightly")


@pytest.mark.integration
def test_releases_side_by_side(server: Server, tmp_path: Path) -> None:
    old = fetch(server, tmp_path, release=RELEASE)
    new = fetch(server, tmp_path, release=RELEASE_2024)
    assert old.parent == new.parent and old != new
    assert civic_data_dir(tmp_path) == new  # the newest
    assert civic_data_dir(tmp_path, RELEASE) == old
    assert len(read_evidence(civic_data_dir(tmp_path, RELEASE))) == 3650  # 2021 still reads
    assert not list(old.glob("*MolecularProfileSummaries.tsv"))
    assert [(r.name, r.format) for r in civic_releases(tmp_path)] == [
        (RELEASE, "2021"),
        (RELEASE_2024, "current"),
    ]
    with pytest.raises(DataNotFoundError, match="01-Jan-2023 is not in the data home.*01-Aug-2021"):
        civic_data_dir(tmp_path, "01-Jan-2023")
    assert verify(tmp_path).keys() == {f"civic/{RELEASE}", f"civic/{RELEASE_2024}"}


@pytest.mark.integration
def test_import_takes_the_release_from_the_prefix(shared_data: Path, tmp_path: Path) -> None:
    target = fetch_civic(tmp_path, from_path=shared_data / "civic_2024", progress=False)
    assert target.name == RELEASE_2024
    assert sorted(manifest_of(target)["files"]) == sorted(
        f"{RELEASE_2024}-{n}.tsv" for n in NAMES_2024
    )
    assert manifest_of(target)["release"]["format"] == "current"


def test_resolve_release_names() -> None:
    assert resolve_release("nightly", today=date(2025, 3, 9)) == ("nightly", "nightly-2025-03-09")
    assert resolve_release("01-Aug-2024") == ("01-Aug-2024", "01-Aug-2024")


@pytest.mark.integration
def test_a_page_instead_of_a_profile_table_is_rejected(server: Server, tmp_path: Path) -> None:
    name = f"{RELEASE_2024}-MolecularProfileSummaries.tsv"
    server.overrides[name] = b"<html>Service unavailable</html>\n"
    with pytest.raises(FetchError, match="not a valid CIViC MolecularProfileSummaries"):
        fetch(server, tmp_path, release=RELEASE_2024)
    target = tmp_path / "civic" / RELEASE_2024
    assert not (target / name).exists() and name not in manifest_of(target)["files"]
