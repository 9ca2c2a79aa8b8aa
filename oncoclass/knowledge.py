"""The CIViC knowledge base: what curated evidence already says about a variant, as a clinician
reads it.

A prediction is more useful next to the evidence experts curated for the same variant, so the
service indexes a CIViC release (evidence items and assertions, either format) once at start-up
and looks each query up by gene and *parsed* variation, so that "V600E", "Val600Glu" and
"p.V600E" find the same items. Each item says how it matched:

* ``"exact"``: same gene, same variation (or the same whole complex profile);
* ``"component"``: a complex molecular profile with the variant as one of its components
  (``BRAF V600E AND BRAF Amplification`` for BRAF V600E). A NOT component is never matched: a
  profile ``NOT KIT D816V`` is about tumours *without* D816V. Fusions are found from either
  partner gene (``EML4::ALK`` from ALK and from EML4);
* when CIViC has nothing on the variant itself, the closest evidence is still informative, so
  the look-up falls back to ``"position"`` (same gene and protein position: V600K or the
  wildcard V600 for V600E, an in-frame deletion spanning the residue), then ``"type"`` (same
  gene and kind of variation: another fusion, amplification, ...);
* ``"none"``: nothing in CIViC.

Items are ranked by relevance to the patient: the disease entered first (same, then related,
then other), then the therapies entered, then exact before component matches, then evidence
level (A to E) and rating; every item is reachable through ``limit`` and ``offset``. Beside the
items a look-up answers the therapies by disease (best level, sensitivity or resistance), the
CIViC assertions on the variant (AMP/ASCO/CAP tier, ACMG codes, NCCN guideline, FDA approval and
companion test) and a tier for the variant (see :func:`derive_tier`).

A knowledge base that could not be loaded is not an empty one: its ``status`` is "missing" or
"error" with a ``reason``, and every look-up says so (``available`` false) rather than "no
evidence".
"""

from __future__ import annotations

import logging
import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, Generic, Literal, TypeVar

from oncoclass.data.civic import (
    CIVIC_HOST,
    CivicAssertion,
    CivicEvidence,
    CivicRelease,
    ProfileComponent,
    civic_release,
    civicdb_url,
    profile_variation,
    read_assertions,
    read_evidence,
)
from oncoclass.data.home import civic_data_dir
from oncoclass.errors import DataError, DataNotFoundError
from oncoclass.features.variation import ParsedVariation, VariationType, parse_variation

log = logging.getLogger(__name__)

MatchLevel = Literal["exact", "component", "position", "type", "none"]
MATCH_LEVELS: tuple[MatchLevel, ...] = ("exact", "component", "position", "type", "none")
#: "ok": loaded; "missing": no CIViC release in the data home; "error": one that cannot be read.
KnowledgeStatus = Literal["ok", "missing", "error"]
DiseaseRelevance = Literal["same", "related", "other"]
#: CIViC evidence levels, best first: A validated, B clinical, C case study, D preclinical,
#: E inferential.
EVIDENCE_LEVELS = "ABCDE"
#: Evidence types that tier a somatic variant (AMP/ASCO/CAP: therapeutic, diagnostic,
#: prognostic).
TIERING_TYPES = frozenset({"Predictive", "Diagnostic", "Prognostic"})
SUPPORTS = "Supports"
TIER_ASSERTION = "assertion"
TIER_DERIVED = "derived from evidence levels"
TIER_NONE = "none"
#: "V600E/K": several new residues at one position.
_ALTERNATIVES = re.compile(r"([A-Z*]?)(\d+)([A-Z*](?:/[A-Z*])+)")
#: Types too vague to call two variations "of the same kind".
_NO_TYPE_MATCH = frozenset({VariationType.OTHER})
#: Predictive significances as a response to a therapy.
_RESPONSES = {
    "Sensitivity/Response": "sensitivity",
    "Resistance": "resistance",
    "Reduced Sensitivity": "reduced sensitivity",
    "Adverse Response": "adverse response",
}
#: Words that say nothing about which disease it is ("Colorectal Cancer" and "Breast Cancer"
#: are not related through "cancer").
_GENERIC_DISEASE_WORDS = frozenset({
    "cancer", "cancers", "carcinoma", "carcinomas", "tumor", "tumors", "tumour", "tumours",
    "neoplasm", "neoplasms", "disease", "diseases", "syndrome", "of", "the", "and", "or", "in",
    "with", "cell", "cells", "type", "malignant", "primary", "adult", "childhood", "nos",
})  # fmt: skip
_TIERS = ("Tier I", "Tier II", "Tier III", "Tier IV")
_AMP_CATEGORY = re.compile(r"(Tier I{1,3}V?|Tier IV)(?:\s*-\s*Level\s*([A-D]))?", re.I)


