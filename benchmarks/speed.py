"""Speed benchmarks: training, single predictions, batches, long texts, inference back-ends.

Every model, OncoClass's and the references (``ref-peer``, ``ref-seed``), goes through the same
path, so the tables show ratios:

* **training**: each model trained on the full CIViC set in a child process (median of
  ``repeats`` runs); its peak memory is the child's ``ru_maxrss`` from ``os.wait4``, beside the
  floor of a child that only imports everything and loads the data;
* **single prediction** through ``Predictor.predict(..., explain=True)`` plus the CIViC
  knowledge look-up (what ``POST /v1/predict`` does), and through HTTP on 127.0.0.1
  (p50/p95/p99, after a warm-up);
* **batch throughput** (samples/s) through ``Predictor.predict_samples`` and through
  ``POST /v1/predict/batch`` for batch sizes 1..512;
* **long texts**: an MSKCC-style text of 1k, 10k and 100k characters built from the real texts;
* **inference**: the FusionNet in eager PyTorch vs TorchScript (``torch.jit.trace``) vs ONNX
  Runtime (when installed), and where a prediction's time goes.

Inputs are *cold*: every timed call gets samples it has not seen (the sentence encoder caches
embeddings by text, and a cache hit would flatter the encoder). Warm-up calls use other samples.
"""

from __future__ import annotations

import contextlib
import copy
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from benchmarks.harness import Grid, console, model_specs, out, write_json
from oncoclass.data import load_civic
from oncoclass.data.mskcc import read_texts, read_variants
from oncoclass.data.records import Sample
from oncoclass.errors import InvalidInputError
from oncoclass.features.text import select_text

REPO = Path(__file__).resolve().parents[1]
TEXT_LENGTHS = (1_000, 10_000, 100_000)
BATCH_SIZES = (1, 8, 32, 128, 512)
#: The references timed beside OncoClass's models (the prior has nothing to time).
SPEED_REFERENCES = ("ref-peer", "ref-seed")
HTTP_TIMEOUT_S = 120.0
SERVER_START_TIMEOUT_S = 180.0
#: Targets from the issue.
TARGET_HTTP_P50_MS = 30.0
TARGET_BATCH_PER_S = 150.0
TARGET_LONG_TEXT_MS = 150.0


@dataclass(frozen=True)
class SpeedConfig:
    train_repeats: int = 3
    n_single: int = 100
    n_long: int = 10
    warmup: int = 5
    batch_sizes: tuple[int, ...] = BATCH_SIZES
    #: Samples per batch size (at least 3 calls of each size).
    samples_per_size: int = 256
    train_limit: int = 0
    epochs: int = 0
    http: bool = True
    inference: bool = True
    #: Also measure a child that only imports everything and loads the data.
    memory_floor: bool = True
    #: No further training run of a model once its runs took this long (at least one runs).
    train_budget_s: float = 600.0
    inference_repeats: int = 20

    @classmethod
    def quick(cls) -> SpeedConfig:
        return cls(
            train_repeats=1,
            n_single=4,
            n_long=2,
            warmup=1,
            batch_sizes=(1, 8, 32),
            samples_per_size=32,
            train_limit=300,
            epochs=1,
            inference_repeats=5,
        )


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


class SamplePool:
    """Hands out samples never handed out before (cycling only when all were used)."""

    def __init__(self, samples: Sequence[Sample]) -> None:
        self.samples = list(samples)
        self.next = 0

    def take(self, n: int) -> list[Sample]:
        out = [self.samples[(self.next + i) % len(self.samples)] for i in range(n)]
        self.next += n
        return out


def clear_encoder_cache() -> None:
    """Forget the sentence encoder's cached embeddings (if it was loaded at all)."""
    from oncoclass.features.sentence_encoder import encoder_loaded, get_sentence_encoder

    if encoder_loaded():
        get_sentence_encoder().cache_clear()


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


