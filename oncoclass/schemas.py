"""The public data shapes of OncoClass (pydantic): what a client sends and what every front end
answers. The HTTP API, ``oncoclass predict --json``, ``oncoclass annotate`` and the page all
speak this one schema, built by :mod:`oncoclass.service`.

Naming follows the usual FastAPI layout: ``*Create`` is what a client sends, ``*Public`` what the
service answers. Every string a client sends is cleaned first: NUL characters (PostgreSQL cannot
store them) are dropped and lone UTF-16 surrogates (valid JSON escapes, invalid text) replaced,
so no input can fail later in the database or in the response encoder.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, StrictStr, StringConstraints

from oncoclass.data.generic import split_drugs
from oncoclass.history import PredictionRecord
from oncoclass.knowledge import KnowledgeMatch, MatchLevel
from oncoclass.predictor import Prediction

#: Size limits of the short fields (the evidence text's limit is ``Settings.max_text_chars``).
MAX_GENE_CHARS = 100
MAX_VARIATION_CHARS = 500
MAX_DISEASE_CHARS = 500
MAX_DRUG_CHARS = 200
MAX_DRUGS = 50


def clean_text(value: Any) -> Any:
    """Drop NUL characters and replace lone surrogates; ``None`` becomes ``""``; other types
    pass through so that the type check reports them."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value.replace("\x00", "").encode("utf-8", "replace").decode("utf-8")
    return value


def clean_short(value: Any) -> Any:
    """:func:`clean_text`, then surrounding whitespace removed (before the length checks)."""
    value = clean_text(value)
    return value.strip() if isinstance(value, str) else value


def clean_drugs(value: Any) -> Any:
    """``None`` is no drug; a string is split on ``;`` or ``,`` (as in CSV files)."""
    if value is None:
        return []
    if isinstance(value, str):
        return list(split_drugs(clean_short(value)))
    return value


def _limits(max_chars: int, min_chars: int = 0) -> StringConstraints:
    return StringConstraints(min_length=min_chars, max_length=max_chars)


Clean = BeforeValidator(clean_short)
Gene = Annotated[str, Clean, _limits(MAX_GENE_CHARS, 1)]
Variation = Annotated[str, Clean, _limits(MAX_VARIATION_CHARS, 1)]
#: In a batch an empty gene or variation fails its row only, so the schema lets them through.
RowGene = Annotated[str, Clean, _limits(MAX_GENE_CHARS)]
RowVariation = Annotated[str, Clean, _limits(MAX_VARIATION_CHARS)]
Disease = Annotated[str, Clean, _limits(MAX_DISEASE_CHARS)]
SampleName = Annotated[str, Clean, _limits(MAX_GENE_CHARS * 2)]
Drug = Annotated[str, Clean, _limits(MAX_DRUG_CHARS)]
Drugs = Annotated[list[Drug], BeforeValidator(clean_drugs), Field(max_length=MAX_DRUGS)]
Text = Annotated[str, BeforeValidator(clean_text)]


def clean_task(value: Any) -> Any:
    """``None`` or an empty string is no task; any other non-string stays as it is, so that
    the strict type check refuses it (``{}``, ``0`` or ``false`` are not task names)."""
    if value is None:
        return None
    if isinstance(value, str):
        return clean_text(value).strip() or None
    return value


TaskName = Annotated[StrictStr | None, BeforeValidator(clean_task)]


