"""The one Predictor shared by the CLI, the API and batch scoring.

A Predictor wraps a trained model directory: it parses the variation, selects the evidence
sentences, scores the classes with calibrated probabilities, explains the prediction by
occlusion over the selected sentences, and flags unknown genes/variations and low confidence.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from oncoclass.data.records import Sample
from oncoclass.data.tasks import get_task
from oncoclass.errors import InvalidInputError
from oncoclass.features.text import Span, select_sentences
from oncoclass.features.variation import ParsedVariation, parse_variation
from oncoclass.models import Classifier, load_model


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
class Prediction:
    label: str
    name: str
    probability: float
    probabilities: list[ClassProbability]
    variation: ParsedVariation
    evidence: list[EvidenceSpan] = field(default_factory=list)
    unknown_gene: bool = False
    unknown_variation: bool = False
    low_confidence: bool = False
    model_name: str = ""
    model_version: str = ""
    task: str = ""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class Predictor:
    """Loads a trained model directory once and answers predictions for any caller."""

    def __init__(
        self,
        model: Classifier,
        *,
        max_text_chars: int = 300_000,
        low_confidence: float = 0.5,
        max_explained_sentences: int = 24,
    ) -> None:
        self.model = model
        self.max_text_chars = max_text_chars
        self.low_confidence = low_confidence
        self.max_explained_sentences = max_explained_sentences
        self.card = model.card()
        self.task = get_task(model.task)

    @classmethod
    def load(cls, model_dir: str | Path, **kwargs: Any) -> Predictor:
        return cls(load_model(model_dir), **kwargs)

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
        """Score many samples in one model call (the batch path). With ``explain``, the
        occluded variants of every sample ride along in that same call."""
        occlusions = [self._occlusions(s) for s in samples] if explain else []
        rows = list(samples) + [v for _, variants in occlusions for v in variants]
        proba = self.model.predict_proba(rows)
        out, offset = [], len(samples)
        for i, s in enumerate(samples):
            evidence: list[EvidenceSpan] = []
            if explain and occlusions[i][0]:
                spans, variants = occlusions[i]
                evidence = self._explain(proba[i], spans, proba[offset : offset + len(variants)])
                offset += len(variants)
            out.append(self._prediction(s, proba[i], evidence))
        return out

    def _prediction(self, s: Sample, p: np.ndarray, evidence: list[EvidenceSpan]) -> Prediction:
        top = int(p.argmax())
        genomic = self.model.genomic_
        return Prediction(
            label=self.model.classes_[top],
            name=self.model.class_names_[top],
            probability=float(p[top]),
            probabilities=[
                ClassProbability(c, n, float(q))
                for c, n, q in zip(self.model.classes_, self.model.class_names_, p, strict=True)
            ],
            variation=parse_variation(s.variation, s.gene),
            evidence=evidence,
            unknown_gene=not genomic.known_gene(s.gene),
            unknown_variation=not genomic.known_variation(s.gene, s.variation),
            low_confidence=float(p[top]) < self.low_confidence,
            model_name=self.model_name,
            model_version=self.model_version,
            task=self.model.task,
        )

    def _occlusions(self, s: Sample) -> tuple[list[Span], list[Sample]]:
        """The selected sentences and the inputs that leave each out in turn (row 0: all of
        them, the reference), after telling the model so it can prepare them cheaply."""
        max_tokens = int(getattr(self.model, "max_tokens", 400))
        spans = select_sentences(s.text, s.gene, s.variation, max_tokens=max_tokens)
        spans = spans[: self.max_explained_sentences]
        if not spans:
            return [], []
        local, pos = [], 0  # where each span lies in the joined text
        for x in spans:
            local.append((pos, pos + len(x.text)))
            pos += len(x.text) + 1
        self.model.prepare_occlusion(" ".join(x.text for x in spans), local)
        variants = [
            replace(s, text=" ".join(x.text for j, x in enumerate(spans) if j != i))
            for i in range(-1, len(spans))
        ]
        return spans, variants

    @staticmethod
    def _explain(p: np.ndarray, spans: list[Span], occluded: np.ndarray) -> list[EvidenceSpan]:
        """Occlusion: how much the predicted class's probability drops when one sentence is
        left out (``occluded`` row 0: all selected sentences, the reference; row i: all but
        sentence i)."""
        top = int(p.argmax())
        scores = occluded[:, top]
        return [
            EvidenceSpan(x.text, x.start, x.end, round(float(scores[0] - q), 6))
            for x, q in zip(spans, scores[1:], strict=True)
        ]
