"""``cnn``: word embeddings + Conv1D of several widths + global max-pool, fused with genes.

    tokens (B, L) -> Embedding -> (B, L, E) -> transpose -> (B, E, L)
                  -> Conv1d(E, F, k) + ReLU for k in widths -> max over L -> (B, F) each
                  -> concat -> (B, F * len(widths))

The text it reads is the evidence text cut down to the sentences that mention the gene or the
variation (plus neighbours), up to ``max_tokens``; an MSKCC paper of 100k characters becomes a
few hundred tokens about the variant in question.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from torch import nn

from oncoclass.data.records import Sample
from oncoclass.features.text import Vocabulary, pad_batch, select_text, tokenize
from oncoclass.models.base import register
from oncoclass.models.neural import NeuralClassifier


class TextCNN(nn.Module):
    def __init__(
        self, vocab_size: int, emb_dim: int, n_filters: int, widths: Sequence[int], dropout: float
    ) -> None:
        super().__init__()
        self.embedding = nn.Embedding(vocab_size, emb_dim, padding_idx=0)
        self.convs = nn.ModuleList(nn.Conv1d(emb_dim, n_filters, k) for k in widths)
        self.dropout = nn.Dropout(dropout)
        self.out_dim = n_filters * len(widths)

    def forward(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        tokens = batch["tokens"]  # (B, L), 0-padded
        lengths = (tokens != 0).sum(dim=1, keepdim=True)  # (B, 1)
        x = self.dropout(self.embedding(tokens))  # (B, L, E)
        x = x.transpose(1, 2)  # (B, E, L)
        pooled = []
        for conv in self.convs:
            h = conv(x).relu()  # (B, F, L - k + 1)
            # Windows that reach into the padding only exist because of the longest text in
            # the batch: masked, so that a text's answer never depends on its batch-mates
            # (a text shorter than k keeps its one window). ReLU outputs are >= 0, so 0 is a
            # neutral value for the max.
            k = conv.kernel_size[0]
            valid = torch.arange(h.shape[2], device=h.device) < (lengths - k + 1).clamp(min=1)
            pooled.append(h.masked_fill(~valid.unsqueeze(1), 0.0).amax(dim=2))  # (B, F)
        return torch.cat(pooled, dim=1)  # (B, F * len(widths))


@register
class CNNClassifier(NeuralClassifier):
    name = "cnn"

    def __init__(
        self,
        *,
        max_tokens: int = 400,
        vocab_size: int = 20000,
        min_freq: int = 2,
        emb_dim: int = 128,
        n_filters: int = 64,
        widths: Sequence[int] = (3, 4, 5),
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.max_tokens = max_tokens
        self.vocab_size = vocab_size
        self.min_freq = min_freq
        self.emb_dim = emb_dim
        self.n_filters = n_filters
        self.widths = tuple(widths)

    def _tokens(self, s: Sample) -> list[str]:
        return tokenize(select_text(s.text, s.gene, s.variation, max_tokens=self.max_tokens))

    def _fit_text(self, train: Sequence[Sample]) -> None:
        self.vocab_ = Vocabulary.build(
            (self._tokens(s) for s in train), max_size=self.vocab_size, min_freq=self.min_freq
        )

    def _text_arrays(
        self, samples: Sequence[Sample], embedding: np.ndarray | None = None
    ) -> dict[str, np.ndarray]:
        ids = [self.vocab_.encode(self._tokens(s), self.max_tokens) for s in samples]
        return {"tokens": pad_batch(ids, min_len=max(self.widths))}

    def _text_branch(self) -> tuple[nn.Module, int]:
        branch = TextCNN(len(self.vocab_), self.emb_dim, self.n_filters, self.widths, self.dropout)
        return branch, branch.out_dim

    def _text_state(self) -> dict[str, Any]:
        return {"vocab": self.vocab_.to_list()}

    def _load_text_state(self, state: dict[str, Any]) -> None:
        self.vocab_ = Vocabulary.from_list(state["vocab"])
