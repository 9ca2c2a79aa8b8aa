"""``ensemble``: the calibrated geometric mean of several models.

The members see the same text differently (TF-IDF n-grams with logistic regression; a CNN over
word embeddings beside a pre-trained sentence encoder), so their errors are partly independent
and averaging their log-probabilities lowers the log loss. The ensemble averages what the
members say *before* their own calibration and calibrates the mean once, on the validation
data: calibrating each member there and then the mean again fits the same few hundred items
twice, and measured worse (docs/benchmarks.md). The default model of ``make run``: on CIViC it
is the best of the registry.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from scipy.special import log_softmax

from oncoclass.data.records import Sample
from oncoclass.errors import InvalidInputError
from oncoclass.models.base import Classifier, get_model_class, load_model, register

MEMBERS_DIR = "members"
#: The log-probability of a class a member never saw.
ABSENT = float(np.log(1e-9))
#: What the ensemble averages: the members' scores before their own calibration (one
#: calibration in all, the ensemble's), or their calibrated probabilities (checkpoints saved
#: before ``combine`` existed, which must keep giving the answers they gave).
COMBINE = ("uncalibrated", "calibrated")


def _log(proba: np.ndarray) -> np.ndarray:
    return np.log(np.clip(proba, 1e-9, 1.0))


@register
class EnsembleClassifier(Classifier):
    name = "ensemble"

    def __init__(
        self,
        *,
        members: Sequence[str] = ("baseline", "multimodal"),
        member_params: dict[str, dict[str, Any]] | None = None,
        combine: str = "uncalibrated",
        **kwargs: Any,
    ) -> None:
        if combine not in COMBINE:
            raise InvalidInputError(
                f"combine must be one of {', '.join(COMBINE)}, not {combine!r}", field="combine"
            )
        super().__init__(**kwargs)
        self.members = tuple(members)
        self.member_params = dict(member_params or {})
        self.combine = combine

    def _fit(self, train: Sequence[Sample], valid: Sequence[Sample] | None) -> None:
        self.members_: list[Classifier] = []
        for name in self.members:
            cls = get_model_class(name)
            member = cls(
                task=self.task,
                seed=self.seed,
                progress=self.progress,
                novelty=False,  # the ensemble's own detector speaks for it
                **self.member_params.get(name, {}),
            )
            self.members_.append(member.fit(train, valid))

    # "uncalibrated" reads the members' scores through ``_logits``, the model contract's own
    # hook: the ensemble's calibrator is then the only one that applies.
    def _logits(self, samples: Sequence[Sample]) -> np.ndarray:
        if self.combine == "calibrated":
            return self._combine([_log(m.predict_proba(samples)) for m in self.members_])
        return self._combine([log_softmax(m._logits(samples), axis=1) for m in self.members_])

    def _occluded_logits(self, sample: Sample, spans: Sequence[str]) -> np.ndarray:
        if self.combine == "calibrated":
            logps = [_log(m.predict_proba_occluded(sample, spans)) for m in self.members_]
        else:
            logps = [log_softmax(m._occluded_logits(sample, spans), axis=1) for m in self.members_]
        return self._combine(logps)

    def _combine(self, logps: Sequence[np.ndarray]) -> np.ndarray:
        """The mean of the members' log-probabilities, each aligned to the ensemble's classes."""
        logs = []
        for m, logp in zip(self.members_, logps, strict=True):
            aligned = np.full((len(logp), len(self.classes_)), ABSENT)
            aligned[:, [self.classes_.index(c) for c in m.classes_]] = logp
            logs.append(aligned)
        return np.mean(logs, axis=0)

    def _save(self, directory: Path) -> None:
        for i, m in enumerate(self.members_):
            m.save(directory / MEMBERS_DIR / f"{i}-{m.name}")

    def _load(self, directory: Path, card: dict[str, Any]) -> None:
        if "combine" not in card["config"]:
            self.combine = "calibrated"  # saved before the choice existed: its old rule
        self.members_ = [
            load_model(directory / MEMBERS_DIR / f"{i}-{name}")
            for i, name in enumerate(self.members)
        ]
