"""``ensemble``: the calibrated geometric mean of several models.

The members see the same text differently (TF-IDF n-grams with logistic regression; a CNN over
word embeddings; a pre-trained sentence encoder), so their errors are partly independent and
averaging their log-probabilities lowers the log loss. Kept apart, the CNN and the encoder did
as well as fused into one network (``multimodal``) with context and better on the text alone.
A small neural member can be trained from several seeds (``member_seeds``), whose answers are
averaged first, so that together they weigh as one member: it averages away the luck of an
initialisation. The encoder is trained from three by default: its seeds share one encoder pass
(only a small fusion network is trained per seed), so each costs ~1 ms a request.

The ensemble averages what the members say *before* their own calibration and calibrates the
mean once, on the validation data: calibrating each member there and then the mean again fits
the same few hundred items twice, and measured worse. The default model of ``make run``: on
CIViC it is the best of the registry (docs/benchmarks.md, docs/experiments/members).
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
#: Seed of the i-th fit of a member: the ensemble's seed + SEED_STEP * i (the first fit is the
#: member as trained alone).
SEED_STEP = 1000


def _log(proba: np.ndarray) -> np.ndarray:
    return np.log(np.clip(proba, 1e-9, 1.0))


@register
class EnsembleClassifier(Classifier):
    name = "ensemble"

    def __init__(
        self,
        *,
        members: Sequence[str] = ("baseline", "encoder", "cnn"),
        member_seeds: dict[str, int] | None = None,
        member_params: dict[str, dict[str, Any]] | None = None,
        combine: str = "uncalibrated",
        **kwargs: Any,
    ) -> None:
        if combine not in COMBINE:
            raise InvalidInputError(
                f"combine must be one of {', '.join(COMBINE)}, not {combine!r}", field="combine"
            )
        # Measured on the grouped CV folds (docs/experiments/members): three encoder seeds
        # lowered the log loss by ~0.008 with context; five gave ~0.002 more for twice the
        # cost; more CNN seeds helped the text alone, for ~3 ms a request each.
        seeds = {"encoder": 3} if member_seeds is None else dict(member_seeds)
        if any(not isinstance(n, int) or n < 1 for n in seeds.values()):
            raise InvalidInputError(
                "member_seeds must give each member a whole number of seeds >= 1",
                field="member_seeds",
            )
        super().__init__(**kwargs)
        self.members = tuple(members)
        self.member_seeds = seeds
        self.member_params = dict(member_params or {})
        self.combine = combine

    def _fits(self) -> list[tuple[str, int]]:
        """(member, seed) of every fit, in the order of ``members_`` and of the saved folders."""
        return [
            (name, self.seed + SEED_STEP * i)
            for name in self.members
            for i in range(self.member_seeds.get(name, 1))
        ]

    def _fit(self, train: Sequence[Sample], valid: Sequence[Sample] | None) -> None:
        self.members_: list[Classifier] = []
        for name, seed in self._fits():
            member = get_model_class(name)(
                task=self.task,
                seed=seed,
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
        """The mean over members of their log-probabilities (each aligned to the ensemble's
        classes, a member's seeds averaged first)."""
        by_member: dict[str, list[np.ndarray]] = {}
        for m, logp in zip(self.members_, logps, strict=True):
            aligned = np.full((len(logp), len(self.classes_)), ABSENT)
            aligned[:, [self.classes_.index(c) for c in m.classes_]] = logp
            by_member.setdefault(m.name, []).append(aligned)
        return np.mean([np.mean(fits, axis=0) for fits in by_member.values()], axis=0)

    def _save(self, directory: Path) -> None:
        for i, m in enumerate(self.members_):
            m.save(directory / MEMBERS_DIR / f"{i}-{m.name}")

    def _load(self, directory: Path, card: dict[str, Any]) -> None:
        if "combine" not in card["config"]:
            self.combine = "calibrated"  # saved before the choice existed: its old rule
        if "member_seeds" not in card["config"]:
            self.member_seeds = {}  # saved before the choice existed: one fit per member
        self.members_ = [
            load_model(directory / MEMBERS_DIR / f"{i}-{name}")
            for i, (name, _) in enumerate(self._fits())
        ]
