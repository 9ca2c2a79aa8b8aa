"""``multimodal``: both text branches at once, fused with the genomic branch.

    tokens    (B, L)   -> TextCNN (embeddings + Conv1D widths + max-pool) -> (B, F * widths)
    embedding (B, 384) -> frozen all-MiniLM-L6-v2 projection               -> (B, proj)
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
from oncoclass.features.sentence_encoder import DIM, get_sentence_encoder
from oncoclass.features.text import select_text
from oncoclass.models.base import register
from oncoclass.models.cnn import CNNClassifier, TextCNN
from oncoclass.models.encoder import EmbeddingProjection


class DualText(nn.Module):
    def __init__(self, cnn: TextCNN, projection: EmbeddingProjection) -> None:
        super().__init__()
        self.cnn = cnn
        self.projection = projection

    def forward(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        return torch.cat([self.cnn(batch), self.projection(batch)], dim=1)


@register
class MultiModalClassifier(CNNClassifier):
    name = "multimodal"

    def __init__(self, *, proj_dim: int = 128, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.proj_dim = proj_dim

    def _text_arrays(self, samples: Sequence[Sample]) -> dict[str, np.ndarray]:
        # The same selection as the CNN's (the encoder reads its first 256 word pieces), so
        # that the one-pass occlusion embeddings of the Predictor are found in the cache.
        texts = [
            select_text(s.text, s.gene, s.variation, max_tokens=self.max_tokens) for s in samples
        ]
        return {**super()._text_arrays(samples), "embedding": get_sentence_encoder().encode(texts)}

    def prepare_occlusion(self, text: str, spans: Sequence[tuple[int, int]]) -> None:
        # One encoder pass for all occluded texts instead of one each (see prime_occlusions).
        get_sentence_encoder().prime_occlusions(text, spans)

    def _text_branch(self) -> tuple[nn.Module, int]:
        cnn, cnn_dim = super()._text_branch()
        projection = EmbeddingProjection(DIM, self.proj_dim, self.dropout)
        return DualText(cnn, projection), cnn_dim + self.proj_dim  # type: ignore[arg-type]