# --- records ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class KnowledgeItem:
    """One CIViC evidence item, as the API shows it."""

    evidence_id: str
    #: The profile's primary gene, and the profile as a variation relative to it.
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
    #: The molecular profile ("BRAF V600E AND BRAF Amplification"; "GENE VARIANT" in 2021).
    molecular_profile: str = ""
    molecular_profile_id: str = ""
    #: Its page on civicdb.org (a 2021 item links its variant's page).
    molecular_profile_url: str | None = None
    components: tuple[ProfileComponent, ...] = ()
    doid: str = ""
    variant_origin: str = ""
    last_review_date: str = ""
    is_flagged: bool = False
    #: How this item matched the query (see the module docstring).
    match: MatchLevel = "exact"
    #: Its disease against the one entered: None when none was entered.
    disease_relevance: DiseaseRelevance | None = None

    @classmethod
    def from_evidence(cls, ev: CivicEvidence) -> KnowledgeItem:
        url = civicdb_url(ev.evidence_url) or (
            f"{CIVIC_HOST}/links/evidence_items/{ev.evidence_id}" if ev.evidence_id else None
        )
        return cls(
            evidence_id=ev.evidence_id,
            gene=ev.gene,
            variant=ev.variation,
            disease=ev.disease,
            therapies=ev.therapies,
            therapy_interaction=ev.therapy_interaction_type or None,
            evidence_type=ev.evidence_type,
            evidence_direction=ev.evidence_direction,
            clinical_significance=ev.significance,
            evidence_level=ev.evidence_level,
            rating=int(ev.rating) if ev.rating.isdigit() else None,
            statement=ev.evidence_statement,
            citation=ev.citation,
            source_type=ev.source_type,
            pubmed_id=ev.pubmed_id or None,
            pubmed_url=ev.pubmed_url,
            civic_url=url,
            molecular_profile=ev.molecular_profile,
            molecular_profile_id=ev.molecular_profile_id,
            molecular_profile_url=ev.molecular_profile_url or None,
            components=ev.components,
            doid=ev.doid,
            variant_origin=ev.variant_origin,
            last_review_date=ev.last_review_date,
            is_flagged=ev.is_flagged,
        )

    @property
    def level_rank(self) -> int:
        return _level_rank(self.evidence_level)

    @property
    def sort_key(self) -> tuple[int, int, int, str]:
        """Best evidence first: level A before E, then the higher rating (1-5 stars)."""
        number = int(self.evidence_id) if self.evidence_id.isdigit() else 0
        return (self.level_rank, -(self.rating or 0), number, self.evidence_id)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True, slots=True)
class AssertionItem:
    """One CIViC assertion on the variant: a curated, tiered clinical claim."""

    assertion_id: str
    molecular_profile: str
    molecular_profile_id: str
    molecular_profile_url: str | None
    disease: str
    doid: str
    therapies: tuple[str, ...]
    assertion_type: str
    assertion_direction: str
    significance: str
    #: AMP/ASCO/CAP category as CIViC writes it ("Tier I - Level A"), and its two parts.
    amp_category: str
    amp_tier: str | None
    amp_level: str | None
    acmg_codes: tuple[str, ...]
    nccn_guideline: str
    nccn_guideline_version: str
    regulatory_approval: bool | None
    fda_companion_test: bool | None
    summary: str
    description: str
    evidence_ids: tuple[str, ...]
    civic_url: str
    is_flagged: bool = False
    match: MatchLevel = "exact"
    disease_relevance: DiseaseRelevance | None = None

    @classmethod
    def from_assertion(cls, a: CivicAssertion) -> AssertionItem:
        tier, level = parse_amp_category(a.amp_category)
        return cls(
            assertion_id=a.assertion_id,
            molecular_profile=a.molecular_profile,
            molecular_profile_id=a.molecular_profile_id,
            molecular_profile_url=a.molecular_profile_url or None,
            disease=a.disease,
            doid=a.doid,
            therapies=a.therapies,
            assertion_type=a.assertion_type,
            assertion_direction=a.assertion_direction,
            significance=a.significance,
            amp_category=a.amp_category,
            amp_tier=tier,
            amp_level=level,
            acmg_codes=a.acmg_codes,
            nccn_guideline=a.nccn_guideline,
            nccn_guideline_version=a.nccn_guideline_version,
            regulatory_approval=a.regulatory_approval,
            fda_companion_test=a.fda_companion_test,
            summary=a.summary,
            description=a.description,
            evidence_ids=a.evidence_ids,
            civic_url=a.assertion_url,
            is_flagged=a.is_flagged,
        )

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True, slots=True)
class TherapyEvidence:
    """What the evidence on the variant says about one therapy in one disease."""

    disease: str
    #: One drug, or a combination "Dabrafenib + Trametinib" ("A then B" when sequential).
    therapy: str
    #: "sensitivity", "resistance", "reduced sensitivity" or "adverse response".
    response: str
    #: "Supports", or "Does Not Support" (the evidence argues against that response).
    direction: str
    best_level: str
    n_items: int
    #: The items behind it, best level first.
    evidence_ids: tuple[str, ...]
    #: True: evidence on the variant itself (or a profile it satisfies alone, "L858R OR Exon 19
    #: Deletion"); False: on profiles that need other variants too ("BCR::ABL1 AND T315I").
    variant_alone: bool = True
    molecular_profiles: tuple[str, ...] = ()
    disease_relevance: DiseaseRelevance | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True, slots=True)
