"""The HTML report of an annotation, read the way PCGR's reports are read: a summary on top,
then a section per actionable variant (Tier I and II), then a compact table of every other
variant, then the rows in error, then how it was made.

One self-contained file: the CSS is inline, nothing is fetched (no font, no script, no image),
so it opens offline, prints, and can be attached to a tumour-board email. Every string from
the input (sample names, genes, texts) and from CIViC goes through Jinja2's autoescaping, so
no input can become markup; links are only ever made from CIViC's and PubMed's http(s)
addresses.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from itertools import islice
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import jinja2

from oncoclass import __version__
from oncoclass.annotate.engine import Annotation, evidence_url
from oncoclass.annotate.writers import WARNING_WORDS, civic_words, therapy_words
from oncoclass.knowledge import EVIDENCE_LEVELS
from oncoclass.schemas import TherapyPublic

TEMPLATE_DIR = Path(__file__).resolve().parent / "templates"
TEMPLATE = "report.html.j2"
#: A cohort's report stays readable (and opens quickly): past these, the CSV and JSON have all.
MAX_SECTIONS = 300
MAX_OTHER_ROWS = 5_000
MAX_ERROR_ROWS = 1_000
MAX_SAMPLES_SHOWN = 50
MAX_STATEMENT_CHARS = 400
TIER_GROUPS = ("Tier I", "Tier II", "Tier III", "Tier IV", "none", "non-coding", "unknown")
TIER_GROUP_WORDS = {
    "Tier I": "strong clinical significance",
    "Tier II": "potential clinical significance",
    "Tier III": "unknown significance",
    "Tier IV": "benign or likely benign",
    "none": "no CIViC evidence on the gene",
    "non-coding": "no protein change: not tiered",
    "unknown": "knowledge base unavailable",
}


@dataclass(frozen=True)
class DiseaseTherapies:
    disease: str
    relevance: str | None
    therapies: list[TherapyPublic]


@dataclass(frozen=True)
class Capped:
    """The first items of a stream, and how many more there were."""

    items: list[Any]
    more: int


def cap(items: Iterable[Any], limit: int, total: int) -> Capped:
    """The first ``limit`` of ``total`` items (the rest is never read)."""
    return Capped(list(islice(items, limit)), max(0, total - limit))


def therapies_by_disease(therapies: Sequence[TherapyPublic]) -> list[DiseaseTherapies]:
    """The therapies grouped by disease, in the knowledge base's order (the patient's disease
    first, then the diseases with the strongest evidence)."""
    groups: dict[str, list[TherapyPublic]] = {}
    for t in therapies:
        groups.setdefault(t.disease, []).append(t)
    return [DiseaseTherapies(d, ts[0].disease_relevance, ts) for d, ts in groups.items()]


def link(url: str | None) -> str | None:
    """An http(s) address, or None: a link is never made from anything else."""
    if not url:
        return None
    return url if urlsplit(url).scheme in ("http", "https") else None


def _probability(value: float | None) -> str:
    return "" if value is None else f"{value:.2f}"


def _percent(value: float | None) -> str:
    return "" if value is None else f"{value:.0%}"


def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATE_DIR),
        autoescape=True,  # every {{ value }} is escaped: input never becomes markup
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters |= {
        "probability": _probability,
        "percent": _percent,
        "link": link,
        "therapy_words": therapy_words,
        "civic_words": civic_words,
        "evidence_url": evidence_url,
        "by_disease": therapies_by_disease,
        "warning_words": lambda code: WARNING_WORDS.get(code, code),
        "short": lambda text, n=MAX_STATEMENT_CHARS: text if len(text) <= n else text[:n] + "…",
    }
    return env


def render_html(annotation: Annotation) -> str:
    return "".join(_render(annotation))


def write_html(annotation: Annotation, path: Path) -> Path:
    with path.open("w", encoding="utf-8") as handle:
        for chunk in _render(annotation):
            handle.write(chunk)
    return path


def _render(annotation: Annotation) -> Iterator[str]:
    summary = annotation.summary
    sections = cap(annotation.actionable(), MAX_SECTIONS, summary.actionable)
    others = cap(annotation.others(), MAX_OTHER_ROWS, summary.variants - summary.actionable)
    errors = cap(annotation.rows(errors_only=True), MAX_ERROR_ROWS, summary.failed)
    template = _environment().get_template(TEMPLATE)
    coverage = next(
        (
            v.prediction.prediction_set.coverage
            for v in sections.items + others.items
            if v.prediction is not None
        ),
        None,
    )
    return template.generate(
        a=annotation,
        summary=summary,
        sections=sections,
        others=others,
        errors=errors,
        coverage=coverage,
        tier_groups=[(g, summary.by_tier.get(g, 0), TIER_GROUP_WORDS[g]) for g in TIER_GROUPS],
        levels=EVIDENCE_LEVELS,
        max_samples=MAX_SAMPLES_SHOWN,
        version=__version__,
    )
