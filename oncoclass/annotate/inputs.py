"""What is annotated: the rows of a file or of a JSON batch, validated, and the distinct variants
they carry.

Every front end turns its input into the variant-file reader's stream of
:class:`~oncoclass.data.variant_files.VariantRecord` (or :class:`RowProblem` for a row that
cannot be one): files through :func:`~oncoclass.data.variant_files.read_variants`, the API's
JSON items through :func:`json_records`. The engine then validates each record exactly as a
single prediction is validated (:func:`check_record`) and groups the records into distinct
inputs (:func:`input_key`), each scored once however many samples carry it.

**Grouping rule.** Two rows are the same input when the gene, the protein change (any spelling:
``V600E``, ``p.Val600Glu``), the disease, the drugs and the evidence text are all the same;
non-coding rows, which have no protein change, when the genomic change is the same. The disease
and drugs change what CIViC ranks first and the tier (which holds for a disease), and the text
changes what the model reads, so rows that differ in any of them are different inputs, even for
the same variant. MAF and VCF rows carry no text and no drugs, so they group by variant and
disease: one MAF variant found in 12 samples is scored once and listed with its 12 samples.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from pydantic import ValidationError

from oncoclass.data.records import Sample
from oncoclass.data.variant_files import RowProblem, VariantRecord, variant_key
from oncoclass.data.variant_files.protein import short_protein_change
from oncoclass.errors import InvalidInputError
from oncoclass.predictor import Predictor
from oncoclass.schemas import BatchItem, clean_text

#: The ``format`` of an annotation made from a JSON batch.
JSON_FORMAT = "json"
#: Characters of a failed row's gene, variation and sample echoed back.
ECHO_CHARS = 200


@dataclass(frozen=True, slots=True)
class VariantSeed:
    """One distinct input: what the model scores and CIViC is asked about, and how the first
    row carrying it described it (consequence, transcript, genomic change)."""

    index: int
    key: str
    gene: str
    variation: str
    coding: bool
    text: str = ""
    disease: str = ""
    drugs: tuple[str, ...] = ()
    consequence: str = ""
    transcript: str = ""
    location: str = ""
    note: str = ""
    #: The first row carrying it (its line), for the history row.
    first_line: int = 0

    def sample(self, predictor: Predictor) -> Sample:
        return predictor.make_sample(
            self.gene, self.variation, self.text, self.disease, self.drugs, id=str(self.index)
        )

    def to_json(self) -> str:
        return json.dumps(asdict(self), ensure_ascii=False)

    @classmethod
    def from_json(cls, doc: str) -> VariantSeed:
        values = json.loads(doc)
        values["drugs"] = tuple(values.get("drugs", ()))
        return cls(**values)


def json_records(items: Any) -> Iterator[VariantRecord | RowProblem]:
    """The items of a JSON batch (``{"items": [{gene, variation, text?, disease?, drugs?,
    sample?}]}``) as the reader's records: item *i* is "line" *i* (1-based). An item that is
    not an object, or has a field of the wrong type or over its size limit, is a RowProblem."""
    if not isinstance(items, list):
        raise InvalidInputError("items must be a list of objects", field="items")
    for line, item in enumerate(items, start=1):
        try:
            row = BatchItem.model_validate(item)
        except ValidationError as exc:
            field_name, message = validation_message(exc)
            values = item if isinstance(item, dict) else {}
            yield RowProblem(
                line,
                field_name,
                message,
                gene=_echo(values.get("gene")),
                variation=_echo(values.get("variation")),
                sample=_echo(values.get("sample")),
            )
            continue
        yield VariantRecord(
            line=line,
            sample=row.sample,
            gene=row.gene,
            # As the file readers do: "p.Val600Glu" is scored and stored as "V600E".
            variation=short_protein_change(row.variation),
            text=row.text,
            disease=row.disease,
            drugs=tuple(row.drugs),
            source_format=JSON_FORMAT,
        )


def check_record(
    record: VariantRecord, predictor: Predictor, default_disease: str
) -> VariantRecord:
    """The record with the default disease filled in, validated as a JSON item and as a single
    prediction are (field sizes, empty gene or variation, text over the model's limit); raises
    InvalidInputError naming the field. A non-coding record needs no variation."""
    try:
        row = BatchItem.model_validate(
            {
                "gene": record.gene,
                "variation": record.variation,
                "disease": record.disease or default_disease,
                "drugs": list(record.drugs),
                "text": record.text,
                "sample": record.sample,
            }
        )
    except ValidationError as exc:
        field_name, message = validation_message(exc)
        raise InvalidInputError(message, field=field_name) from exc
    if record.coding:
        predictor.make_sample(row.gene, row.variation, row.text, row.disease, row.drugs)
    return VariantRecord(
        line=record.line,
        sample=row.sample,
        gene=row.gene,
        variation=row.variation,
        text=row.text,
        disease=row.disease,
        drugs=tuple(row.drugs),
        consequence=record.consequence,
        transcript=record.transcript,
        chrom=record.chrom,
        pos=record.pos,
        ref=record.ref,
        alt=record.alt,
        genome_build=record.genome_build,
        coding=record.coding,
        note=record.note,
        source_format=record.source_format,
    )


def input_key(record: VariantRecord) -> tuple[str, str, str, str, str]:
    """The grouping key of a checked record (see the module docstring)."""
    gene, variation = variant_key(record)
    disease = " ".join(record.disease.split()).casefold()
    drugs = "; ".join(sorted({d.casefold() for d in record.drugs}))
    text = hashlib.sha256(record.text.encode("utf-8")).hexdigest()[:16] if record.text else ""
    return gene, variation, disease, drugs, text


def key_label(key: Sequence[str]) -> str:
    """The key as people read it: ``BRAF V600E``, then ``| disease``, ``| drugs: ...`` and
    ``| text <hash>`` when given."""
    gene, variation, disease, drugs, text = key
    parts = [f"{gene} {variation}".strip()]
    if disease:
        parts.append(disease)
    if drugs:
        parts.append(f"drugs: {drugs}")
    if text:
        parts.append(f"text {text}")
    return " | ".join(parts)


def seed_of(record: VariantRecord, index: int, key: Sequence[str]) -> VariantSeed:
    location = ""
    if record.chrom and record.pos is not None:
        location = f"{record.chrom}:{record.pos}"
        # A MAF whose cells are shifted can give ref == alt: then the alleles are not shown.
        if record.ref and record.alt and record.ref != record.alt:
            location += f" {record.ref}>{record.alt}"
        if record.genome_build:
            location += f" ({record.genome_build})"
    return VariantSeed(
        index=index,
        key=key_label(key),
        gene=record.gene,
        variation=record.variation,
        coding=record.coding,
        text=record.text,
        disease=record.disease,
        drugs=record.drugs,
        consequence=record.consequence,
        transcript=record.transcript,
        location=location,
        note=record.note,
        first_line=record.line,
    )


def validation_message(exc: ValidationError) -> tuple[str | None, str]:
    """(field, message) of the first error of a row's validation."""
    error = exc.errors()[0]
    loc = [str(p) for p in error.get("loc", ())]
    field_name = loc[0] if loc else None
    if error.get("type") == "model_type":
        return None, "the row must be an object with gene and variation"
    return field_name, f"{'.'.join(loc) or 'row'}: {error.get('msg', 'invalid')}"


def _echo(value: Any) -> str:
    """A bad row's input, shown back so that the caller can find it (short strings only)."""
    return clean_text(value)[:ECHO_CHARS] if isinstance(value, str) else ""
