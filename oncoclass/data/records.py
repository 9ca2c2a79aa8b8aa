"""The one record type every data source maps to."""

from __future__ import annotations

from dataclasses import dataclass, field, replace


@dataclass(frozen=True, slots=True)
class Sample:
    """One variant with its evidence: what a model reads and (when labelled) learns from.

    ``label`` is the task's class key (``"4"`` for MSKCC, ``"Predictive: Resistance"`` for
    CIViC); ``None`` when unlabelled. ``group`` is the split key: samples sharing it are never on
    both sides of a train/test split (same text for MSKCC, same PubMed id for CIViC).
    """

    id: str
    gene: str
    variation: str
    text: str = ""
    label: str | None = None
    disease: str = ""
    drugs: tuple[str, ...] = ()
    pubmed_id: str = ""
    evidence_id: str = ""
    group: str = ""
    source: str = ""
    extra: dict[str, str] = field(default_factory=dict, compare=False, hash=False)

    def with_label(self, label: str | None) -> Sample:
        return replace(self, label=label)

    @property
    def group_key(self) -> str:
        """The split key, falling back to the id so that every sample has one."""
        return self.group or self.id
