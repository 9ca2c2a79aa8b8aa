"""The data home and CIViC fetching, against a loopback HTTP server serving the real release."""

from __future__ import annotations

import hashlib
import json
import logging
import socket
import threading
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from oncoclass.data import civic_data_dir, fetch_civic, get_data_home, read_evidence
from oncoclass.data.home import MANIFEST, verify
from oncoclass.errors import DataNotFoundError, FetchError
from oncoclass.settings import get_settings

RELEASE = "01-Aug-2021"
EVIDENCE_FILE = f"{RELEASE}-ClinicalEvidenceSummaries.tsv"
NAMES = ("ClinicalEvidenceSummaries", "VariantSummaries", "GeneSummaries", "AssertionSummaries")


@dataclass
class Server:
    """A CIViC look-alike: ``/downloads/<release>/<file>`` from a folder, or from ``overrides``."""

    folder: Path
    url_template: str = ""
    #: file name -> bytes to serve instead, or None for a 404.
    overrides: dict[str, bytes | None] = field(default_factory=dict)
    hits: Counter[str] = field(default_factory=Counter)
    #: file names whose body is cut short of the announced Content-Length.
    truncated: set[str] = field(default_factory=set)


@pytest.fixture
def server(shared_data: Path) -> Iterator[Server]:
    state = Server(shared_data / "civic")

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (the http.server API)
            name = self.path.rsplit("/", 1)[-1]
            state.hits[name] += 1
            if name in state.overrides:
                body = state.overrides[name]
            else:
                path = state.folder / name
                body = path.read_bytes() if path.is_file() else None
            if body is None:
                self.send_error(404)
                return
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
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
    return fetch_civic(home, url_template=server.url_template, release=RELEASE, **kwargs)


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.mark.integration
def test_download_records_checksums(server: Server, tmp_path: Path) -> None:
    home = tmp_path / "home"
    target = fetch(server, home, progress=True)
    assert target == home / "civic" / RELEASE
    manifest = json.loads((target / MANIFEST).read_text())["files"]
    assert sorted(manifest) == sorted(f"{RELEASE}-{n}.tsv" for n in NAMES)
    for name, entry in manifest.items():
        assert (target / name).read_bytes() == (server.folder / name).read_bytes()
        assert entry["sha256"] == sha256(server.folder / name)
        assert entry["size"] == (server.folder / name).stat().st_size
        assert entry["url"].endswith(f"/downloads/{RELEASE}/{name}") and entry["fetched_at"]
    assert not [p for p in target.iterdir() if p.name.startswith(".")]  # no temporary files left
    assert civic_data_dir(home) == target
    assert len(read_evidence(civic_data_dir(home))) == 3650
    assert verify(home) == {f"civic/{RELEASE}": dict.fromkeys(manifest, "ok")}


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
    assert sha256(damaged) == sha256(server.folder / damaged.name)


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
    good = (server.folder / EVIDENCE_FILE).read_bytes().splitlines(keepends=True)
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
