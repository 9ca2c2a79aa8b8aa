"""``encoder``: transfer learning from a frozen pre-trained sentence encoder.

    selected evidence text -> all-MiniLM-L6-v2 (frozen) -> (B, 384)
                           -> dropout -> Linear(384, proj) -> ReLU -> (B, proj)

fused with the same genomic branch as ``cnn``. The encoder is frozen, so its embeddings are
computed once per text (and cached) rather than in every epoch; only the small fusion network
is trained.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from oncoclass.data.records import Sample
from oncoclass.features.encoder_backends import REFERENCE_BACKEND, backend_key, backend_spec
from oncoclass.features.sentence_encoder import DEFAULT_BACKEND, DIM, get_sentence_encoder
from oncoclass.features.text import select_text
from oncoclass.models.base import locate_spans, occluded_samples, register
from oncoclass.models.neural import NeuralClassifier

log = logging.getLogger(__name__)


class SentenceEmbeddings:
    """What a model reading all-MiniLM-L6-v2 embeddings of the selected text shares: the
    embeddings themselves, from the back-end it was trained with (``encoder_backend``, part of
    its configuration, hence of ``model.json``), and occlusion explanations from one encoder
    pass."""

    max_tokens: int

    def __init__(self, *, encoder_backend: str = DEFAULT_BACKEND, **kwargs: Any) -> None:
        backend_spec(encoder_backend)  # an unknown back-end fails here, not at the first text
        super().__init__(**kwargs)
        self.encoder_backend = encoder_backend

    def _embeddings(self, samples: Sequence[Sample], given: np.ndarray | None) -> np.ndarray:
        if given is not None:
            return given
        texts = [select_text(s.text, s.gene, s.variation, self.max_tokens) for s in samples]
        return get_sentence_encoder(self.encoder_backend).encode(texts)

    def _occluded_logits(self, sample: Sample, spans: Sequence[str]) -> np.ndarray:
        # The occluded variants from the token states of the text this model read for the
        # prediction (kept by the encoder: no second pass, see encode_occlusions): each span is
        # left out of the pooling where it lies in that text, and a span the model never read
        # (beyond its budget) changes nothing. Row 0 is then the prediction's own embedding.
        # The approximate embeddings go straight into this call, never into a cache.
        text = select_text(sample.text, sample.gene, sample.variation, self.max_tokens)
        offsets = locate_spans(text, spans)
        embedding = get_sentence_encoder(self.encoder_backend).encode_occlusions(text, offsets)
        return self._logits(occluded_samples(sample, spans), embedding=embedding)  # type: ignore[attr-defined]

    # ---- the checkpoint: which encoder, built from what --------------------------------------
    def _text_state(self) -> dict[str, Any]:
        # The back-end's key (weights, back-end, library versions): a model served with another
        # build of its encoder is flagged at load.
        return {**super()._text_state(), "encoder_key": backend_key(self.encoder_backend)}  # type: ignore[misc]

    def _load(self, directory: Path, card: dict[str, Any]) -> None:
        if "encoder_backend" not in card["config"]:
            # Saved before back-ends existed: trained on the only encoder there was.
            self.encoder_backend = REFERENCE_BACKEND
        super()._load(directory, card)  # type: ignore[misc]

    def _load_text_state(self, state: dict[str, Any]) -> None:
        super()._load_text_state(state)  # type: ignore[misc]
        trained, now = state.get("encoder_key"), backend_key(self.encoder_backend)
        if trained is not None and trained != now:
            log.warning(
                "this model was trained with the sentence encoder %s and is served with %s "
                "(other library versions): its probabilities may differ slightly from those "
                "measured at training",
                trained,
                now,
            )


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