class VariantTier:
    """An AMP/ASCO/CAP-style tier for the variant, and how it was obtained."""

    #: "Tier I", "Tier II", "Tier III", "Tier IV", or "none" (no CIViC evidence on the gene).
    tier: str
    #: "A" to "D" for Tiers I and II, else None.
    level: str | None
    #: "Tier I - Level A", "Tier III", "none".
    label: str
    #: "assertion" (a CIViC assertion gives it), "derived from evidence levels" or "none".
    basis: str
    #: The disease the tier holds for.
    disease: str | None
    assertion_ids: tuple[str, ...] = ()
    evidence_ids: tuple[str, ...] = ()
    explanation: str = ""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True, slots=True)
class KnowledgeMatch:
    """The answer of a look-up: how close the match is, one page of ranked items, and the
    therapies, assertions and tier of the variant."""

    gene: str
    variation: str
    #: The parsed query variation, the spelling the items were matched on.
    normalized: str
    #: The closest match level found ("exact" when any item matched exactly).
    match: MatchLevel
    #: Items matched (every page together).
    total: int
    items: list[KnowledgeItem]
    limit: int = 50
    offset: int = 0
    #: The query's disease and therapies, as entered.
    disease: str = ""
    query_therapies: tuple[str, ...] = ()
    #: Whether the knowledge base could be used; ``reason`` says why not.
    status: KnowledgeStatus = "ok"
    available: bool = True
    reason: str | None = None
    release: str | None = None
    release_date: str | None = None
    source: str | None = None
    best_level: str | None = None
    therapies: list[TherapyEvidence] = field(default_factory=list)
    assertions: list[AssertionItem] = field(default_factory=list)
    tier: VariantTier | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def parse_amp_category(category: str) -> tuple[str | None, str | None]:
    """("Tier I", "A") from "Tier I - Level A"; (None, None) when it is not one."""
    m = _AMP_CATEGORY.search(category or "")
    if m is None:
        return None, None
    tier = "Tier " + m[1].split()[-1].upper()
    return tier, (m[2].upper() if m[2] else None)


# --- disease relevance --------------------------------------------------------------------------


def _disease_words(disease: str) -> frozenset[str]:
    words = re.findall(r"[a-z0-9]+", disease.casefold())
    return frozenset(w for w in words if w not in _GENERIC_DISEASE_WORDS)


def _doid(value: str) -> str:
    m = re.fullmatch(r"\s*(?:doid:?\s*)?(\d+)\s*", value or "", re.I)
    return m[1].lstrip("0") if m else ""


@dataclass(frozen=True, slots=True)
class _DiseaseQuery:
    """The disease entered, ready to compare: "same" is the same name, the same DOID, or a more
    specific name holding every significant word of it ("Melanoma" -> "Cutaneous Melanoma");
    "related" shares a significant word; else "other"."""

    name: str
    doid: str
    words: frozenset[str]

    @classmethod
    def of(cls, disease: str, doid: str = "") -> _DiseaseQuery | None:
        disease = " ".join((disease or "").split())
        doid = _doid(doid) or _doid(disease)
        if not disease and not doid:
            return None
        name = "" if _doid(disease) else disease.casefold()
        return cls(name, doid, _disease_words(name))

    def relevance(self, disease: str, doid: str) -> DiseaseRelevance:
        if self.doid and _doid(doid) == self.doid:
            return "same"
        if not self.name:
            return "other"
        name = " ".join(disease.split()).casefold()
        if name == self.name:
            return "same"
        words = _disease_words(name)
        if self.words and self.words <= words:
            return "same"
        return "related" if self.words & words else "other"


