"""Smoke tests of the benchmarks package: every benchmark runs end to end in ``--quick`` mode
and writes its JSON. Nothing here asserts a timing or a quality figure beyond sanity."""

from __future__ import annotations

import json
import math
import random
import shutil
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from benchmarks.__main__ import main
from benchmarks.harness import ModelSpec, _default_members, cv_splits, model_specs, quick_params
from benchmarks.markdown import results_markdown
from benchmarks.references import (
    REFERENCES,
    PeerReference,
    SeedReference,
    register_references,
    seed_tokens,
)
from oncoclass.data.records import Sample

LABELS = ("Predictive: Resistance", "Predictive: Sensitivity/Response", "Prognostic: Poor Outcome")
WORDS = {
    LABELS[0]: "cells were resistant to {d} and progressed",
    LABELS[1]: "patients responded to {d} with durable responses",
    LABELS[2]: "carriers had shorter overall survival",
}


def make_samples(n: int, seed: int = 0) -> list[Sample]:
    rng = random.Random(seed)
    samples = []
    for i in range(n):
        label = LABELS[i % 3]
        gene, variation = rng.choice(["EGFR", "BRAF", "KRAS"]), rng.choice(["V600E", "L858R"])
        drugs = () if label == LABELS[2] else (rng.choice(["Erlotinib", "Vemurafenib"]),)
        text = f"{gene} {variation}: " + WORDS[label].format(d=drugs[0] if drugs else "")
        samples.append(
            Sample(
                id=str(i),
                gene=gene,
                variation=variation,
                text=text,
                label=label,
                disease="Melanoma",
                drugs=drugs,
                group=f"g{i // 2}",
            )
        )
    return samples


# ---- the references ------------------------------------------------------------------------------
@pytest.mark.parametrize("name", sorted(REFERENCES))
def test_reference_contract_and_round_trip(name: str, tmp_path: Path) -> None:
    from oncoclass.models import load_model

    train, test = make_samples(60), make_samples(12, seed=1)
    params = {"epochs": 2} if name == "ref-seed" else {}
    model = REFERENCES[name](seed=3, **params).fit(train[:50], train[50:])
    proba = model.predict_proba(test)
    assert proba.shape == (12, 3)
    assert np.allclose(proba.sum(axis=1), 1.0)
    assert model.classes_ == sorted(LABELS)
    # An unknown gene and variation are ordinary input.
    odd = Sample(id="x", gene="NOTAGENE", variation="Q999*", text="")
    assert np.isfinite(model.predict_proba([odd])).all()

    register_references()
    model.save(tmp_path / name)
    again = load_model(tmp_path / name)
    assert np.allclose(again.predict_proba(test), proba, atol=1e-6)


def test_references_learn_the_text() -> None:
    train, test = make_samples(90), make_samples(30, seed=2)
    peer = PeerReference().fit(train)
    accuracy = np.mean([p == s.label for p, s in zip(peer.predict(test), test, strict=True)])
    assert accuracy > 0.9


def test_seed_text_cleaning_and_inputs() -> None:
    assert seed_tokens("BRAF V600E-mutant, (n=12).") == ["braf", "v600emutant", "n12"]
    model = SeedReference(epochs=1, max_len=8, vocab_size=5).fit(make_samples(30))
    tokens, genomic = model._inputs([Sample(id="a", gene="BRAF", variation="NEW", text="x " * 50)])
    assert tokens.shape == (1, 8)
    assert len(model.words_) == 5
    assert genomic[0, 1] == 0.0  # a variation unseen in training is encoded as 0


def test_quick_params_reach_ensemble_members() -> None:
    assert quick_params("ref-seed") == {"epochs": 1}
    assert quick_params("ref-peer") == {}
    specs = {s.name: s for s in model_specs(["ref-prior"], quick=True)}
    assert "ref-prior" in specs
    if "ensemble" in specs:
        assert specs["ensemble"].params["member_params"]


