"""CIViC release TSVs (``<release>-ClinicalEvidenceSummaries.tsv`` and friends) as typed records.

CIViC (https://civicdb.org, CC0) publishes monthly releases as tab-separated files, in two formats
that this module reads into the same records, telling them apart by the evidence header:

* the **2021** ("legacy") format: separate ``gene`` and ``variant`` columns, ``drugs``,
  ``clinical_significance``; fusions written ``EML4-ALK``;
* the **current** format (since 2022): a ``molecular_profile`` (``BRAF V600E``,
  ``ALK EML4::ALK AND ALK L1196M``, ``NOT KIT D816V``) instead of gene and variant,
  ``therapies``, ``significance``, ``is_flagged``. A profile's components come from
  MolecularProfileSummaries (its ``variant_ids``) and VariantSummaries (each variant's gene and
  name); without those files the profile name itself is split, which is right except for the
  variant ids.

A 2021 item becomes a single-component profile ``GENE VARIANT``, so that every consumer sees one
shape. Complex profiles (AND, OR, NOT) keep every component: nothing is dropped for being complex.

Two facts shape the reader: quotes are ordinary characters (statements quote drug names), so the
files are read with ``csv.QUOTE_NONE``; and ``N/A`` is a real value (e.g. the clinical
significance of some prognostic items), so nothing is ever turned into NaN: every cell stays a
string.
"""

from __future__ import annotations

import csv
import json
import logging
import re
from collections import Counter
from collections.abc import Collection, Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any, Literal

from oncoclass.data.generic import open_text, split_drugs
from oncoclass.data.records import Sample
from oncoclass.errors import DataError, DataNotFoundError, InvalidInputError

log = logging.getLogger(__name__)

EVIDENCE = "ClinicalEvidenceSummaries"
VARIANTS = "VariantSummaries"
GENES = "GeneSummaries"
ASSERTIONS = "AssertionSummaries"
MOLECULAR_PROFILES = "MolecularProfileSummaries"
VARIANT_GROUPS = "VariantGroupSummaries"
#: The data home's record of a fetched release (written by :mod:`oncoclass.data.home`).
MANIFEST = "MANIFEST.json"
#: The label of the merged rare classes when ``civic_samples(rare="merge")``.
OTHER = "Other"
PUBMED = "PubMed"

CivicFormat = Literal["2021", "current"]
LEGACY: CivicFormat = "2021"
CURRENT: CivicFormat = "current"
#: The files each format publishes (VariantGroupSummaries is optional in both).
FORMAT_FILES: dict[str, tuple[str, ...]] = {
    LEGACY: (EVIDENCE, VARIANTS, GENES, ASSERTIONS, VARIANT_GROUPS),
    CURRENT: (EVIDENCE, MOLECULAR_PROFILES, VARIANTS, GENES, ASSERTIONS, VARIANT_GROUPS),
}

CIVIC_HOST = "https://civicdb.org"
#: CIViC's old host (the 2021 release links to it); its links live on at civicdb.org.
_OLD_CIVIC_HOST = "https://civic.genome.wustl.edu"
#: Operators of a molecular profile, as CIViC writes them (upper case, space-separated).
AND, OR, NOT = "AND", "OR", "NOT"

#: Evidence columns a release must have (per format); the others are read when present.
EVIDENCE_REQUIRED: dict[str, tuple[str, ...]] = {
    LEGACY: (
        "gene",
        "variant",
        "disease",
        "drugs",
        "evidence_type",
        "clinical_significance",
        "evidence_statement",
        "citation_id",
        "source_type",
        "evidence_id",
    ),
    CURRENT: (
        "molecular_profile",
        "molecular_profile_id",
        "disease",
        "therapies",
        "evidence_type",
        "significance",
        "evidence_statement",
        "citation_id",
        "source_type",
        "evidence_id",
    ),
}
ASSERTION_REQUIRED: dict[str, tuple[str, ...]] = {
    LEGACY: ("gene", "variant", "disease", "drugs", "assertion_type", "assertion_id"),
    CURRENT: ("molecular_profile", "molecular_profile_id", "disease", "therapies", "assertion_id"),
}