_RELEVANCE_RANK: dict[DiseaseRelevance | None, int] = {
    "same": 0,
    "related": 1,
    "other": 2,
    None: 0,
}


# --- the index -----------------------------------------------------------------------------------

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class _Part:
    """One non-negated component of a profile, parsed, with the genes it is found from."""

    genes: frozenset[str]
    parsed: ParsedVariation


@dataclass(frozen=True, slots=True)
class _Entry(Generic[T]):
    payload: T
    parts: tuple[_Part, ...]
    #: A profile of OR only: any one component present satisfies it (so the component alone
    #: is enough for therapies and tiers), unlike "V600E AND Amplification".
    any_of: bool


def _variation_keys(parsed: ParsedVariation) -> set[str]:
    """Exact-match keys: the normalized spelling, and each alternative of "V600E/K"."""
    part = parsed.normalized.upper().strip()
    if not part:
        return set()
    keys = {part}
    if m := _ALTERNATIVES.fullmatch(part):
        keys.update(f"{m[1]}{m[2]}{alt}" for alt in m[3].split("/"))
    return keys


def _gene_key(gene: str | None) -> str:
    return (gene or "").strip().upper()


class _ProfileIndex(Generic[T]):
    """Records indexed by the (non-negated) components of their molecular profiles."""

    def __init__(self) -> None:
        self._by_gene: dict[str, list[_Entry[T]]] = defaultdict(list)
        #: Single-variant profiles by (gene, variation key); complex ones by their whole key.
        self._exact: dict[tuple[str, str], list[_Entry[T]]] = defaultdict(list)
        #: Complex profiles by (gene, component key).
        self._parts: dict[tuple[str, str], list[_Entry[T]]] = defaultdict(list)

    def add(self, payload: T, components: Sequence[ProfileComponent]) -> None:
        present = [c for c in components if not c.negated]
        if not present:
            return  # "NOT KIT D816V" says what is absent: no variant query may match it
        parts: list[_Part] = []
        for c in present:
            parsed = parse_variation(c.variant, c.gene)
            # A 2021 variant "V600E and V600M" is one component that the parser splits.
            for sub in parsed.present():
                genes = {_gene_key(c.gene)}
                if sub.type is VariationType.FUSION:  # "EML4::ALK" is found from EML4 too
                    genes.update(_gene_key(p) for p in sub.partners)
                parts.append(_Part(frozenset(genes), sub))
        single = len(parts) == 1 and len(components) == 1
        operators = {c.operator for c in components if c.operator}
        entry = _Entry(payload, tuple(parts), any_of=single or operators == {"OR"})
        for gene in set().union(*(p.genes for p in parts)):
            self._by_gene[gene].append(entry)
        if single:
            for gene in parts[0].genes:
                for key in _variation_keys(parts[0].parsed):
                    self._exact[gene, key].append(entry)
            return
        whole = parse_variation(profile_variation(components), components[0].gene)
        self._exact[_gene_key(components[0].gene), whole.normalized.upper()].append(entry)
        for part in parts:
            for gene in part.genes:
                for key in _variation_keys(part.parsed):
                    self._parts[gene, key].append(entry)

    def has_gene(self, gene: str) -> bool:
        return gene in self._by_gene

    def find(
        self, gene: str, parsed: ParsedVariation
    ) -> tuple[MatchLevel, list[tuple[_Entry[T], MatchLevel]]]:
        """The closest match level and every entry found at it (exact and component together)."""
        found: dict[int, tuple[_Entry[T], MatchLevel]] = {}

        def add(entries: Iterable[_Entry[T]], level: MatchLevel) -> None:
            for e in entries:
                if id(e) not in found or MATCH_LEVELS.index(level) < MATCH_LEVELS.index(
                    found[id(e)][1]
                ):
                    found[id(e)] = (e, level)

        query_parts = self._query_parts(gene, parsed)
        if parsed.is_compound:
            add(self._exact.get((gene, parsed.normalized.upper()), ()), "exact")
            for part_gene, key in query_parts:  # a single-variant profile is part of the query
                add(self._exact.get((part_gene, key), ()), "component")
        else:
            for part_gene, key in query_parts:
                add(self._exact.get((part_gene, key), ()), "exact")
        for part_gene, key in query_parts:
            add(self._parts.get((part_gene, key), ()), "component")
        if found:
            return _best(found.values()), list(found.values())

        candidates = self._by_gene.get(gene, [])
        if (pos := parsed.position) is not None:
            at_position = [
                e
                for e in candidates
                if any(
                    gene in p.genes
                    and p.parsed.position is not None
                    and p.parsed.position <= pos <= (p.parsed.end_position or p.parsed.position)
                    for p in e.parts
                )
            ]
            if at_position:
                return "position", [(e, "position") for e in at_position]
        if parsed.type not in _NO_TYPE_MATCH:
            same_type = [
                e
                for e in candidates
                if any(gene in p.genes and p.parsed.type is parsed.type for p in e.parts)
            ]
            if same_type:
                return "type", [(e, "type") for e in same_type]
        return "none", []

    @staticmethod
    def _query_parts(gene: str, parsed: ParsedVariation) -> list[tuple[str, str]]:
        """(gene, key) of each variation the query asserts present."""
        if not parsed.components:
            return [(gene, key) for key in _variation_keys(parsed)]
        return [
            (_gene_key(c.gene) or gene, key)
            for c in parsed.components
            if not c.negated
            for key in _variation_keys(c.variation)
        ]