# ---- requests ------------------------------------------------------------------------------------
class PredictionCreate(BaseModel):
    """One variant to classify."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "gene": "BRAF",
                    "variation": "V600E",
                    "disease": "Melanoma",
                    "drugs": ["Vemurafenib"],
                    "text": "Patients with BRAF V600E mutant melanoma responded to vemurafenib.",
                }
            ]
        },
    )

    gene: Gene = Field(description="Gene symbol, e.g. BRAF.")
    variation: Variation = Field(
        description="Protein change (V600E, Val600Glu, p.V600E), fusion, amplification, ..."
    )
    disease: Disease = ""
    drugs: Drugs = Field(default_factory=list, description="Therapies in the evidence.")
    text: Text = Field(
        "",
        description="Clinical evidence text; at most Settings.max_text_chars characters "
        "(see GET /v1/model, limits.max_text_chars).",
    )
    task: TaskName = Field(None, description="Checked against the loaded model's task if given.")


class BatchItem(BaseModel):
    """One row of a batch. Unlike :class:`PredictionCreate`, an empty gene or variation, or a
    text over the limit, fails only its own row."""

    model_config = ConfigDict(extra="ignore")

    gene: RowGene = ""
    variation: RowVariation = ""
    disease: Disease = ""
    drugs: Drugs = Field(default_factory=list)
    text: Text = ""
    #: The caller's name for the row (a MAF's Tumor_Sample_Barcode), echoed in the result.
    sample: SampleName = ""


class BatchOptions(BaseModel):
    """How to score a batch: the JSON fields beside ``items``, or the form fields beside
    ``file`` in an upload."""

    model_config = ConfigDict(extra="forbid")

    explain: bool = Field(False, description="Compute evidence weights per row (slower).")
    task: TaskName = Field(None, description="Checked against the loaded model's task if given.")
    disease: Disease = Field("", description="Disease of the rows that name none.")


class BatchCreate(BatchOptions):
    """Many variants at once (JSON). A CSV or MAF file can be sent as multipart instead."""

    items: list[BatchItem]


# ---- responses -----------------------------------------------------------------------------------
class ClassProbabilityPublic(BaseModel):
    label: str
    name: str
    probability: float


class ClassPublic(BaseModel):
    label: str
    name: str


class EvidenceSpanPublic(BaseModel):
    """A sentence of the text; ``weight`` is how much the predicted class's probability drops
    without it (positive: supports the prediction)."""

    text: str
    start: int
    end: int
    weight: float


class FlagsPublic(BaseModel):
    """Every warning as a boolean, for filtering and spreadsheets (``warnings`` explains them)."""

    text_off_topic: bool = Field(description="The text names neither the gene nor the variation.")
    out_of_distribution: bool = Field(
        description="The novelty score is over its threshold: unlike the known classes."
    )
    close_call: bool = Field(description="The two most likely classes are close (margin).")
    unknown_gene: bool = Field(description="The gene was never seen in training.")
    unknown_variation: bool = Field(description="The variation was never seen in training.")
    no_text: bool = Field(description="No evidence text was given.")


class WarningPublic(BaseModel):
    code: str = Field(description="One of the keys of flags.")
    severity: Literal["warning", "info"]
    message: str = Field(description="What it means, in plain words.")


class PredictionSetPublic(BaseModel):
    """The classes that cannot be ruled out: the true class is in this set for ``coverage`` of
    inputs like the calibration data (split-conformal prediction)."""

    labels: list[str]
    names: list[str]
    coverage: float | None = Field(
        description="Stated coverage, e.g. 0.9 (None: the model has no calibrated sets)."
    )


class GroupPublic(BaseModel):
    """The coarse level of the answer (CIViC: the evidence type; MSKCC: the effect)."""

    title: str = Field(description='What the level is, e.g. "evidence type".')
    label: str
    probability: float
    probabilities: list[ClassProbabilityPublic]


class NoveltyPublic(BaseModel):
    """How unlike the classes the model knows this input looks (outlier-exposure detector)."""

    score: float | None = Field(description="In [0, 1]; None when the model has no detector.")
    threshold: float | None
    flagged: bool


class MentionsPublic(BaseModel):
    gene: bool = Field(description="The text names the gene.")
    variation: bool = Field(description="The text names the variation (any known spelling).")


class ParsedVariationPublic(BaseModel):
    type: str
    normalized: str
    ref: str | None = None
    alt: str | None = None
    position: int | None = None
    end_position: int | None = None
    exon: int | None = None
    partners: list[str] = []
    aliases: list[str] = []


class ModelRef(BaseModel):
    """Which model answered, and which knowledge release stood beside it."""

    name: str
    version: str
    knowledge_release: str | None = Field(
        None, description="CIViC release of the knowledge base, e.g. 01-Aug-2024."
    )
    trained_on: str | None = Field(None, description="CIViC release the model learned from.")


class ProfileComponentPublic(BaseModel):
    gene: str
    variant: str
    variant_id: str = ""
    operator: str = Field("", description='"" for the first component, else "AND" / "OR".')
    negated: bool = Field(False, description="Under a NOT: the variant must be absent.")


class KnowledgeItemPublic(BaseModel):
    """A CIViC evidence item."""

    model_config = ConfigDict(from_attributes=True)

    evidence_id: str
    gene: str
    variant: str
    molecular_profile: str = ""
    molecular_profile_url: str | None = None
    components: list[ProfileComponentPublic] = []
    match: MatchLevel = Field(description="How the item's profile matches the variant asked.")
    disease: str
    disease_relevance: str | None = Field(
        None, description='"same", "related" or "other" disease than the one asked about.'
    )
    therapies: list[str]
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
    last_review_date: str = ""
    is_flagged: bool = False


class AssertionPublic(BaseModel):
    """A CIViC assertion: an expert-curated summary with its AMP/ASCO/CAP tier."""

    model_config = ConfigDict(from_attributes=True)

    assertion_id: str
    molecular_profile: str
    molecular_profile_url: str | None
    match: MatchLevel
    disease: str
    disease_relevance: str | None = None
    therapies: list[str]
    assertion_type: str
    assertion_direction: str
    significance: str
    amp_category: str = Field(description='e.g. "Tier I - Level A".')
    amp_tier: str | None
    amp_level: str | None
    acmg_codes: list[str]
    nccn_guideline: str
    nccn_guideline_version: str
    regulatory_approval: bool | None
    fda_companion_test: bool | None
    summary: str
    civic_url: str
    evidence_ids: list[str]


class TherapyPublic(BaseModel):
    """What CIViC's evidence says about one therapy in one disease."""

    model_config = ConfigDict(from_attributes=True)

    disease: str
    therapy: str
    response: str = Field(description='"sensitivity", "resistance", "reduced sensitivity", ...')
    best_level: str = Field(description="Best CIViC evidence level, A (validated) to E.")
    n_items: int
    evidence_ids: list[str]
    variant_alone: bool = Field(
        True, description="False: the evidence needs another variant too (a complex profile)."
    )
    disease_relevance: str | None = None
    direction: str = Field(
        "Supports",
        description='"Supports", or "Does Not Support": the evidence argues against that response.',
    )