# ---- child processes -----------------------------------------------------------------------------
def run_child(args: Sequence[str], timeout_s: float = 3600) -> tuple[str, float, float]:
    """Run ``python -m benchmarks.worker ARGS``; return (stdout, wall seconds, peak RSS MiB).

    ``os.wait4`` reports this one child's resource usage, its ``ru_maxrss`` (KiB on Linux)
    included; ``getrusage(RUSAGE_CHILDREN)`` would give the largest of all children so far."""
    start = time.perf_counter()
    with tempfile.TemporaryFile("w+") as stdout, tempfile.TemporaryFile("w+") as stderr:
        proc = subprocess.Popen(
            [sys.executable, "-m", "benchmarks.worker", *args],
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
                raise TimeoutError(f"worker {' '.join(args)} ran over {timeout_s:.0f} s")
            time.sleep(0.05)
        proc.returncode = os.waitstatus_to_exitcode(status)  # reaped here, not by Popen
        wall = time.perf_counter() - start
        stdout.seek(0)
        stderr.seek(0)
        if proc.returncode != 0:
            raise RuntimeError(
                f"worker {' '.join(args)} failed ({proc.returncode}):\n{stderr.read()[-3000:]}"
            )
        return stdout.read(), wall, usage.ru_maxrss / 1024


def train_models(
    names: Sequence[str], civic: Path, models_dir: Path, cfg: SpeedConfig
) -> dict[str, Any]:
    """Train every model ``cfg.train_repeats`` times in a child; keep the last one saved."""
    floor = run_child(["idle", "--data", str(civic)])[2] if cfg.memory_floor else None
    rows = []
    for name in names:
        runs = []
        for _ in range(cfg.train_repeats):
            args = ["train", "--model", name, "--data", str(civic), "--out", str(models_dir / name)]
            if cfg.train_limit:
                args += ["--limit", str(cfg.train_limit)]
            if cfg.epochs:
                args += ["--epochs", str(cfg.epochs)]
            text, wall, rss = run_child(args)
            report = json.loads(text.strip().splitlines()[-1])
            runs.append(
                {
                    "train_s": report["train_seconds"],
                    "wall_s": wall,
                    "peak_rss_mb": rss,
                    "n_samples": report["n_samples"],
                }
            )
            console.log(
                f"speed: trained {name} in {report['train_seconds']:.1f} s (peak {rss:.0f} MiB)"
            )
            if sum(r["wall_s"] for r in runs) > cfg.train_budget_s:
                break
        rows.append(
            {
                "model": name,
                "n_samples": runs[0]["n_samples"],
                "train_s": statistics.median(r["train_s"] for r in runs),
                "process_wall_s": statistics.median(r["wall_s"] for r in runs),
                "peak_rss_mb": max(r["peak_rss_mb"] for r in runs),
                "runs": runs,
            }
        )
    return {"floor_rss_mb": floor, "models": rows}


# ---- the in-process paths ------------------------------------------------------------------------
def timed_calls(
    fn: Callable[[Any], Any],
    inputs: Sequence[Any],
    warmup: Sequence[Any] = (),
    before: Callable[[], None] = lambda: None,
) -> list[float]:
    for x in warmup:
        fn(x)
    seconds = []
    for x in inputs:
        before()
        start = time.perf_counter()
        fn(x)
        seconds.append(time.perf_counter() - start)
    return seconds


def predictor_benchmarks(
    model_dir: Path,
    pool: SamplePool,
    knowledge: Any,
    long_cases: dict[int, list[LongText]],
    cfg: SpeedConfig,
) -> dict[str, Any]:
    from oncoclass.predictor import Predictor

    load_start = time.perf_counter()
    predictor = Predictor.load(model_dir)
    load_s = time.perf_counter() - load_start

    def single(s: Sample) -> None:
        predictor.predict(s.gene, s.variation, s.text, s.disease, s.drugs, explain=True)
        knowledge.lookup(s.gene, s.variation, limit=50)

    def long(c: LongText) -> None:
        predictor.predict(c.gene, c.variation, c.text, explain=True)
        knowledge.lookup(c.gene, c.variation, limit=50)

    clear_encoder_cache()
    result: dict[str, Any] = {"load_s": load_s}
    result["single"] = latency(timed_calls(single, pool.take(cfg.n_single), pool.take(cfg.warmup)))
    result["batch"] = {}
    for size in cfg.batch_sizes:
        batches = [pool.take(size) for _ in range(max(3, cfg.samples_per_size // size))]
        seconds = timed_calls(lambda b: predictor.predict_samples(b), batches)
        result["batch"][str(size)] = {
            "samples_per_s": size / statistics.median(seconds),
            **latency(seconds),
        }
    result["long_text"] = {}
    for length, cases in long_cases.items():
        seconds = timed_calls(long, cases[1:], cases[:1])
        result["long_text"][str(length)] = latency(seconds)
    clear_encoder_cache()
    return result


# ---- HTTP ----------------------------------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextlib.contextmanager
def serving(model_dir: Path, civic: Path, log_dir: Path) -> Iterator[Any]:
    """The OncoClass service with this model on 127.0.0.1, as an ``httpx.Client``."""
    import httpx

    port = free_port()
    home = Path(tempfile.mkdtemp(prefix="oncoclass-bench-"))
    log_dir.mkdir(parents=True, exist_ok=True)
    log = (log_dir / f"serve-{model_dir.name}.log").open("w")
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "benchmarks.worker",
            "serve",
            "--model-dir",
            str(model_dir),
            "--civic",
            str(civic),
            "--port",
            str(port),
            "--home",
            str(home),
        ],
        cwd=REPO,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=HTTP_TIMEOUT_S) as client:
            deadline = time.monotonic() + SERVER_START_TIMEOUT_S
            while True:
                if proc.poll() is not None:
                    raise RuntimeError(f"the server stopped; see {log.name}")
                with contextlib.suppress(httpx.TransportError):
                    health = client.get("/health")
                    if health.status_code == 200 and health.json().get("status") == "ok":
                        break
                if time.monotonic() > deadline:
                    raise RuntimeError(f"the server did not start in time; see {log.name}")
                time.sleep(0.5)
            yield client
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()
        shutil.rmtree(home, ignore_errors=True)


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


def http_benchmarks(
    client: Any, pool: SamplePool, long_cases: dict[int, list[LongText]], cfg: SpeedConfig
) -> dict[str, Any]:
    def post(path: str, body: dict[str, Any]) -> None:
        response = client.post(path, json=body)
        if response.status_code != 200:
            raise RuntimeError(f"POST {path}: {response.status_code} {response.text[:300]}")

    single = lambda s: post("/v1/predict", _item(s))  # noqa: E731
    result: dict[str, Any] = {
        "single": latency(timed_calls(single, pool.take(cfg.n_single), pool.take(cfg.warmup))),
        "batch": {},
        "long_text": {},
    }
    for size in cfg.batch_sizes:
        batches = [pool.take(size) for _ in range(max(3, cfg.samples_per_size // size))]
        seconds = timed_calls(
            lambda b: post("/v1/predict/batch", {"items": [_item(s) for s in b]}),
            batches,
            [pool.take(size)],
        )
        result["batch"][str(size)] = {
            "samples_per_s": size / statistics.median(seconds),
            **latency(seconds),
        }
    for length, cases in long_cases.items():
        result["long_text"][str(length)] = latency(timed_calls(single, cases[1:], cases[:1]))
    return result


# ---- inference back-ends -------------------------------------------------------------------------
def inference_comparison(
    model_dir: Path, samples: Sequence[Sample], cfg: SpeedConfig
) -> dict[str, Any] | None:
    """The FusionNet of a neural model: eager vs TorchScript vs ONNX Runtime, per batch size,
    and the share of a ``predict_proba`` call that the network is."""
    from oncoclass.models import load_model
    from oncoclass.training.trainer import iter_batches

    model = load_model(model_dir)
    net = getattr(model, "net_", None)
    if net is None or not hasattr(model, "_arrays"):
        return None
    net.eval()
    repeats = cfg.inference_repeats
    rows = []
    for size in (1, 32, 128):
        part = list(samples[:size])
        clear_encoder_cache()
        featurise = _median(lambda p=part: model._arrays(p), 1, warmup=0)  # cold
        arrays = model._arrays(part)
        batch = next(iter_batches(arrays, size, min_seq_len=5))
        with torch.inference_mode():
            eager = _median(lambda b=batch: net(b)["logits"], repeats)
            traced = torch.jit.optimize_for_inference(
                torch.jit.trace(_LogitsOnly(net), (batch,), strict=False, check_trace=False)
            )
            # (_median's warm-up calls let the profiling executor specialise the graph)
            script = _median(lambda b=batch, f=traced: f(b), repeats)
            same = torch.allclose(net(batch)["logits"], traced(batch), atol=1e-4)
        row = {
            "batch": size,
            "featurise_ms": featurise * 1000,
            "eager_ms": eager * 1000,
            "torchscript_ms": script * 1000,
            "torchscript_matches": bool(same),
        }
        ort = _onnx_runtime(net, batch, repeats)
        if ort is not None:
            row.update(ort)
        rows.append(row)
    return {"model": model.name, "rows": rows}


class _LogitsOnly(torch.nn.Module):
    """The FusionNet returning its logits tensor (tracing wants tensors, not a dict)."""

    def __init__(self, net: Any) -> None:
        super().__init__()
        self.net = net

    def forward(self, batch: dict[str, Any]) -> Any:
        return self.net(batch)["logits"]


def _onnx_runtime(net: Any, batch: dict[str, Any], repeats: int) -> dict[str, Any] | None:
    """Export to ONNX and time ONNX Runtime, if ``onnxruntime`` is installed."""
    try:
        import onnxruntime as ort
    except ImportError:
        return None

    keys = list(batch)

    class Positional(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.net = net

        def forward(self, *tensors: torch.Tensor) -> torch.Tensor:
            return self.net(dict(zip(keys, tensors, strict=True)))["logits"]

    path = Path(tempfile.mkdtemp(prefix="oncoclass-onnx-")) / "fusion.onnx"
    dynamic = {k: {0: "batch", **({1: "length"} if k == "tokens" else {})} for k in keys}
    try:
        # In eval mode: the exporter restores the wrapper's mode afterwards, and a fresh module
        # is in training mode, which would switch the network's dropout on.
        torch.onnx.export(
            Positional().eval(),
            tuple(batch[k] for k in keys),
            str(path),
            input_names=keys,
            output_names=["logits"],
            dynamic_axes=dynamic,
            dynamo=False,
        )
        options = ort.SessionOptions()
        options.intra_op_num_threads = torch.get_num_threads()
        session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        feed = {k: batch[k].numpy() for k in keys}
        got = session.run(None, feed)[0]
        with torch.inference_mode():
            want = net(batch)["logits"].numpy()
        return {
            "onnxruntime_ms": _median(lambda: session.run(None, feed), repeats) * 1000,
            "onnxruntime_matches": bool(np.allclose(got, want, atol=1e-4)),
        }
    except Exception as exc:  # an export failure is a finding to report, not a crash
        return {"onnxruntime_error": f"{type(exc).__name__}: {exc}"[:300]}
    finally:
        shutil.rmtree(path.parent, ignore_errors=True)


def encoder_comparison(texts: Sequence[str], cfg: SpeedConfig) -> dict[str, Any]:
    """The frozen sentence encoder (all-MiniLM-L6-v2), which dominates the encoder-based
    models' cost: eager PyTorch vs dynamic int8 quantisation vs ONNX Runtime, on real texts
    tokenised as the encoder does; ``min_cosine`` is the worst cosine similarity between a
    back-end's pooled embedding and the eager one (1.0 = the same embedding)."""
    from oncoclass.features.sentence_encoder import get_sentence_encoder

    encoder = get_sentence_encoder()
    model = encoder.model.eval()

    class Hidden(torch.nn.Module):
        def __init__(self, inner: torch.nn.Module) -> None:
            super().__init__()
            self.inner = inner

        def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
            return self.inner(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state

    eager = Hidden(model).eval()
    backends: dict[str, Callable[[dict[str, torch.Tensor]], np.ndarray]] = {
        "eager": lambda enc: eager(enc["input_ids"], enc["attention_mask"]).numpy(),
    }
    errors: dict[str, str] = {}
    try:
        int8 = torch.ao.quantization.quantize_dynamic(
            Hidden(copy.deepcopy(model)).eval(), {torch.nn.Linear}, dtype=torch.qint8
        )
        backends["int8"] = lambda enc: int8(enc["input_ids"], enc["attention_mask"]).numpy()
    except Exception as exc:  # a back-end that does not work here is a finding, not a crash
        errors["int8"] = f"{type(exc).__name__}: {exc}"[:300]
    tmp = Path(tempfile.mkdtemp(prefix="oncoclass-onnx-"))
    try:
        import onnxruntime as ort

        sample = encoder.tokenizer(list(texts[:2]), padding=True, return_tensors="pt")
        axes = {0: "batch", 1: "length"}
        torch.onnx.export(
            eager,
            (sample["input_ids"], sample["attention_mask"]),
            str(tmp / "encoder.onnx"),
            input_names=["input_ids", "attention_mask"],
            output_names=["hidden"],
            dynamo=False,
            dynamic_axes={"input_ids": axes, "attention_mask": axes, "hidden": axes},
        )
        options = ort.SessionOptions()
        options.intra_op_num_threads = torch.get_num_threads()
        session = ort.InferenceSession(
            str(tmp / "encoder.onnx"), options, providers=["CPUExecutionProvider"]
        )
        backends["onnxruntime"] = lambda enc: session.run(
            None,
            {
                "input_ids": enc["input_ids"].numpy(),
                "attention_mask": enc["attention_mask"].numpy(),
            },
        )[0]
    except Exception as exc:
        errors["onnxruntime"] = f"{type(exc).__name__}: {exc}"[:300]
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    rows = []
    with torch.inference_mode():
        for size in (1, 32):
            enc = encoder.tokenizer(
                list(texts[:size]),
                padding=True,
                truncation=True,
                max_length=encoder.max_length,
                return_tensors="pt",
            )
            mask = enc["attention_mask"].unsqueeze(-1).numpy()
            pooled = {}
            row: dict[str, Any] = {"batch": size, "tokens": int(enc["attention_mask"].sum())}
            for name, run in backends.items():
                hidden = run(enc)
                vec = (hidden * mask).sum(1) / mask.sum(1)
                pooled[name] = vec / np.linalg.norm(vec, axis=1, keepdims=True)
                row[f"{name}_ms"] = _median(lambda r=run, e=enc: r(e), cfg.inference_repeats) * 1000
            for name, vec in pooled.items():
                if name != "eager":
                    row[f"{name}_min_cosine"] = float((vec * pooled["eager"]).sum(1).min())
            rows.append(row)
    return {"rows": rows, "errors": errors, "max_length": encoder.max_length}


def _median(fn: Callable[[], Any], repeats: int, warmup: int = 3) -> float:
    """Median seconds of ``repeats`` calls after ``warmup`` untimed ones."""
    for _ in range(warmup):
        fn()
    seconds = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        seconds.append(time.perf_counter() - start)
    return statistics.median(seconds)


# ---- the benchmark -------------------------------------------------------------------------------
def speed(
    civic: Path,
    mskcc: Path,
    *,
    out_dir: Path,
    quick: bool = False,
    only: Sequence[str] | None = None,
    models_dir: Path | None = None,
    cfg: SpeedConfig | None = None,
) -> dict[str, Any]:
    from benchmarks.references import register_references
    from oncoclass.knowledge import KnowledgeBase
    from oncoclass.settings import get_settings

    register_references()
    cfg = cfg or (SpeedConfig.quick() if quick else SpeedConfig())
    names = [s.name for s in model_specs(SPEED_REFERENCES, only=only)]
    if not names:
        raise InvalidInputError(
            f"no model to time among {only}; the speed benchmark knows "
            f"{', '.join(s.name for s in model_specs(SPEED_REFERENCES))}",
            field="models",
        )
    models_dir = models_dir or out_dir / "models"
    default = get_settings().default_model
    payload: dict[str, Any] = {
        "quick": quick,
        "config": cfg.__dict__,
        "default_model": default,
        "models": names,
    }

    def save() -> None:
        write_json(out_dir, "speed", payload)

    payload["training"] = train_models(names, civic, models_dir, cfg)
    save()
    samples = load_civic(civic, min_support=30)
    pool = SamplePool(samples)
    knowledge = KnowledgeBase.from_path(civic)
    long_cases = {n: long_text_cases(mskcc, n, cfg.n_long + 1) for n in TEXT_LENGTHS}
    payload["predictor"], payload["http"], payload["inference"] = {}, {}, {}
    for name in names:
        console.log(f"speed: {name} through the Predictor")
        payload["predictor"][name] = predictor_benchmarks(
            models_dir / name, pool, knowledge, long_cases, cfg
        )
        save()
    if cfg.http:
        for name in names:
            console.log(f"speed: {name} through HTTP")
            with serving(models_dir / name, civic, out_dir / "logs") as client:
                payload["http"][name] = http_benchmarks(client, pool, long_cases, cfg)
            save()
    if cfg.inference:
        for name in names:
            comparison = inference_comparison(models_dir / name, pool.take(128), cfg)
            if comparison is not None:
                payload["inference"][name] = comparison
        from oncoclass.features.sentence_encoder import encoder_loaded

        if encoder_loaded():  # some model under test uses the sentence encoder
            texts = [
                select_text(s.text, s.gene, s.variation, max_tokens=200) for s in pool.take(32)
            ]
            payload["sentence_encoder"] = encoder_comparison(texts, cfg)
        save()
    payload["targets"] = speed_targets(payload)
    save()
    for grid in speed_grids(payload):
        out.print(grid.rich())
    return payload


def speed_targets(payload: dict[str, Any]) -> list[dict[str, Any]]:
    """The issue's speed targets, checked for the default model (or, when it was not timed, the
    first OncoClass model that was); every model's figures are in the JSON."""
    from benchmarks.references import is_reference

    timed = [m for m in payload.get("predictor", {}) if not is_reference(m)]
    model = (
        payload["default_model"] if payload["default_model"] in timed else next(iter(timed), None)
    )
    if model is None:
        return []
    rows = []
    http = payload.get("http", {}).get(model)
    if http:
        rows.append(
            _target(
                f"HTTP single p50 ≤ {TARGET_HTTP_P50_MS:g} ms",
                model,
                http["single"]["p50_ms"],
                TARGET_HTTP_P50_MS,
                lower=True,
            )
        )
        best = max(http["batch"].items(), key=lambda kv: kv[1]["samples_per_s"])
        rows.append(
            _target(
                f"HTTP batch ≥ {TARGET_BATCH_PER_S:g} samples/s (batch {best[0]})",
                model,
                best[1]["samples_per_s"],
                TARGET_BATCH_PER_S,
                lower=False,
            )
        )
    pred = payload["predictor"][model]
    best = max(pred["batch"].items(), key=lambda kv: kv[1]["samples_per_s"])
    rows.append(
        _target(
            f"Predictor batch ≥ {TARGET_BATCH_PER_S:g} samples/s (batch {best[0]})",
            model,
            best[1]["samples_per_s"],
            TARGET_BATCH_PER_S,
            lower=False,
        )
    )
    longest = str(max(TEXT_LENGTHS))
    rows.append(
        _target(
            f"100k-char text ≤ {TARGET_LONG_TEXT_MS:g} ms (Predictor p50)",
            model,
            pred["long_text"][longest]["p50_ms"],
            TARGET_LONG_TEXT_MS,
            lower=True,
        )
    )
    return rows


def _target(name: str, model: str, value: float, bound: float, *, lower: bool) -> dict[str, Any]:
    return {
        "target": name,
        "model": model,
        "value": value,
        "met": value <= bound if lower else value >= bound,
        "gap": value - bound,
    }


# ---- tables --------------------------------------------------------------------------------------
def speed_grids(payload: dict[str, Any]) -> list[Grid]:
    """The speed results as tables; ratios are to the classical peer (``ref-peer``)."""
    grids = []
    names = payload["models"]
    base = "ref-peer" if "ref-peer" in names else names[0]

    training = payload.get("training")
    if training:
        first = training["models"][0]
        floor = training["floor_rss_mb"]
        grid = Grid(
            f"training on {first['n_samples']:,} CIViC items (median of {len(first['runs'])})"
            + (f"; memory floor of the process {floor:.0f} MiB" if floor else ""),
            ["model", "train s", f"× {base}", "process s", "peak RSS MiB"],
        )
        ref = {r["model"]: r for r in training["models"]}.get(base)
        for r in training["models"]:
            grid.rows.append(
                [
                    r["model"],
                    f"{r['train_s']:.1f}",
                    _ratio(r["train_s"], ref and ref["train_s"]),
                    f"{r['process_wall_s']:.1f}",
                    f"{r['peak_rss_mb']:.0f}",
                ]
            )
        grids.append(grid)

    for path in ("predictor", "http"):
        results = payload.get(path) or {}
        if not results:
            continue
        ref = results.get(base)
        grid = Grid(
            f"single prediction with explanation + CIViC look-up, {path} (ms)",
            ["model", "p50", "p95", "p99", f"p50 × {base}"],
        )
        for name, r in results.items():
            s = r["single"]
            grid.rows.append(
                [
                    name,
                    f"{s['p50_ms']:.1f}",
                    f"{s['p95_ms']:.1f}",
                    f"{s['p99_ms']:.1f}",
                    _ratio(s["p50_ms"], ref and ref["single"]["p50_ms"]),
                ]
            )
        grids.append(grid)

        sizes = list(next(iter(results.values()))["batch"])
        grid = Grid(
            f"batch throughput, {path} (samples/s, no explanation)",
            ["model", *(f"batch {n}" for n in sizes)],
        )
        for name, r in results.items():
            grid.rows.append([name, *(f"{r['batch'][n]['samples_per_s']:.0f}" for n in sizes)])
        grids.append(grid)

        lengths = list(next(iter(results.values()))["long_text"])
        grid = Grid(
            f"latency vs text length, {path} (p50 ms, with explanation)",
            ["model", *(f"{int(n) // 1000}k chars" for n in lengths)],
        )
        for name, r in results.items():
            grid.rows.append([name, *(f"{r['long_text'][n]['p50_ms']:.1f}" for n in lengths)])
        grids.append(grid)

    for name, comp in (payload.get("inference") or {}).items():
        grid = Grid(
            f"inference back-ends, {name}: the network's forward pass (ms, median); "
            "featurise = text selection, encoders, genomic arrays (cold)",
            ["batch", "featurise", "eager", "TorchScript", "ONNX Runtime"],
        )
        for r in comp["rows"]:
            ort = (
                f"{r['onnxruntime_ms']:.2f}"
                if "onnxruntime_ms" in r
                else ("failed" if "onnxruntime_error" in r else "not installed")
            )
            grid.rows.append(
                [
                    str(r["batch"]),
                    f"{r['featurise_ms']:.1f}",
                    f"{r['eager_ms']:.2f}",
                    f"{r['torchscript_ms']:.2f}",
                    ort,
                ]
            )
        grids.append(grid)

    encoder = payload.get("sentence_encoder")
    if encoder:
        names = [k.removesuffix("_ms") for k in encoder["rows"][0] if k.endswith("_ms")]
        grid = Grid(
            "the sentence encoder (all-MiniLM-L6-v2, max_length "
            f"{encoder['max_length']}): ms per batch, median; worst cosine to eager",
            ["batch", "tokens", *names, *(f"{n} cosine" for n in names if n != "eager")],
        )
        for r in encoder["rows"]:
            grid.rows.append(
                [
                    str(r["batch"]),
                    str(r["tokens"]),
                    *(f"{r[n + '_ms']:.1f}" for n in names),
                    *(f"{r[n + '_min_cosine']:.4f}" for n in names if n != "eager"),
                ]
            )
        grids.append(grid)

    if payload.get("targets"):
        grid = Grid(
            f"speed targets (default model: {payload['default_model']})",
            ["target", "model", "value", "met"],
        )
        for r in payload["targets"]:
            grid.rows.append(
                [r["target"], r["model"], f"{r['value']:.1f}", "yes" if r["met"] else "**no**"]
            )
        grids.append(grid)
    return grids


def _ratio(value: float, base: float | None) -> str:
    return f"{value / base:.2f}" if base else "-"