def _best(found: Iterable[tuple[object, MatchLevel]]) -> MatchLevel:
    return min((level for _, level in found), key=MATCH_LEVELS.index)


# --- the knowledge base -------------------------------------------------------------------------


class KnowledgeBase:
    """A CIViC release indexed by gene and parsed variation; look-ups never raise.

    Build it once (it parses every profile) with :meth:`from_path` or :meth:`from_data_home`.
    One built from no evidence is a valid, empty base (every look-up answers "none"); one that
    could not be loaded has ``status`` "missing" or "error" and ``available`` false.
    """

    def __init__(
        self,
        evidence: Iterable[CivicEvidence] = (),
        *,
        assertions: Iterable[CivicAssertion] = (),
        source: str | None = None,
        release: CivicRelease | None = None,
        status: KnowledgeStatus = "ok",
        reason: str | None = None,
    ) -> None:
        self.source = source
        self.release = release
        self.status: KnowledgeStatus = status
        self.reason = reason
        self._evidence: _ProfileIndex[KnowledgeItem] = _ProfileIndex()
        self._assertions: _ProfileIndex[AssertionItem] = _ProfileIndex()
        self._size = 0
        self._n_assertions = 0
        for ev in evidence:
            self._evidence.add(KnowledgeItem.from_evidence(ev), ev.components)
            self._size += 1
        for assertion in assertions:
            self._assertions.add(AssertionItem.from_assertion(assertion), assertion.components)
            self._n_assertions += 1

    @classmethod
    def from_path(cls, path: Path | str) -> KnowledgeBase:
        """From a CIViC release folder (or its evidence file), either format; the assertions
        are read when the release has them."""
        evidence = read_evidence(path)
        try:
            assertions = read_assertions(Path(path).parent if Path(path).is_file() else path)
        except DataNotFoundError:
            log.info("no CIViC assertions beside %s", path)
            assertions = []
        return cls(evidence, assertions=assertions, source=str(path), release=civic_release(path))

    @classmethod
    def unavailable(
        cls, status: KnowledgeStatus, reason: str, *, source: str | None = None
    ) -> KnowledgeBase:
        """A base that could not be loaded: every look-up reports ``status`` and ``reason``."""
        return cls(source=source, status=status, reason=reason)

    @classmethod
    def from_data_home(
        cls, data_home: Path | str | None = None, release: str | None = None
    ) -> KnowledgeBase:
        """From the newest (or the named) CIViC release in the data home. When there is none
        its status is "missing", when it cannot be read "error" (with a warning), so that the
        service still starts and says why it shows no evidence."""
        try:
            directory = civic_data_dir(data_home, release)
        except DataNotFoundError as exc:
            log.warning("knowledge base missing: %s", exc)
            return cls.unavailable("missing", str(exc))
        except (DataError, OSError) as exc:
            log.warning("knowledge base unavailable: %s", exc)
            return cls.unavailable("error", str(exc))
        try:
            return cls.from_path(directory)
        except (DataError, OSError) as exc:  # DataNotFoundError included: a damaged release
            log.warning("knowledge base unreadable: %s", exc)
            return cls.unavailable("error", str(exc), source=str(directory))

    @property
    def available(self) -> bool:
        return self.status == "ok"

    @property
    def n_assertions(self) -> int:
        return self._n_assertions

    def __len__(self) -> int:
        """Number of CIViC evidence items."""
        return self._size

    def lookup(
        self,
        gene: str,
        variation: str,
        limit: int = 50,
        *,
        disease: str = "",
        therapies: Sequence[str] = (),
        offset: int = 0,
        doid: str = "",
    ) -> KnowledgeMatch:
        """What CIViC says about ``gene`` ``variation`` for a patient with ``disease`` (a name
        or "DOID:1909"; ``doid`` too) considering ``therapies``: one page (``limit`` items from
        ``offset``) of ranked items at the closest match level, and the therapies, assertions
        and tier of the variant."""
        gene, variation = gene or "", variation or ""
        therapies = tuple(t for t in therapies if t and t.strip())
        parsed = parse_variation(variation, gene)
        limit, offset = max(limit, 0), max(offset, 0)
        common: dict[str, Any] = {
            "gene": gene,
            "variation": variation,
            "normalized": parsed.normalized,
            "limit": limit,
            "offset": offset,
            "disease": disease,
            "query_therapies": therapies,
            "status": self.status,
            "available": self.available,
            "reason": self.reason,
            "release": self.release.name if self.release else None,
            "release_date": (
                self.release.date.isoformat() if self.release and self.release.date else None
            ),
            "source": self.source,
        }
        if not self.available:
            return KnowledgeMatch(match="none", total=0, items=[], **common)

        gene_key = _gene_key(gene)
        query = _DiseaseQuery.of(disease, doid)
        wanted = {t.casefold() for t in therapies}
        level, found = self._evidence.find(gene_key, parsed)
        matched = [(_with_query(e.payload, m, query), _alone(e, m)) for e, m in found]
        ranked = sorted((item for item, _ in matched), key=lambda item: _item_rank(item, wanted))
        # The tier speaks of the variant itself: not of "V600E AND Amplification".
        own = [item for item, alone in matched if alone]
        combined = sum(not _alone(e, m) for e, m in found if m == "component")
        assertions, own_assertions = self._matched_assertions(gene_key, parsed, query)
        best = min((i.level_rank for i in ranked), default=len(EVIDENCE_LEVELS))
        return KnowledgeMatch(
            match=level,
            total=len(ranked),
            items=ranked[offset : offset + limit],
            best_level=EVIDENCE_LEVELS[best] if best < len(EVIDENCE_LEVELS) else None,
            therapies=summarise_therapies(matched),
            assertions=assertions,
            tier=self._tier(gene_key, own, own_assertions, query, disease, combined),
            **common,
        )

    def _matched_assertions(
        self, gene: str, parsed: ParsedVariation, query: _DiseaseQuery | None
    ) -> tuple[list[AssertionItem], list[AssertionItem]]:
        """(the assertions on the variant, ranked; those about the variant alone)."""
        level, found = self._assertions.find(gene, parsed)
        if level not in ("exact", "component"):
            return [], []  # an assertion on another variant at the same position is not this one
        items: list[tuple[AssertionItem, bool]] = []
        for e, m in found:
            relevance = query.relevance(e.payload.disease, e.payload.doid) if query else None
            items.append((replace(e.payload, match=m, disease_relevance=relevance), _alone(e, m)))
        items.sort(
            key=lambda pair: (
                _RELEVANCE_RANK[pair[0].disease_relevance],
                MATCH_LEVELS.index(pair[0].match),
                _tier_rank(pair[0].amp_tier, pair[0].amp_level),
                int(pair[0].assertion_id) if pair[0].assertion_id.isdigit() else 0,
            )
        )
        return [a for a, _ in items], [a for a, alone in items if alone]

    def _tier(
        self,
        gene: str,
        items: Sequence[KnowledgeItem],
        assertions: Sequence[AssertionItem],
        query: _DiseaseQuery | None,
        disease: str,
        combined: int,
    ) -> VariantTier:
        tiered = [
            a
            for a in assertions
            if a.amp_tier
            and a.assertion_direction == SUPPORTS
            and (query is None or a.disease_relevance == "same")
        ]
        if tiered:
            best = min(tiered, key=lambda a: _tier_rank(a.amp_tier, a.amp_level))
            same = [
                a.assertion_id
                for a in tiered
                if (a.amp_tier, a.amp_level) == (best.amp_tier, best.amp_level)
                and a.disease == best.disease
            ]
            where = disease if query is not None else best.disease
            note = "" if query is not None else " (no disease entered: the best-tiered disease)"
            return VariantTier(
                tier=best.amp_tier or "",
                level=best.amp_level,
                label=best.amp_category,
                basis=TIER_ASSERTION,
                disease=where,
                assertion_ids=tuple(same),
                explanation=f"CIViC assertion{'s' if len(same) > 1 else ''} "
                f"{', '.join('AID' + i for i in same)} in {best.disease}{note}",
            )
        return derive_tier(
            items, query, disease, has_evidence=self._evidence.has_gene(gene), combined=combined
        )


