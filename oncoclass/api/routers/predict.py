"""``POST /v1/predict`` (one variant, explained) and ``POST /v1/predict/batch`` (many, in one
model pass). Every prediction is stored in the history; the answer carries its id."""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request, Response
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from oncoclass.api import batch as batch_io
from oncoclass.api.deps import (
    KnowledgeDep,
    MetricsDep,
    PredictorDep,
    RepositoryDep,
    SettingsDep,
)
from oncoclass.api.errors import PayloadTooLargeError, UnsupportedMediaTypeError
from oncoclass.api.metrics import Metrics
from oncoclass.api.schemas import (
    BatchItem,
    BatchOptions,
    BatchPublic,
    BatchRowPublic,
    ModelRef,
    PredictionCreate,
    PredictionPublic,
    RowError,
    clean_text,
    prediction_outputs,
)
from oncoclass.data.records import Sample
from oncoclass.data.tasks import get_task
from oncoclass.errors import InvalidInputError
from oncoclass.history import PredictionRecord, PredictionRepository
from oncoclass.knowledge import KnowledgeBase
from oncoclass.predictor import Prediction, Predictor

router = APIRouter(prefix="/v1", tags=["predict"])

#: CIViC items shown per batch row (a single prediction shows up to 50).
BATCH_KNOWLEDGE_ITEMS = 3
SINGLE_KNOWLEDGE_ITEMS = 50
#: Explaining costs a model pass per sentence; beyond this many rows, ask for no explanation.
MAX_EXPLAINED_ROWS = 100
CSV_MEDIA_TYPE = "text/csv"


def check_task(task: str | None, predictor: Predictor) -> None:
    """A requested task must exist (else UnknownTaskError) and be the loaded model's."""
    if task is None or task == predictor.task.name:
        return
    get_task(task)
    raise InvalidInputError(
        f"the loaded model predicts {predictor.task.name!r}, not {task!r}", field="task"
    )


def _record(
    prediction: Prediction,
    sample: Sample,
    *,
    source: str,
    batch_id: str | None = None,
    row: int | None = None,
    sample_name: str | None = None,
) -> PredictionRecord:
    return PredictionRecord(
        source=source,
        batch_id=batch_id,
        row=row,
        sample=sample_name or None,
        gene=sample.gene,
        variation=sample.variation,
        disease=sample.disease,
        drugs=list(sample.drugs),
        text=sample.text,
        task=prediction.task,
        label=prediction.label,
        name=prediction.name,
        probability=prediction.probability,
        outputs=prediction_outputs(prediction),
        model_name=prediction.model_name,
        model_version=prediction.model_version,
    )


@router.post(
    "/predict",
    summary="Classify one variant",
    responses={
        422: {
            "description": "A field is missing, empty, too long or of the wrong type "
            "(the error's loc names it)."
        },
        503: {"description": "No model is loaded."},
    },
)
def predict(
    body: PredictionCreate,
    predictor: PredictorDep,
    repository: RepositoryDep,
    knowledge: KnowledgeDep,
    metrics: MetricsDep,
) -> PredictionPublic:
    """The predicted class, every class's calibrated probability, the evidence sentences with
    their weights, flags, the parsed variation, the CIViC evidence, and the history id."""
    check_task(body.task, predictor)
    sample = predictor.make_sample(body.gene, body.variation, body.text, body.disease, body.drugs)
    prediction = predictor.predict_samples([sample], explain=True)[0]
    record = repository.add(_record(prediction, sample, source="predict"))
    metrics.predictions.labels(prediction.label, "predict").inc()
    match = knowledge.lookup(sample.gene, sample.variation, limit=SINGLE_KNOWLEDGE_ITEMS)
    return PredictionPublic.from_record(record, match)


# ---- batch ---------------------------------------------------------------------------------------
_BATCH_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {"schema": {"$ref": "#/components/schemas/BatchCreate"}},
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["file"],
                    "properties": {
                        "file": {
                            "type": "string",
                            "format": "binary",
                            "description": "CSV/TSV (gene, variation, optional text, "
                            "disease, drugs, sample) or a MAF "
                            "(Hugo_Symbol, HGVSp_Short).",
                        },
                        "disease": {
                            "type": "string",
                            "description": "Disease of rows that name none.",
                        },
                        "explain": {"type": "boolean", "default": False},
                        "task": {"type": "string"},
                    },
                }
            },
        },
    }
}


