"""The one annotation engine behind ``oncoclass annotate``, ``POST /v1/predict/batch`` and the
page's batch upload: rows in, an :class:`Annotation` out.

1. **Read** the rows (a stream: a file's records, or a JSON batch's items), validate each as a
   single prediction is validated (a bad row gets its own error and reading goes on), and group
   them into distinct inputs (see :mod:`oncoclass.annotate.inputs` for the grouping rule).
   Every row goes to the spool (:mod:`oncoclass.annotate.spool`), in order, with its status:
   ``scored``, ``non_coding`` (kept, never dropped, not scored) or ``error``.
2. **Score** each distinct coding input once, with the scorer given (this process by default,
   or Ray), and **store** one history row per distinct scored variant under one ``batch_id``
   (all in one transaction, so a batch is in the history whole or not at all; its ``row`` is the
   first line carrying the variant, its ``sample`` the one sample carrying it, or empty when
   several do: the annotation lists them).
3. **Look up** each distinct variant in CIViC once, for its disease: AMP/ASCO/CAP tier (from a
   CIViC assertion when one exists, else derived from the evidence levels:
   :func:`oncoclass.knowledge.derive_tier`), therapies by disease with level and response,
   assertions, oncogenic / functional evidence, links.

Memory holds only the distinct inputs' keys and counters; rows and finished variants are on
disk, so a 100,000-row cohort costs what a 1,000-row one does plus the spool on disk.

Whole-input problems raise: a file that cannot be read (DataError naming file and line), more
rows or text than the caller allows (PayloadTooLargeError), no model (ModelUnavailableError).
Nothing is stored in the history before the whole input has been read.
"""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import Any

from oncoclass.annotate.inputs import (
    ECHO_CHARS,
    VariantSeed,
    check_record,
    input_key,
    seed_of,
)
from oncoclass.annotate.scoring import DEFAULT_CHUNK, LocalScorer, Scorer, chunked
from oncoclass.annotate.spool import Spool
from oncoclass.data.civic import CIVIC_HOST
from oncoclass.data.variant_files import RowProblem, VariantRecord
from oncoclass.errors import InvalidInputError, PayloadTooLargeError
from oncoclass.history import PredictionRecord
from oncoclass.history.models import utcnow
from oncoclass.knowledge import KnowledgeMatch
from oncoclass.predictor import Prediction, Predictor
from oncoclass.privacy import ScrubResult
from oncoclass.schemas import (
    AnnotationPublic,
    AnnotationSummary,
    KnowledgeItemPublic,
    KnowledgeMatchPublic,
    ModelRef,
    PredictionPublic,
    RowError,
    TierPublic,
    VariantAnnotationPublic,
    VariantSamplePublic,
)
from oncoclass.service import OncoClassService

#: ``progress(stage, done, total)``: stage "read" (rows; total unknown), "score" (distinct
#: variants scored), "annotate" (distinct variants looked up in CIViC).
ProgressFn = Callable[[str, int, int | None], None]

#: CIViC evidence items kept per variant in ``knowledge.items`` (the best ranked), and
#: oncogenic / functional / predisposing items in ``functional``.
KNOWLEDGE_ITEMS = 5
FUNCTIONAL_ITEMS = 10
FUNCTIONAL_TYPES = frozenset({"Oncogenic", "Functional", "Predisposing"})
#: A look-up returns every matched item (the functional ones are picked from all of them).
LOOKUP_LIMIT = 100_000
#: Variants finished before they are written to the spool.
WRITE_CHUNK = 256
#: Inputs whose texts go to the de-identification helper in one hand-off (the scorer's chunk).
SCRUB_AHEAD = DEFAULT_CHUNK
#: How often (rows) reading reports progress.
READ_PROGRESS_EVERY = 1_000