def test_an_ensembles_member_rows_come_from_the_members_as_trained_alone() -> None:
    # A member fitted from several seeds: only its first fit is the standalone model.
    fits = [SimpleNamespace(name=n, seed=s) for n, s in [("baseline", 13), ("encoder", 13)]]
    model = SimpleNamespace(seed=13, members_=[*fits, SimpleNamespace(name="encoder", seed=1013)])
    assert _default_members(ModelSpec("ensemble"), model) == fits
    assert _default_members(ModelSpec("ensemble", {"member_params": {"x": {}}}), model) == []


def test_every_model_shares_the_same_splits() -> None:
    samples = make_samples(40)
    splits = cv_splits(samples, k=2, seed=0)
    assert sum(len(s.test) for s in splits) == 40
    assert splits.strategy
    for split in splits:
        train_groups = {s.group_key for s in split.fit + split.valid}
        assert train_groups.isdisjoint(s.group_key for s in split.test)


# ---- the benchmarks on the real data -------------------------------------------------------------
@pytest.fixture(scope="module")
def results(tmp_path_factory: pytest.TempPathFactory, shared_data: Path) -> Path:
    out = tmp_path_factory.mktemp("bench")
    models = "ref-prior,ref-peer,baseline"
    args = ["--quick", "--out", str(out), "--models", models]
    assert main(["quality-civic", *args, "--civic", str(shared_data / "civic_2024")]) == 0
    assert main(["temporal", *args, "--models", "ref-peer"]) == 0
    return out


@pytest.mark.integration
def test_quality_civic_quick(results: Path) -> None:
    payload = json.loads((results / "quality-civic.json").read_text())
    # Both tracks, the same models on each, and the text-only track has no context.
    assert [(r["model"], r["track"]) for r in payload["results"]] == [
        (m, t) for t in ("context", "text") for m in ("ref-prior", "ref-peer", "baseline")
    ]
    assert payload["n_splits"] == 2 and payload["release"] == "civic_2024"
    machine = payload["machine"]
    assert machine["cores"] >= 1 and len(machine["commit"]) == 40
    assert isinstance(machine["dirty"], bool) and len(machine["code_hash"]) == 16
    for r in payload["results"]:
        assert math.isfinite(r["metrics"]["log_loss"])
        assert 0.0 <= r["metrics"]["accuracy"] <= 1.0
    baseline = next(r for r in payload["results"] if r["model"] == "baseline")
    assert baseline["uncertainty"]["stated_coverage"] == 0.9
    assert 0.5 <= baseline["uncertainty"]["coverage"] <= 1.0
    summary = {(r["model"], r["track"]): r for r in payload["summary"]}
    assert summary["baseline", "context"]["mean"]["log_loss"] == baseline["metrics"]["log_loss"]
    # The default model is chosen on the held-out selection split, which the CV never saw.
    selection = payload["selection"]
    assert selection["chosen"] == "baseline" and selection["n_selection"] > 0
    assert {t["track"] for t in payload["targets"]} == {"context", "text"}


@pytest.mark.integration
def test_temporal_quick(results: Path) -> None:
    payload = json.loads((results / "temporal.json").read_text())
    assert (payload["old_release"], payload["new_release"]) == ("01-Aug-2021", "01-Aug-2024")
    deployed = payload["deployed"][0]
    assert deployed["model"] == "ref-peer" and deployed["n_known"] + deployed["n_unknown"] == 150
    assert "Oncogenic: Oncogenicity" in deployed["unknown_classes"] or deployed["n_unknown"]
    assert payload["retrained"][0]["n_new_scored"] > 0


@pytest.mark.integration
def test_markdown_refuses_results_of_other_code(results: Path, tmp_path: Path) -> None:
    from benchmarks.harness import code_hash
    from benchmarks.markdown import StaleResultError

    def write(name: str, **machine: object) -> None:
        payload = json.loads((results / f"{name}.json").read_text())
        payload["machine"].update(machine)
        (tmp_path / f"{name}.json").write_text(json.dumps(payload))

    # Measured on committed code identical to this tree's: printed.
    for name in ("quality-civic", "temporal"):
        write(name, model_code_dirty=False, code_hash=code_hash())
    text = results_markdown(tmp_path)
    assert "### quality-civic" in text and "### temporal" in text and "selection" in text
    # Other model code, or uncommitted model code: refused, saying why.
    write("quality-civic", model_code_dirty=False, code_hash="0" * 16)
    with pytest.raises(StaleResultError, match="other model code"):
        results_markdown(tmp_path)
    assert "Left out" in results_markdown(tmp_path, strict=False)
    write("quality-civic", model_code_dirty=True, code_hash=code_hash())
    with pytest.raises(StaleResultError, match="uncommitted"):
        results_markdown(tmp_path)
    with pytest.raises(SystemExit, match="refused"):
        main(["markdown", "--out", str(tmp_path)])


