"""What changed between two CIViC releases: new, changed and withdrawn evidence, new classes,
and the shift in class frequencies; the new items as Samples, to score a model on them.

Releases may be of different formats (2021 and current): items are compared by evidence id, on
what a reader of the item would call its content. A profile counts as changed only when its
gene or *parsed* variation changes, so that CIViC's renotation of fusions (``EML4-ALK`` ->
``ALK EML4::ALK``) or of case (``AMPLIFICATION`` -> ``Amplification``) is not a change.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from oncoclass.data.civic import CivicEvidence, civic_release, civic_samples, read_evidence
from oncoclass.data.records import Sample
from oncoclass.errors import DataError
from oncoclass.features.variation import parse_variation


def _profile(ev: CivicEvidence) -> str:
    return f"{ev.gene.upper()} {parse_variation(ev.variation, ev.gene).normalized.upper()}"


def _statement(ev: CivicEvidence) -> str:
    return " ".join(ev.evidence_statement.split())


def _therapies(ev: CivicEvidence) -> str:
    return ", ".join(sorted(t.casefold() for t in ev.therapies))


#: field -> (the comparison key, the value shown). Compared in this order.
COMPARED: dict[str, tuple[Callable[[CivicEvidence], str], Callable[[CivicEvidence], str]]] = {
    "label": (lambda ev: ev.label, lambda ev: ev.label),
    "molecular_profile": (_profile, lambda ev: ev.molecular_profile),
    "disease": (lambda ev: ev.disease.casefold(), lambda ev: ev.disease),
    "therapies": (_therapies, lambda ev: ", ".join(ev.therapies)),
    "evidence_level": (lambda ev: ev.evidence_level, lambda ev: ev.evidence_level),
    "evidence_direction": (lambda ev: ev.evidence_direction, lambda ev: ev.evidence_direction),
    "evidence_statement": (_statement, lambda ev: ev.evidence_statement),
    "rating": (lambda ev: ev.rating, lambda ev: ev.rating),
    "variant_origin": (lambda ev: ev.variant_origin, lambda ev: ev.variant_origin),
}


@dataclass(frozen=True, slots=True)
class EvidenceChange:
    """One evidence item present in both releases whose content changed."""

    evidence_id: str
    #: The fields that changed, in the order of :data:`COMPARED`.
    fields: tuple[str, ...]
    #: field -> value, for the changed fields only.
    old: dict[str, str]
    new: dict[str, str]


@dataclass(frozen=True, slots=True)
class ClassShift:
    """How often one class occurs among the labelled items of each release."""

    label: str
    old_count: int
    new_count: int
    old_share: float
    new_share: float

    @property
    def share_change(self) -> float:
        return self.new_share - self.old_share


@dataclass(frozen=True, slots=True)
class ReleaseDiff:
    """The difference between an old and a new CIViC release (see :func:`compare_releases`)."""

    old_release: str
    new_release: str
    old_format: str
    new_format: str
    old_total: int
    new_total: int
    #: Evidence ids in the new release only, withdrawn ones in the old release only.
    new: tuple[str, ...]
    changed: tuple[EvidenceChange, ...]
    withdrawn: tuple[str, ...]
    unchanged: int
    min_support: int
    #: Classes with >= min_support items in the new release but not in the old one.
    new_classes: tuple[str, ...]
    #: Classes in the new release that the old one has no item of at all.
    new_classes_overall: tuple[str, ...]
    #: Classes with >= min_support items in the old release but not in the new one.
    lost_classes: tuple[str, ...]
    #: Every class of either release, most frequent in the new release first.
    class_shift: tuple[ClassShift, ...]
    #: The new items as Samples of the new release's task (its classes with >= min_support
    #: items), to score a model trained on the old release.
    new_samples: tuple[Sample, ...]

    @property
    def change_counts(self) -> Counter[str]:
        """How many changed items changed each field."""
        return Counter(f for change in self.changed for f in change.fields)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["new_samples"] = [s.id for s in self.new_samples]  # the Samples stay in Python
        data["change_counts"] = dict(self.change_counts)
        return data

    def summary(self) -> list[str]:
        """A few lines for a terminal."""
        lines = [
            f"CIViC {self.old_release} ({self.old_format}, {self.old_total:,} items) -> "
            f"{self.new_release} ({self.new_format}, {self.new_total:,} items)",
            f"new: {len(self.new):,}  changed: {len(self.changed):,}  "
            f"withdrawn: {len(self.withdrawn):,}  unchanged: {self.unchanged:,}",
        ]
        if self.changed:
            counts = ", ".join(f"{f} {n:,}" for f, n in self.change_counts.most_common())
            lines.append(f"changed fields: {counts}")
        if self.new_classes:
            lines.append(
                f"new classes (>= {self.min_support} items): {', '.join(self.new_classes)}"
            )
        if self.lost_classes:
            lines.append(
                f"classes below {self.min_support} items now: {', '.join(self.lost_classes)}"
            )
        for shift in self.class_shift:
            lines.append(
                f"  {shift.label}: {shift.old_count:,} ({shift.old_share:.1%}) -> "
                f"{shift.new_count:,} ({shift.new_share:.1%})"
            )
        return lines


def compare_releases(
    old_dir: Path | str, new_dir: Path | str, *, min_support: int = 30
) -> ReleaseDiff:
    """Compare two CIViC releases (folders or evidence files, either format)."""
    old_items, new_items = read_evidence(old_dir), read_evidence(new_dir)
    return compare_evidence(
        old_items,
        new_items,
        old_release=civic_release(old_dir),
        new_release=civic_release(new_dir),
        min_support=min_support,
    )


def compare_evidence(
    old_items: Sequence[CivicEvidence],
    new_items: Sequence[CivicEvidence],
    *,
    old_release: Any = None,
    new_release: Any = None,
    min_support: int = 30,
) -> ReleaseDiff:
    """:func:`compare_releases` on evidence already read (``*_release``: CivicRelease or None)."""
    old = {ev.evidence_id: ev for ev in old_items}
    new = {ev.evidence_id: ev for ev in new_items}
    changes: list[EvidenceChange] = []
    for evidence_id in sorted(old.keys() & new.keys(), key=_id_key):
        before, after = old[evidence_id], new[evidence_id]
        fields = tuple(f for f, (key, _) in COMPARED.items() if key(before) != key(after))
        if fields:
            changes.append(
                EvidenceChange(
                    evidence_id,
                    fields,
                    {f: COMPARED[f][1](before) for f in fields},
                    {f: COMPARED[f][1](after) for f in fields},
                )
            )
    added = tuple(sorted(new.keys() - old.keys(), key=_id_key))
    old_counts = Counter(ev.label for ev in old_items if ev.significance)
    new_counts = Counter(ev.label for ev in new_items if ev.significance)
    old_kept = {c for c, n in old_counts.items() if n >= min_support}
    new_kept = {c for c, n in new_counts.items() if n >= min_support}
    try:
        task = civic_samples(new_items, min_support=min_support)
    except DataError:  # no class of the new release reaches min_support
        task = []
    added_ids = set(added)
    return ReleaseDiff(
        old_release=_name(old_release),
        new_release=_name(new_release),
        old_format=getattr(old_release, "format", ""),
        new_format=getattr(new_release, "format", ""),
        old_total=len(old),
        new_total=len(new),
        new=added,
        changed=tuple(changes),
        withdrawn=tuple(sorted(old.keys() - new.keys(), key=_id_key)),
        unchanged=len(old.keys() & new.keys()) - len(changes),
        min_support=min_support,
        new_classes=tuple(sorted(new_kept - old_kept)),
        new_classes_overall=tuple(sorted(new_counts.keys() - old_counts.keys())),
        lost_classes=tuple(sorted(old_kept - new_kept)),
        class_shift=_shift(old_counts, new_counts),
        new_samples=tuple(s for s in task if s.evidence_id in added_ids),
    )


def _shift(old: Counter[str], new: Counter[str]) -> tuple[ClassShift, ...]:
    old_total, new_total = max(sum(old.values()), 1), max(sum(new.values()), 1)
    labels = sorted(old.keys() | new.keys(), key=lambda c: (-new[c], -old[c], c))
    return tuple(
        ClassShift(c, old[c], new[c], old[c] / old_total, new[c] / new_total) for c in labels
    )


def _id_key(evidence_id: str) -> tuple[int, str]:
    return (int(evidence_id) if evidence_id.isdigit() else 0, evidence_id)


def _name(release: Any) -> str:
    return getattr(release, "name", "") if release is not None else ""