class TierPublic(BaseModel):
    """The AMP/ASCO/CAP tier of the variant: from a CIViC assertion when one exists, else
    derived from the evidence levels (``basis`` says which; ``explanation`` how)."""

    model_config = ConfigDict(from_attributes=True)

    tier: str
    level: str | None
    label: str
    basis: str
    disease: str | None
    explanation: str


class KnowledgeMatchPublic(BaseModel):
    """What CIViC says about the variant. ``match`` is the closest level found: "exact" (this
    variant), "component" (a profile combining it with others), "position" (same gene and
    protein position), "type" (same gene and kind of variation) or "none". Items are ranked by
    relevance to the disease (and therapies) asked about, then evidence level (A first), then
    rating; ``total``, ``limit`` and ``offset`` page through all of them.

    ``available`` is False when the knowledge base is missing or unreadable: then nothing is
    known, which is not the same as "CIViC has no evidence" (``reason`` says why)."""

    model_config = ConfigDict(from_attributes=True)

    available: bool
    status: str
    reason: str | None = None
    release: str | None = Field(None, description="CIViC release, e.g. 01-Aug-2024.")
    release_date: str | None = None
    match: MatchLevel
    normalized: str
    total: int
    limit: int
    offset: int
    best_level: str | None
    tier: TierPublic | None = None
    assertions: list[AssertionPublic] = []
    therapies: list[TherapyPublic] = []
    items: list[KnowledgeItemPublic]

    @classmethod
    def from_match(cls, match: KnowledgeMatch) -> KnowledgeMatchPublic:
        return cls.model_validate(match, from_attributes=True)


class PredictionPublic(BaseModel):
    """A stored prediction: the inputs, the predicted class, every class's calibrated
    probability, the evidence sentences with their weights, and the CIViC evidence."""

    id: int | None = Field(description="History id: GET /v1/predictions/{id} (None: not stored).")
    created_at: datetime
    source: str = Field(description='"predict" or "batch".')
    batch_id: str | None = None
    row: int | None = None
    sample: str | None = None
    gene: str
    variation: str
    disease: str
    drugs: list[str]
    text: str
    task: str
    label: str = Field(description="Predicted class key.")
    name: str = Field(description="Predicted class name.")
    probability: float = Field(description="Calibrated probability of the predicted class.")
    probabilities: list[ClassProbabilityPublic]
    prediction_set: PredictionSetPublic
    margin: float = Field(description="Probability of the top class minus the second's.")
    group: GroupPublic
    novelty: NoveltyPublic
    text_mentions: MentionsPublic | None = Field(description="None when no text was given.")
    warnings: list[WarningPublic]
    flags: FlagsPublic
    evidence: list[EvidenceSpanPublic]
    parsed_variation: ParsedVariationPublic
    model: ModelRef
    knowledge: KnowledgeMatchPublic | None = None

    @classmethod
    def from_record(
        cls, record: PredictionRecord, knowledge: KnowledgeMatch | None = None
    ) -> PredictionPublic:
        out = record.outputs or {}
        return cls(
            id=record.id,
            created_at=record.created_at,
            source=record.source,
            batch_id=record.batch_id,
            row=record.row,
            sample=record.sample,
            gene=record.gene,
            variation=record.variation,
            disease=record.disease,
            drugs=list(record.drugs or []),
            text=record.text,
            task=record.task,
            label=record.label,
            name=record.name,
            probability=record.probability,
            probabilities=out.get("probabilities", []),
            prediction_set=out.get("prediction_set", {"labels": [], "names": [], "coverage": None}),
            margin=out.get("margin", 0.0),
            group=out.get(
                "group", {"title": "", "label": "", "probability": 0.0, "probabilities": []}
            ),
            novelty=out.get("novelty", {"score": None, "threshold": None, "flagged": False}),
            text_mentions=out.get("text_mentions"),
            warnings=out.get("warnings", []),
            flags=_flags(out.get("flags", {})),
            evidence=out.get("evidence", []),
            parsed_variation=out.get("variation", {"type": "other", "normalized": ""}),
            model=ModelRef(
                name=record.model_name,
                version=record.model_version,
                knowledge_release=record.knowledge_release,
                trained_on=out.get("trained_on"),
            ),
            knowledge=KnowledgeMatchPublic.from_match(knowledge) if knowledge else None,
        )


