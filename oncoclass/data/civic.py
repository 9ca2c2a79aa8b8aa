"""CIViC release TSVs (``<release>-ClinicalEvidenceSummaries.tsv`` and friends) as typed records.

CIViC (https://civicdb.org, CC0) publishes monthly releases as tab-separated files. Two facts
shape this reader: quotes are ordinary characters (statements quote drug names), so the files
are read with ``csv.QUOTE_NONE``; and ``N/A`` is a real value (e.g. the clinical significance
of some prognostic items), so nothing is ever turned into NaN: every cell stays a string.
"""

from __future__ import annotations

import csv
from collections import Counter
from collections.abc import Collection, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Literal

from oncoclass.data.generic import open_text, split_drugs
from oncoclass.data.records import Sample
from oncoclass.errors import DataError, DataNotFoundError, InvalidInputError

EVIDENCE = "ClinicalEvidenceSummaries"
VARIANTS = "VariantSummaries"
GENES = "GeneSummaries"
ASSERTIONS = "AssertionSummaries"
#: The label of the merged rare classes when ``civic_samples(rare="merge")``.
OTHER = "Other"
PUBMED = "PubMed"

#: Evidence columns a release must have; the others are read when present, "" otherwise.
EVIDENCE_REQUIRED: tuple[str, ...] = (
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
)


@dataclass(frozen=True, slots=True)
class CivicEvidence:
    """One accepted CIViC evidence item (a row of ClinicalEvidenceSummaries)."""

    evidence_id: str
    gene: str
    variant: str
    disease: str
    doid: str
    drugs: tuple[str, ...]
    drug_interaction_type: str
    evidence_type: str
    evidence_direction: str
    evidence_level: str
    clinical_significance: str
    evidence_statement: str
    #: The PubMed id for PubMed sources (CIViC also fills it for ASCO abstracts).
    citation_id: str
    source_type: str
    citation: str
    rating: str
    variant_id: str
    gene_id: str
    variant_summary: str
    variant_origin: str
    evidence_url: str
    variant_url: str
    asco_abstract_id: str = ""

    @property
    def label(self) -> str:
        """The clinical-significance class, e.g. ``"Predictive: Resistance"``."""
        return f"{self.evidence_type}: {self.clinical_significance}"

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


def release_key(release: str) -> tuple[datetime, str]:
    """Sort key of a release name: dated releases by date, "nightly" newest, others oldest."""
    if release == "nightly":
        return datetime.max, release
    try:
        return datetime.strptime(release, "%d-%b-%Y"), release
    except ValueError:
        return datetime.min, release


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


def read_evidence(path_or_dir: Path | str) -> list[CivicEvidence]:
    """All evidence items of a ClinicalEvidenceSummaries TSV (the file or a folder holding it)."""
    path = find_civic_file(path_or_dir, EVIDENCE)
    items = [
        CivicEvidence(
            evidence_id=row["evidence_id"],
            gene=row["gene"],
            variant=row["variant"],
            disease=row["disease"],
            doid=row.get("doid", ""),
            drugs=split_drugs(row["drugs"]),
            drug_interaction_type=row.get("drug_interaction_type", ""),
            evidence_type=row["evidence_type"],
            evidence_direction=row.get("evidence_direction", ""),
            evidence_level=row.get("evidence_level", ""),
            clinical_significance=row["clinical_significance"],
            evidence_statement=row["evidence_statement"],
            citation_id=row["citation_id"],
            source_type=row["source_type"],
            citation=row.get("citation", ""),
            rating=row.get("rating", ""),
            variant_id=row.get("variant_id", ""),
            gene_id=row.get("gene_id", ""),
            variant_summary=row.get("variant_summary", ""),
            variant_origin=row.get("variant_origin", ""),
            evidence_url=row.get("evidence_civic_url", ""),
            variant_url=row.get("variant_civic_url", ""),
            asco_abstract_id=row.get("asco_abstract_id", ""),
        )
        for _, row in _read_tsv(path, EVIDENCE_REQUIRED, unique="evidence_id")
    ]
    if not items:
        raise DataError("no evidence items after the header", path=str(path))
    return items


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


def civic_samples(
    evidence: Sequence[CivicEvidence],
    min_support: int = 30,
    rare: Literal["drop", "merge"] = "drop",
) -> list[Sample]:
    """One labelled Sample per evidence item, for the clinical-significance task.

    Items without a clinical significance have no class and are left out. Classes with fewer
    than ``min_support`` items are too small to learn or evaluate: they are dropped, or merged
    into one ``"Other"`` class with ``rare="merge"``.
    """
    if rare not in ("drop", "merge"):
        raise InvalidInputError(f"rare must be 'drop' or 'merge', not {rare!r}", field="rare")
    labelled = [ev for ev in evidence if ev.clinical_significance]
    support = Counter(ev.label for ev in labelled)
    samples: list[Sample] = []
    for ev in labelled:
        label = ev.label
        if support[label] < min_support:
            if rare == "drop":
                continue
            label = OTHER
        samples.append(
            Sample(
                id=ev.evidence_id,
                gene=ev.gene,
                variation=ev.variant,
                text=ev.evidence_statement,
                label=label,
                disease=ev.disease,
                drugs=ev.drugs,
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
                },
            )
        )
    if not samples:
        raise DataError(
            f"no CIViC class has at least {min_support} evidence items "
            f"(out of {len(labelled)} labelled items)"
        )
    return samples


def load_civic(
    path_or_dir: Path | str, min_support: int = 30, rare: Literal["drop", "merge"] = "drop"
) -> list[Sample]:
    """:func:`read_evidence` then :func:`civic_samples`."""
    return civic_samples(read_evidence(path_or_dir), min_support=min_support, rare=rare)


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