# --- records ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ProfileComponent:
    """One variant of a molecular profile, with how it joins the components before it."""

    gene: str
    variant: str
    variant_id: str = ""
    #: "" for the first component, else "AND" / "OR" (joining it to the previous one).
    operator: str = ""
    #: Under a NOT: the profile requires this variant to be absent.
    negated: bool = False
    #: Groups opened before / closed after it: "A AND ( B OR C )" -> B opens 1, C closes 1.
    opens: int = 0
    closes: int = 0

    @property
    def name(self) -> str:
        """``GENE VARIANT``, as CIViC names the variant."""
        return f"{self.gene} {self.variant}".strip()


def profile_variation(components: Sequence[ProfileComponent]) -> str:
    """A profile as a variation string relative to its primary (first) gene.

    A component's gene prefix is dropped only when it is the primary gene, so the string reads
    as the variation parser expects: ``V600E``, ``EML4::ALK AND L1196M``,
    ``V600E AND KRAS G12D``, ``Amplification AND (V600E OR V600K)``, ``NOT D816V``.
    """
    if not components:
        return ""
    primary = components[0].gene
    parts: list[str] = []
    for c in components:
        name = c.variant if c.gene == primary and c.variant else c.name
        text = "(" * c.opens + (f"{NOT} " if c.negated else "") + name + ")" * c.closes
        parts.append(f" {c.operator} {text}" if c.operator else text)
    return "".join(parts)


def _is_complex(components: Sequence[ProfileComponent]) -> bool:
    return len(components) > 1 or any(c.negated for c in components)


@dataclass(frozen=True, slots=True)
class MolecularProfile:
    """A row of MolecularProfileSummaries: a named combination of variants."""

    profile_id: str
    name: str
    components: tuple[ProfileComponent, ...]
    summary: str = ""
    aliases: tuple[str, ...] = ()

    @property
    def is_complex(self) -> bool:
        return _is_complex(self.components)

    @property
    def url(self) -> str:
        return molecular_profile_url(self.profile_id)


def molecular_profile_url(profile_id: str) -> str:
    """The profile's page on civicdb.org ("" without an id)."""
    return f"{CIVIC_HOST}/molecular-profiles/{profile_id}/summary" if profile_id else ""


class _ProfileMixin:
    """What evidence items and assertions derive from their profile's components."""

    __slots__ = ()
    components: tuple[ProfileComponent, ...]

    @property
    def gene(self) -> str:
        """The primary gene: the first component's."""
        return self.components[0].gene if self.components else ""

    @property
    def genes(self) -> tuple[str, ...]:
        """Every gene the profile names, in order."""
        return tuple(dict.fromkeys(c.gene for c in self.components if c.gene))

    @property
    def variation(self) -> str:
        """The profile as a variation string (see :func:`profile_variation`)."""
        return profile_variation(self.components)

    @property
    def is_complex(self) -> bool:
        """Several components, or a NOT: ``BRAF V600E AND BRAF Amplification``."""
        return _is_complex(self.components)


@dataclass(frozen=True, slots=True)
class CivicEvidence(_ProfileMixin):
    """One CIViC evidence item (a row of ClinicalEvidenceSummaries), in either format.

    A 2021 item's profile is its ``GENE VARIANT`` (one component, no profile id, and its
    variant's page as ``molecular_profile_url``).
    """

    evidence_id: str
    molecular_profile: str
    molecular_profile_id: str
    components: tuple[ProfileComponent, ...]
    disease: str
    doid: str
    therapies: tuple[str, ...]
    #: How the therapies combine: "Combination", "Sequential", "Substitutes" or "".
    therapy_interaction_type: str
    evidence_type: str
    evidence_direction: str
    evidence_level: str
    significance: str
    evidence_statement: str
    #: The PubMed id for PubMed sources (CIViC also fills it for ASCO abstracts).
    citation_id: str
    source_type: str
    citation: str = ""
    asco_abstract_id: str = ""
    rating: str = ""
    variant_origin: str = ""
    phenotypes: str = ""
    nct_ids: str = ""
    evidence_status: str = ""
    last_review_date: str = ""
    #: CIViC flags items whose content a curator questioned (current format only).
    is_flagged: bool = False
    evidence_url: str = ""
    molecular_profile_url: str = ""
    #: The release it was read from ("01-Aug-2024"; "" for an unprefixed file).
    release: str = ""

    @property
    def label(self) -> str:
        """The clinical-significance class, e.g. ``"Predictive: Resistance"``."""
        return f"{self.evidence_type}: {self.significance}"

    @property
    def pubmed_id(self) -> str:
        return self.citation_id if self.source_type == PUBMED else ""

    @property
    def pubmed_url(self) -> str | None:
        return f"https://pubmed.ncbi.nlm.nih.gov/{self.pubmed_id}/" if self.pubmed_id else None

    @property
    def group(self) -> str:
        """The split key: items citing one paper (or one ASCO abstract) stay together."""
        if self.source_type == PUBMED or not self.asco_abstract_id:
            return f"pmid:{self.citation_id}"
        return f"asco:{self.asco_abstract_id}"


