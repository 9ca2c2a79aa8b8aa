"""``encoder``: transfer learning from a frozen pre-trained sentence encoder.

    selected evidence text -> all-MiniLM-L6-v2 (frozen) -> (B, 384)
                           -> dropout -> Linear(384, proj) -> ReLU -> (B, proj)

fused with the same genomic branch as ``cnn``. The encoder is frozen, so its embeddings are
computed once per text (and cached) rather than in every epoch; only the small fusion network
is trained.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from torch import nn

from oncoclass.data.records import Sample
from oncoclass.features.sentence_encoder import DIM, get_sentence_encoder
from oncoclass.features.text import select_text
from oncoclass.models.base import occluded_samples, register, span_offsets
from oncoclass.models.neural import NeuralClassifier


class SentenceEmbeddings:
    """What a model reading all-MiniLM-L6-v2 embeddings of the selected text shares: the
    embeddings themselves, and occlusion explanations from one encoder pass."""

    max_tokens: int

    def _embeddings(self, samples: Sequence[Sample], given: np.ndarray | None) -> np.ndarray:
        if given is not None:
            return given
        texts = [select_text(s.text, s.gene, s.variation, self.max_tokens) for s in samples]
        return get_sentence_encoder().encode(texts)

    def _occluded_logits(self, sample: Sample, spans: Sequence[str]) -> np.ndarray:
        # One encoder pass for the text and all its occluded variants (see encode_occlusions);
        # those approximate embeddings go straight into this call, never into a cache.
        joined, offsets = span_offsets(spans)
        embedding = get_sentence_encoder().encode_occlusions(joined, offsets)
        return self._logits(occluded_samples(sample, spans), embedding=embedding)  # type: ignore[attr-defined]


class EmbeddingProjection(nn.Module):
    def __init__(self, in_dim: int, out_dim: int, dropout: float) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Dropout(dropout), nn.Linear(in_dim, out_dim), nn.ReLU())

    def forward(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        return self.net(batch["embedding"])  # (B, 384) -> (B, out_dim)


@register
class EncoderClassifier(SentenceEmbeddings, NeuralClassifier):
    name = "encoder"

    def __init__(self, *, max_tokens: int = 200, proj_dim: int = 256, **kwargs: Any) -> None:
        kwargs.setdefault("epochs", 40)  # a small network on fixed features: cheap epochs
        kwargs.setdefault("patience", 5)
        super().__init__(**kwargs)
        self.max_tokens = max_tokens
        self.proj_dim = proj_dim

    def _fit_text(self, train: Sequence[Sample]) -> None:
        pass  # nothing to learn: the encoder is frozen

    def _text_arrays(
        self, samples: Sequence[Sample], embedding: np.ndarray | None = None
    ) -> dict[str, np.ndarray]:
        return {"embedding": self._embeddings(samples, embedding)}

    def _text_branch(self) -> tuple[nn.Module, int]:
        return EmbeddingProjection(DIM, self.proj_dim, self.dropout), self.proj_dim
