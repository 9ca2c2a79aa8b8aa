"""``multimodal``: both text branches at once, fused with the genomic branch.

    tokens    (B, L)   -> TextCNN (embeddings + Conv1D widths + max-pool) -> (B, F * widths)
    embedding (B, 384) -> frozen all-MiniLM-L6-v2 projection               -> (B, proj)
                          (back-end: ``encoder_backend``, see features/encoder_backends.py)
    concat             -> (B, F * widths + proj) -> FusionNet with the genomic branch

The CNN learns the task's own vocabulary (drug names, "resistance", "survival"); the
pre-trained encoder brings what it learned about sentences from a billion pairs. With the
``baseline`` it makes up the default ``ensemble``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from torch import nn

from oncoclass.data.records import Sample
from oncoclass.features.sentence_encoder import DIM
from oncoclass.models.base import register
from oncoclass.models.cnn import CNNClassifier, TextCNN
from oncoclass.models.encoder import EmbeddingProjection, SentenceEmbeddings


class DualText(nn.Module):
    def __init__(self, cnn: TextCNN, projection: EmbeddingProjection) -> None:
        super().__init__()
        self.cnn = cnn
        self.projection = projection

    def forward(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        return torch.cat([self.cnn(batch), self.projection(batch)], dim=1)


@register
class MultiModalClassifier(SentenceEmbeddings, CNNClassifier):
    name = "multimodal"

    def __init__(self, *, proj_dim: int = 128, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.proj_dim = proj_dim

    def _text_arrays(
        self, samples: Sequence[Sample], embedding: np.ndarray | None = None
    ) -> dict[str, np.ndarray]:
        # The encoder reads the CNN's selection (as many word pieces of it as its back-end's
        # max_length allows).
        return {**super()._text_arrays(samples), "embedding": self._embeddings(samples, embedding)}

    def _text_branch(self) -> tuple[nn.Module, int]:
        cnn, cnn_dim = super()._text_branch()
        projection = EmbeddingProjection(DIM, self.proj_dim, self.dropout)
        return DualText(cnn, projection), cnn_dim + self.proj_dim  # type: ignore[arg-type]