#: Report order: Tier I-A first, then I-B, ..., II-D, III, IV, "none", non-coding, unknown.
_TIERS = ("Tier I", "Tier II", "Tier III", "Tier IV")
_LEVELS = "ABCD"
RANK_TIER_III = 8
RANK_NONE = 10
RANK_NON_CODING = 11
RANK_UNKNOWN = 12
#: Variants ranked below this are actionable (Tier I or II).
ACTIONABLE_BELOW = RANK_TIER_III
NON_CODING = "non-coding"
UNKNOWN = "unknown"
#: The end of an :class:`AnnotationPublic` without variants, rows or errors: where
#: :meth:`Annotation.json_chunks` puts them.
_EMPTY_LISTS = '"variants":[],"rows":[],"errors":[]}'


def tier_rank(tier: TierPublic | None, coding: bool) -> int:
    """Where a variant goes in the report: by tier, then level (a tier without level last)."""
    if not coding:
        return RANK_NON_CODING
    if tier is None:
        return RANK_UNKNOWN
    if tier.tier in ("Tier I", "Tier II"):
        level = _LEVELS.index(tier.level) if tier.level and tier.level in _LEVELS else 3
        return _TIERS.index(tier.tier) * 4 + level
    if tier.tier in _TIERS:
        return RANK_TIER_III + _TIERS.index(tier.tier) - 2
    return RANK_NONE


def tier_group(tier: TierPublic | None, coding: bool) -> str:
    """The summary's ``by_tier`` key of a variant."""
    if not coding:
        return NON_CODING
    return tier.tier if tier is not None else UNKNOWN


@dataclass
class _Tally:
    """The summary, counted as variants are finished (rows are counted by the spool)."""

    variants: int = 0
    scored: int = 0
    non_coding: int = 0
    with_warnings: int = 0
    actionable: int = 0
    by_tier: Counter[str] = field(default_factory=Counter)
    by_class: Counter[str] = field(default_factory=Counter)
    labels: Counter[str] = field(default_factory=Counter)

    def add(self, variant: VariantAnnotationPublic) -> None:
        self.by_tier[tier_group(variant.tier, variant.coding)] += 1
        self.actionable += variant.actionable
        if (p := variant.prediction) is not None:
            self.scored += 1
            self.by_class[p.name] += 1
            self.labels[p.label] += 1
            self.with_warnings += any(w.severity == "warning" for w in p.warnings)
        if not variant.coding:
            self.non_coding += 1