@dataclass(frozen=True, slots=True)
class CivicAssertion(_ProfileMixin):
    """One CIViC assertion: a curated clinical claim (AMP/ASCO/CAP tier, ACMG codes, NCCN
    guideline, FDA approval) summarising several evidence items, in either format."""

    assertion_id: str
    molecular_profile: str
    molecular_profile_id: str
    components: tuple[ProfileComponent, ...]
    disease: str
    doid: str
    therapies: tuple[str, ...]
    assertion_type: str
    assertion_direction: str
    significance: str
    acmg_codes: tuple[str, ...]
    #: AMP/ASCO/CAP tier and level, e.g. "Tier I - Level A" ("" when not given).
    amp_category: str
    nccn_guideline: str
    nccn_guideline_version: str
    #: True / False as CIViC records them; None when the release leaves the cell empty.
    regulatory_approval: bool | None
    fda_companion_test: bool | None
    summary: str
    description: str
    evidence_ids: tuple[str, ...]
    phenotypes: str = ""
    last_review_date: str = ""
    is_flagged: bool = False
    assertion_url: str = ""
    molecular_profile_url: str = ""
    release: str = ""

    @property
    def label(self) -> str:
        return f"{self.assertion_type}: {self.significance}"


@dataclass(frozen=True, slots=True)
class CivicRelease:
    """What a release folder holds: its name, format and date."""

    #: "01-Aug-2024", "nightly-2024-10-15", "nightly", or "" for unprefixed files.
    name: str
    format: CivicFormat
    #: The release date; a nightly copy's is the day it was fetched.
    date: date | None
    directory: Path
    #: The files present, by name ("ClinicalEvidenceSummaries", ...).
    files: tuple[str, ...]
    #: From the data home's manifest: the release asked for ("latest") and when it was fetched.
    requested: str | None = None
    fetched_at: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "format": self.format,
            "date": self.date.isoformat() if self.date else None,
            "directory": str(self.directory),
            "files": list(self.files),
            "requested": self.requested,
            "fetched_at": self.fetched_at,
        }


# --- release names and files ---------------------------------------------------------------------

NIGHTLY = "nightly"
LATEST = "latest"
#: Month abbreviations of monthly release names, fixed rather than locale-dependent (%b).
MONTHS: tuple[str, ...] = (
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
)  # fmt: skip
_MONTHLY = re.compile(r"(?P<day>\d{2})-(?P<month>[A-Za-z]{3})-(?P<year>\d{4})")


def monthly_release(day: date) -> str:
    """The name of the monthly release of ``day``'s month: ``01-Aug-2024``."""
    return f"01-{MONTHS[day.month - 1]}-{day.year:04d}"


def nightly_release(day: date) -> str:
    """The name a nightly copy is kept under: ``nightly-2024-10-15`` (the day it was fetched)."""
    return f"{NIGHTLY}-{day.isoformat()}"


def release_date(release: str) -> date | None:
    """The date in a release name: ``01-Aug-2024`` and ``nightly-2024-10-15``; else None."""
    try:
        if release.startswith(f"{NIGHTLY}-"):
            return date.fromisoformat(release.removeprefix(f"{NIGHTLY}-"))
        if m := _MONTHLY.fullmatch(release):
            month = MONTHS.index(m["month"].capitalize()) + 1
            return date(int(m["year"]), month, int(m["day"]))
    except ValueError:  # not a month name, 31-Feb-2024, ...
        return None
    return None


def release_key(release: str) -> tuple[datetime, int, str]:
    """Sort key of a release name: dated releases by date (a nightly copy after the monthly
    release of its day), a bare "nightly" newest, others oldest."""
    if release == NIGHTLY:
        return datetime.max, 1, release
    day = release_date(release)
    if day is None:
        return datetime.min, 0, release
    return datetime.combine(day, datetime.min.time()), int(release.startswith(NIGHTLY)), release


