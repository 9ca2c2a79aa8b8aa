"""The sentence encoder's back-ends against the PyTorch reference, on real CIViC statements;
their artefacts: deterministic builds, the cache key, a corrupted artefact rebuilt."""

from __future__ import annotations

import csv
import random
import sys
from pathlib import Path

import numpy as np
import pytest

from oncoclass.checksums import sha256_of
from oncoclass.features.encoder_backends import (
    BACKENDS,
    OnnxBackend,
    backend_key,
    build_onnx_int8,
)
from oncoclass.features.encoder_cache import MANIFEST
from oncoclass.features.sentence_encoder import SentenceEncoder, get_sentence_encoder

N_STATEMENTS = 240
#: The agreement the ONNX Runtime int8 back-end promises with the fp32 PyTorch reference.
MIN_COSINE = 0.99


@pytest.fixture(scope="module")
def statements(civic_dir: Path) -> list[str]:
    """``N_STATEMENTS`` real CIViC evidence statements (a fixed random draw)."""
    csv.field_size_limit(sys.maxsize)
    path = civic_dir / "01-Aug-2024-ClinicalEvidenceSummaries.tsv"
    with path.open(newline="", encoding="utf-8") as handle:
        rows = csv.DictReader(handle, delimiter="\t", quoting=csv.QUOTE_NONE)
        texts = sorted({r["evidence_statement"] for r in rows if r["evidence_statement"].strip()})
    return random.Random(7).sample(texts, N_STATEMENTS)


@pytest.mark.integration
def test_onnx_int8_agrees_with_the_pytorch_reference(statements: list[str]) -> None:
    reference = get_sentence_encoder("torch").encode(statements)
    int8 = get_sentence_encoder("onnx-int8").encode(statements)
    cosine = (reference * int8).sum(axis=1)  # both are unit vectors
    assert cosine.min() >= MIN_COSINE, f"worst statement: {statements[int(cosine.argmin())]!r}"
    assert cosine.mean() >= 0.995
    # Not a copy of the reference either: the test can tell the back-ends apart.
    assert cosine.min() < 1.0 - 1e-6


@pytest.mark.integration
def test_two_threads_give_the_same_bits_as_one(
    statements: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A lone text may run on both cores when the machine is idle: that must not change a bit
    of its states, or an answer would depend on the load of the moment."""
    encoder = get_sentence_encoder("onnx-int8")
    backend = encoder.backend
    if len(backend.sessions) < 2:
        pytest.skip("one core: no two-thread session")
    for text in statements:
        (tokens,) = encoder._tokenize([text])
        np.testing.assert_array_equal(backend.states(tokens.ids, 1), backend.states(tokens.ids, 2))
    embeddings = {}
    for threads in (1, 2):
        monkeypatch.setattr(encoder, "_lone_text_threads", lambda n=threads: n)
        encoder.cache_clear()
        embeddings[threads] = np.stack([encoder.encode([t])[0] for t in statements[:20]])
    np.testing.assert_array_equal(embeddings[1], embeddings[2])


@pytest.mark.integration
def test_static_vectors_keep_part_of_the_reference_neighbourhoods(statements: list[str]) -> None:
    """Static vectors live in another space (no cosine to compare with the reference) and see
    no context, yet which statements are alike should partly survive the distillation: the
    ranks of the pairwise similarities correlate. Measured on these statements: 0.46; with the
    table's rows shuffled (word overlap alone) 0.18."""
    texts = statements[:80]
    sims = {}
    for name in ("torch", "static"):
        e = get_sentence_encoder(name).encode(texts)
        sims[name] = (e @ e.T)[np.triu_indices(len(texts), 1)]
    ranks = {k: np.argsort(np.argsort(v)) for k, v in sims.items()}
    spearman = np.corrcoef(ranks["torch"], ranks["static"])[0, 1]
    assert spearman > 0.3


@pytest.mark.integration
def test_the_same_text_gets_bit_identical_embeddings_across_processes(
    statements: list[str], tmp_path: Path
) -> None:
    """A child process (fresh imports, its own session) computes the same bits."""
    import subprocess

    texts = statements[:6]
    script = (
        "import sys, numpy as np\n"
        "from oncoclass.features.sentence_encoder import SentenceEncoder\n"
        "texts = [l.rstrip('\\n') for l in open(sys.argv[1], encoding='utf-8')]\n"
        "for name in sys.argv[3:]:\n"
        "    np.save(f'{sys.argv[2]}/{name}.npy', SentenceEncoder(name).encode(texts))\n"
    )
    (tmp_path / "texts.txt").write_text("\n".join(texts) + "\n", encoding="utf-8")
    names = list(BACKENDS)
    subprocess.run(
        [sys.executable, "-c", script, str(tmp_path / "texts.txt"), str(tmp_path), *names],
        check=True,
        timeout=600,
    )
    for name in names:
        here = get_sentence_encoder(name)
        here.cache_clear()
        np.testing.assert_array_equal(np.load(tmp_path / f"{name}.npy"), here.encode(texts))


def test_the_int8_build_is_deterministic(tmp_path: Path) -> None:
    """Two builds give the same file: a rebuilt artefact (after corruption, or in another
    process's cache folder) gives the numbers a model was trained on."""
    for name in ("a", "b"):
        (tmp_path / name).mkdir()
        build_onnx_int8(tmp_path / name)
    digests = {sha256_of(tmp_path / n / OnnxBackend.FILE) for n in ("a", "b")}
    assert len(digests) == 1


def test_the_key_names_the_back_end_and_changes_with_it() -> None:
    keys = {name: backend_key(name) for name in BACKENDS}
    assert all(key.startswith(f"{name}-") for name, key in keys.items())
    assert len(set(keys.values())) == len(keys)
    assert backend_key("onnx-int8") == keys["onnx-int8"]  # stable within a process


def test_a_corrupted_artefact_is_rebuilt_and_gives_the_same_numbers(tmp_path: Path) -> None:
    first = SentenceEncoder("onnx-int8", cache_dir=tmp_path)
    before = first.encode(["KRAS G12C lung cancer responded to sotorasib."])
    (folder,) = [p for p in tmp_path.iterdir() if (p / MANIFEST).is_file()]
    model = folder / OnnxBackend.FILE
    model.write_bytes(model.read_bytes()[: model.stat().st_size // 2])  # truncated
    again = SentenceEncoder("onnx-int8", cache_dir=tmp_path)  # rebuilds, verifies, loads
    after = again.encode(["KRAS G12C lung cancer responded to sotorasib."])
    np.testing.assert_array_equal(before, after)
    assert model.stat().st_size > 0
    assert [p.name for p in tmp_path.iterdir() if not p.name.startswith(".")] == [folder.name]