class Annotation:
    """An annotated input: the header and summary in memory, rows and variants in the spool.

    Read it with :meth:`variants`, :meth:`rows`, :meth:`errors` (streams) or :meth:`to_public`
    (everything at once: for answers of bounded size, as the API's); close it (or use it as a
    context manager) to delete the spool.
    """

    def __init__(
        self,
        spool: Spool,
        *,
        batch_id: str | None,
        created_at: datetime,
        source: str,
        file_format: str,
        disease: str,
        task: str,
        task_description: str,
        model: ModelRef,
        knowledge_release: str | None,
        summary: AnnotationSummary,
        engine: str,
        labels: Counter[str],
        error_fields: Counter[str],
    ) -> None:
        self._spool = spool
        self.batch_id = batch_id
        self.created_at = created_at
        self.source = source
        self.format = file_format
        self.disease = disease
        self.task = task
        self.task_description = task_description
        self.model = model
        self.knowledge_release = knowledge_release
        self.summary = summary
        self.engine = engine
        #: Scored variants by class label, rows in error by field (for metrics).
        self.labels = labels
        self.error_fields = error_fields

    def __enter__(self) -> Annotation:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._spool.close()

    def header(self) -> dict[str, Any]:
        """The fields of :class:`AnnotationPublic` other than the lists, in its order."""
        return {
            "batch_id": self.batch_id,
            "created_at": self.created_at,
            "source": self.source,
            "format": self.format,
            "disease": self.disease,
            "task": self.task,
            "model": self.model,
            "knowledge_release": self.knowledge_release,
            "summary": self.summary,
        }

    def variants(self) -> Iterator[VariantAnnotationPublic]:
        """Every distinct variant, in input order (``rows[i].variant`` indexes this list)."""
        for doc in self._spool.variant_docs():
            yield VariantAnnotationPublic.model_validate_json(doc)

    def actionable(self) -> Iterator[VariantAnnotationPublic]:
        """Tier I and II variants, best tier and level first."""
        for doc in self._spool.ranked_docs(0, ACTIONABLE_BELOW):
            yield VariantAnnotationPublic.model_validate_json(doc)

    def others(self) -> Iterator[VariantAnnotationPublic]:
        """The variants that are not actionable, by tier (non-coding ones after)."""
        for doc in self._spool.ranked_docs(ACTIONABLE_BELOW, RANK_UNKNOWN + 1):
            yield VariantAnnotationPublic.model_validate_json(doc)

    def rows(self, *, errors_only: bool = False) -> Iterator[VariantSamplePublic]:
        """Every input row, in input order, errors included (or only the rows in error)."""
        for line, sample, gene, variation, status, variant, field_name, message in self._spool.rows(
            "error" if errors_only else None
        ):
            error = None
            if status == "error":
                error = RowError(row=line, field=field_name, message=message or "")
            yield VariantSamplePublic(
                line=line,
                sample=sample or None,
                gene=gene or None,
                variation=variation or None,
                status=status,  # type: ignore[arg-type]
                variant=variant,
                error=error,
            )

    def errors(self) -> Iterator[RowError]:
        for line, field_name, message in self._spool.errors():
            yield RowError(row=line, field=field_name, message=message)

    def to_public(self) -> AnnotationPublic:
        return AnnotationPublic(
            **self.header(),
            variants=list(self.variants()),
            rows=list(self.rows()),
            errors=list(self.errors()),
        )

    def json_chunks(self) -> Iterator[str]:
        """:meth:`to_public` as JSON text, in pieces, streamed from the spool (a cohort's JSON
        costs no more memory than a patient's). The variants are the spooled documents
        themselves, each a validated :class:`VariantAnnotationPublic` when it was written:
        never parsed back and serialised again. The same document as
        ``to_public().model_dump_json()`` (tested)."""
        empty = AnnotationPublic.model_construct(**self.header(), variants=[], rows=[], errors=[])
        head = empty.model_dump_json()
        if not head.endswith(_EMPTY_LISTS):  # the schema's last fields moved: say so, loudly
            raise RuntimeError("AnnotationPublic must end with its variants, rows and errors")
        yield head[: -len(_EMPTY_LISTS)]
        yield '"variants":['
        for i, doc in enumerate(self._spool.variant_docs()):
            yield ("," if i else "") + doc
        yield '],"rows":['
        for i, row in enumerate(self.rows()):
            yield ("," if i else "") + row.model_dump_json()
        yield '],"errors":['
        for i, error in enumerate(self.errors()):
            yield ("," if i else "") + error.model_dump_json()
        yield "]}"

    def to_json(self) -> bytes:
        """:meth:`json_chunks` whole (an answer of bounded size, as the API's)."""
        return "".join(self.json_chunks()).encode()


def annotate(
    service: OncoClassService,
    records: Iterable[VariantRecord | RowProblem],
    *,
    source: str,
    file_format: str,
    disease: str = "",
    store: bool = True,
    explain: bool = False,
    scorer: Scorer | None = None,
    max_rows: int | None = None,
    max_text_chars: int | None = None,
    max_explained: int | None = None,
    limit_field: str = "file",
    progress: ProgressFn | None = None,
    spool_dir: Path | None = None,
) -> Annotation:
    """Annotate ``records`` (see the module docstring).

    ``disease``: of the rows that name none. ``store``: keep the scored variants in the
    service's history (when it keeps one). ``explain``: evidence weights for rows with text.
    ``max_rows`` / ``max_text_chars``: refuse (PayloadTooLargeError naming ``limit_field``) an
    input with more rows, or more evidence text in all, than that. ``max_explained``: refuse
    (InvalidInputError naming ``explain``) to explain more distinct inputs with text than that
    (an explanation costs a model pass per sentence).
    """
    predictor = service.predictor  # no model: ModelUnavailableError before any work
    scorer = scorer or LocalScorer()
    spool = Spool(spool_dir)
    try:
        return _Run(service, predictor, spool, scorer, progress).run(
            records,
            source=source,
            file_format=file_format,
            disease=" ".join(disease.split()),
            store=store,
            explain=explain,
            max_rows=max_rows,
            max_text_chars=max_text_chars,
            max_explained=max_explained,
            limit_field=limit_field,
        )
    except BaseException:
        spool.close()
        raise