def release_of(path: Path, name: str = EVIDENCE) -> str:
    """The release prefix of ``<release>-<name>.tsv`` ("" for a bare ``<name>.tsv``)."""
    return path.name.removesuffix(f"{name}.tsv").removesuffix("-")


def find_civic_file(directory: Path | str, name: str = EVIDENCE) -> Path:
    """The ``<release>-<name>.tsv`` in ``directory`` (the newest release if there are several).

    A path to the file itself is returned as is.
    """
    directory = Path(directory).expanduser()
    if directory.is_file():
        return directory
    candidates = [
        p
        for p in directory.glob(f"*{name}.tsv")
        if p.is_file() and (p.name == f"{name}.tsv" or p.name.endswith(f"-{name}.tsv"))
    ]
    if not candidates:
        raise DataNotFoundError(f"no CIViC *-{name}.tsv file", path=str(directory))
    return max(candidates, key=lambda p: release_key(release_of(p, name)))


def sibling_file(path: Path, name: str, other: str) -> Path | None:
    """The ``other`` file of the same release beside a ``name`` file, if there is one."""
    release = release_of(path, name)
    candidate = path.parent / (f"{release}-{other}.tsv" if release else f"{other}.tsv")
    return candidate if candidate.is_file() else None


def detect_format(header: Collection[str], path: Path | str | None = None) -> CivicFormat:
    """The format of an evidence (or assertion) table, from its header."""
    if "molecular_profile" in header:
        return CURRENT
    if "gene" in header and "variant" in header:
        return LEGACY
    missing = [c for c in EVIDENCE_REQUIRED[CURRENT] if c not in header]
    raise DataError(
        f"not a CIViC table: missing column(s) {', '.join(missing)}",
        path=None if path is None else str(path),
        line=1,
    )


def civic_release(path_or_dir: Path | str) -> CivicRelease:
    """Name, format and date of the release in a folder (or of an evidence file's release).

    A nightly copy is dated by the day it was fetched (recorded in the data home's manifest).
    """
    evidence = find_civic_file(path_or_dir, EVIDENCE)
    name = release_of(evidence)
    fmt = detect_format(_header(evidence), evidence)
    files = tuple(
        n for n in FORMAT_FILES[CURRENT] if n == EVIDENCE or sibling_file(evidence, EVIDENCE, n)
    )
    meta = read_release_meta(evidence.parent)
    day = release_date(name)
    if day is None and meta.get("date"):
        try:
            day = date.fromisoformat(str(meta["date"]))
        except ValueError:
            day = None
    return CivicRelease(
        name=name,
        format=fmt,
        date=day,
        directory=evidence.parent,
        files=files,
        requested=meta.get("requested"),
        fetched_at=meta.get("fetched_at"),
    )


def read_release_meta(directory: Path) -> dict[str, Any]:
    """The ``release`` block of a folder's manifest ({} when there is none or it is unreadable:
    release metadata is informative, never a reason to refuse the data)."""
    path = directory / MANIFEST
    if not path.is_file():
        return {}
    try:
        meta = json.loads(path.read_text(encoding="utf-8")).get("release", {})
    except (ValueError, AttributeError, OSError):
        return {}
    return meta if isinstance(meta, dict) else {}


# --- molecular profiles --------------------------------------------------------------------------

#: (gene, variant, variant_id) of a variant a profile names.
KnownVariant = tuple[str, str, str]