def _alone(entry: _Entry[Any], match: MatchLevel) -> bool:
    """Whether the queried variant alone satisfies the entry's profile: an exact match, or a
    component of a profile of OR only."""
    return match == "exact" or (match == "component" and entry.any_of)


def _with_query(
    item: KnowledgeItem, match: MatchLevel, query: _DiseaseQuery | None
) -> KnowledgeItem:
    relevance = query.relevance(item.disease, item.doid) if query else None
    return replace(item, match=match, disease_relevance=relevance)


def _item_rank(item: KnowledgeItem, wanted: set[str]) -> tuple[int, int, int, int, int, int, str]:
    therapy = 0 if not wanted or wanted & {t.casefold() for t in item.therapies} else 1
    level, rating, number, evidence_id = item.sort_key
    return (
        _RELEVANCE_RANK[item.disease_relevance],
        therapy,
        MATCH_LEVELS.index(item.match),
        level,
        rating,
        number,
        evidence_id,
    )


def _tier_rank(tier: str | None, level: str | None) -> tuple[int, int]:
    t = _TIERS.index(tier) if tier in _TIERS else len(_TIERS)
    return t, ("ABCD".index(level) if level and level in "ABCD" else 4)


# --- therapies and tiers -------------------------------------------------------------------------


def _level_rank(level: str) -> int:
    rank = EVIDENCE_LEVELS.find(level) if level else -1
    return rank if rank >= 0 else len(EVIDENCE_LEVELS)