class _Run:
    """One annotation being made (the steps of the module docstring)."""

    def __init__(
        self,
        service: OncoClassService,
        predictor: Predictor,
        spool: Spool,
        scorer: Scorer,
        progress: ProgressFn | None,
    ) -> None:
        self.service = service
        self.predictor = predictor
        self.spool = spool
        self.scorer = scorer
        self.progress = progress or (lambda stage, done, total: None)
        self.tally = _Tally()
        self.error_fields: Counter[str] = Counter()
        #: De-identification started for the inputs being scored (see _scrubbed_ahead).
        self._scrubbed: dict[int, Callable[[], ScrubResult]] = {}

    def run(
        self,
        records: Iterable[VariantRecord | RowProblem],
        *,
        source: str,
        file_format: str,
        disease: str,
        store: bool,
        explain: bool,
        max_rows: int | None,
        max_text_chars: int | None,
        max_explained: int | None,
        limit_field: str,
    ) -> Annotation:
        n_variants, n_texts = self._read(records, disease, max_rows, max_text_chars, limit_field)
        if explain and max_explained is not None and n_texts > max_explained:
            raise InvalidInputError(
                f"explanations are computed for at most {max_explained} distinct variants with "
                f"evidence text at once, this batch has {n_texts:,}; send it without explain",
                field="explain",
            )
        n_coding = self.spool.count_inputs(coding=True)
        created_at = utcnow()
        batch_id = uuid.uuid4().hex if n_coding else None
        keep = store and self.service.database is not None
        self._score(n_coding, batch_id, created_at, keep=keep, explain=explain)
        self._non_coding(n_variants - n_coding, n_coding)
        tally = self.tally
        summary = AnnotationSummary(
            rows=self.spool.count_rows(),
            variants=n_variants,
            samples=self.spool.count_samples(),
            scored=tally.scored,
            non_coding=tally.non_coding,
            failed=self.spool.count_rows("error"),
            by_tier=dict(sorted(tally.by_tier.items(), key=lambda kv: _tier_order(kv[0]))),
            by_class=dict(tally.by_class.most_common()),
            with_warnings=tally.with_warnings,
            actionable=tally.actionable,
        )
        predictor = self.predictor
        return Annotation(
            self.spool,
            batch_id=batch_id,
            created_at=created_at,
            source=source,
            file_format=file_format,
            disease=disease,
            task=predictor.task.name,
            task_description=predictor.task.description,
            model=self.service.model_ref(predictor),
            knowledge_release=self.service.knowledge_release,
            summary=summary,
            engine=self.scorer.name,
            labels=tally.labels,
            error_fields=self.error_fields,
        )

    # ---- 1. read --------------------------------------------------------------------------------
    def _read(
        self,
        records: Iterable[VariantRecord | RowProblem],
        disease: str,
        max_rows: int | None,
        max_text_chars: int | None,
        limit_field: str,
    ) -> tuple[int, int]:
        """Spool every row; return the number of distinct inputs, and of those with text."""
        keys: dict[tuple[str, ...], int] = {}
        n_rows = text_chars = n_texts = 0
        for item in records:
            n_rows += 1
            if max_rows is not None and n_rows > max_rows:
                raise PayloadTooLargeError(
                    f"the input has more than {max_rows:,} rows, the most one batch accepts; "
                    "split it into smaller files (or use `oncoclass annotate`)",
                    field=limit_field,
                )
            if n_rows % READ_PROGRESS_EVERY == 0:
                self.progress("read", n_rows, None)
            if isinstance(item, RowProblem):
                self._error(
                    item.line, item.sample, item.gene, item.variation, item.field, item.message
                )
                continue
            try:
                record = check_record(item, self.predictor, disease)
            except InvalidInputError as exc:
                self._error(item.line, item.sample, item.gene, item.variation, exc.field, str(exc))
                continue
            text_chars += len(record.text)
            if max_text_chars is not None and text_chars > max_text_chars:
                raise PayloadTooLargeError(
                    f"the evidence texts of the batch total over {max_text_chars:,} characters, "
                    "the most one batch accepts; split it into smaller batches",
                    field=limit_field,
                )
            key = input_key(record)
            index = keys.get(key)
            if index is None:
                index = keys[key] = len(keys)
                self.spool.add_input(index, record.coding, seed_of(record, index, key).to_json())
                n_texts += bool(record.text) and record.coding
            status = "scored" if record.coding else "non_coding"
            self.spool.add_row(
                (
                    record.line,
                    record.sample,
                    record.gene,
                    record.variation,
                    status,
                    index,
                    None,
                    None,
                )
            )
        self.progress("read", n_rows, n_rows)
        self.spool.finish_rows()
        return len(keys), n_texts

    def _error(
        self,
        line: int,
        sample: str,
        gene: str,
        variation: str,
        field_name: str | None,
        message: str,
    ) -> None:
        self.error_fields[field_name or "row"] += 1
        self.spool.add_row(
            (
                line,
                sample[:ECHO_CHARS],
                gene[:ECHO_CHARS],
                variation[:ECHO_CHARS],
                "error",
                None,
                field_name,
                message,
            )
        )

    # ---- 2. score and store; 3. look up ---------------------------------------------------------
    def _score(
        self, total: int, batch_id: str | None, created_at: datetime, *, keep: bool, explain: bool
    ) -> None:
        seeds = (VariantSeed.from_json(doc) for doc in self.spool.input_docs(coding=True))
        results = self.scorer.score(
            self.predictor, self._scrubbed_ahead(seeds), total=total, explain=explain
        )
        held: list[tuple[VariantSeed, PredictionRecord]] = []
        finished: list[tuple[int, int, str]] = []
        self.progress("score", 0, total)
        for done, (seed, prediction) in enumerate(results, start=1):
            record = self._history_record(seed, prediction, batch_id, created_at)
            if keep:  # stored all at once below: the ids are known only then
                held.append((seed, record))
            else:
                finished.append(self._finish(seed, record))
                if len(finished) >= WRITE_CHUNK:
                    self.spool.put_variants(finished)
                    finished.clear()
            self.progress("score", done, total)
        if held:
            stored = self.service._store([record for _, record in held])
            for done, ((seed, _), record) in enumerate(zip(held, stored, strict=True), start=1):
                finished.append(self._finish(seed, record))
                if len(finished) >= WRITE_CHUNK:
                    self.spool.put_variants(finished)
                    finished.clear()
                self.progress("annotate", done, total)
        self.spool.put_variants(finished)

    def _scrubbed_ahead(self, seeds: Iterable[VariantSeed]) -> Iterator[VariantSeed]:
        """The seeds as the scorer reads them, each chunk's texts handed to the service's
        de-identification first: scrubbed on the other core while the model scores them (the
        history rows need them after)."""
        for chunk in chunked(seeds, SCRUB_AHEAD):
            # seed.text is the text its sample and history row hold (make_sample keeps it as is).
            with_text = [(seed.index, seed.text) for seed in chunk if seed.text]
            later = self.service.scrub_later([text for _, text in with_text])
            if later is not None:
                self._scrubbed.update(zip((index for index, _ in with_text), later, strict=True))
            yield from chunk

    def _non_coding(self, total: int, offset: int) -> None:
        finished: list[tuple[int, int, str]] = []
        for done, doc in enumerate(self.spool.input_docs(coding=False), start=1):
            finished.append(self._finish(VariantSeed.from_json(doc), None))
            if len(finished) >= WRITE_CHUNK:
                self.spool.put_variants(finished)
                finished.clear()
            self.progress("annotate", offset + done, offset + total)
        self.spool.put_variants(finished)

    def _history_record(
        self, seed: VariantSeed, prediction: Prediction, batch_id: str | None, created_at: datetime
    ) -> PredictionRecord:
        samples, _ = self.spool.carriers(seed.index)
        record = self.service._record(
            self.predictor,
            prediction,
            seed.sample(self.predictor),
            source="batch",
            batch_id=batch_id,
            row=seed.first_line,
            sample_name=samples[0] if len(samples) == 1 else None,
            scrubbed=self._scrubbed.pop(seed.index, None),
        )
        record.created_at = created_at  # one time for the whole batch
        return record

    def _finish(self, seed: VariantSeed, record: PredictionRecord | None) -> tuple[int, int, str]:
        """The variant as the annotation shows it, with its CIViC knowledge: (index, rank,
        JSON document) for the spool."""
        match = self.service.knowledge.lookup(
            seed.gene,
            seed.variation,
            limit=LOOKUP_LIMIT,
            disease=seed.disease,
            therapies=seed.drugs,
        )
        knowledge = _shown(match, seed.coding)
        functional = [
            KnowledgeItemPublic.model_validate(item, from_attributes=True)
            for item in match.items
            if item.evidence_type in FUNCTIONAL_TYPES
        ][:FUNCTIONAL_ITEMS]
        samples, lines = self.spool.carriers(seed.index)
        tier = knowledge.tier
        rank = tier_rank(tier, seed.coding)
        variant = VariantAnnotationPublic(
            key=seed.key,
            gene=seed.gene,
            variation=seed.variation,
            disease=seed.disease,
            consequence=seed.consequence or None,
            transcript=seed.transcript or None,
            location=seed.location or None,
            coding=seed.coding,
            note=seed.note or None,
            samples=samples,
            n_samples=len(samples),
            lines=lines,
            tier=tier,
            actionable=rank < ACTIONABLE_BELOW,
            therapies=knowledge.therapies,
            functional=functional,
            civic_url=civic_url(match),
            # The therapies are the variant's own field: not repeated in the knowledge.
            knowledge=knowledge.model_copy(update={"therapies": []}),
            prediction=PredictionPublic.from_record(record) if record is not None else None,
        )
        self.tally.add(variant)
        return seed.index, rank, variant.model_dump_json()