def parse_profile(name: str, variants: Sequence[KnownVariant] = ()) -> tuple[ProfileComponent, ...]:
    """The components of a molecular profile name, never raising.

    CIViC writes operators in upper case between spaces (``AND``, ``OR``, ``NOT``) and groups as
    ``( ... )`` with spaces around, so the name is read word by word. ``variants`` (the profile's
    variants from VariantSummaries) are matched first, longest name first, so that a variant
    name holding spaces or parentheses ("MET Splice Site (c.3028G>A)") stays whole and gets its
    id; an unknown component is ``GENE`` then the rest of its words. A NOT before a group
    negates every component in it.
    """
    words = name.split()
    known = sorted(
        ((f"{g} {v}".split(), (g, v, i)) for g, v, i in variants if g),
        key=lambda kv: -len(kv[0]),
    )
    components: list[ProfileComponent] = []
    i, depth, operator = 0, 0, ""
    negated_groups: list[int] = []
    while i < len(words):
        opens, negated = 0, False
        while i < len(words) and words[i] in ("(", NOT):
            if words[i] == "(":
                opens += 1
                if negated:  # "NOT ( A OR B )": the NOT belongs to the group
                    negated_groups.append(depth + opens)
                    negated = False
            else:
                negated = True
            i += 1
        match = next((kv for kv in known if words[i : i + len(kv[0])] == kv[0]), None)
        if match is not None:
            gene, variant, variant_id = match[1]
            i += len(match[0])
        else:
            start = i
            while i < len(words) and words[i] not in (AND, OR, ")"):
                i += 1
            if i == start:  # a dangling operator: skip it rather than fail
                i += 1
                continue
            gene, variant, variant_id = words[start], " ".join(words[start + 1 : i]), ""
        closes = 0
        while i < len(words) and words[i] == ")":
            closes += 1
            i += 1
        depth += opens
        components.append(
            ProfileComponent(
                gene,
                variant,
                variant_id,
                operator if components else "",
                negated or bool(negated_groups),
                opens,
                closes,
            )
        )
        depth = max(depth - closes, 0)
        negated_groups = [d for d in negated_groups if d <= depth]
        operator = ""
        if i < len(words) and words[i] in (AND, OR):
            operator = words[i]
            i += 1
    return tuple(components)


def read_molecular_profiles(path_or_dir: Path | str) -> dict[str, MolecularProfile]:
    """profile id -> :class:`MolecularProfile`, components resolved through the release's
    VariantSummaries (when it is beside the file)."""
    path = find_civic_file(path_or_dir, MOLECULAR_PROFILES)
    variants_path = sibling_file(path, MOLECULAR_PROFILES, VARIANTS)
    variants = read_variant_summaries(variants_path) if variants_path else {}
    rows = _read_tsv(
        path, ("name", "molecular_profile_id", "variant_ids"), unique="molecular_profile_id"
    )
    profiles: dict[str, MolecularProfile] = {}
    for _, row in rows:
        known = [
            (variants[v]["gene"], variants[v]["variant"], v)
            for v in _split_list(row["variant_ids"])
            if v in variants
        ]
        name = row["name"].strip()
        profiles[row["molecular_profile_id"]] = MolecularProfile(
            profile_id=row["molecular_profile_id"],
            name=name,
            components=parse_profile(name, known),
            summary=row.get("summary", ""),
            aliases=_split_list(row.get("aliases", "")),
        )
    return profiles


def _profiles_for(evidence_or_assertions: Path, name: str) -> dict[str, MolecularProfile]:
    """The molecular profiles of the release a current-format file belongs to ({} when the
    release folder has no MolecularProfileSummaries: profile names are then split as written)."""
    path = sibling_file(evidence_or_assertions, name, MOLECULAR_PROFILES)
    if path is None:
        log.warning(
            "no %s beside %s: molecular profiles are split from their names, without variant ids",
            MOLECULAR_PROFILES,
            evidence_or_assertions,
        )
        return {}
    return read_molecular_profiles(path)


def _components(
    name: str, profile_id: str, profiles: dict[str, MolecularProfile]
) -> tuple[ProfileComponent, ...]:
    profile = profiles.get(profile_id)
    if profile is not None and profile.name == name:
        return profile.components
    return parse_profile(name)


# --- readers -------------------------------------------------------------------------------------


def read_evidence(path_or_dir: Path | str) -> list[CivicEvidence]:
    """All evidence items of a ClinicalEvidenceSummaries TSV (the file or a folder holding it),
    in either format."""
    path = find_civic_file(path_or_dir, EVIDENCE)
    fmt = detect_format(_header(path), path)
    release = release_of(path)
    rows = _read_tsv(path, EVIDENCE_REQUIRED[fmt], unique="evidence_id")
    if fmt == LEGACY:
        items = [_legacy_evidence(row, release) for _, row in rows]
    else:
        profiles = _profiles_for(path, EVIDENCE)
        items = [_current_evidence(row, release, profiles) for _, row in rows]
    if not items:
        raise DataError("no evidence items after the header", path=str(path))
    return items