def _therapy_names(item: KnowledgeItem) -> list[str]:
    """The therapies an item is about: a combination is one ("Dabrafenib + Trametinib"), a
    sequence one ("A then B"), substitutes each on their own."""
    drugs = [t for t in item.therapies if t]
    if len(drugs) > 1 and item.therapy_interaction == "Combination":
        return [" + ".join(sorted(drugs, key=str.casefold))]
    if len(drugs) > 1 and item.therapy_interaction == "Sequential":
        return [" then ".join(drugs)]
    return drugs


def summarise_therapies(matched: Iterable[tuple[KnowledgeItem, bool]]) -> list[TherapyEvidence]:
    """Predictive evidence grouped by disease, therapy, response and direction, and whether it
    is about the variant alone: the best level, how many items, which ones, on which profiles.

    ``matched``: (item, whether the variant alone satisfies its profile). Evidence on profiles
    that need other variants too ("BCR::ABL1 AND T315I" for T315I) stays apart from evidence on
    the variant itself, so that a clinician never reads one as the other. Most relevant disease
    first (then the disease with the best level), then per disease the variant's own evidence,
    then the best level.
    """
    groups: dict[tuple[str, str, str, str, bool], list[KnowledgeItem]] = defaultdict(list)
    for item, alone in matched:
        if item.evidence_type != "Predictive" or not item.therapies:
            continue
        response = _RESPONSES.get(item.clinical_significance, item.clinical_significance.lower())
        for therapy in _therapy_names(item):
            groups[item.disease, therapy, response, item.evidence_direction, alone].append(item)
    summary = []
    for (disease, therapy, response, direction, alone), members in groups.items():
        members = sorted(members, key=lambda i: i.sort_key)
        summary.append(
            TherapyEvidence(
                disease=disease,
                therapy=therapy,
                response=response,
                direction=direction,
                best_level=members[0].evidence_level,
                n_items=len(members),
                evidence_ids=tuple(dict.fromkeys(i.evidence_id for i in members)),
                variant_alone=alone,
                molecular_profiles=tuple(dict.fromkeys(i.molecular_profile for i in members)),
                disease_relevance=members[0].disease_relevance,
            )
        )
    strongest: dict[str, int] = {}  # a disease's best level: the strongest diseases first
    for t in summary:
        strongest[t.disease] = min(strongest.get(t.disease, 99), _level_rank(t.best_level))
    return sorted(
        summary,
        key=lambda t: (
            _RELEVANCE_RANK[t.disease_relevance],
            strongest[t.disease],
            t.disease,
            not t.variant_alone,
            _level_rank(t.best_level),
            -t.n_items,
            t.therapy,
        ),
    )


