"""Genomic and context features: gene, variation, disease and drugs as model inputs.

Every encoder reserves index 0 for "unknown", so a gene or variation never seen in training is
a normal input: it lands in the unknown bucket and the model still sees the parsed variation
features (type, position, amino-acid change), which generalise across genes.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np

from oncoclass.data.records import Sample
from oncoclass.features.variation import FEATURE_NAMES, ParsedVariation, parse_variation


@lru_cache(maxsize=65_536)
def parsed(gene: str, variation: str) -> ParsedVariation:
    """``parse_variation``, cached: the same few thousand variations recur in every epoch."""
    return parse_variation(variation, gene)


def gene_key(gene: str) -> str:
    return gene.strip().upper()


def variation_key(gene: str, variation: str) -> str:
    """The canonical variation spelling, so V600E, Val600Glu and p.V600E share one entry."""
    return parsed(gene, variation).normalized.upper()


@dataclass
class CategoryEncoder:
    """Maps strings to indices, 0 for anything unseen (or seen fewer than ``min_count`` times)."""

    min_count: int = 1
    categories_: list[str] = field(default_factory=list)

    def fit(self, values: Iterable[str]) -> CategoryEncoder:
        counts = Counter(v for v in values if v)
        self.categories_ = sorted(v for v, c in counts.items() if c >= self.min_count)
        self._index = {v: i + 1 for i, v in enumerate(self.categories_)}
        return self

    def __len__(self) -> int:
        """Number of indices, the unknown bucket included."""
        return len(self.categories_) + 1

    def __contains__(self, value: str) -> bool:
        return value in self._index

    def index(self, value: str) -> int:
        return self._index.get(value, 0)

    def transform(self, values: Iterable[str]) -> np.ndarray:
        return np.fromiter((self.index(v) for v in values), dtype=np.int64)

    def to_list(self) -> list[str]:
        return list(self.categories_)

    @classmethod
    def from_list(cls, categories: Sequence[str]) -> CategoryEncoder:
        enc = cls()
        enc.categories_ = list(categories)
        enc._index = {v: i + 1 for i, v in enumerate(enc.categories_)}
        return enc


def drug_keys(sample: Sample) -> list[str]:
    return [d.strip().lower() for d in sample.drugs if d.strip()]


@dataclass
class GenomicEncoder:
    """Turns the non-text part of samples into arrays: indices for embeddings + dense features."""

    max_drugs: int = 4
    genes_: CategoryEncoder = field(default_factory=CategoryEncoder)
    variations_: CategoryEncoder = field(default_factory=CategoryEncoder)
    diseases_: CategoryEncoder = field(default_factory=lambda: CategoryEncoder(min_count=2))
    drugs_: CategoryEncoder = field(default_factory=lambda: CategoryEncoder(min_count=2))

    def fit(self, samples: Sequence[Sample]) -> GenomicEncoder:
        self.genes_.fit(gene_key(s.gene) for s in samples)
        self.variations_.fit(variation_key(s.gene, s.variation) for s in samples)
        self.diseases_.fit(s.disease.strip().lower() for s in samples)
        self.drugs_.fit(d for s in samples for d in drug_keys(s))
        return self

    @property
    def n_dense(self) -> int:
        return len(FEATURE_NAMES) + 2  # + has_drugs, has_disease

    def transform(self, samples: Sequence[Sample]) -> dict[str, np.ndarray]:
        """Arrays for a batch: gene (n,), variation (n,), disease (n,), drugs (n, max_drugs)
        (0-padded), dense (n, n_dense) float32."""
        n = len(samples)
        drugs = np.zeros((n, self.max_drugs), dtype=np.int64)
        dense = np.zeros((n, self.n_dense), dtype=np.float32)
        for i, s in enumerate(samples):
            ids = [self.drugs_.index(d) for d in drug_keys(s)][: self.max_drugs]
            drugs[i, : len(ids)] = ids
            dense[i, : len(FEATURE_NAMES)] = parsed(s.gene, s.variation).features()
            dense[i, -2] = float(bool(s.drugs))
            dense[i, -1] = float(bool(s.disease.strip()))
        return {
            "gene": self.genes_.transform(gene_key(s.gene) for s in samples),
            "variation": self.variations_.transform(
                variation_key(s.gene, s.variation) for s in samples
            ),
            "disease": self.diseases_.transform(s.disease.strip().lower() for s in samples),
            "drugs": drugs,
            "dense": dense,
        }

    def known_gene(self, gene: str) -> bool:
        return gene_key(gene) in self.genes_

    def known_variation(self, gene: str, variation: str) -> bool:
        return variation_key(gene, variation) in self.variations_

    def to_dict(self) -> dict[str, list[str] | int]:
        return {
            "max_drugs": self.max_drugs,
            "genes": self.genes_.to_list(),
            "variations": self.variations_.to_list(),
            "diseases": self.diseases_.to_list(),
            "drugs": self.drugs_.to_list(),
        }

    @classmethod
    def from_dict(cls, d: dict) -> GenomicEncoder:
        return cls(
            max_drugs=int(d["max_drugs"]),
            genes_=CategoryEncoder.from_list(d["genes"]),
            variations_=CategoryEncoder.from_list(d["variations"]),
            diseases_=CategoryEncoder.from_list(d["diseases"]),
            drugs_=CategoryEncoder.from_list(d["drugs"]),
        )
