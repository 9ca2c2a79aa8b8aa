"""The speed benchmark: which variants it times, how it interleaves and summarises them, and a
smoke run end to end on the real data (tiny configuration: nothing here asserts a timing)."""

from __future__ import annotations

import json
import math
import os
from dataclasses import replace
from pathlib import Path

import pytest

from benchmarks.speed import (
    PEER,
    SpeedConfig,
    chunks,
    ensemble_members,
    frontier,
    interleaved,
    latency,
    make_inputs,
    speed,
    speed_targets,
    summary,
    variants,
)
from oncoclass.data.records import Sample
from oncoclass.errors import InvalidInputError
from oncoclass.features.encoder_backends import BACKENDS, REFERENCE_BACKEND
from oncoclass.features.sentence_encoder import DEFAULT_BACKEND


def test_every_model_reading_the_encoder_gets_a_variant_per_back_end() -> None:
    labels = [v.label for v in variants(SpeedConfig())]
    assert labels[:3] == [PEER, "baseline", "cnn"]
    for model in ("encoder", "multimodal", "ensemble"):
        assert [f"{model}/{b}" for b in BACKENDS] == [x for x in labels if x.startswith(model)]
    by_label = {v.label: v for v in variants(SpeedConfig())}
    # On the default back-end a variant is the model with its defaults (so the harness scores
    # an ensemble's members from its own fits); elsewhere the back-end is a parameter.
    assert by_label[f"ensemble/{DEFAULT_BACKEND}"].params == {}
    other = next(b for b in BACKENDS if b != DEFAULT_BACKEND)
    # Every member that reads the encoder gets the back-end (the members are read from the
    # model: the default ensemble's now are baseline, encoder and cnn).
    assert ensemble_members() == ["baseline", "encoder", "cnn"]
    assert by_label[f"ensemble/{other}"].params == {
        "member_params": {"encoder": {"encoder_backend": other}}
    }
    assert by_label[f"encoder/{other}"].params == {"encoder_backend": other}


def test_quick_epochs_and_back_end_parameters_are_merged() -> None:
    cfg = SpeedConfig(epochs=1, backends=(REFERENCE_BACKEND,))
    (ensemble,) = variants(cfg, only=["ensemble"])
    assert ensemble.params == {
        "member_params": {
            "encoder": {"epochs": 1, "encoder_backend": REFERENCE_BACKEND},
            "cnn": {"epochs": 1},
        }
    }
    assert [v.label for v in variants(cfg, only=[PEER, "cnn"])] == [PEER, "cnn"]
    assert [v.label for v in variants(cfg, only=[f"encoder/{REFERENCE_BACKEND}"])] == [
        f"encoder/{REFERENCE_BACKEND}"
    ]


def test_latency_and_chunks() -> None:
    stats = latency([0.001 * i for i in range(1, 101)])
    assert stats["n"] == 100
    assert stats["p50_ms"] == pytest.approx(50.5)
    assert stats["p95_ms"] == pytest.approx(95.05)
    parts = chunks(list(range(10)), 3)
    assert [len(p) for p in parts] == [4, 3, 3]
    assert sum(parts, []) == list(range(10))


def _samples(n: int) -> list[Sample]:
    return [Sample(id=str(i), gene="BRAF", variation="V600E", text=f"text {i}") for i in range(n)]


def test_rounds_visit_every_variant_in_a_rotated_order_with_distinct_inputs() -> None:
    cfg = SpeedConfig(rounds=3, n_single=6, warmup=1, batch_sizes=(2,), samples_per_size=6)
    order: list[tuple[str, str]] = []
    seen: dict[str, list[str]] = {"a": [], "b": []}

    def record(label: str, kind: str):
        def call(x: object) -> None:
            order.append((label, kind))
            for s in x if isinstance(x, list) else [x]:
                if getattr(s, "text", "long"):  # variant-only rows may repeat: nothing cached
                    seen[label].append(getattr(s, "id", "long"))

        return call

    calls = {label: {k: record(label, k) for k in ("single", "batch", "long")} for label in "ab"}
    inputs = {label: make_inputs(_samples(40), {}, cfg, seed=1) for label in "ab"}
    results = interleaved(calls, inputs, cfg)
    assert results["a"]["single"]["n"] == 6
    assert results["b"]["batch"]["2"]["n"] == 3
    assert results["a"]["batch"]["2"]["samples_per_s"] > 0
    # One batch of variants without text (a MAF's rows) per round, timed apart.
    assert results["a"]["variant_batch"]["n"] == 3
    assert all(not x.text for b in inputs["a"].variant_batches for x in b)
    # After the warm-ups, round 1 starts with "a", round 2 with "b", round 3 with "a" again.
    timed = order[2:]  # per round and variant: 2 single calls, 1 batch, 1 batch of variants
    assert len(timed) == 3 * 2 * 4
    assert [timed[i * 8][0] for i in range(3)] == ["a", "b", "a"]
    for ids in seen.values():
        assert len(ids) == len(set(ids))  # no input repeats within a variant's path


def _timed(p50: float, batch: float, long: float) -> dict[str, object]:
    return {
        "single": {"p50_ms": p50, "p95_ms": 2 * p50},
        "batch": {"1": {"samples_per_s": batch / 4}, "32": {"samples_per_s": batch}},
        "long_text": {"100000": {"p50_ms": long}},
        "variant_batch": {"samples_per_s": 2 * batch},
    }


def test_summary_gives_ratios_to_the_peer_and_to_the_fp32_default() -> None:
    payload = {
        "variants": [PEER, "ensemble/torch", "ensemble/fast"],
        "default_model": "ensemble",
        "default": "ensemble/fast",
        "fp32_default": "ensemble/torch",
        "quality": {
            "ensemble/torch": {"log_loss": 0.400, "macro_f1": 0.80},
            "ensemble/fast": {"log_loss": 0.404, "macro_f1": 0.80},
        },
        "predictor": {
            PEER: _timed(10, 1000, 60),
            "ensemble/torch": _timed(80, 20, 300),
            "ensemble/fast": _timed(20, 200, 100),
        },
        "http": {
            PEER: _timed(16, 900, 80),
            "ensemble/torch": _timed(90, 18, 320),
            "ensemble/fast": _timed(32, 160, 120),
        },
    }
    payload["summary"] = summary(payload)
    row = payload["summary"]["ensemble/fast"]
    assert row["http_p50_ms"] == 32
    assert row["x_peer:http_p50_ms"] == pytest.approx(2.0)
    assert row["x_fp32:http_p50_ms"] == pytest.approx(32 / 90)
    assert row["x_fp32:predictor_batch_per_s"] == pytest.approx(10.0)
    assert payload["summary"][PEER]["x_peer:long_ms"] == pytest.approx(1.0)
    met = {t["target"]: t["met"] for t in speed_targets(payload)}
    assert met == {
        "HTTP p50 with explanation + look-up ≤ 30": False,  # 32 ms
        "HTTP batch with texts, samples/s (best size) ≥ 150": True,
        "Predictor batch with texts, samples/s ≥ 150": True,
        "HTTP batch of 128 variants without text (a MAF), samples/s ≥ 150": True,
        "100k-char text, Predictor p50 ms ≤ 150": True,
        "100k-char text, HTTP p50 ms ≤ 150": True,
        "CIViC log loss ≤ fp32's + 0.005 (same folds)": True,  # 0.404 vs 0.400
    }
    http = speed_targets(payload)[0]
    assert http["x_peer"] == pytest.approx(2.0)
    assert http["fp32_value"] == 90
    quality = speed_targets(payload)[-1]
    assert quality["x_fp32"] == pytest.approx(0.004)
    choice = frontier(payload)
    assert choice["choice"] == "ensemble/fast"  # within 0.005 of fp32, and the faster
    assert [c["variant"] for c in choice["candidates"]] == ["ensemble/torch", "ensemble/fast"]
    assert not choice["candidates"][1]["speed_ok"]  # HTTP p50 32 ms > 30
    payload["quality"]["ensemble/fast"]["log_loss"] = 0.406
    payload["summary"] = summary(payload)
    assert not speed_targets(payload)[-1]["met"]
    assert frontier(payload)["choice"] == "ensemble/torch"  # the only one left


@pytest.mark.integration
@pytest.mark.slow
def test_speed_quick_end_to_end(tmp_path: Path, shared_data: Path) -> None:
    cfg = SpeedConfig(
        folds=2,
        rounds=2,
        n_single=2,
        n_long=1,
        warmup=1,
        batch_sizes=(1, 4),
        samples_per_size=4,
        n_agreement=6,
        train_limit=240,
        epochs=1,
        backends=tuple(dict.fromkeys([REFERENCE_BACKEND, DEFAULT_BACKEND])),
    )
    payload = speed(
        shared_data / "civic_2024",
        shared_data / "mskcc",
        out_dir=tmp_path,
        only=[PEER, "ensemble"],
        cfg=cfg,
    )
    labels = payload["variants"]
    assert labels[0] == PEER
    assert payload["default"] in labels and payload["fp32_default"] in labels
    assert [r["variant"] for r in payload["training"]] == labels
    assert all(r["peak_rss_mb"] > 0 for r in payload["training"])
    for label in labels:
        assert math.isfinite(payload["quality"][label]["log_loss"])
        for path in ("predictor", "http"):
            result = payload[path][label]
            assert result["single"]["n"] == 2
            assert set(result["long_text"]) == {"1000", "10000", "100000"}
            assert result["batch"]["4"]["samples_per_s"] > 0
    fp32 = payload["summary"][payload["fp32_default"]]
    assert fp32["x_fp32:http_p50_ms"] == pytest.approx(1.0)
    assert payload["summary"][PEER]["x_peer:long_ms"] == pytest.approx(1.0)
    assert len(payload["targets"]) == 7
    assert set(payload["backends"]["backends"]) == set(cfg.backends)
    assert payload["token_counts"]["raw evidence statements"]["n"] == 6
    written = json.loads((tmp_path / "speed.json").read_text())
    assert written["summary"].keys() == payload["summary"].keys()

    # Timing only: the same models timed again, the first run's training and quality carried
    # over and named; refused where they would not describe what is timed.
    def again(**kwargs: object) -> dict:
        return speed(
            shared_data / "civic_2024",
            shared_data / "mskcc",
            out_dir=tmp_path,
            only=[PEER, "ensemble"],
            timing_only=True,
            **{"cfg": cfg, **kwargs},
        )

    with pytest.raises(InvalidInputError, match="training configuration differs .folds"):
        again(cfg=replace(cfg, folds=3))
    retimed = again(cfg=replace(cfg, rounds=1, batch_sizes=(2,)))
    assert retimed["reused"]["date"] == written["machine"]["date"]
    assert retimed["reused"]["code_hash"] == written["machine"]["code_hash"]
    assert retimed["training"] == written["training"]
    assert retimed["quality"] == written["quality"]
    assert retimed["predictor"][PEER]["batch"].keys() == {"2"}
    first_model = tmp_path / "models" / "ref-peer" / "model.json"
    os.utime(first_model)  # as if a later run had stopped after training it
    with pytest.raises(InvalidInputError, match="no model or quality row of that run for"):
        again()
    with pytest.raises(InvalidInputError, match="no earlier run"):
        speed(
            shared_data / "civic_2024",
            shared_data / "mskcc",
            out_dir=tmp_path / "empty",
            only=[PEER],
            cfg=cfg,
            timing_only=True,
        )
