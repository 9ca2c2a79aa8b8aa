"""The artefact cache: built once and atomically, even by racing processes; verified on load;
a corrupted artefact rebuilt, one that cannot be trusted refused by name."""

from __future__ import annotations

import json
import multiprocessing
import time
from pathlib import Path

import pytest

from oncoclass.features.encoder_cache import (
    MANIFEST,
    EncoderArtifactError,
    cached_artifact,
    verify,
)

KEY = "fake-0123"


def slow_build(folder: Path) -> None:
    """Writes a two-file artefact slowly, and counts the builds beside the cache."""
    with (folder.parent / "builds.log").open("a") as log:
        log.write("build\n")
    (folder / "weights.bin").write_bytes(bytes(range(256)) * 64)
    time.sleep(0.5)  # a window for a racing process to find the artefact half-built
    (folder / "sub").mkdir()
    (folder / "sub" / "table.txt").write_text("the second file")


def _race(root: str, out: str) -> None:
    folder = cached_artifact(Path(root), KEY, slow_build)
    Path(out).write_text((folder / "sub" / "table.txt").read_text())


def builds(root: Path) -> int:
    path = root / "builds.log"
    return len(path.read_text().splitlines()) if path.exists() else 0


def test_built_once_with_a_manifest_and_then_read_back(tmp_path: Path) -> None:
    folder = cached_artifact(tmp_path, KEY, slow_build, describe={"backend": "fake"})
    assert folder == tmp_path / KEY
    manifest = json.loads((folder / MANIFEST).read_text())
    assert manifest["backend"] == "fake"
    assert set(manifest["files"]) == {"weights.bin", "sub/table.txt"}
    assert cached_artifact(tmp_path, KEY, slow_build) == folder
    assert builds(tmp_path) == 1


def test_racing_processes_build_once_and_all_see_a_complete_artefact(tmp_path: Path) -> None:
    context = multiprocessing.get_context("spawn")  # fresh interpreters, as separate services
    outs = [tmp_path / f"out{i}" for i in range(3)]
    procs = [context.Process(target=_race, args=(str(tmp_path), str(o))) for o in outs]
    for p in procs:
        p.start()
    for p in procs:
        p.join(timeout=120)
        assert p.exitcode == 0
    assert builds(tmp_path) == 1
    assert {o.read_text() for o in outs} == {"the second file"}
    verify(tmp_path / KEY)


def test_a_failed_build_leaves_nothing_under_the_final_name(tmp_path: Path) -> None:
    def broken(folder: Path) -> None:
        (folder / "weights.bin").write_bytes(b"half")
        raise RuntimeError("killed half-way")

    with pytest.raises(RuntimeError, match="half-way"):
        cached_artifact(tmp_path, KEY, broken)
    assert not (tmp_path / KEY).exists()
    assert not [p for p in tmp_path.iterdir() if p.is_dir()]  # no temporary folder left
    cached_artifact(tmp_path, KEY, slow_build)  # and the next call builds it properly
    verify(tmp_path / KEY)


@pytest.mark.parametrize(
    "damage",
    ["truncate", "flip", "delete", "manifest"],
)
def test_a_corrupted_artefact_is_refused_by_verify_and_rebuilt_on_load(
    tmp_path: Path, damage: str
) -> None:
    folder = cached_artifact(tmp_path, KEY, slow_build)
    target = folder / "weights.bin"
    if damage == "truncate":
        target.write_bytes(target.read_bytes()[:100])
    elif damage == "flip":
        data = bytearray(target.read_bytes())
        data[10] ^= 1
        target.write_bytes(bytes(data))
    elif damage == "delete":
        target.unlink()
    else:
        (folder / MANIFEST).write_text("{not json")
    with pytest.raises(EncoderArtifactError, match=str(folder)):
        verify(folder)
    assert cached_artifact(tmp_path, KEY, slow_build) == folder
    verify(folder)
    assert builds(tmp_path) == 2


def test_an_artefact_that_does_not_verify_after_a_rebuild_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import oncoclass.features.encoder_cache as cache

    cached_artifact(tmp_path, KEY, slow_build)
    (tmp_path / KEY / "weights.bin").write_bytes(b"changed")
    # A disk that corrupts what is written: the rebuilt artefact fails its check too.
    real_build = cache._build

    def corrupting_build(*args: object) -> None:
        real_build(*args)  # type: ignore[arg-type]
        (tmp_path / KEY / "weights.bin").write_bytes(b"changed again")

    monkeypatch.setattr(cache, "_build", corrupting_build)
    with pytest.raises(EncoderArtifactError, match="does not verify.*weights.bin"):
        cached_artifact(tmp_path, KEY, slow_build)