def _shared_evidence_fields(row: dict[str, str], release: str) -> dict[str, Any]:
    """The columns both formats share (under the same names)."""
    return {
        "evidence_id": row["evidence_id"],
        "disease": row["disease"],
        "doid": row.get("doid", ""),
        "evidence_type": row["evidence_type"],
        "evidence_direction": row.get("evidence_direction", ""),
        "evidence_level": row.get("evidence_level", ""),
        "evidence_statement": row["evidence_statement"],
        "citation_id": row["citation_id"],
        "source_type": row["source_type"],
        "citation": row.get("citation", ""),
        "asco_abstract_id": row.get("asco_abstract_id", ""),
        "rating": row.get("rating", ""),
        "variant_origin": row.get("variant_origin", ""),
        "phenotypes": row.get("phenotypes", ""),
        "nct_ids": row.get("nct_ids", ""),
        "evidence_status": row.get("evidence_status", ""),
        "last_review_date": row.get("last_review_date", ""),
        "evidence_url": civicdb_url(row.get("evidence_civic_url", "")),
        "release": release,
    }


def _legacy_evidence(row: dict[str, str], release: str) -> CivicEvidence:
    gene, variant = row["gene"], row["variant"]
    return CivicEvidence(
        molecular_profile=f"{gene} {variant}".strip(),
        molecular_profile_id="",
        components=(ProfileComponent(gene, variant, row.get("variant_id", "")),),
        therapies=split_drugs(row["drugs"]),
        therapy_interaction_type=row.get("drug_interaction_type", ""),
        significance=row["clinical_significance"],
        molecular_profile_url=civicdb_url(row.get("variant_civic_url", "")),
        **_shared_evidence_fields(row, release),
    )


def _current_evidence(
    row: dict[str, str], release: str, profiles: dict[str, MolecularProfile]
) -> CivicEvidence:
    name, profile_id = row["molecular_profile"].strip(), row["molecular_profile_id"]
    return CivicEvidence(
        molecular_profile=name,
        molecular_profile_id=profile_id,
        components=_components(name, profile_id, profiles),
        therapies=split_drugs(row["therapies"]),
        therapy_interaction_type=row.get("therapy_interaction_type", ""),
        significance=row["significance"],
        is_flagged=row.get("is_flagged", "") == "true",
        molecular_profile_url=molecular_profile_url(profile_id),
        **_shared_evidence_fields(row, release),
    )


def read_assertions(path_or_dir: Path | str) -> list[CivicAssertion]:
    """All assertions of an AssertionSummaries TSV (the file or a folder holding it), in either
    format; a release without assertions yields an empty list."""
    path = find_civic_file(path_or_dir, ASSERTIONS)
    fmt = detect_format(_header(path), path)
    release = release_of(path, ASSERTIONS)
    profiles = _profiles_for(path, ASSERTIONS) if fmt == CURRENT else {}
    assertions: list[CivicAssertion] = []
    for _, row in _read_tsv(path, ASSERTION_REQUIRED[fmt], unique="assertion_id"):
        if fmt == LEGACY:
            gene, variant = row["gene"], row["variant"]
            name, profile_id = f"{gene} {variant}".strip(), ""
            components: tuple[ProfileComponent, ...] = (
                ProfileComponent(gene, variant, row.get("variant_id", "")),
            )
            therapies, significance = row["drugs"], row.get("clinical_significance", "")
            profile_url = civicdb_url(row.get("variant_civic_url", ""))
        else:
            name, profile_id = row["molecular_profile"].strip(), row["molecular_profile_id"]
            components = _components(name, profile_id, profiles)
            therapies, significance = row["therapies"], row.get("significance", "")
            profile_url = molecular_profile_url(profile_id)
        assertions.append(
            CivicAssertion(
                assertion_id=row["assertion_id"],
                molecular_profile=name,
                molecular_profile_id=profile_id,
                components=components,
                disease=row["disease"],
                doid=row.get("doid", ""),
                therapies=split_drugs(therapies),
                assertion_type=row["assertion_type"],
                assertion_direction=row.get("assertion_direction", ""),
                significance=significance,
                acmg_codes=_split_list(row.get("acmg_codes", "")),
                amp_category=row.get("amp_category", ""),
                nccn_guideline=row.get("nccn_guideline", ""),
                nccn_guideline_version=row.get("nccn_guideline_version", ""),
                regulatory_approval=_flag(row.get("regulatory_approval", "")),
                fda_companion_test=_flag(row.get("fda_companion_test", "")),
                summary=row.get("assertion_summary", ""),
                description=row.get("assertion_description", ""),
                evidence_ids=_split_list(row.get("evidence_item_ids", "")),
                phenotypes=row.get("phenotypes", ""),
                last_review_date=row.get("last_review_date", ""),
                is_flagged=row.get("is_flagged", "") == "true",
                assertion_url=civicdb_url(row.get("assertion_civic_url", ""))
                or f"{CIVIC_HOST}/links/assertions/{row['assertion_id']}",
                molecular_profile_url=profile_url,
                release=release,
            )
        )
    return assertions


