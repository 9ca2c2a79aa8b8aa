"""Scoring the distinct inputs of an annotation: in this process (:class:`LocalScorer`, the
default) or on a Ray cluster (:class:`oncoclass.annotate.ray_engine.RayScorer`).

Both cut the inputs, in input order, into the same chunks of ``chunk`` inputs and score each
chunk in one model call with a Predictor of the same model (:func:`score_seeds`), so they give
the same answers bit for bit: a model call's answers can differ in their last digits with the
other inputs of the call (texts are padded to the longest), so the engines make the same calls
rather than rely on that not happening. The engine does everything else (CIViC, the history,
the report) the same way whichever scored.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from itertools import islice
from typing import Protocol

from oncoclass.annotate.inputs import VariantSeed
from oncoclass.predictor import Prediction, Predictor

#: Inputs per model call: enough to amortise a call, few enough to spread a patient's file
#: over several Ray actors and to show progress.
DEFAULT_CHUNK = 32


class Scorer(Protocol):
    """Scores distinct inputs; yields each with its prediction, in any order."""

    name: str

    def score(
        self,
        predictor: Predictor,
        seeds: Iterable[VariantSeed],
        *,
        total: int,
        explain: bool = False,
    ) -> Iterator[tuple[VariantSeed, Prediction]]: ...


def score_seeds(
    predictor: Predictor, seeds: Sequence[VariantSeed], *, explain: bool = False
) -> list[Prediction]:
    """One model call for ``seeds`` (already validated by the engine)."""
    return predictor.predict_samples([s.sample(predictor) for s in seeds], explain=explain)


def chunked(seeds: Iterable[VariantSeed], size: int) -> Iterator[list[VariantSeed]]:
    iterator = iter(seeds)
    while chunk := list(islice(iterator, size)):
        yield chunk


class LocalScorer:
    """In this process, with the service's own Predictor, ``chunk`` inputs per model call."""

    name = "local"

    def __init__(self, chunk: int = DEFAULT_CHUNK) -> None:
        self.chunk = max(1, chunk)

    def score(
        self,
        predictor: Predictor,
        seeds: Iterable[VariantSeed],
        *,
        total: int,
        explain: bool = False,
    ) -> Iterator[tuple[VariantSeed, Prediction]]:
        for chunk in chunked(seeds, self.chunk):
            yield from zip(chunk, score_seeds(predictor, chunk, explain=explain), strict=True)