def _flags(stored: dict[str, Any]) -> dict[str, bool]:
    """Every flag (a history row written before a flag existed reads it as False)."""
    return {name: bool(stored.get(name, False)) for name in FlagsPublic.model_fields}


def _probability(c: Any) -> dict[str, Any]:
    return {"label": c.label, "name": c.name, "probability": c.probability}


def prediction_outputs(
    prediction: Prediction, group_title: str, trained_on: str | None = None
) -> dict[str, Any]:
    """The JSON document stored with a prediction (what ``from_record`` reads back)."""
    v = prediction.variation
    names = {c.label: c.name for c in prediction.probabilities}
    novelty, threshold = prediction.novelty, prediction.novelty_threshold
    codes = set(prediction.warning_codes)
    return {
        "trained_on": trained_on,
        "probabilities": [_probability(c) for c in prediction.probabilities],
        "prediction_set": {
            "labels": list(prediction.prediction_set),
            "names": [names[label] for label in prediction.prediction_set],
            "coverage": prediction.set_coverage,
        },
        "margin": prediction.margin,
        "group": {
            "title": group_title,
            "label": prediction.group.label,
            "probability": prediction.group.probability,
            "probabilities": [_probability(c) for c in prediction.group_probabilities],
        },
        "novelty": {
            "score": novelty,
            "threshold": threshold,
            "flagged": "out_of_distribution" in codes,
        },
        "text_mentions": (
            None
            if prediction.mentions is None
            else {"gene": prediction.mentions.gene, "variation": prediction.mentions.variation}
        ),
        "warnings": [
            {"code": w.code, "severity": w.severity, "message": w.message}
            for w in prediction.warnings
        ],
        "flags": {name: name in codes for name in FlagsPublic.model_fields},
        "evidence": [
            {"text": e.text, "start": e.start, "end": e.end, "weight": e.weight}
            for e in prediction.evidence
        ],
        "variation": {
            "type": str(v.type),
            "normalized": v.normalized,
            "ref": v.ref,
            "alt": v.alt,
            "position": v.position,
            "end_position": v.end_position,
            "exon": v.exon,
            "partners": list(v.partners),
            "aliases": v.aliases(),
        },
    }


class PredictionList(BaseModel):
    """A page of the history, newest first."""

    items: list[PredictionPublic]
    total: int = Field(description="Matching predictions in all pages.")
    limit: int
    offset: int


class RowError(BaseModel):
    row: int = Field(
        description="Where the row is: its 1-based position in a JSON batch, its line in an "
        "uploaded or annotated file (VCF: the record's line)."
    )
    field: str | None
    message: str


class TrainingPublic(BaseModel):
    model_config = ConfigDict(extra="allow")

    n_samples: int
    fingerprint: str
    label_counts: dict[str, int]
    trained_at: str | None = None


class LimitsPublic(BaseModel):
    max_text_chars: int
    max_batch_rows: int
    min_margin: float = Field(
        description="Gap between the two most likely classes below which an answer is flagged "
        "close_call."
    )
    set_coverage: float | None = Field(
        description="Stated coverage of the prediction sets (None: not calibrated)."
    )


class ModelPublic(BaseModel):
    """The model card of the loaded model."""

    name: str
    version: str
    package_version: str
    task: str
    task_description: str
    classes: list[ClassPublic]
    training: TrainingPublic
    metrics: dict[str, Any]
    config: dict[str, Any]
    limits: LimitsPublic


class DatabaseHealth(BaseModel):
    reachable: bool
    backend: str