@router.post(
    "/predict/batch",
    summary="Classify many variants (JSON items, or a CSV/MAF upload)",
    response_model=BatchPublic,
    openapi_extra=_BATCH_BODY,
    responses={
        200: {
            "content": {CSV_MEDIA_TYPE: {}},
            "description": "JSON, or CSV with ?format=csv or Accept: text/csv.",
        },
        413: {"description": "More rows than Settings.max_batch_rows."},
        415: {"description": "Neither JSON nor multipart/form-data."},
    },
)
async def predict_batch(
    request: Request,
    predictor: PredictorDep,
    repository: RepositoryDep,
    knowledge: KnowledgeDep,
    metrics: MetricsDep,
    settings: SettingsDep,
    format: Annotated[
        Literal["json", "csv"] | None,
        Query(description="Answer format; default JSON, or CSV if the Accept header asks for it."),
    ] = None,
) -> Any:
    """Each row is scored; a bad row (empty gene, no variation, text over the limit) gets its
    own error ``{row, field, message}`` and the others are still scored, in one model pass.
    Scored rows are stored in the history under one ``batch_id``."""
    rows, options = await _read_batch(request, settings.max_batch_rows)
    check_task(options.task, predictor)
    if options.explain and len(rows) > MAX_EXPLAINED_ROWS:
        raise InvalidInputError(
            f"explanations are computed for batches of at most {MAX_EXPLAINED_ROWS} rows, "
            f"this one has {len(rows):,}; send it without explain",
            field="explain",
        )
    result = await run_in_threadpool(
        score_batch,
        rows,
        predictor,
        repository,
        knowledge,
        metrics,
        explain=options.explain,
        default_disease=options.disease,
    )
    if format == "csv" or (format is None and CSV_MEDIA_TYPE in request.headers.get("accept", "")):
        return _csv_response(result, predictor)
    return result


async def _read_batch(
    request: Request, max_rows: int
) -> tuple[list[batch_io.RawRow], BatchOptions]:
    """The rows and options of a JSON or multipart batch request. The rows are validated
    later, one by one; the options here."""
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type.startswith("multipart/"):
        return await _read_upload(request, max_rows)
    if content_type not in ("", "application/json") and not content_type.endswith("+json"):
        raise UnsupportedMediaTypeError(
            f"send JSON ({{'items': [...]}}) or a multipart/form-data upload, not {content_type!r}"
        )
    raw = await request.body()
    try:
        data = json.loads(raw)
    except (ValueError, RecursionError) as exc:  # bad JSON or UTF-8, 5,000-digit integers, ...
        raise InvalidInputError(f"the body is not valid JSON: {exc}", field=None) from exc
    if not isinstance(data, dict) or "items" not in data:
        raise InvalidInputError('the body must be a JSON object {"items": [...]}', field="items")
    rows = batch_io.json_rows(data["items"], max_rows=max_rows)
    return rows, _options({k: v for k, v in data.items() if k != "items"})


async def _read_upload(
    request: Request, max_rows: int
) -> tuple[list[batch_io.RawRow], BatchOptions]:
    async with request.form(max_files=1, max_fields=10) as form:
        upload = form.get("file")
        if not isinstance(upload, UploadFile):
            raise InvalidInputError("upload the table as the form field 'file'", field="file")
        max_bytes = batch_io.MAX_UPLOAD_BYTES
        content = await upload.read(max_bytes + 1)
        if len(content) > max_bytes:
            raise PayloadTooLargeError(
                f"the file is over {max_bytes // 2**20} MiB; split it", field="file"
            )
        fields = {k: v for k, v in form.items() if k != "file" and v != ""}
    rows = await run_in_threadpool(batch_io.read_table, content, max_rows=max_rows)
    return rows, _options(fields)


def _options(values: dict[str, Any]) -> BatchOptions:
    try:
        return BatchOptions.model_validate(values)
    except ValidationError as exc:
        error = exc.errors()[0]
        field = str(error["loc"][0]) if error.get("loc") else None
        raise InvalidInputError(f"{field}: {error['msg']}", field=field) from exc


def _row_error(
    raw: batch_io.RawRow, field: str | None, message: str, metrics: Metrics
) -> BatchRowPublic:
    metrics.batch_row_errors.labels(field or "row").inc()
    values = raw.values if isinstance(raw.values, dict) else {}
    echo = {k: _echo(values.get(k)) for k in ("gene", "variation", "sample")}
    return BatchRowPublic(
        row=raw.row, ok=False, **echo, error=RowError(row=raw.row, field=field, message=message)
    )


def _echo(value: Any) -> str | None:
    """A bad row's input, shown back so that the caller can find it (short strings only)."""
    return clean_text(value)[:200] if isinstance(value, str) else None


