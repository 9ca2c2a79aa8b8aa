"""Speed benchmark: every model on every sentence-encoder back-end, quality and speed in one run.

The variants under test are the classical peer (``ref-peer``), ``baseline``, ``cnn``, and each
model that reads the sentence encoder (``encoder``, ``multimodal``, ``ensemble``) on each
back-end: ``torch`` (fp32, the reference), ``onnx-int8`` and ``static``
(:mod:`oncoclass.features.encoder_backends`). For each variant:

* **training**: trained once on the CIViC set in a child process (seconds, peak RSS);
* **quality**: out-of-fold log loss, macro-F1, accuracy and ECE on the same grouped folds for
  every variant (``benchmarks.harness``: ``cv_splits``, ``evaluate``);
* **Predictor**: one prediction with explanation plus the CIViC look-up (what
  ``POST /v1/predict`` does) p50/p95; batch samples/s by batch size (no explanation); the
  latency of 1k, 10k and 100k-character texts (explained);
* **HTTP**: the same through the service (``uvicorn`` on 127.0.0.1, one server per variant).

Timing on a shared machine is noisy, so it is interleaved: in each of ``rounds`` rounds every
variant gets its share of the calls, in a rotated order, and other work on the machine weighs
on all of them alike. Every figure is also given as a ratio to the classical peer and to the
fp32 default (the default model on ``torch``) measured in the same rounds.

Inputs are cold: before every timed Predictor call the encoders' caches and the text-selection
cache are emptied; an HTTP server sees each input once. Beside the variants: the back-ends
alone (ms per text, cosine to ``torch`` on real CIViC statements) and the word-piece counts of
the selected texts that the encoder's ``max_length`` was chosen from.

``--timing-only`` times the models of the last run again and carries its training and quality
rows over (same model code and training configuration: :func:`reusable_run`), for re-timing a
change to the service. ``python -m benchmarks.speed train ...`` is the child that trains one
variant.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import json
import os
import random
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.harness import Grid, ModelSpec, console, cv_splits, evaluate, out, write_json
from oncoclass.data import load_civic
from oncoclass.data.mskcc import read_texts, read_variants
from oncoclass.data.records import Sample
from oncoclass.errors import InvalidInputError
from oncoclass.features.encoder_backends import BACKENDS, REFERENCE_BACKEND
from oncoclass.features.sentence_encoder import DEFAULT_BACKEND
from oncoclass.models.base import MODEL_FILE

REPO = Path(__file__).resolve().parents[1]
TASK = "clinical-significance"
TEXT_LENGTHS = (1_000, 10_000, 100_000)
LONGEST = str(max(TEXT_LENGTHS))
BATCH_SIZES = (1, 8, 32, 128, 512)
#: Rows per batch of variants without text (what a MAF or a VCF sends).
VARIANT_BATCH = 128
PEER = "ref-peer"
#: OncoClass's models timed beside the peer; those reading the sentence encoder get a variant
#: per back-end.
MODELS = ("baseline", "cnn", "encoder", "multimodal", "ensemble")
ENCODER_MODELS = ("encoder", "multimodal", "ensemble")
HTTP_TIMEOUT_S = 300.0
SERVER_START_TIMEOUT_S = 900.0
#: Targets from the issue, for the default model.
TARGET_HTTP_P50_MS = 30.0
TARGET_BATCH_PER_S = 150.0
TARGET_LONG_TEXT_MS = 150.0
#: The default's CIViC log loss may exceed the fp32 default's by at most this much.
TARGET_LOG_LOSS_DELTA = 0.005
QUALITY_KEYS = ("log_loss", "macro_f1", "accuracy", "ece")


@dataclass(frozen=True)
class SpeedConfig:
    folds: int = 5
    seed: int = 13
    #: Seeds of the default model's variants (the back-end choice): mean ± sd over them.
    gate_seeds: tuple[int, ...] = (13, 14, 15)
    #: Timing rounds: each variant gets 1/rounds of its calls per round.
    rounds: int = 5
    n_single: int = 100
    n_long: int = 10
    warmup: int = 3
    batch_sizes: tuple[int, ...] = BATCH_SIZES
    #: Samples per batch size (at least ``rounds`` calls of each size).
    samples_per_size: int = 256
    #: Real CIViC statements for the back-ends' agreement with torch.
    n_agreement: int = 240
    #: Train (and cross-validate) on the first N samples only; 0: all.
    train_limit: int = 0
    epochs: int = 0
    backends: tuple[str, ...] = tuple(BACKENDS)
    quality: bool = True
    http: bool = True

    @classmethod
    def quick(cls) -> SpeedConfig:
        return cls(
            folds=2,
            gate_seeds=(13,),
            rounds=2,
            n_single=4,
            n_long=2,
            warmup=1,
            batch_sizes=(1, 8, 32),
            samples_per_size=32,
            n_agreement=12,
            train_limit=300,
            epochs=1,
        )


# ---- the variants --------------------------------------------------------------------------------
@dataclass(frozen=True)
class Variant:
    """One model on one back-end (``backend`` None: it reads no sentence encoder), labelled
    ``model/back-end`` (square brackets would be markup to rich)."""

    model: str
    backend: str | None = None
    params: dict[str, Any] = field(default_factory=dict)

    @property
    def label(self) -> str:
        return self.model if self.backend is None else f"{self.model}/{self.backend}"

    @property
    def dirname(self) -> str:
        return self.label.replace("/", "--")

    @property
    def spec(self) -> ModelSpec:
        return ModelSpec(self.model, self.params)

    @property
    def reference(self) -> bool:
        return self.model == PEER


def variants(cfg: SpeedConfig, only: Sequence[str] | None = None) -> list[Variant]:
    """The peer, then every model, those reading the encoder once per back-end. ``only``
    keeps the variants whose label or model is named. On the default back-end a variant has
    no encoder parameter (its defaults), so that an ensemble's members are the standalone
    models and the harness scores them from the ensemble's own fits."""
    out = [Variant(PEER)]
    for model in MODELS:
        if model not in ENCODER_MODELS:
            out.append(Variant(model, None, _epochs(model, cfg)))
            continue
        for backend in cfg.backends:
            params = _merge(_epochs(model, cfg), _backend_params(model, backend))
            out.append(Variant(model, backend, params))
    return [v for v in out if not only or v.label in only or v.model in only]


def ensemble_members() -> list[str]:
    """The default ensemble's members, each named once (read from the model, so that a change
    of members reaches the benchmark without touching it)."""
    from oncoclass.models.ensemble import EnsembleClassifier

    return list(dict.fromkeys(EnsembleClassifier().members))


def _epochs(model: str, cfg: SpeedConfig) -> dict[str, Any]:
    if not cfg.epochs:
        return {}
    if model == "ensemble":
        neural = [m for m in ensemble_members() if m != "baseline"]
        return {"member_params": {m: {"epochs": cfg.epochs} for m in neural}}
    return {} if model == "baseline" else {"epochs": cfg.epochs}


def _backend_params(model: str, backend: str) -> dict[str, Any]:
    if backend == DEFAULT_BACKEND:
        return {}
    if model == "ensemble":
        readers = [m for m in ensemble_members() if m in ENCODER_MODELS]
        return {"member_params": {m: {"encoder_backend": backend} for m in readers}}
    return {"encoder_backend": backend}


def _merge(a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any]:
    """``a`` updated by ``b``, dictionaries merged key by key."""
    merged = dict(a)
    for key, value in b.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def default_label(default_model: str) -> str:
    return f"{default_model}/{DEFAULT_BACKEND}"


def fp32_label(default_model: str) -> str:
    return f"{default_model}/{REFERENCE_BACKEND}"


# ---- statistics ----------------------------------------------------------------------------------
def latency(seconds: Sequence[float]) -> dict[str, float]:
    """p50/p95/p99 and mean in milliseconds."""
    ms = np.asarray(seconds) * 1000
    return {
        "n": len(ms),
        "p50_ms": float(np.percentile(ms, 50)),
        "p95_ms": float(np.percentile(ms, 95)),
        "p99_ms": float(np.percentile(ms, 99)),
        "mean_ms": float(ms.mean()),
    }


def ratio(value: float | None, base: float | None) -> float | None:
    return value / base if value is not None and base else None


def chunks(items: Sequence[Any], n: int) -> list[list[Any]]:
    """``items`` in ``n`` nearly equal consecutive parts (one per timing round)."""
    return [[items[i] for i in part] for part in np.array_split(np.arange(len(items)), n)]


class SamplePool:
    """Hands out samples never handed out before (cycling only when all were used)."""

    def __init__(self, samples: Sequence[Sample], seed: int = 0) -> None:
        self.samples = list(samples)
        random.Random(seed).shuffle(self.samples)
        self.next = 0

    def take(self, n: int) -> list[Sample]:
        out = [self.samples[(self.next + i) % len(self.samples)] for i in range(n)]
        self.next += n
        return out


def clear_caches() -> None:
    """Forget cached embeddings, token states and text selections: every timed call is cold."""
    from oncoclass.features.sentence_encoder import clear_caches as clear_encoders
    from oncoclass.features.text import select_text

    clear_encoders()
    select_text.cache_clear()


# ---- long texts ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class LongText:
    gene: str
    variation: str
    text: str


def long_text_cases(mskcc: Path, length: int, n: int) -> list[LongText]:
    """``n`` distinct MSKCC-style texts of ``length`` characters about a real variant.

    The 9 real texts are concatenated (starting from a different one each time) and cut at
    ``length``; a first sentence naming the variant keeps every case distinct, so that no case
    is a cache hit of another."""
    texts = read_texts(mskcc / "training_text_sample")
    rows = {r["ID"]: r for r in read_variants(mskcc / "training_variants")}
    ids = sorted(texts, key=int)
    cases = []
    for i in range(n):
        row = rows[ids[i % len(ids)]]
        order = ids[i % len(ids) :] + ids[: i % len(ids)]
        head = f"Case {i}: the tumour carries {row['Gene']} {row['Variation']}. "
        body = " ".join(texts[j] for j in order)
        while len(body) < length:
            body += " " + body
        cases.append(LongText(row["Gene"], row["Variation"], (head + body)[:length]))
    return cases


@dataclass(frozen=True)
class Inputs:
    """One variant's inputs for one path, handed out so that none repeats within it."""

    warmup: list[Any]
    single: list[Sample]
    batches: dict[int, list[list[Sample]]]
    long: dict[int, list[LongText]]
    #: Batches of variants without text, as a MAF or VCF gives them.
    variant_batches: list[list[Sample]]