def read_variant_summaries(path_or_dir: Path | str) -> dict[str, dict[str, str]]:
    """variant_id -> the VariantSummaries row (``variant_aliases``, ``variant_types``, ...)."""
    path = find_civic_file(path_or_dir, VARIANTS)
    # CIViC writes the last column (assertion_civic_urls) tab-separated when a variant has
    # several assertions, so surplus cells belong to the last column.
    rows = _read_tsv(path, ("variant_id", "gene", "variant"), unique="variant_id", overflow=True)
    return {row["variant_id"]: row for _, row in rows}


def read_gene_summaries(path_or_dir: Path | str) -> dict[str, str]:
    """Gene symbol -> CIViC's description of the gene ("" when it has none)."""
    path = find_civic_file(path_or_dir, GENES)
    return {row["name"]: row["description"] for _, row in _read_tsv(path, ("name", "description"))}


def civicdb_url(url: str) -> str:
    """A CIViC link on today's host (the 2021 release links to the retired one)."""
    return url.replace(_OLD_CIVIC_HOST, CIVIC_HOST)


def _split_list(value: str) -> tuple[str, ...]:
    """CIViC's comma-separated cells ("12, 563", "PVS1,PM2"), blanks dropped."""
    return tuple(v.strip() for v in value.split(",") if v.strip())


def _flag(value: str) -> bool | None:
    return {"true": True, "false": False}.get(value.strip().lower())


#: Columns each release file must have (the evidence and assertion tables: per format).
TABLE_REQUIRED: dict[str, tuple[str, ...]] = {
    VARIANTS: ("variant_id", "gene", "variant"),
    GENES: ("name", "description"),
    MOLECULAR_PROFILES: ("name", "molecular_profile_id", "variant_ids"),
    VARIANT_GROUPS: ("variant_group_id", "variant_group"),
}


def validate_table(path: Path, name: str) -> CivicFormat | None:
    """Read every row of a release file, as a check that it is whole and of the kind its name
    says; the format of an evidence or assertion table (None for the others).

    Raises :class:`DataError` naming the file and line at fault.
    """
    if name in (EVIDENCE, ASSERTIONS):
        fmt = detect_format(_header(path), path)
        required = (EVIDENCE_REQUIRED if name == EVIDENCE else ASSERTION_REQUIRED)[fmt]
        unique = "evidence_id" if name == EVIDENCE else "assertion_id"
        rows = sum(1 for _ in _read_tsv(path, required, unique=unique))
        if name == EVIDENCE and not rows:
            raise DataError("no evidence items after the header", path=str(path))
        return fmt
    required = TABLE_REQUIRED.get(name, ())
    for _ in _read_tsv(path, required, overflow=name == VARIANTS):
        pass
    return None


# --- samples -------------------------------------------------------------------------------------


def count_profiles(evidence: Sequence[CivicEvidence]) -> Counter[str]:
    """How many items are on ``simple`` and ``complex`` profiles, and how many use each operator
    (``AND``, ``OR``, ``NOT``), so that complex items are counted, never lost silently."""
    counts: Counter[str] = Counter(simple=0, complex=0)
    for ev in evidence:
        counts["complex" if ev.is_complex else "simple"] += 1
        operators = {c.operator for c in ev.components if c.operator}
        operators |= {NOT} if any(c.negated for c in ev.components) else set()
        counts.update(operators)
    return counts