def _validation_message(exc: ValidationError) -> tuple[str | None, str]:
    error = exc.errors()[0]
    loc = [str(p) for p in error.get("loc", ())]
    field = loc[0] if loc else None
    if error.get("type") == "model_type":
        return None, "the row must be an object with gene and variation"
    return field, f"{'.'.join(loc) or 'row'}: {error.get('msg', 'invalid')}"


def score_batch(
    rows: Sequence[batch_io.RawRow],
    predictor: Predictor,
    repository: PredictionRepository,
    knowledge: KnowledgeBase,
    metrics: Metrics,
    *,
    explain: bool = False,
    default_disease: str = "",
) -> BatchPublic:
    """Validate every row, score the valid ones in one model pass, store them atomically."""
    results: dict[int, BatchRowPublic] = {}
    valid: list[tuple[int, Sample, str]] = []
    for raw in rows:
        try:
            item = BatchItem.model_validate(raw.values)
            sample = predictor.make_sample(
                item.gene,
                item.variation,
                item.text,
                item.disease or default_disease,
                item.drugs,
                id=str(raw.row),
            )
        except ValidationError as exc:
            results[raw.row] = _row_error(raw, *_validation_message(exc), metrics)
        except InvalidInputError as exc:
            results[raw.row] = _row_error(raw, exc.field, str(exc), metrics)
        else:
            valid.append((raw.row, sample, item.sample))

    batch_id = uuid.uuid4().hex if valid else None
    predictions = predictor.predict_samples([s for _, s, _ in valid], explain=explain)
    records = repository.add_all(
        [
            _record(p, s, source="batch", batch_id=batch_id, row=row, sample_name=name)
            for (row, s, name), p in zip(valid, predictions, strict=True)
        ]
    )
    for (row, sample, _), record in zip(valid, records, strict=True):
        metrics.predictions.labels(record.label, "batch").inc()
        match = knowledge.lookup(sample.gene, sample.variation, limit=BATCH_KNOWLEDGE_ITEMS)
        results[row] = BatchRowPublic(
            row=row,
            ok=True,
            gene=record.gene,
            variation=record.variation,
            sample=record.sample,
            prediction=PredictionPublic.from_record(record, match),
        )
    ordered = [results[raw.row] for raw in rows]
    errors = [r.error for r in ordered if r.error is not None]
    return BatchPublic(
        batch_id=batch_id,
        model=ModelRef(name=predictor.model_name, version=predictor.model_version),
        task=predictor.task.name,
        total=len(ordered),
        scored=len(records),
        failed=len(errors),
        results=ordered,
        errors=errors,
    )


def _csv_response(result: BatchPublic, predictor: Predictor) -> Response:
    """One line per input row: the prediction (with every class's probability and the CIViC
    match) or the error."""
    classes = [c.label for c in predictor.classes]
    columns = [
        "row", "status", "sample", "gene", "variation", "prediction_id", "label", "name",
        "probability", *(f"p[{c}]" for c in classes), "unknown_gene", "unknown_variation",
        "low_confidence", "variation_type", "variation_normalized", "civic_match",
        "civic_items", "civic_best_level", "civic_top_evidence", "error_field", "error_message",
    ]  # fmt: skip
    lines: list[dict[str, Any]] = []
    for r in result.results:
        line: dict[str, Any] = {
            "row": r.row,
            "status": "ok" if r.ok else "error",
            "sample": r.sample,
            "gene": r.gene,
            "variation": r.variation,
        }
        if r.error is not None:
            line |= {"error_field": r.error.field, "error_message": r.error.message}
        if (p := r.prediction) is not None:
            line |= {
                "prediction_id": p.id, "label": p.label, "name": p.name,
                "probability": round(p.probability, 6),
                **{f"p[{c.label}]": round(c.probability, 6) for c in p.probabilities},
                **p.flags.model_dump(),
                "variation_type": p.parsed_variation.type,
                "variation_normalized": p.parsed_variation.normalized,
            }  # fmt: skip
            if (kb := p.knowledge) is not None:
                line |= {
                    "civic_match": kb.match, "civic_items": kb.total,
                    "civic_best_level": kb.best_level,
                    "civic_top_evidence": " ".join(f"EID{i.evidence_id}" for i in kb.items),
                }  # fmt: skip
        lines.append(line)
    name = f"oncoclass-batch-{result.batch_id or 'errors'}.csv"
    return Response(
        batch_io.to_csv(columns, lines),
        media_type=f"{CSV_MEDIA_TYPE}; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )
