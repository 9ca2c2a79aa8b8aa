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
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, ClassVar, Self

import numpy as np

from oncoclass import __version__
from oncoclass.checksums import sha256_of
from oncoclass.data.records import Sample
from oncoclass.data.tasks import CLINICAL_SIGNIFICANCE, OTHER, get_task
from oncoclass.errors import (
    CorruptModelError,
    DataError,
    ModelNotFittedError,
    ModelNotFoundError,
    OncoClassError,
    UnknownModelError,
)
from oncoclass.features.genomic import GenomicEncoder
from oncoclass.models.novelty import NoveltyDetector
from oncoclass.training.calibration import Calibrator
from oncoclass.training.conformal import DEFAULT_COVERAGE, ConformalSets

CHECKPOINT_FORMAT = 2
MODEL_FILE = "model.json"
#: What a model card must hold to rebuild a model.
CARD_KEYS = ("model", "config", "classes", "class_names", "genomic", "calibration", "training")


def fingerprint(samples: Sequence[Sample]) -> str:
    """A short hash of the labelled data a model saw, to tell two trainings apart."""
    h = hashlib.sha256()
    for s in sorted(samples, key=lambda s: s.id):
        text_hash = hashlib.sha256(s.text.encode()).hexdigest()
        h.update(f"{s.id}\t{s.gene}\t{s.variation}\t{s.label}\t{s.disease}\t{text_hash}\n".encode())
    return h.hexdigest()[:16]