@pytest.mark.integration
def test_markdown_shows_where_the_loss_comes_from_from_the_same_run(
    results: Path, tmp_path: Path
) -> None:
    from benchmarks.harness import code_hash
    from benchmarks.markdown import StaleResultError

    payload = json.loads((results / "quality-civic.json").read_text())
    payload["machine"].update(model_code_dirty=False, code_hash=code_hash())
    (tmp_path / "quality-civic.json").write_text(json.dumps(payload))
    shutil.copy(results / "quality-civic-oof.npz", tmp_path)
    text = results_markdown(tmp_path)
    # The quick run left the default out: the model the selection chose stands in for it.
    section = text.split("where the log loss of baseline comes from, context track")[1]
    rows = [line for line in section.split("\n\n")[1].splitlines() if line.startswith("| ")]
    classes = {r["label"] for r in payload["results"][0]["per_class"]}
    assert {row.split("|")[1].strip() for row in rows[1:]} == classes
    shares = [float(row.split("|")[6].strip().rstrip("%")) for row in rows[1:]]
    assert sum(shares) == pytest.approx(100.0, abs=0.6) and shares == sorted(shares, reverse=True)
    # Out-of-fold probabilities of another run beside the JSON: refused, not mixed in.
    with np.load(results / "quality-civic-oof.npz") as oof:
        arrays = {k: oof[k] for k in oof.files}
    arrays["proba:baseline:context:13"] = arrays["proba:baseline:context:13"][:, ::-1]
    np.savez(tmp_path / "quality-civic-oof.npz", **arrays)
    with pytest.raises(StaleResultError, match="not the run"):
        results_markdown(tmp_path)
    assert "Per-class losses left out" in results_markdown(tmp_path, strict=False)


@pytest.mark.integration
def test_quality_mskcc_text_quick(tmp_path: Path, shared_data: Path) -> None:
    # The 9 sample texts only: a smoke run of the text protocol, meaningless as a figure.
    assert (
        main(
            [
                "quality-mskcc-text",
                "--quick",
                "--out",
                str(tmp_path),
                "--models",
                "ref-prior,ref-seed",
                "--text",
                str(shared_data / "mskcc"),
                "--mskcc",
                str(shared_data / "mskcc"),
            ]
        )
        == 0
    )
    payload = json.loads((tmp_path / "quality-mskcc-text.json").read_text())
    assert payload["stage1"]["n_test"] == 368
    assert payload["cv"]["n_train_texts"] == 9
    assert {r["model"] for r in payload["cv"]["results"]} == {"ref-prior", "ref-seed"}


@pytest.mark.integration
def test_privacy_benchmark_writes_json_that_markdown_prints(
    tmp_path: Path, shared_data: Path, shipped_model_dir: Path
) -> None:
    from benchmarks.markdown import results_markdown
    from benchmarks.privacy import main as privacy_main

    civic = shared_data / "civic_2024" / "01-Aug-2024-ClinicalEvidenceSummaries.tsv"
    args = ["--civic", str(civic), "--model-dir", str(shipped_model_dir), "--statements", "20"]
    assert privacy_main([*args, "--out", str(tmp_path)]) == 0
    payload = json.loads((tmp_path / "privacy.json").read_text())
    assert payload["planted"]["held_out"]["overall"]["recall"] > 0.8
    assert not payload["civic"]["protected_terms_scrubbed"]  # no gene, variant, drug
    assert payload["predictions"]["statements"] == 20
    text = results_markdown(tmp_path)
    assert "### privacy" in text and "planted identifiers, held-out templates" in text
