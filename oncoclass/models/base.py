"""The one contract every OncoClass model follows, and its self-describing checkpoint.

A model is a scikit-learn-style estimator over ``Sample`` objects: ``fit`` returns self, learned
attributes end in ``_``, ``predict_proba`` returns calibrated probabilities in ``classes_`` order.
``save(directory)`` writes ``model.json`` (config, task, classes with names, the genomic
vocabularies, calibration, training-data fingerprint, package version, metrics) beside the
weights, so that one path is enough to rebuild the predictor: ``load_model(directory)``.
"""

from __future__ import annotations

import hashlib
import json
from abc import ABC, abstractmethod
from collections import Counter
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, ClassVar, Self

import numpy as np

from oncoclass import __version__
from oncoclass.data.records import Sample
from oncoclass.data.tasks import CLINICAL_SIGNIFICANCE, get_task
from oncoclass.errors import DataError, ModelNotFittedError, ModelNotFoundError, UnknownModelError
from oncoclass.features.genomic import GenomicEncoder
from oncoclass.training.calibration import Calibrator

CHECKPOINT_FORMAT = 1
MODEL_FILE = "model.json"


def fingerprint(samples: Sequence[Sample]) -> str:
    """A short hash of the labelled data a model saw, to tell two trainings apart."""
    h = hashlib.sha256()
    for s in sorted(samples, key=lambda s: s.id):
        text_hash = hashlib.sha256(s.text.encode()).hexdigest()
        h.update(f"{s.id}\t{s.gene}\t{s.variation}\t{s.label}\t{s.disease}\t{text_hash}\n".encode())
    return h.hexdigest()[:16]


