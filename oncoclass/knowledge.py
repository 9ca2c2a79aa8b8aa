"""The CIViC knowledge base: what curated evidence already says about a variant.

A prediction is more useful next to the evidence experts curated for the same variant, so the
service indexes the CIViC evidence items once at start-up and looks each query up by gene and
*parsed* variation, so that "V600E", "Val600Glu" and "p.V600E" find the same items. When CIViC has
nothing on the exact variant, the closest evidence is still informative, so the look-up falls back
step by step and says how close the match is:

* ``"exact"``: same gene, same variation;
* ``"position"``: same gene, same protein position (V600K or the wildcard V600 for V600E, an
  in-frame deletion spanning the residue);
* ``"type"``: same gene, same kind of variation (another fusion, amplification, ...);
* ``"none"``: nothing in CIViC (an empty knowledge base answers ``"none"`` too).
"""

from __future__ import annotations

import logging
import re
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Literal

from oncoclass.data.civic import CivicEvidence, read_evidence
from oncoclass.data.home import civic_data_dir
from oncoclass.errors import DataError
from oncoclass.features.variation import ParsedVariation, VariationType, parse_variation

log = logging.getLogger(__name__)

MatchLevel = Literal["exact", "position", "type", "none"]
MATCH_LEVELS: tuple[MatchLevel, ...] = ("exact", "position", "type", "none")
#: CIViC evidence levels, best first: A validated, B clinical, C case study, D preclinical,
#: E inferential.
EVIDENCE_LEVELS = "ABCDE"
#: CIViC's old host; its evidence links live on at civicdb.org.
_OLD_CIVIC_HOST = "https://civic.genome.wustl.edu"
_CIVIC_HOST = "https://civicdb.org"
#: "V600E/K": several new residues at one position.
_ALTERNATIVES = re.compile(r"([A-Z*]?)(\d+)([A-Z*](?:/[A-Z*])+)")
#: Types too vague to call two variations "of the same kind".
_NO_TYPE_MATCH = frozenset({VariationType.OTHER})


@dataclass(frozen=True, slots=True)
class KnowledgeItem:
    """One CIViC evidence item, as the API shows it."""

    evidence_id: str
    gene: str
    variant: str
    disease: str
    therapies: tuple[str, ...]
    #: How the therapies combine: "Combination", "Sequential", "Substitutes" or None.
    therapy_interaction: str | None
    evidence_type: str
    evidence_direction: str
    clinical_significance: str
    evidence_level: str
    rating: int | None
    statement: str
    citation: str
    source_type: str
    pubmed_id: str | None
    pubmed_url: str | None
    civic_url: str | None

    @classmethod
    def from_evidence(cls, ev: CivicEvidence) -> KnowledgeItem:
        url = ev.evidence_url.replace(_OLD_CIVIC_HOST, _CIVIC_HOST) or (
            f"{_CIVIC_HOST}/links/evidence_items/{ev.evidence_id}" if ev.evidence_id else None
        )
        return cls(
            evidence_id=ev.evidence_id,
            gene=ev.gene,
            variant=ev.variant,
            disease=ev.disease,
            therapies=ev.drugs,
            therapy_interaction=ev.drug_interaction_type or None,
            evidence_type=ev.evidence_type,
            evidence_direction=ev.evidence_direction,
            clinical_significance=ev.clinical_significance,
            evidence_level=ev.evidence_level,
            rating=int(ev.rating) if ev.rating.isdigit() else None,
            statement=ev.evidence_statement,
            citation=ev.citation,
            source_type=ev.source_type,
            pubmed_id=ev.pubmed_id or None,
            pubmed_url=ev.pubmed_url,
            civic_url=url,
        )

    @property
    def sort_key(self) -> tuple[int, int, int, str]:
        """Best evidence first: level A before E, then the higher rating (1-5 stars)."""
        level = EVIDENCE_LEVELS.find(self.evidence_level)
        number = int(self.evidence_id) if self.evidence_id.isdigit() else 0
        return (
            level if level >= 0 else len(EVIDENCE_LEVELS),
            -(self.rating or 0),
            number,
            self.evidence_id,
        )

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True, slots=True)
class KnowledgeMatch:
    """The answer of a look-up: how close the match is and the best items at that level."""

    gene: str
    variation: str
    #: The parsed query variation, the spelling the items were matched on.
    normalized: str
    match: MatchLevel
    #: Items at this match level before ``limit`` was applied.
    total: int
    items: list[KnowledgeItem]

    @property
    def best_level(self) -> str | None:
        return self.items[0].evidence_level if self.items else None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True, slots=True)
