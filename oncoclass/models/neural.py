"""What the neural models share: featurising samples, the Trainer, and the checkpoint."""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from oncoclass.data.records import Sample
from oncoclass.models.base import Classifier
from oncoclass.models.fusion import FusionNet, GenomicBranch
from oncoclass.training.trainer import Trainer, TrainerConfig

WEIGHTS_FILE = "weights.pt"


class NeuralClassifier(Classifier):
    """A FusionNet of a text branch (defined by the subclass) and the genomic branch."""

    def __init__(
        self,
        *,
        epochs: int = 15,
        batch_size: int = 32,
        lr: float = 1e-3,
        patience: int = 3,
        dropout: float = 0.3,
        hidden: int = 128,
        class_weight_power: float = 0.5,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.epochs = epochs
        self.batch_size = batch_size
        self.lr = lr
        self.patience = patience
        self.dropout = dropout
        self.hidden = hidden
        self.class_weight_power = class_weight_power

    # ---- what a subclass defines ----------------------------------------------------------------
    @abstractmethod
    def _fit_text(self, train: Sequence[Sample]) -> None:
        """Learn what the text branch needs before training (e.g. a vocabulary)."""

    @abstractmethod
    def _text_arrays(
        self, samples: Sequence[Sample], embedding: np.ndarray | None = None
    ) -> dict[str, np.ndarray]:
        """The text inputs of ``samples``; ``embedding`` (n, 384), when given, replaces the
        sentence-encoder embeddings of a model that reads them (occlusion explanations)."""

    @abstractmethod
    def _text_branch(self) -> tuple[nn.Module, int]:
        """A fresh text branch and its output width."""

    def _text_state(self) -> dict[str, Any]:
        return {}

    def _load_text_state(self, state: dict[str, Any]) -> None:  # noqa: B027 (optional hook)
        pass

    # ---- shared machinery -----------------------------------------------------------------------
    def _arrays(
        self,
        samples: Sequence[Sample],
        labelled: bool = False,
        embedding: np.ndarray | None = None,
    ) -> dict[str, np.ndarray]:
        arrays = {**self.genomic_.transform(samples), **self._text_arrays(samples, embedding)}
        if labelled:
            arrays["label"] = self.encode_labels(samples)
        return arrays

    def _build(self, class_weights: np.ndarray | None = None) -> FusionNet:
        g = self.genomic_
        genomic = GenomicBranch(
            len(g.genes_),
            len(g.variations_),
            len(g.diseases_),
            len(g.drugs_),
            g.n_dense,
            dropout=self.dropout,
        )
        text, text_dim = self._text_branch()
        weights = torch.from_numpy(class_weights) if class_weights is not None else None
        return FusionNet(
            text,
            text_dim,
            genomic,
            len(self.classes_),
            hidden=self.hidden,
            dropout=self.dropout,
            class_weights=weights,
        )

    def _fit(self, train: Sequence[Sample], valid: Sequence[Sample] | None) -> None:
        torch.manual_seed(self.seed)
        self._fit_text(train)
        self.net_ = self._build(self.class_weights(train, self.class_weight_power))
        config = TrainerConfig(
            lr=self.lr,
            batch_size=self.batch_size,
            max_epochs=self.epochs,
            patience=self.patience,
            seed=self.seed,
        )
        self.trainer_ = Trainer(self.net_, config, progress=self.progress).fit(
            self._arrays(train, labelled=True),
            self._arrays(valid, labelled=True) if valid else None,
        )
        self.history_ = self.trainer_.history_

    @torch.inference_mode()
    def _logits(self, samples: Sequence[Sample], embedding: np.ndarray | None = None) -> np.ndarray:
        arrays = self._arrays(samples, embedding=embedding)
        return Trainer(self.net_, progress=False).predict_logits(arrays)

    def _save(self, directory: Path) -> None:
        torch.save(
            {"state_dict": self.net_.state_dict(), "text": self._text_state()},
            directory / WEIGHTS_FILE,
        )

    def _load(self, directory: Path, card: dict[str, Any]) -> None:
        # weights_only: a checkpoint holds tensors and plain lists, never code to execute.
        blob = torch.load(directory / WEIGHTS_FILE, map_location="cpu", weights_only=True)
        self._load_text_state(blob["text"])
        self.net_ = self._build()
        self.net_.load_state_dict(blob["state_dict"])
        self.net_.eval()