def _shown(match: KnowledgeMatch, coding: bool) -> KnowledgeMatchPublic:
    """The look-up as the annotation shows it: the best items only, and no tier for a variant
    that changes no protein (CIViC's tiers are about protein changes; its knowledge of the
    gene is still shown)."""
    shown = replace(match, items=match.items[:KNOWLEDGE_ITEMS], limit=KNOWLEDGE_ITEMS)
    if not coding:
        shown = replace(shown, tier=None)
    return KnowledgeMatchPublic.from_match(shown)


def civic_url(match: KnowledgeMatch) -> str | None:
    """The CIViC page of the variant itself: its molecular profile, when CIViC has the variant
    (an exact match); None for evidence on other variants of the gene."""
    for item in match.items:
        if item.match == "exact":
            if item.molecular_profile_url:
                return item.molecular_profile_url
            return item.civic_url
    for assertion in match.assertions:
        if assertion.match == "exact" and assertion.molecular_profile_url:
            return assertion.molecular_profile_url
    return None


def evidence_url(evidence_id: str) -> str:
    """The CIViC page of an evidence item (EID)."""
    return f"{CIVIC_HOST}/links/evidence_items/{evidence_id}"


def _tier_order(group: str) -> tuple[int, str]:
    order = [*_TIERS, "none", NON_CODING, UNKNOWN]
    return (order.index(group) if group in order else len(order), group)