class _Entry:
    item: KnowledgeItem
    parsed: ParsedVariation


def _variation_keys(parsed: ParsedVariation) -> set[str]:
    """Exact-match keys: the normalized spelling, each part of a compound ("V600E and V600M")
    and each alternative of "V600E/K"."""
    keys: set[str] = set()
    for part in parsed.normalized.upper().split(" AND "):
        part = part.strip()
        if not part:
            continue
        keys.add(part)
        if m := _ALTERNATIVES.fullmatch(part):
            keys.update(f"{m[1]}{m[2]}{alt}" for alt in m[3].split("/"))
    return keys


def _gene_key(gene: str) -> str:
    return gene.strip().upper()


class KnowledgeBase:
    """CIViC evidence indexed by gene and parsed variation; look-ups never raise.

    Build it once (it parses every variant) with :meth:`from_path` or :meth:`from_data_home`;
    an empty knowledge base (no CIViC data) is valid and answers every look-up with ``"none"``.
    """

    def __init__(
        self, evidence: Iterable[CivicEvidence] = (), *, source: str | None = None
    ) -> None:
        self.source = source
        self._by_gene: dict[str, list[_Entry]] = defaultdict(list)
        self._exact: dict[tuple[str, str], list[_Entry]] = defaultdict(list)
        self._size = 0
        for ev in evidence:
            entry = _Entry(KnowledgeItem.from_evidence(ev), parse_variation(ev.variant, ev.gene))
            genes = {_gene_key(ev.gene)}
            if entry.parsed.type is VariationType.FUSION:  # "EML4-ALK" is found from EML4 too
                genes.update(_gene_key(p) for p in entry.parsed.partners)
            for gene in genes:
                self._by_gene[gene].append(entry)
                for key in _variation_keys(entry.parsed):
                    self._exact[gene, key].append(entry)
            self._size += 1

    @classmethod
    def from_path(cls, path: Path | str) -> KnowledgeBase:
        """From a CIViC ClinicalEvidenceSummaries TSV, or a folder holding one."""
        return cls(read_evidence(path), source=str(path))

    @classmethod
    def from_data_home(cls, data_home: Path | str | None = None) -> KnowledgeBase:
        """From the newest CIViC release in the data home; empty (with a warning) when there
        is none or it cannot be read, so that the service still starts."""
        try:
            return cls.from_path(civic_data_dir(data_home))
        except DataError as exc:  # DataNotFoundError included
            log.warning("knowledge base empty: %s", exc)
            return cls()

    def __len__(self) -> int:
        """Number of CIViC evidence items."""
        return self._size

    def lookup(self, gene: str, variation: str, limit: int = 50) -> KnowledgeMatch:
        """The best CIViC evidence for ``gene`` ``variation``, at the closest match level."""
        gene_key = _gene_key(gene or "")
        parsed = parse_variation(variation or "", gene)
        level, entries = self._find(gene_key, parsed)
        items = sorted({id(e.item): e.item for e in entries}.values(), key=lambda i: i.sort_key)
        return KnowledgeMatch(
            gene=gene,
            variation=variation,
            normalized=parsed.normalized,
            match=level,
            total=len(items),
            items=items[: max(limit, 0)],
        )

    def _find(self, gene: str, parsed: ParsedVariation) -> tuple[MatchLevel, list[_Entry]]:
        candidates = self._by_gene.get(gene, [])
        if not candidates:
            return "none", []
        exact = [e for key in _variation_keys(parsed) for e in self._exact.get((gene, key), [])]
        if exact:
            return "exact", exact
        if (pos := parsed.position) is not None:
            at_position = [
                e
                for e in candidates
                if e.parsed.position is not None
                and e.parsed.position <= pos <= (e.parsed.end_position or e.parsed.position)
            ]
            if at_position:
                return "position", at_position
        if parsed.type not in _NO_TYPE_MATCH:
            same_type = [e for e in candidates if e.parsed.type is parsed.type]
            if same_type:
                return "type", same_type
        return "none", []