def civic_samples(
    evidence: Sequence[CivicEvidence],
    min_support: int = 30,
    rare: Literal["drop", "merge"] = "drop",
) -> list[Sample]:
    """One labelled Sample per evidence item, for the clinical-significance task.

    Items without a clinical significance have no class and are left out. Classes with fewer
    than ``min_support`` items are too small to learn or evaluate: they are dropped, or merged
    into one ``"Other"`` class with ``rare="merge"``. Items on complex profiles are kept like
    any other (``gene`` is the primary gene, ``variation`` the profile relative to it, see
    :func:`profile_variation`); ``extra`` holds the full profile and its components.
    """
    if rare not in ("drop", "merge"):
        raise InvalidInputError(f"rare must be 'drop' or 'merge', not {rare!r}", field="rare")
    labelled = [ev for ev in evidence if ev.significance]
    support = Counter(ev.label for ev in labelled)
    samples: list[Sample] = []
    for ev in labelled:
        label = ev.label
        if support[label] < min_support:
            if rare == "drop":
                continue
            label = OTHER
        samples.append(_sample(ev, label))
    if not samples:
        raise DataError(
            f"no CIViC class has at least {min_support} evidence items "
            f"(out of {len(labelled)} labelled items)"
        )
    complex_items = sum(ev.is_complex for ev in labelled)
    log.info(
        "CIViC: %d samples from %d labelled evidence items (%d on complex profiles, %d of "
        "them kept)",
        len(samples),
        len(labelled),
        complex_items,
        sum(s.extra["complex"] == "true" for s in samples),
    )
    return samples


def _sample(ev: CivicEvidence, label: str) -> Sample:
    components = [
        {
            "gene": c.gene,
            "variant": c.variant,
            "variant_id": c.variant_id,
            "operator": c.operator,
            "negated": c.negated,
        }
        for c in ev.components
    ]
    return Sample(
        id=ev.evidence_id,
        gene=ev.gene,
        variation=ev.variation,
        text=ev.evidence_statement,
        label=label,
        disease=ev.disease,
        drugs=ev.therapies,
        pubmed_id=ev.pubmed_id,
        evidence_id=ev.evidence_id,
        group=ev.group,
        source="civic",
        extra={
            "evidence_level": ev.evidence_level,
            "evidence_direction": ev.evidence_direction,
            "variant_origin": ev.variant_origin,
            "citation": ev.citation,
            "source_type": ev.source_type,
            "molecular_profile": ev.molecular_profile,
            "molecular_profile_id": ev.molecular_profile_id,
            "components": json.dumps(components),
            "complex": "true" if ev.is_complex else "false",
            "release": ev.release,
        },
    )


def load_civic(
    path_or_dir: Path | str, min_support: int = 30, rare: Literal["drop", "merge"] = "drop"
) -> list[Sample]:
    """:func:`read_evidence` then :func:`civic_samples`."""
    return civic_samples(read_evidence(path_or_dir), min_support=min_support, rare=rare)


# --- the TSV reader ------------------------------------------------------------------------------


def _header(path: Path) -> list[str]:
    with open_text(path) as handle:
        return next(csv.reader(handle, delimiter="\t", quoting=csv.QUOTE_NONE), [])


def _read_tsv(
    path: Path,
    required: Collection[str],
    *,
    unique: str | None = None,
    overflow: bool = False,
) -> Iterator[tuple[int, dict[str, str]]]:
    """(line number, row) of a CIViC TSV, every cell a string, checked against its header.

    ``unique`` names a column whose values must not repeat; ``overflow`` lets surplus cells
    join the last column (comma-separated) instead of being an error.
    """
    seen: set[str] = set()
    with open_text(path) as handle:
        reader = csv.reader(handle, delimiter="\t", quoting=csv.QUOTE_NONE)
        header = next(reader, [])
        missing = [c for c in required if c not in header]
        if missing:
            raise DataError(
                f"not a CIViC table: missing column(s) {', '.join(missing)}", path=str(path), line=1
            )
        width = len(header)
        for cells in reader:
            line = reader.line_num
            if not cells:
                continue  # a trailing blank line
            if overflow and len(cells) > width:
                cells = [*cells[: width - 1], ",".join(c for c in cells[width - 1 :] if c)]
            if len(cells) != width:
                raise DataError(
                    f"expected {width} tab-separated columns, found {len(cells)}",
                    path=str(path),
                    line=line,
                )
            row = dict(zip(header, cells, strict=True))
            if unique is not None:
                if row[unique] in seen:
                    raise DataError(
                        f"duplicate {unique} {row[unique]!r}", path=str(path), line=line
                    )
                seen.add(row[unique])
            yield line, row