def derive_tier(
    items: Sequence[KnowledgeItem],
    query: _DiseaseQuery | None,
    disease: str,
    *,
    has_evidence: bool,
    combined: int = 0,
) -> VariantTier:
    """A tier from evidence levels, when no CIViC assertion tiers the variant.

    The rule follows PCGR's actionability tiers (after the AMP/ASCO/CAP guideline, Li et al.
    2017), on CIViC evidence that supports a predictive, diagnostic or prognostic claim about
    the variant itself (exact matches, or OR-profiles the variant satisfies alone):

    * **Tier I** (strong clinical significance): level A or B evidence in the patient's disease:
      I-A for A, I-B for B;
    * **Tier II** (potential clinical significance): level A or B evidence in another disease
      (II-C, as AMP's level C counts therapies approved for other tumour types), or level C / D
      evidence (II-C, II-D);
    * **Tier III** (unknown significance): anything else when CIViC has evidence on the gene or
      variant (level E, other evidence types, evidence that does not support the claim, or only
      evidence on other variants of the gene);
    * **none**: CIViC has nothing on the gene. AMP's Tier IV means benign or likely benign,
      which an absence of evidence does not show, so it is never derived.

    Without a disease, the tier is given for the disease with the strongest evidence.
    ``combined`` counts the items on profiles that need other variants too: listed, not tiered.
    """
    relevant = [
        i
        for i in items
        if i.evidence_type in TIERING_TYPES
        and i.evidence_direction == SUPPORTS
        and i.evidence_level in "ABCD"
        and i.evidence_level
    ]
    strong = [i for i in relevant if i.evidence_level in "AB"]
    if query is not None:
        same = [i for i in strong if i.disease_relevance == "same"]
    else:  # the disease with the strongest evidence stands for the patient's
        top = _strongest_disease(strong)
        same = [i for i in strong if i.disease == top]
    if same:
        best = min(same, key=_strength)
        level = best.evidence_level
        where = disease if query is not None else best.disease
        return _derived(
            "Tier I",
            level,
            where,
            [i for i in same if i.evidence_level == level],
            f"level {level} {best.evidence_type.lower()} evidence in {where}",
        )
    if strong:
        best = min(strong, key=_strength)
        return _derived(
            "Tier II",
            "C",
            disease or None,
            strong,
            f"level {best.evidence_level} evidence in another disease ({best.disease})",
        )
    weaker = [i for i in relevant if i.evidence_level in "CD"]
    if weaker:
        best = min(weaker, key=_strength)
        level = best.evidence_level
        return _derived(
            "Tier II",
            level,
            disease or best.disease,
            [i for i in weaker if i.evidence_level == level],
            f"level {level} evidence at best ({best.disease})",
        )
    if has_evidence or items or combined:
        note = (
            f"; {combined} item{'s' if combined > 1 else ''} on profiles that combine it with "
            "other variants are listed, not tiered"
            if combined
            else ""
        )
        return VariantTier(
            tier="Tier III",
            level=None,
            label="Tier III",
            basis=TIER_DERIVED,
            disease=disease or None,
            evidence_ids=tuple(i.evidence_id for i in items[:20]),
            explanation="CIViC has evidence on the gene or variant, but none of level A-D "
            f"supporting a predictive, diagnostic or prognostic claim about this variant{note}",
        )
    return VariantTier(
        tier="none",
        level=None,
        label="none",
        basis=TIER_NONE,
        disease=disease or None,
        explanation="CIViC has no evidence on this gene",
    )


def _strength(item: KnowledgeItem) -> tuple[int, int, int, str]:
    return item.sort_key


def _strongest_disease(items: Sequence[KnowledgeItem]) -> str | None:
    """The disease with the best level, and the most items at that level."""
    if not items:
        return None
    level = min(i.level_rank for i in items)
    counts = Counter(i.disease for i in items if i.level_rank == level)
    return min(counts, key=lambda d: (-counts[d], d))


def _derived(
    tier: str, level: str, disease: str | None, items: Sequence[KnowledgeItem], why: str
) -> VariantTier:
    ordered = sorted(items, key=_strength)
    return VariantTier(
        tier=tier,
        level=level,
        label=f"{tier} - Level {level}",
        basis=TIER_DERIVED,
        disease=disease,
        evidence_ids=tuple(dict.fromkeys(i.evidence_id for i in ordered))[:20],
        explanation=f"no CIViC assertion; {why}",
    )