def make_inputs(
    samples: Sequence[Sample], long_cases: dict[int, list[LongText]], cfg: SpeedConfig, seed: int
) -> Inputs:
    pool = SamplePool(samples, seed)
    warmup = pool.take(cfg.warmup)
    single = pool.take(cfg.n_single)
    batches = {
        size: [pool.take(size) for _ in range(max(cfg.rounds, cfg.samples_per_size // size))]
        for size in cfg.batch_sizes
    }
    if pool.next > len(pool.samples):  # an HTTP server would then answer repeats from cache
        console.log(f"speed: {pool.next} inputs from {len(pool.samples)} samples: some repeat")
    n_variant_batches = max(cfg.rounds, cfg.samples_per_size // VARIANT_BATCH)
    variants = [
        [replace(x, text="") for x in pool.take(VARIANT_BATCH)] for _ in range(n_variant_batches)
    ]
    return Inputs(warmup, single, batches, long_cases, variants)


# ---- child processes -----------------------------------------------------------------------------
def run_child(args: Sequence[str], timeout_s: float = 7200) -> tuple[str, float, float]:
    """Run ``python -m benchmarks.speed ARGS``; return (stdout, wall seconds, peak RSS MiB).

    ``os.wait4`` reports this one child's resource usage, its ``ru_maxrss`` (KiB on Linux)
    included; ``getrusage(RUSAGE_CHILDREN)`` would give the largest of all children so far."""
    start = time.perf_counter()
    with tempfile.TemporaryFile("w+") as stdout, tempfile.TemporaryFile("w+") as stderr:
        proc = subprocess.Popen(
            [sys.executable, "-m", "benchmarks.speed", *args],
            cwd=REPO,
            stdout=stdout,
            stderr=stderr,
            text=True,
        )
        deadline = time.monotonic() + timeout_s
        while True:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            if time.monotonic() > deadline:
                proc.kill()
                proc.wait()
                raise TimeoutError(f"child {' '.join(args)} ran over {timeout_s:.0f} s")
            time.sleep(0.05)
        proc.returncode = os.waitstatus_to_exitcode(status)  # reaped here, not by Popen
        wall = time.perf_counter() - start
        stdout.seek(0)
        stderr.seek(0)
        if proc.returncode != 0:
            raise RuntimeError(
                f"child {' '.join(args)} failed ({proc.returncode}):\n{stderr.read()[-3000:]}"
            )
        return stdout.read(), wall, usage.ru_maxrss / 1024


def train_variants(
    chosen: Sequence[Variant], civic: Path, models_dir: Path, cfg: SpeedConfig
) -> list[dict[str, Any]]:
    """Train each variant once, in a child process, into ``models_dir/<label>``."""
    rows = []
    for v in chosen:
        args = [
            "train",
            "--model",
            v.model,
            "--params",
            json.dumps(v.params),
            "--data",
            str(civic),
            "--out",
            str(models_dir / v.dirname),
            "--limit",
            str(cfg.train_limit),
            "--seed",
            str(cfg.seed),
        ]
        text, wall, rss = run_child(args)
        report = json.loads(text.strip().splitlines()[-1])
        console.log(f"speed: trained {v.label} in {report['train_seconds']:.1f} s ({rss:.0f} MiB)")
        rows.append(
            {
                "variant": v.label,
                "n_samples": report["n_samples"],
                "train_s": report["train_seconds"],
                "process_wall_s": wall,
                "peak_rss_mb": rss,
            }
        )
    return rows


def child_train(args: argparse.Namespace) -> None:
    """Train one variant as ``oncoclass train`` does (a grouped 10% held out for early
    stopping and calibration), save it, print a JSON line of timings."""
    from benchmarks.references import register_references
    from oncoclass import workflows

    register_references()
    start = time.perf_counter()
    samples = load_civic(args.data, min_support=30)
    if args.limit:
        samples = samples[: args.limit]
    loaded = time.perf_counter()
    workflows.train(
        TASK,
        args.model,
        samples,
        Path(args.out),
        seed=args.seed,
        progress=False,
        **json.loads(args.params),
    )
    report = {"n_samples": len(samples), "train_seconds": time.perf_counter() - loaded}
    print(json.dumps({**report, "load_seconds": loaded - start}))


# ---- quality -------------------------------------------------------------------------------------
def quality(
    chosen: Sequence[Variant],
    samples: Sequence[Sample],
    cfg: SpeedConfig,
    default_model: str,
    save: Callable[[], None],
) -> dict[str, dict[str, Any]]:
    """Out-of-fold metrics of every variant on the same grouped folds.

    The default model's variants decide the back-end, and one training run of a neural model
    differs from another by more than the 0.005 the choice is held to (early stopping lands
    on other epochs when the embeddings move a little), so those are trained with every seed
    of ``cfg.gate_seeds`` (the folds stay those of ``cfg.seed``) and reported as mean and
    standard deviation; the others with ``cfg.seed``. An ensemble on the default back-end
    yields its members' rows from its own fits (the harness), so ensembles are evaluated
    first and a variant already scored is not fitted again."""
    splits = cv_splits(samples, k=cfg.folds, seed=cfg.seed)
    by_label = {v.label: v for v in chosen}
    runs: dict[str, dict[int, dict[str, Any]]] = {}
    for v in sorted(chosen, key=lambda v: v.model != "ensemble"):
        seeds = cfg.gate_seeds if v.model == default_model else (cfg.seed,)
        for seed in seeds:
            if seed in runs.get(v.label, {}):
                continue
            start = time.perf_counter()
            for result in evaluate(v.spec, splits, TASK, seed):
                label = (
                    v.label if result.model == v.model else _member_label(result.model, by_label)
                )
                if label is not None:
                    metrics = result.metrics.summary()
                    runs.setdefault(label, {})[seed] = {k: metrics.get(k) for k in QUALITY_KEYS}
            console.log(
                f"speed: quality of {v.label}, seed {seed} ({time.perf_counter() - start:.0f} s)"
            )
            save()
    rows = {}
    for label in by_label:
        per_seed = runs.get(label)
        if not per_seed:
            continue
        rows[label] = {"seeds": sorted(per_seed), "per_seed": per_seed}
        for key in QUALITY_KEYS:
            values = [r[key] for r in per_seed.values() if r[key] is not None]
            rows[label][key] = float(np.mean(values)) if values else None
            rows[label][f"{key}_sd"] = float(np.std(values, ddof=1)) if len(values) > 1 else None
    return rows


def _member_label(model: str, by_label: dict[str, Variant]) -> str | None:
    """The variant an ensemble member (default parameters) stands for."""
    for label in (model, f"{model}/{DEFAULT_BACKEND}"):
        if label in by_label and not by_label[label].params:
            return label
    return None


# ---- timing only ---------------------------------------------------------------------------------
#: The configuration that decides what is trained and how it is scored; the rest is timing.
TRAINING_CONFIG = ("folds", "seed", "gate_seeds", "train_limit", "epochs", "backends", "quality")


def reusable_run(
    out_dir: Path,
    chosen: Sequence[Variant],
    civic: Path,
    models_dir: Path,
    cfg: SpeedConfig,
) -> dict[str, Any]:
    """The training and quality rows of the last run in ``out_dir`` (``speed.json``), for a run
    that only times: a service change is re-timed in minutes instead of the hour the training
    and the quality gate take. Refused, with the reason, unless that run measured this model
    code (committed) on the same data and training configuration, covered every variant asked
    for, and left their models in ``models_dir``; the reused rows name the run they come from."""
    from benchmarks.harness import code_hash

    def refuse(reason: str) -> InvalidInputError:
        return InvalidInputError(f"cannot time only: {reason}; run it in full", field="timing_only")

    path = out_dir / "speed.json"
    if not path.is_file():
        raise refuse(f"no earlier run in {out_dir}")
    last = json.loads(path.read_text())
    machine = last.get("machine", {})
    if machine.get("model_code_dirty") or machine.get("code_hash") != code_hash():
        raise refuse(f"the run of {machine.get('date')} measured other model code")
    if last.get("civic") != str(civic):
        raise refuse(f"the run of {machine.get('date')} read {last.get('civic')}")
    wanted = json.loads(json.dumps(asdict(cfg)))  # tuples as the JSON has them: lists
    changed = [k for k in TRAINING_CONFIG if last["config"].get(k) != wanted[k]]
    if changed:
        raise refuse(f"the training configuration differs ({', '.join(changed)})")
    training = {r["variant"]: r for r in last.get("training", [])}

    def theirs(v: Variant) -> bool:
        # A model written after the run's last save belongs to a run that stopped half-way.
        model = models_dir / v.dirname / MODEL_FILE
        return model.is_file() and model.stat().st_mtime <= path.stat().st_mtime

    missing = [
        v.label
        for v in chosen
        if v.label not in training
        or (cfg.quality and v.label not in last.get("quality", {}))
        or not theirs(v)
    ]
    if missing:
        raise refuse(f"no model or quality row of that run for {', '.join(missing)}")
    reused: dict[str, Any] = {
        "training": [training[v.label] for v in chosen],
        "reused": {k: machine.get(k) for k in ("commit", "date", "code_hash")},
    }
    if cfg.quality:
        reused["quality"] = {v.label: last["quality"][v.label] for v in chosen}
    return reused


# ---- the Predictor -------------------------------------------------------------------------------
def predictor_timings(
    model_dirs: dict[str, Path],
    samples: Sequence[Sample],
    long_cases: dict[int, list[LongText]],
    knowledge: Any,
    cfg: SpeedConfig,
) -> dict[str, dict[str, Any]]:
    """Every variant's Predictor, loaded in this process, timed in interleaved rounds."""
    from oncoclass.predictor import Predictor
    from oncoclass.service import SINGLE_KNOWLEDGE_ITEMS, warm_up

    predictors, load_s = {}, {}
    for label, directory in model_dirs.items():
        start = time.perf_counter()
        predictors[label] = Predictor.load(directory)
        warm_up(predictors[label])  # as the service does: the encoder is loaded and warm
        load_s[label] = time.perf_counter() - start

    def single(p: Any, s: Sample) -> None:
        p.predict(s.gene, s.variation, s.text, s.disease, s.drugs, explain=True)
        knowledge.lookup(
            s.gene, s.variation, SINGLE_KNOWLEDGE_ITEMS, disease=s.disease, therapies=s.drugs
        )

    def long(p: Any, c: LongText) -> None:
        p.predict(c.gene, c.variation, c.text, explain=True)
        knowledge.lookup(c.gene, c.variation, SINGLE_KNOWLEDGE_ITEMS)

    def batch(p: Any, b: list[Sample]) -> None:
        p.predict_samples(b)

    calls = {
        label: {
            "single": (lambda x, p=p: single(p, x)),
            "batch": (lambda x, p=p: batch(p, x)),
            "long": (lambda x, p=p: long(p, x)),
        }
        for label, p in predictors.items()
    }
    inputs = {label: make_inputs(samples, long_cases, cfg, seed=1) for label in predictors}
    results = interleaved(calls, inputs, cfg, before=clear_caches)
    for label in results:
        results[label]["load_s"] = load_s[label]
    return results


def interleaved(
    calls: dict[str, dict[str, Callable[[Any], Any]]],
    inputs: dict[str, Inputs],
    cfg: SpeedConfig,
    before: Callable[[], None] = lambda: None,
) -> dict[str, dict[str, Any]]:
    """Time every variant's calls in ``cfg.rounds`` rounds; in each round every variant (in a
    rotated order) makes its share of single calls, batches of each size and long texts."""
    labels = list(calls)
    seconds: dict[str, dict[str, list[float]]] = {label: {} for label in labels}
    plan = {
        label: {
            "single": chunks(inputs[label].single, cfg.rounds),
            **{f"batch:{n}": chunks(b, cfg.rounds) for n, b in inputs[label].batches.items()},
            **{f"long:{n}": chunks(c[1:], cfg.rounds) for n, c in inputs[label].long.items()},
            "variants": chunks(inputs[label].variant_batches, cfg.rounds),
        }
        for label in labels
    }
    for label in labels:  # warm-up: the first calls of a process pay for lazy imports
        for x in inputs[label].warmup:
            calls[label]["single"](x)
        for cases in inputs[label].long.values():
            calls[label]["long"](cases[0])
    for r in range(cfg.rounds):
        for label in labels[r % len(labels) :] + labels[: r % len(labels)]:
            for kind, parts in plan[label].items():
                name = kind.split(":")[0]
                fn = calls[label]["batch" if name == "variants" else name]
                for x in parts[r]:
                    before()
                    start = time.perf_counter()
                    fn(x)
                    seconds[label].setdefault(kind, []).append(time.perf_counter() - start)
        console.log(f"speed: timing round {r + 1}/{cfg.rounds} done")
    results = {}
    for label in labels:
        s = seconds[label]
        results[label] = {
            "single": latency(s["single"]),
            "batch": {
                str(n): {
                    "samples_per_s": n / statistics.median(s[f"batch:{n}"]),
                    **latency(s[f"batch:{n}"]),
                }
                for n in inputs[label].batches
            },
            "long_text": {str(n): latency(s[f"long:{n}"]) for n in inputs[label].long},
            "variant_batch": {
                "size": VARIANT_BATCH,
                "samples_per_s": VARIANT_BATCH / statistics.median(s["variants"]),
                **latency(s["variants"]),
            },
        }
    return results


# ---- HTTP ----------------------------------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextlib.contextmanager
def serving(model_dirs: dict[str, Path], civic: Path, log_dir: Path) -> Iterator[dict[str, Any]]:
    """The OncoClass service on 127.0.0.1 for each model directory, all up at once (each
    answers only when asked, so idle servers cost nothing), as ``httpx.Client`` objects."""
    import httpx

    from oncoclass.features.encoder_backends import default_cache_dir

    # The servers read the encoders' artefacts where this process does (never rebuilt).
    env = {**os.environ, "ONCOCLASS_ENCODER_CACHE_DIR": str(default_cache_dir())}
    log_dir.mkdir(parents=True, exist_ok=True)
    with contextlib.ExitStack() as stack:
        procs: dict[str, tuple[subprocess.Popen[bytes], Any, Path]] = {}
        for label, directory in model_dirs.items():
            port = free_port()
            home = Path(tempfile.mkdtemp(prefix="oncoclass-bench-"))
            stack.callback(shutil.rmtree, home, True)
            log_path = log_dir / f"serve-{label.replace('/', '--')}.log"
            log = stack.enter_context(log_path.open("w"))
            args = ["--model-dir", str(directory), "--civic", str(civic), "--port", str(port)]
            proc = subprocess.Popen(
                [sys.executable, "-m", "benchmarks.worker", "serve", *args, "--home", str(home)],
                cwd=REPO,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
            stack.callback(_stop, proc)
            client = stack.enter_context(
                httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=HTTP_TIMEOUT_S)
            )
            procs[label] = (proc, client, log_path)
        deadline = time.monotonic() + SERVER_START_TIMEOUT_S
        for label, (proc, client, log_path) in procs.items():
            while True:
                if proc.poll() is not None:
                    raise RuntimeError(f"the server of {label} stopped; see {log_path}")
                with contextlib.suppress(httpx.TransportError):
                    health = client.get("/health")
                    if health.status_code == 200 and health.json().get("status") == "ok":
                        break
                if time.monotonic() > deadline:
                    raise RuntimeError(f"the server of {label} did not start; see {log_path}")
                time.sleep(0.5)
        yield {label: client for label, (_, client, _) in procs.items()}


def _stop(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def _item(s: Sample | LongText) -> dict[str, Any]:
    if isinstance(s, LongText):
        return {"gene": s.gene, "variation": s.variation, "text": s.text}
    return {
        "gene": s.gene,
        "variation": s.variation,
        "text": s.text,
        "disease": s.disease,
        "drugs": list(s.drugs),
    }


def http_timings(
    model_dirs: dict[str, Path],
    samples: Sequence[Sample],
    long_cases: dict[int, list[LongText]],
    civic: Path,
    log_dir: Path,
    cfg: SpeedConfig,
) -> dict[str, dict[str, Any]]:
    """Every variant through its own server, timed in interleaved rounds."""

    def post(client: Any, path: str, body: dict[str, Any]) -> None:
        response = client.post(path, json=body)
        if response.status_code != 200:
            raise RuntimeError(f"POST {path}: {response.status_code} {response.text[:300]}")

    with serving(model_dirs, civic, log_dir) as clients:
        calls = {
            label: {
                "single": (lambda x, c=c: post(c, "/v1/predict", _item(x))),
                "batch": (
                    lambda b, c=c: post(c, "/v1/predict/batch", {"items": [_item(x) for x in b]})
                ),
                "long": (lambda x, c=c: post(c, "/v1/predict", _item(x))),
            }
            for label, c in clients.items()
        }
        # Each server sees every input once: its embeddings cache never answers for it.
        inputs = {label: make_inputs(samples, long_cases, cfg, seed=2) for label in clients}
        return interleaved(calls, inputs, cfg)


# ---- the back-ends alone -------------------------------------------------------------------------
def civic_statements(civic: Path, n: int, seed: int) -> list[str]:
    """``n`` distinct real evidence statements (CIViC TSV, tab-separated, no quoting)."""
    csv.field_size_limit(sys.maxsize)
    path = next(civic.glob("*ClinicalEvidenceSummaries.tsv"))
    with path.open(newline="", encoding="utf-8") as handle:
        rows = csv.DictReader(handle, delimiter="\t", quoting=csv.QUOTE_NONE)
        texts = sorted({r["evidence_statement"] for r in rows if r["evidence_statement"].strip()})
    return random.Random(seed).sample(texts, min(n, len(texts)))


def backend_comparison(
    statements: Sequence[str], backends: Sequence[str], cfg: SpeedConfig
) -> dict[str, Any]:
    """Each back-end alone on real statements, one text per call, cold, interleaved: ms per
    statement (p50, p95) and per 256-piece text, cosine of each embedding to ``torch``'s."""
    from oncoclass.features.sentence_encoder import get_sentence_encoder

    encoders = {b: get_sentence_encoder(b) for b in dict.fromkeys([REFERENCE_BACKEND, *backends])}
    for e in encoders.values():
        e.cache_clear()
    embeddings = {b: e.encode(list(statements)) for b, e in encoders.items()}
    seconds: dict[str, list[float]] = {b: [] for b in encoders}
    parts = chunks(list(statements), cfg.rounds)
    # Longer than any back-end's max_length: each reads as many word pieces as it can.
    long_text = " ".join(statements)[:4000]
    long_s: dict[str, list[float]] = {b: [] for b in encoders}
    for r in range(cfg.rounds):
        for b, e in encoders.items():
            for text in parts[r]:
                e.cache_clear()
                start = time.perf_counter()
                e.encode([text])
                seconds[b].append(time.perf_counter() - start)
            e.cache_clear()
            start = time.perf_counter()
            e.encode([long_text + f" round {r}"])
            long_s[b].append(time.perf_counter() - start)
    rows = {}
    for b, e in encoders.items():
        cosine = (embeddings[b] * embeddings[REFERENCE_BACKEND]).sum(axis=1)
        rows[b] = {
            "description": e.spec.description,
            "max_length": e.max_length,
            "statement": latency(seconds[b]),
            "max_length_text": latency(long_s[b]),
            "min_cosine": float(cosine.min()) if e.spec.contextual else None,
            "mean_cosine": float(cosine.mean()) if e.spec.contextual else None,
            "artifact_mb": _artifact_mb(e.backend.folder),
        }
    return {"n_statements": len(statements), "backends": rows}


def _artifact_mb(folder: Path | None) -> float | None:
    if folder is None:
        return None
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file()) / 2**20


def token_counts(samples: Sequence[Sample], statements: Sequence[str]) -> dict[str, Any]:
    """Word pieces ([CLS] and [SEP] included) of what the encoder reads: the selected text of
    every sample (as ``encoder`` and ``multimodal`` select it) and the raw statements. The
    torch back-end's tokenizer is uncut here: its max_length does not apply."""
    from transformers import AutoTokenizer

    from oncoclass.features.encoder_backends import weights_path
    from oncoclass.features.text import select_text

    tokenizer = AutoTokenizer.from_pretrained(str(weights_path()))
    texts = {
        "selected, max_tokens 200 (encoder)": [
            select_text(s.text, s.gene, s.variation, 200) for s in samples
        ],
        "selected, max_tokens 400 (multimodal)": [
            select_text(s.text, s.gene, s.variation, 400) for s in samples
        ],
        "raw evidence statements": list(statements),
    }
    rows = {}
    for name, group in texts.items():
        counts = np.array([len(ids) for ids in tokenizer(group, verbose=False)["input_ids"]])
        rows[name] = {
            "n": len(counts),
            **{f"p{p}": float(np.percentile(counts, p)) for p in (50, 90, 95, 99)},
            "max": int(counts.max()),
            "over_128": float((counts > 128).mean()),
            "over_256": float((counts > 256).mean()),
        }
    return rows


# ---- the benchmark -------------------------------------------------------------------------------
#: The phases a run states in its JSON (benchmarks.rerun stops the runs beside it while timing).
TRAINING, GATE, TIMING, DONE = "training", "quality gate", "timing", "done"


def speed(
    civic: Path,
    mskcc: Path,
    *,
    out_dir: Path,
    quick: bool = False,
    only: Sequence[str] | None = None,
    models_dir: Path | None = None,
    cfg: SpeedConfig | None = None,
    timing_only: bool = False,
) -> dict[str, Any]:
    """Train, score and time the variants; with ``timing_only``, time the models of the last
    run in ``out_dir`` and carry its training and quality rows over (see :func:`reusable_run`)."""
    from benchmarks.references import register_references
    from oncoclass.knowledge import KnowledgeBase
    from oncoclass.settings import get_settings

    register_references()
    cfg = cfg or (SpeedConfig.quick() if quick else SpeedConfig())
    chosen = variants(cfg, only)
    if not chosen:
        raise InvalidInputError(
            f"no variant to time among {only}; the speed benchmark knows "
            f"{', '.join(v.label for v in variants(cfg))}",
            field="models",
        )
    models_dir = models_dir or out_dir / "models"
    default_model = get_settings().default_model
    payload: dict[str, Any] = {
        "quick": quick,
        "config": asdict(cfg),
        "civic": str(civic),
        "default_model": default_model,
        "default_backend": DEFAULT_BACKEND,
        "default": default_label(default_model),
        "fp32_default": fp32_label(default_model),
        "variants": [v.label for v in chosen],
        "loadavg_start": os.getloadavg(),
    }

    def save(phase: str | None = None) -> None:
        # The phase tells a run beside this one (benchmarks.rerun) when the timing starts.
        if phase:
            payload["phase"] = phase
        write_json(out_dir, "speed", payload)

    samples = load_civic(civic, min_support=30)
    if cfg.train_limit:
        samples = samples[: cfg.train_limit]
    if timing_only:
        payload.update(reusable_run(out_dir, chosen, civic, models_dir, cfg))
        console.log(f"speed: timing only, models and quality of {payload['reused']['commit']}")
    else:
        save(TRAINING)
        payload["training"] = train_variants(chosen, civic, models_dir, cfg)
        save(GATE)
        if cfg.quality:
            payload["quality"] = quality(chosen, samples, cfg, default_model, save)
    save(TIMING)
    statements = civic_statements(civic, cfg.n_agreement, cfg.seed)
    payload["token_counts"] = token_counts(samples, statements)
    backends = sorted({v.backend for v in chosen if v.backend}, key=list(BACKENDS).index)
    if backends:
        payload["backends"] = backend_comparison(statements, backends, cfg)
    save()
    long_cases = {n: long_text_cases(mskcc, n, cfg.n_long + 1) for n in TEXT_LENGTHS}
    model_dirs = {v.label: models_dir / v.dirname for v in chosen}
    knowledge = KnowledgeBase.from_path(civic)
    console.log("speed: the Predictor, interleaved")
    payload["predictor"] = predictor_timings(model_dirs, samples, long_cases, knowledge, cfg)
    save()
    if cfg.http:
        console.log("speed: HTTP, interleaved")
        payload["http"] = http_timings(
            model_dirs, samples, long_cases, civic, out_dir / "logs", cfg
        )
        save()
    payload["loadavg_end"] = os.getloadavg()
    payload["summary"] = summary(payload)
    payload["targets"] = speed_targets(payload)
    payload["frontier"] = frontier(payload)
    save(DONE)
    for grid in speed_grids(payload):
        out.print(grid.rich())
    return payload


# ---- the figures that matter ---------------------------------------------------------------------
def summary(payload: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """One row per variant: quality, the headline timings, and their ratios to the peer and
    to the fp32 default."""
    rows: dict[str, dict[str, Any]] = {}
    for label in payload["variants"]:
        q = payload.get("quality", {}).get(label, {})
        pred = payload.get("predictor", {}).get(label)
        http = payload.get("http", {}).get(label)
        rows[label] = {
            "log_loss": q.get("log_loss"),
            "log_loss_sd": q.get("log_loss_sd"),
            "macro_f1": q.get("macro_f1"),
            "seeds": q.get("seeds"),
            "predictor_p50_ms": pred and pred["single"]["p50_ms"],
            "predictor_p95_ms": pred and pred["single"]["p95_ms"],
            "http_p50_ms": http and http["single"]["p50_ms"],
            "http_p95_ms": http and http["single"]["p95_ms"],
            "predictor_batch_per_s": pred and _best_batch(pred)[1],
            "http_batch_per_s": http and _best_batch(http)[1],
            "predictor_variant_batch_per_s": pred and pred["variant_batch"]["samples_per_s"],
            "http_variant_batch_per_s": http and http["variant_batch"]["samples_per_s"],
            "long_ms": pred and pred["long_text"][LONGEST]["p50_ms"],
            "http_long_ms": http and http["long_text"][LONGEST]["p50_ms"],
        }
    for base_name, base_label in (("peer", PEER), ("fp32", payload["fp32_default"])):
        base = rows.get(base_label)
        for row in rows.values():
            for key in list(row):
                if key.endswith(("_ms", "_per_s")) and not key.startswith("x_"):
                    row[f"x_{base_name}:{key}"] = ratio(row[key], base and base[key])
    return rows


def _best_batch(result: dict[str, Any]) -> tuple[str, float]:
    size, best = max(result["batch"].items(), key=lambda kv: kv[1]["samples_per_s"])
    return size, best["samples_per_s"]


def frontier(payload: dict[str, Any]) -> dict[str, Any]:
    """The default model on each back-end, and the back-end the rule picks: the fastest (HTTP
    p50, else Predictor p50) whose mean log loss is within ``TARGET_LOG_LOSS_DELTA`` of the
    fp32 default's on the same folds and seeds."""
    model = payload["default_model"]
    rows = payload["summary"]
    fp32 = rows.get(payload["fp32_default"], {}).get("log_loss")
    candidates = []
    for label, r in rows.items():
        if not label.startswith(f"{model}/"):
            continue
        delta = None if r["log_loss"] is None or fp32 is None else r["log_loss"] - fp32
        speed_ms = r["http_p50_ms"] if r["http_p50_ms"] is not None else r["predictor_p50_ms"]
        candidates.append(
            {
                "variant": label,
                "log_loss_delta": delta,
                "quality_ok": delta is not None and delta <= TARGET_LOG_LOSS_DELTA,
                "p50_ms": speed_ms,
                "speed_ok": all(
                    t["met"]
                    for t in speed_targets({**payload, "default": label})
                    if not t["target"].startswith("CIViC")
                ),
            }
        )
    eligible = [c for c in candidates if c["quality_ok"] and c["p50_ms"] is not None]
    choice = min(eligible, key=lambda c: c["p50_ms"])["variant"] if eligible else None
    return {
        "rule": f"the fastest back-end within {TARGET_LOG_LOSS_DELTA:g} log loss of fp32",
        "candidates": candidates,
        "choice": choice,
        "default": payload["default"],
    }


def speed_targets(payload: dict[str, Any]) -> list[dict[str, Any]]:
    """The issue's targets, checked for the default model on the default back-end, each with
    its ratio to the peer and to the fp32 default from the same run."""
    label = payload["default"]
    row = payload["summary"].get(label)
    if row is None:
        return []
    fp32 = payload["summary"].get(payload["fp32_default"], {})
    checks = [
        ("HTTP p50 with explanation + look-up", "http_p50_ms", TARGET_HTTP_P50_MS, True),
        (
            "HTTP batch with texts, samples/s (best size)",
            "http_batch_per_s",
            TARGET_BATCH_PER_S,
            False,
        ),
        (
            "Predictor batch with texts, samples/s",
            "predictor_batch_per_s",
            TARGET_BATCH_PER_S,
            False,
        ),
        (
            f"HTTP batch of {VARIANT_BATCH} variants without text (a MAF), samples/s",
            "http_variant_batch_per_s",
            TARGET_BATCH_PER_S,
            False,
        ),
        ("100k-char text, Predictor p50 ms", "long_ms", TARGET_LONG_TEXT_MS, True),
        ("100k-char text, HTTP p50 ms", "http_long_ms", TARGET_LONG_TEXT_MS, True),
    ]
    rows = []
    for name, key, bound, lower in checks:
        value = row.get(key)
        if value is None:
            continue
        rows.append(
            {
                "target": f"{name} {'≤' if lower else '≥'} {bound:g}",
                "model": label,
                "value": value,
                "met": value <= bound if lower else value >= bound,
                "x_peer": row.get(f"x_peer:{key}"),
                "x_fp32": row.get(f"x_fp32:{key}"),
                "fp32_value": fp32.get(key),
            }
        )
    ours, theirs = row.get("log_loss"), fp32.get("log_loss")
    seeds = row.get("seeds") or []
    if ours is not None and theirs is not None:
        rows.append(
            {
                "target": f"CIViC log loss ≤ fp32's + {TARGET_LOG_LOSS_DELTA:g} (same folds"
                + (f", mean of seeds {', '.join(map(str, seeds))})" if seeds else ")"),
                "model": label,
                "value": ours,
                "met": ours <= theirs + TARGET_LOG_LOSS_DELTA,
                "x_peer": None,
                "x_fp32": ours - theirs,
                "fp32_value": theirs,
            }
        )
    return rows


# ---- tables --------------------------------------------------------------------------------------
def speed_grids(payload: dict[str, Any]) -> list[Grid]:
    grids = []
    rows = payload.get("summary", {})
    default, fp32 = payload["default"], payload["fp32_default"]
    if rows:
        grid = Grid(
            "quality and speed of every model and back-end, same run "
            f"(default: {default}; × = ratio to {PEER} / to {fp32})",
            [
                "model",
                "log loss",
                "macro-F1",
                "HTTP p50 ms",
                "HTTP p95 ms",
                "× peer",
                "× fp32",
                "batch/s HTTP",
                "batch/s Predictor",
                "× fp32",
                "100k ms",
                "× peer",
                "× fp32",
            ],
        )
        for label, r in rows.items():
            name = f"**{label}**" if label == default else label
            grid.rows.append(
                [
                    f"_{name}_" if label == PEER else name,
                    _num(r["log_loss"], 3)
                    + (f" ± {r['log_loss_sd']:.3f}" if r["log_loss_sd"] else ""),
                    _num(r["macro_f1"], 3),
                    _num(r["http_p50_ms"], 1),
                    _num(r["http_p95_ms"], 1),
                    _x(r.get("x_peer:http_p50_ms")),
                    _x(r.get("x_fp32:http_p50_ms")),
                    _num(r["http_batch_per_s"], 0),
                    _num(r["predictor_batch_per_s"], 0),
                    _x(r.get("x_fp32:predictor_batch_per_s")),
                    _num(r["long_ms"], 1),
                    _x(r.get("x_peer:long_ms")),
                    _x(r.get("x_fp32:long_ms")),
                ]
            )
        grids.append(grid)
    choice = payload.get("frontier")
    if choice and choice["candidates"]:
        grid = Grid(
            f"the frontier of {payload['default_model']}: {choice['rule']} → "
            f"{choice['choice'] or 'none'} (the default in the code: {choice['default']})",
            ["variant", "Δ log loss vs fp32", "quality ok", "p50 ms", "speed targets met"],
        )
        for c in choice["candidates"]:
            delta = c["log_loss_delta"]
            grid.rows.append(
                [
                    c["variant"],
                    "-" if delta is None else f"{delta:+.4f}",
                    "yes" if c["quality_ok"] else "**no**",
                    _num(c["p50_ms"], 1),
                    "yes" if c["speed_ok"] else "**no**",
                ]
            )
        grids.append(grid)
    if payload.get("targets"):
        grid = Grid(
            f"speed and quality targets (default model: {default})",
            ["target", "value", "met", "× peer", f"× {fp32}", f"{fp32}"],
        )
        for r in payload["targets"]:
            delta = r["target"].startswith("CIViC")
            grid.rows.append(
                [
                    r["target"],
                    _num(r["value"], 3 if delta else 1),
                    "yes" if r["met"] else "**no**",
                    _x(r["x_peer"]),
                    f"{r['x_fp32']:+.4f}" if delta else _x(r["x_fp32"]),
                    _num(r["fp32_value"], 3 if delta else 1),
                ]
            )
        grids.append(grid)
    for path in ("predictor", "http"):
        results = payload.get(path) or {}
        if not results:
            continue
        first = next(iter(results.values()))
        grid = Grid(
            f"{path}: single prediction (explained, with look-up) ms, batch samples/s by size, "
            "long texts p50 ms",
            [
                "model",
                "p50",
                "p95",
                "p99",
                *(f"batch {n}" for n in first["batch"]),
                *(f"{int(n) // 1000}k chars" for n in first["long_text"]),
                f"{VARIANT_BATCH} variants, no text",
            ],
        )
        for label, r in results.items():
            grid.rows.append(
                [
                    label,
                    *(_num(r["single"][k], 1) for k in ("p50_ms", "p95_ms", "p99_ms")),
                    *(_num(b["samples_per_s"], 0) for b in r["batch"].values()),
                    *(_num(t["p50_ms"], 1) for t in r["long_text"].values()),
                    _num(r["variant_batch"]["samples_per_s"], 0),
                ]
            )
        grids.append(grid)
    if payload.get("training"):
        grid = Grid(
            f"training once on {payload['training'][0]['n_samples']:,} CIViC items (child process)",
            ["model", "train s", "process s", "peak RSS MiB"],
        )
        for r in payload["training"]:
            grid.rows.append(
                [
                    r["variant"],
                    _num(r["train_s"], 1),
                    _num(r["process_wall_s"], 1),
                    _num(r["peak_rss_mb"], 0),
                ]
            )
        grids.append(grid)
    comparison = payload.get("backends")
    if comparison:
        grid = Grid(
            f"the sentence encoder's back-ends alone, one text per call, cold "
            f"({comparison['n_statements']} real CIViC statements)",
            [
                "back-end",
                "max_length",
                "statement p50 ms",
                "p95 ms",
                "× torch",
                "max_length text ms",
                "× torch",
                "min cosine",
                "mean cosine",
                "artefact MiB",
            ],
        )
        ref = comparison["backends"].get(REFERENCE_BACKEND, {})
        for name, r in comparison["backends"].items():
            grid.rows.append(
                [
                    name,
                    str(r["max_length"]),
                    _num(r["statement"]["p50_ms"], 2),
                    _num(r["statement"]["p95_ms"], 2),
                    _x(ratio(r["statement"]["p50_ms"], ref.get("statement", {}).get("p50_ms"))),
                    _num(r["max_length_text"]["p50_ms"], 2),
                    _x(
                        ratio(
                            r["max_length_text"]["p50_ms"],
                            ref.get("max_length_text", {}).get("p50_ms"),
                        )
                    ),
                    _num(r["min_cosine"], 4),
                    _num(r["mean_cosine"], 4),
                    _num(r["artifact_mb"], 1),
                ]
            )
        grids.append(grid)
    counts = payload.get("token_counts")
    if counts:
        grid = Grid(
            "word pieces the encoder reads ([CLS] and [SEP] included), CIViC",
            ["texts", "n", "p50", "p90", "p95", "p99", "max", "> 128", "> 256"],
        )
        for name, r in counts.items():
            grid.rows.append(
                [
                    name,
                    str(r["n"]),
                    *(f"{r[k]:.0f}" for k in ("p50", "p90", "p95", "p99")),
                    str(r["max"]),
                    f"{r['over_128']:.1%}",
                    f"{r['over_256']:.1%}",
                ]
            )
        grids.append(grid)
    return grids


def _num(value: float | None, digits: int) -> str:
    return "-" if value is None else f"{value:,.{digits}f}"


def _x(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


# ---- the child's entry point ---------------------------------------------------------------------
def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.speed")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("train", help="train one variant (the benchmark's child process)")
    p.add_argument("--model", required=True)
    p.add_argument("--params", default="{}", help="constructor parameters, as JSON")
    p.add_argument("--data", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--limit", type=int, default=0)
    p.add_argument("--seed", type=int, default=13)
    args = parser.parse_args(argv)
    from oncoclass.settings import configure_runtime

    configure_runtime()  # the threads `oncoclass train` uses
    child_train(args)


if __name__ == "__main__":
    main()
