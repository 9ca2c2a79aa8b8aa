"""The one Predictor behind the service: a trained model directory turned into answers.

A Predictor parses the variation, selects the evidence sentences, scores every class with a
calibrated probability, explains the answer by occlusion over the selected sentences, and says
when not to trust it:

* the **prediction set**: every class that cannot be ruled out at the model's stated coverage
  (split-conformal, :mod:`oncoclass.training.conformal`);
* a **margin** warning when the top two classes are close;
* a **text-variant** warning when the text names neither the gene nor the variation;
* a **novelty** score and warning for evidence unlike the classes the model knows
  (:mod:`oncoclass.models.novelty`);
* unknown gene / variation flags.

The same input always gets the same answer, whatever was asked before and in whatever batch:
the models are batch-invariant, the sentence encoder caches only true embeddings, and an
explanation never changes the probabilities it explains.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from oncoclass.data.records import Sample
from oncoclass.data.tasks import get_task
from oncoclass.errors import InvalidInputError
from oncoclass.features.text import Mentions, Span, find_mentions, select_sentences
from oncoclass.features.variation import ParsedVariation, parse_variation
from oncoclass.models import Classifier, load_model
from oncoclass.models.store import resolve_model_dir

#: Below this gap between the two most probable classes the answer is flagged as close.
DEFAULT_MIN_MARGIN = 0.2


@dataclass(frozen=True, slots=True)
class ClassProbability:
    label: str
    name: str
    probability: float


@dataclass(frozen=True, slots=True)
class EvidenceSpan:
    """A sentence of the input text and how much it drove the prediction.

    ``weight`` is the drop in the predicted class's probability when the sentence is removed
    (occlusion): positive supports the prediction, negative argues against it.
    """

    text: str
    start: int
    end: int
    weight: float


@dataclass(frozen=True, slots=True)
class AnswerWarning:
    """Something the reader must know before trusting the answer, in plain words."""

    code: str
    message: str
    #: "warning": read before trusting the answer; "info": worth knowing.
    severity: str = "warning"


#: Warning codes, in the order they are shown.
WARNING_CODES: tuple[str, ...] = (
    "text_off_topic",
    "out_of_distribution",
    "close_call",
    "unknown_gene",
    "unknown_variation",
    "no_text",
)


@dataclass(frozen=True, slots=True)
class Prediction:
    label: str
    name: str
    probability: float
    probabilities: list[ClassProbability]
    #: Labels of the classes that cannot be ruled out at ``set_coverage`` (the top class first).
    prediction_set: list[str]
    #: The stated coverage of the set (None: the model has no calibrated sets).
    set_coverage: float | None
    #: Probability of the top class minus that of the second.
    margin: float
    #: The coarse level: CIViC's evidence type ("Predictive"), the MSKCC effect.
    group: ClassProbability
    group_probabilities: list[ClassProbability]
    #: How unlike the known classes the input looks, in [0, 1] (None: no detector).
    novelty: float | None
    novelty_threshold: float | None
    #: Whether the text names the gene / the variation (None: no text).
    mentions: Mentions | None
    variation: ParsedVariation
    warnings: list[AnswerWarning] = field(default_factory=list)
    evidence: list[EvidenceSpan] = field(default_factory=list)
    unknown_gene: bool = False
    unknown_variation: bool = False
    model_name: str = ""
    model_version: str = ""
    task: str = ""

    @property
    def warning_codes(self) -> list[str]:
        return [w.code for w in self.warnings]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class Predictor:
    """Loads a trained model directory once and answers predictions for any caller."""

    def __init__(
        self,
        model: Classifier,
        *,
        max_text_chars: int = 300_000,
        min_margin: float = DEFAULT_MIN_MARGIN,
        max_explained_sentences: int = 24,
    ) -> None:
        self.model = model
        self.max_text_chars = max_text_chars
        self.min_margin = min_margin
        self.max_explained_sentences = max_explained_sentences
        self.card = model.card()
        self.task = get_task(model.task)
        #: The version directory the model was loaded from (None: built in memory).
        self.path: Path | None = None

    @classmethod
    def load(cls, model_dir: str | Path, **kwargs: Any) -> Predictor:
        """From a model directory, or a model home (its ``current`` version)."""
        path = resolve_model_dir(Path(model_dir))
        predictor = cls(load_model(path), **kwargs)
        predictor.path = path
        return predictor

    @property
    def model_name(self) -> str:
        return self.model.name

    @property
    def model_version(self) -> str:
        """The package version and the training-data fingerprint: what identifies a model."""
        return f"{self.card['package_version']}+{self.card['training']['fingerprint']}"

    @property
    def classes(self) -> list[ClassProbability]:
        return [
            ClassProbability(c, n, 0.0)
            for c, n in zip(self.model.classes_, self.model.class_names_, strict=True)
        ]

    @property
    def coverage(self) -> float | None:
        return self.model.coverage if self.model.conformal_.fitted else None

    # ---- input -----------------------------------------------------------------------------------
    def make_sample(
        self,
        gene: str,
        variation: str,
        text: str = "",
        disease: str = "",
        drugs: Sequence[str] = (),
        id: str = "input",
    ) -> Sample:
        """A validated Sample; raises InvalidInputError naming the faulty field."""
        if not gene or not gene.strip():
            raise InvalidInputError("gene is empty", field="gene")
        if not variation or not variation.strip():
            raise InvalidInputError("variation is empty", field="variation")
        if len(text) > self.max_text_chars:
            raise InvalidInputError(
                f"text has {len(text):,} characters; the limit is {self.max_text_chars:,}",
                field="text",
            )
        return Sample(
            id=id,
            gene=gene.strip(),
            variation=variation.strip(),
            text=text or "",
            disease=(disease or "").strip(),
            drugs=tuple(d.strip() for d in drugs if d and d.strip()),
        )

    # ---- prediction ------------------------------------------------------------------------------
    def predict(
        self,
        gene: str,
        variation: str,
        text: str = "",
        disease: str = "",
        drugs: Sequence[str] = (),
        *,
        explain: bool = True,
    ) -> Prediction:
        sample = self.make_sample(gene, variation, text, disease, drugs)
        return self.predict_samples([sample], explain=explain)[0]

    def predict_samples(
        self, samples: Sequence[Sample], *, explain: bool = False
    ) -> list[Prediction]:
        """Score many samples in one model call (the batch path); an answer never depends on
        the other samples of the call, nor on ``explain``."""
        if not samples:
            return []
        proba = self.model.predict_proba(samples)
        sets = self.model.predict_sets(proba)
        novelty = self.model.novelty_score(samples)
        out = []
        for i, s in enumerate(samples):
            evidence = self._explain(s, proba[i]) if explain else []
            score = None if novelty is None else float(novelty[i])
            out.append(self._prediction(s, proba[i], sets[i], score, evidence))
        return out

    def _prediction(
        self,
        s: Sample,
        p: np.ndarray,
        in_set: np.ndarray,
        novelty: float | None,
        evidence: list[EvidenceSpan],
    ) -> Prediction:
        order = np.argsort(-p, kind="stable")
        top = int(order[0])
        classes, names = self.model.classes_, self.model.class_names_
        margin = float(p[top] - (p[order[1]] if len(p) > 1 else 0.0))
        genomic = self.model.genomic_
        mentions = find_mentions(s.text, s.gene, s.variation) if s.text.strip() else None
        groups: dict[str, float] = {}
        for c, q in zip(classes, p, strict=True):
            group = self.task.group_of(c)
            groups[group] = groups.get(group, 0.0) + float(q)
        group_probabilities = [
            ClassProbability(g, g, q) for g, q in sorted(groups.items(), key=lambda x: -x[1])
        ]
        unknown_gene = not genomic.known_gene(s.gene)
        unknown_variation = not genomic.known_variation(s.gene, s.variation)
        threshold = self.model.novelty_threshold
        return Prediction(
            label=classes[top],
            name=names[top],
            probability=float(p[top]),
            probabilities=[
                ClassProbability(c, n, float(q)) for c, n, q in zip(classes, names, p, strict=True)
            ],
            # The conformal set, plus any class as close to the top one as a close call: a
            # superset (its coverage can only rise), never a one-class set beside a
            # "close call" warning.
            prediction_set=[
                classes[j] for j in order if in_set[j] or p[top] - p[j] < self.min_margin
            ],
            set_coverage=self.coverage,
            margin=margin,
            group=group_probabilities[0],
            group_probabilities=group_probabilities,
            novelty=novelty,
            novelty_threshold=threshold,
            mentions=mentions,
            variation=parse_variation(s.variation, s.gene),
            warnings=self._warnings(
                s, margin, novelty, threshold, mentions, unknown_gene, unknown_variation
            ),
            evidence=evidence,
            unknown_gene=unknown_gene,
            unknown_variation=unknown_variation,
            model_name=self.model_name,
            model_version=self.model_version,
            task=self.model.task,
        )

    def _warnings(
        self,
        s: Sample,
        margin: float,
        novelty: float | None,
        threshold: float | None,
        mentions: Mentions | None,
        unknown_gene: bool,
        unknown_variation: bool,
    ) -> list[AnswerWarning]:
        warnings: list[AnswerWarning] = []
        if mentions is not None and not mentions.either:
            warnings.append(
                AnswerWarning(
                    "text_off_topic",
                    f"The text never names {s.gene} or {s.variation}: it may be about "
                    "another variant, and the answer describes that text, not this variant.",
                )
            )
        if novelty is not None and threshold is not None and novelty >= threshold:
            warnings.append(
                AnswerWarning(
                    "out_of_distribution",
                    "This evidence is unlike the classes the model was trained on (it resembles "
                    "rare or new kinds of evidence); the classes offered may not fit it.",
                )
            )
        if margin < self.min_margin:
            warnings.append(
                AnswerWarning(
                    "close_call",
                    f"The two most likely classes are within {margin:.0%} of each other: "
                    "the model cannot tell them apart here.",
                )
            )
        if unknown_gene:
            warnings.append(
                AnswerWarning(
                    "unknown_gene",
                    f"{s.gene} was never seen in training; the answer rests on the text and on "
                    "patterns learned from other genes.",
                )
            )
        if unknown_variation:
            warnings.append(
                AnswerWarning(
                    "unknown_variation",
                    f"{s.variation} was not in the training data; the answer is extrapolated "
                    "from its kind of change and position.",
                    "info",
                )
            )
        if not s.text.strip():
            warnings.append(
                AnswerWarning(
                    "no_text",
                    "No evidence text was given: the answer rests on the gene, the variation "
                    "and the context alone.",
                    "info",
                )
            )
        return warnings

    # ---- explanation -----------------------------------------------------------------------------
    def _explain(self, s: Sample, p: np.ndarray) -> list[EvidenceSpan]:
        """Occlusion over the selected sentences: how much the predicted class's probability
        drops when one sentence is left out (relative to all selected sentences together)."""
        max_tokens = int(getattr(self.model, "max_tokens", 400))
        spans: list[Span] = select_sentences(s.text, s.gene, s.variation, max_tokens=max_tokens)
        spans = spans[: self.max_explained_sentences]
        if not spans:
            return []
        occluded = self.model.predict_proba_occluded(s, [x.text for x in spans])
        top = int(p.argmax())
        scores = occluded[:, top]
        return [
            EvidenceSpan(x.text, x.start, x.end, round(float(scores[0] - q), 6))
            for x, q in zip(spans, scores[1:], strict=True)
        ]
