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
from oncoclass.models.base import register
from oncoclass.models.neural import NeuralClassifier


class EmbeddingProjection(nn.Module):
    def __init__(self, in_dim: int, out_dim: int, dropout: float) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Dropout(dropout), nn.Linear(in_dim, out_dim), nn.ReLU())

    def forward(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        return self.net(batch["embedding"])  # (B, 384) -> (B, out_dim)


@register
class EncoderClassifier(NeuralClassifier):
    name = "encoder"

    def __init__(self, *, max_tokens: int = 200, proj_dim: int = 256, **kwargs: Any) -> None:
        kwargs.setdefault("epochs", 40)  # a small network on fixed features: cheap epochs
        kwargs.setdefault("patience", 5)
        super().__init__(**kwargs)
        self.max_tokens = max_tokens
        self.proj_dim = proj_dim

    def _fit_text(self, train: Sequence[Sample]) -> None:
        pass  # nothing to learn: the encoder is frozen

    def _text_arrays(self, samples: Sequence[Sample]) -> dict[str, np.ndarray]:
        texts = [
            select_text(s.text, s.gene, s.variation, max_tokens=self.max_tokens) for s in samples
        ]
        return {"embedding": get_sentence_encoder().encode(texts)}

    def _text_branch(self) -> tuple[nn.Module, int]:
        return EmbeddingProjection(DIM, self.proj_dim, self.dropout), self.proj_dim

    def prepare_occlusion(self, text: str, spans: Sequence[tuple[int, int]]) -> None:
        # One encoder pass for all occluded texts instead of one each (see prime_occlusions).
        get_sentence_encoder().prime_occlusions(text, spans)