class Classifier(ABC):
    """Base of all models. Subclasses implement ``_fit``, ``_logits``, ``_save`` and ``_load``.

    Besides its classes' calibrated probabilities, every fitted model knows how to say when not
    to trust them: split-conformal prediction sets (``predict_sets``) and a novelty score
    (``novelty_score``) learned from the training data's rare-class items (task label
    ``OTHER``), which are never predicted as a class.
    """

    name: ClassVar[str]

    def __init__(
        self,
        *,
        task: str = CLINICAL_SIGNIFICANCE,
        seed: int = 13,
        coverage: float = DEFAULT_COVERAGE,
        novelty: bool = True,
        progress: bool = False,
    ) -> None:
        self.task = get_task(task).name
        self.seed = seed
        self.coverage = coverage
        self.novelty = novelty
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
        """Fit on ``train``; ``valid`` (held out, grouped) calibrates the probabilities, the
        prediction sets and the novelty threshold. Samples labelled ``OTHER`` (rare classes)
        are not a class: the novelty detector learns from them."""
        labelled = [s for s in train if s.label is not None]
        outliers = [s for s in labelled if s.label == OTHER]
        inliers = [s for s in labelled if s.label != OTHER]
        if not inliers:
            raise DataError("no labelled samples to train on")
        task = get_task(self.task)
        self.classes_ = task.classes_for([s.label for s in inliers])  # type: ignore[misc]
        self.class_names_ = [task.class_name(c) for c in self.classes_]
        self._class_index = {c: i for i, c in enumerate(self.classes_)}
        valid = [s for s in (valid or []) if s.label in self._class_index]
        self.genomic_ = GenomicEncoder().fit(inliers)
        self._fit(inliers, valid or None)
        self.calibrator_ = Calibrator(class_bias=task.calibration_class_bias)
        self.conformal_ = ConformalSets(self.coverage)
        if valid:
            logits, y = self._logits(valid), self.encode_labels(valid)
            self.calibrator_.fit(logits, y)
            self.conformal_.fit(self.calibrator_.transform(logits), y, source="validation")
        self.novelty_: NoveltyDetector | None = None
        if self.novelty and outliers:
            self.novelty_ = NoveltyDetector(seed=self.seed).fit(inliers, outliers, valid)
        releases = Counter(s.extra.get("release", "") for s in labelled)
        self.training_ = {
            #: The knowledge release the model learned from (e.g. CIViC 01-Aug-2024).
            "data_release": releases.most_common(1)[0][0] or None,
            "n_samples": len(inliers),
            "n_valid": len(valid),
            "n_outliers": len(outliers),
            "fingerprint": fingerprint(labelled),
            "label_counts": dict(sorted(Counter(s.label for s in inliers).items())),
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

    def predict_proba_occluded(self, sample: Sample, spans: Sequence[str]) -> np.ndarray:
        """Calibrated probabilities (1 + len(spans), k) for occlusion explanations: row 0 for
        ``sample`` with its text reduced to ``spans`` (joined by a space), row i for the same
        text without ``spans[i - 1]``. (``spans`` are the sentences the model's selection
        takes; one that selects fewer, as ``encoder`` with its smaller budget, may answer for
        the text it read: row 0 is then its prediction.)

        Part of the model (not a convention between files), because a model may compute the
        occluded variants more cheaply than as separate inputs (see the sentence encoder), and
        must never leave approximations where ordinary predictions would find them.
        """
        self._check_fitted()
        return self.calibrator_.transform(self._occluded_logits(sample, spans))

    def _occluded_logits(self, sample: Sample, spans: Sequence[str]) -> np.ndarray:
        """By default each occluded text is an ordinary input."""
        return self._logits(occluded_samples(sample, spans))

    def predict(self, samples: Sequence[Sample]) -> list[str]:
        return [self.classes_[i] for i in self.predict_proba(samples).argmax(axis=1)]

    def predict_sets(self, proba: np.ndarray) -> np.ndarray:
        """Which classes cannot be ruled out at ``coverage`` (boolean, like ``proba``)."""
        self._check_fitted()
        return self.conformal_.predict(proba)

    def calibrate_sets(self, proba: np.ndarray, samples: Sequence[Sample], source: str) -> None:
        """Recalibrate the prediction sets on better held-out data than the validation slice,
        e.g. the out-of-fold probabilities of cross-validation (``source`` says which)."""
        keep = [i for i, s in enumerate(samples) if s.label in self._class_index]
        kept = [samples[i] for i in keep]
        self.conformal_ = ConformalSets(self.coverage).fit(
            np.asarray(proba)[keep], self.encode_labels(kept), source=source
        )

    def novelty_score(self, samples: Sequence[Sample]) -> np.ndarray | None:
        """How unlike the known classes each sample looks, in [0, 1] (None: no detector, as
        when the training data had no rare-class items to learn from)."""
        self._check_fitted()
        return None if self.novelty_ is None else self.novelty_.score(samples)

    @property
    def novelty_threshold(self) -> float | None:
        return None if self.novelty_ is None else self.novelty_.threshold_

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
            "conformal": self.conformal_.to_dict(),
            "novelty": {"threshold": self.novelty_threshold},
            "metrics": self.metrics_,
            "genomic": self.genomic_.to_dict(),
        }

    def save(self, directory: str | Path) -> Path:
        """Write the model directory: weights, then ``model.json`` with the sha256 of every
        other file in it, which :func:`load_model` checks before reading any of them."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        self._save(directory)
        if self.novelty_ is not None:
            self.novelty_.save(directory)
        card = {**self.card(), "files": _checksums(directory)}
        (directory / MODEL_FILE).write_text(json.dumps(card, indent=1))
        return directory


def occluded_samples(sample: Sample, spans: Sequence[str]) -> list[Sample]:
    """``sample`` with its text reduced to ``spans`` (row 0), then without each span in turn."""
    return [
        replace(sample, text=" ".join(s for j, s in enumerate(spans) if j != i))
        for i in range(-1, len(spans))
    ]


def locate_spans(text: str, spans: Sequence[str]) -> list[tuple[int, int]]:
    """Where each span lies in ``text``, searched in order (both are in document order, so a
    sentence repeated in a text is found at its own place); ``(0, 0)``, an empty range, for a
    span ``text`` does not hold (e.g. one past a model's reading budget)."""
    offsets, position = [], 0
    for span in spans:
        start = text.find(span, position) if span else -1
        if start < 0:
            offsets.append((0, 0))
            continue
        offsets.append((start, start + len(span)))
        position = start + len(span)
    return offsets


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
    """The ``model.json`` of a model directory (a :class:`CorruptModelError` naming the file
    when it is not a readable model card)."""
    path = Path(directory) / MODEL_FILE
    if not path.is_file():
        raise ModelNotFoundError(
            f"no trained model at {directory} (missing {MODEL_FILE}); "
            "train one with `oncoclass train`"
        )
    try:
        card = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise CorruptModelError(f"unreadable model card ({exc})", path=str(path)) from exc
    if not isinstance(card, dict):
        raise CorruptModelError("the model card is not a JSON object", path=str(path))
    missing = [k for k in CARD_KEYS if k not in card]
    if missing:
        raise CorruptModelError(f"the model card lacks {', '.join(missing)}", path=str(path))
    return card


def verify_files(directory: str | Path, card: dict[str, Any]) -> None:
    """Every file ``model.json`` lists is there with the checksum it recorded; a missing,
    truncated or altered file raises :class:`CorruptModelError` naming it."""
    directory = Path(directory)
    files = card.get("files")
    if not isinstance(files, dict) or not files:
        raise CorruptModelError(
            "the model card lists no file checksums (a model saved by an older OncoClass: "
            "train it again)",
            path=str(directory / MODEL_FILE),
        )
    for name, expected in sorted(files.items()):
        path = directory / name
        if not path.is_file():
            raise CorruptModelError("missing model file", path=str(path))
        if sha256_of(path) != expected:
            raise CorruptModelError(
                "checksum mismatch: the file is truncated or was changed after training",
                path=str(path),
            )


def load_model(directory: str | Path) -> Classifier:
    """Rebuild a fitted model from the one directory ``save`` wrote, after checking that
    every file is the one that was saved. Any failure is a typed OncoClass error naming the
    file: :class:`ModelNotFoundError` when there is no model, else :class:`CorruptModelError`."""
    directory = Path(directory)
    card = read_card(directory)
    verify_files(directory, card)
    try:
        return _rebuild(directory, card)
    except (OncoClassError, FileNotFoundError):
        raise
    except Exception as exc:  # torch, numpy, json: a file that passed its checksum but is bad
        raise CorruptModelError(
            f"cannot rebuild the model ({type(exc).__name__}: {exc})", path=str(directory)
        ) from exc


def _rebuild(directory: Path, card: dict[str, Any]) -> Classifier:
    cls = get_model_class(card["model"])
    config = {k: v for k, v in card["config"].items() if k in cls._param_names()}
    model = cls(**config)
    model.classes_ = list(card["classes"])
    model.class_names_ = list(card["class_names"])
    model._class_index = {c: i for i, c in enumerate(model.classes_)}
    model.genomic_ = GenomicEncoder.from_dict(card["genomic"])
    model.calibrator_ = Calibrator.from_dict(card["calibration"])
    model.conformal_ = ConformalSets.from_dict(card.get("conformal", {}))
    model.novelty_ = NoveltyDetector.load(directory) if NoveltyDetector.present(directory) else None
    model.training_ = card["training"]
    model.metrics_ = card.get("metrics", {})
    model._load(directory, card)
    return model


def _checksums(directory: Path) -> dict[str, str]:
    """sha256 of every file under ``directory`` but its own model card, by relative path."""
    return {
        path.relative_to(directory).as_posix(): sha256_of(path)
        for path in sorted(directory.rglob("*"))
        if path.is_file() and path != directory / MODEL_FILE
    }