class KnowledgeHealth(BaseModel):
    loaded: bool
    status: str = Field(description='"ok", "missing" (no CIViC release) or "error".')
    reason: str | None = None
    release: str | None = Field(None, description="CIViC release, e.g. 01-Aug-2024.")
    size: int = Field(description="Evidence items.")
    assertions: int
    source: str | None


class HealthPublic(BaseModel):
    status: Literal["ok", "degraded"]
    version: str
    model_loaded: bool
    model: ModelRef | None
    model_error: str | None = None
    problems: list[str] = Field(default_factory=list, description="Why the service is not ready.")
    database: DatabaseHealth
    knowledge_base: KnowledgeHealth


# ---- annotation of a variant file (a lab's MAF / VCF / table) ------------------------------------
class VariantSamplePublic(BaseModel):
    """One input row: a variant in one sample, pointing at its (scored-once) variant."""

    line: int = Field(
        description="Line of the input file (data rows and VCF records; a VCF record carried by "
        "several samples gives one row per sample); a JSON batch's 1-based item number."
    )
    sample: str | None
    gene: str | None
    variation: str | None
    status: Literal["scored", "non_coding", "error"]
    #: Index into ``AnnotationPublic.variants`` (None for a row in error).
    variant: int | None = None
    error: RowError | None = None


class VariantAnnotationPublic(BaseModel):
    """One distinct variant of the input, scored once however many samples carry it, with what
    CIViC says about it and what the model thinks of its evidence.

    Rows are the same variant when gene, protein change (any spelling: V600E, p.Val600Glu),
    disease, drugs and evidence text are all the same (non-coding rows: the same genomic
    change); MAF and VCF rows carry no text, so they group by variant and disease."""

    key: str = Field(
        description="gene + normalized variation (or genomic change if non-coding), then the "
        "disease, drugs and a hash of the text when given."
    )
    gene: str
    variation: str = Field(description="Protein change as scored (empty for non-coding).")
    disease: str = Field("", description="Disease it was scored and tiered for ('': none given).")
    consequence: str | None = None
    transcript: str | None = None
    location: str | None = Field(
        None, description="Genomic change, e.g. 7:140453136 A>T (GRCh37), when the file gives it."
    )
    coding: bool
    note: str | None = Field(None, description="E.g. why a variant has no protein change.")
    samples: list[str] = Field(description="The samples carrying it, in input order.")
    n_samples: int = Field(0, description="How many distinct samples carry it.")
    lines: list[int]
    tier: TierPublic | None = Field(
        None, description="AMP/ASCO/CAP tier (None: non-coding, or no knowledge base)."
    )
    actionable: bool = Field(False, description="Tier I or II.")
    therapies: list[TherapyPublic] = []
    #: Oncogenic / functional / predisposing CIViC evidence: what the variant does.
    functional: list[KnowledgeItemPublic] = []
    civic_url: str | None = Field(
        None, description="The variant's CIViC page, when CIViC has the variant itself."
    )
    knowledge: KnowledgeMatchPublic | None = None
    prediction: PredictionPublic | None = None


class AnnotationSummary(BaseModel):
    """Counts: ``rows``, ``failed`` and ``samples`` count input rows and samples; the others
    count distinct variants."""

    rows: int = Field(description="Input rows, errors included.")
    variants: int = Field(description="Distinct variants.")
    samples: int = Field(description="Distinct named samples.")
    scored: int = Field(description="Variants the model scored.")
    non_coding: int = Field(description="Variants that change no protein (kept, not scored).")
    failed: int = Field(description="Rows in error.")
    by_tier: dict[str, int] = Field(
        description='Variants by tier: "Tier I".."Tier IV", "none" (CIViC knows nothing of the '
        'gene), "non-coding", "unknown" (no knowledge base).'
    )
    by_class: dict[str, int] = Field(description="Scored variants by predicted class name.")
    with_warnings: int = Field(description="Scored variants with a warning of severity warning.")
    actionable: int = Field(description="Variants of Tier I or II.")


class AnnotationPublic(BaseModel):
    """The answer to a file of variants: a summary, each distinct variant once (scored,
    tiered, with therapies), and every input row kept (per sample), errors included."""

    batch_id: str | None
    created_at: datetime
    source: str = Field(description="File name, or 'json' for a JSON batch.")
    format: str = Field(description='"vcf", "maf", "table" or "json".')
    disease: str = Field("", description="Disease given for the rows that name none.")
    task: str
    model: ModelRef
    knowledge_release: str | None
    summary: AnnotationSummary
    variants: list[VariantAnnotationPublic]
    rows: list[VariantSamplePublic]
    errors: list[RowError]