class Classifier(ABC):
    """Base of all models. Subclasses implement ``_fit``, ``_logits``, ``_save`` and ``_load``."""

    name: ClassVar[str]

    def __init__(
        self, *, task: str = CLINICAL_SIGNIFICANCE, seed: int = 13, progress: bool = False
    ) -> None:
        self.task = get_task(task).name
        self.seed = seed
        self.progress = progress

    # ---- parameters ---------------------------------------------------------------------------
    def get_params(self) -> dict[str, Any]:
        """The constructor arguments (what ``model.json`` records as the config)."""
        return {k: getattr(self, k) for k in self._param_names() if k != "progress"}

    @classmethod
    def _param_names(cls) -> list[str]:
        import inspect

        names: list[str] = []
        for klass in reversed(cls.__mro__):
            if "__init__" in klass.__dict__ and klass is not object:
                sig = inspect.signature(klass.__dict__["__init__"])
                names += [
                    p for p in sig.parameters if p not in ("self", "kwargs") and p not in names
                ]
        return names

    # ---- fit / predict ------------------------------------------------------------------------
    def fit(self, train: Sequence[Sample], valid: Sequence[Sample] | None = None) -> Self:
        labelled = [s for s in train if s.label is not None]
        if not labelled:
            raise DataError("no labelled samples to train on")
        task = get_task(self.task)
        self.classes_ = task.classes_for([s.label for s in labelled])  # type: ignore[misc]
        self.class_names_ = [task.class_name(c) for c in self.classes_]
        self._class_index = {c: i for i, c in enumerate(self.classes_)}
        valid = [s for s in (valid or []) if s.label in self._class_index]
        self.genomic_ = GenomicEncoder().fit(labelled)
        self._fit(labelled, valid or None)
        self.calibrator_ = Calibrator()
        if valid:
            self.calibrator_.fit(self._logits(valid), self.encode_labels(valid))
        self.training_ = {
            "n_samples": len(labelled),
            "n_valid": len(valid),
            "fingerprint": fingerprint(labelled),
            "label_counts": dict(sorted(Counter(s.label for s in labelled).items())),
            "trained_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "history": getattr(self, "history_", []),
        }
        self.metrics_: dict[str, Any] = {}
        return self

    def predict_proba(self, samples: Sequence[Sample]) -> np.ndarray:
        """Calibrated class probabilities, shape (n, len(classes_))."""
        self._check_fitted()
        if not samples:
            return np.zeros((0, len(self.classes_)))
        return self.calibrator_.transform(self._logits(samples))

    def prepare_occlusion(  # noqa: B027 (an optional hook, not an abstract method)
        self, text: str, spans: Sequence[tuple[int, int]]
    ) -> None:
        """A hint before explaining ``text`` by leaving out each span in turn: a model may
        precompute what makes those predictions cheap. Nothing to do by default."""

    def predict(self, samples: Sequence[Sample]) -> list[str]:
        return [self.classes_[i] for i in self.predict_proba(samples).argmax(axis=1)]

    def encode_labels(self, samples: Sequence[Sample]) -> np.ndarray:
        return np.array([self._class_index[s.label] for s in samples], dtype=np.int64)

    def class_weights(self, samples: Sequence[Sample], power: float = 0.5) -> np.ndarray:
        """Inverse-frequency class weights, damped by ``power`` (0.5 = square root) so rare
        classes count more without swamping the calibration; mean weight 1."""
        counts = np.bincount(self.encode_labels(samples), minlength=len(self.classes_))
        w = (counts.sum() / np.maximum(counts, 1)) ** power
        return (w / w.mean()).astype(np.float32)

    def _check_fitted(self) -> None:
        if not hasattr(self, "classes_"):
            raise ModelNotFittedError(f"{type(self).__name__} is not fitted; call fit() first")

    # ---- subclass hooks -------------------------------------------------------------------------
    @abstractmethod
    def _fit(self, train: Sequence[Sample], valid: Sequence[Sample] | None) -> None: ...

    @abstractmethod
    def _logits(self, samples: Sequence[Sample]) -> np.ndarray:
        """Uncalibrated scores (n, k); calibration turns them into probabilities."""

    @abstractmethod
    def _save(self, directory: Path) -> None: ...

    @abstractmethod
    def _load(self, directory: Path, card: dict[str, Any]) -> None: ...

    # ---- checkpoint -----------------------------------------------------------------------------
    def card(self) -> dict[str, Any]:
        """Everything about the trained model except its weights (``model.json``)."""
        self._check_fitted()
        return {
            "format": CHECKPOINT_FORMAT,
            "model": self.name,
            "package_version": __version__,
            "task": self.task,
            "config": self.get_params(),
            "classes": list(self.classes_),
            "class_names": list(self.class_names_),
            "training": self.training_,
            "calibration": self.calibrator_.to_dict(),
            "metrics": self.metrics_,
            "genomic": self.genomic_.to_dict(),
        }

    def save(self, directory: str | Path) -> Path:
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        self._save(directory)
        (directory / MODEL_FILE).write_text(json.dumps(self.card(), indent=1))
        return directory


REGISTRY: dict[str, type[Classifier]] = {}


def register(cls: type[Classifier]) -> type[Classifier]:
    REGISTRY[cls.name] = cls
    return cls


def get_model_class(name: str) -> type[Classifier]:
    from oncoclass import models  # noqa: F401  (importing the package registers every model)

    try:
        return REGISTRY[name]
    except KeyError:
        raise UnknownModelError(
            f"unknown model {name!r}; choose one of: {', '.join(sorted(REGISTRY))}"
        ) from None


def read_card(directory: str | Path) -> dict[str, Any]:
    path = Path(directory) / MODEL_FILE
    if not path.is_file():
        raise ModelNotFoundError(
            f"no trained model at {directory} (missing {MODEL_FILE}); "
            "train one with `oncoclass train`"
        )
    return json.loads(path.read_text())


def load_model(directory: str | Path) -> Classifier:
    """Rebuild a fitted model from the one directory ``save`` wrote."""
    directory = Path(directory)
    card = read_card(directory)
    cls = get_model_class(card["model"])
    config = {k: v for k, v in card["config"].items() if k in cls._param_names()}
    model = cls(**config)
    model.classes_ = list(card["classes"])
    model.class_names_ = list(card["class_names"])
    model._class_index = {c: i for i, c in enumerate(model.classes_)}
    model.genomic_ = GenomicEncoder.from_dict(card["genomic"])
    model.calibrator_ = Calibrator.from_dict(card["calibration"])
    model.training_ = card["training"]
    model.metrics_ = card.get("metrics", {})
    model._load(directory, card)
    return model
