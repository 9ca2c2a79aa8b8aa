"""``POST /v1/predict`` (one variant, explained) and ``POST /v1/predict/batch`` (many, in one
model pass): reading the request and shaping the answer; the service does the rest."""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass
from pathlib import Path, PureWindowsPath
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request, Response
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile
from starlette.formparsers import MultiPartException, MultiPartParser

from oncoclass.annotate import JSON_FORMAT, annotate, annotate_file, annotation_csv, json_records
from oncoclass.api import batch as batch_io
from oncoclass.api.deps import MetricsDep, ServiceDep, SettingsDep, protected
from oncoclass.errors import InvalidInputError, UnsupportedMediaTypeError
from oncoclass.schemas import AnnotationPublic, BatchOptions, PredictionCreate, PredictionPublic
from oncoclass.service import OncoClassService, check_task

router = APIRouter(prefix="/v1", tags=["predict"], **protected("predict"))

#: Explaining costs a model pass per sentence; beyond this many distinct variants with evidence
#: text in one batch, ask for no explanation.
MAX_EXPLAINED_ROWS = 100
CSV_MEDIA_TYPE = "text/csv"


@router.post(
    "/predict",
    summary="Classify one variant",
    response_model=PredictionPublic,
    responses={
        422: {
            "description": "A field is missing, empty, too long or of the wrong type "
            "(the error's loc names it)."
        },
        503: {"description": "No model is loaded."},
    },
)
def predict(body: PredictionCreate, service: ServiceDep, metrics: MetricsDep) -> Response:
    """The predicted class, every class's calibrated probability, the prediction set, the
    warnings (close call, text about something else, unlike the training data, ...), the
    evidence sentences with their weights, the parsed variation, the CIViC evidence, and the
    history id."""
    result = service.predict(body)
    metrics.predictions.labels(result.label, "predict").inc()
    # Built and validated by the service: dumped once, not validated again on the way out.
    return Response(result.model_dump_json(), media_type="application/json")


# ---- batch ---------------------------------------------------------------------------------------
_FILE_HELP = (
    "A VCF annotated by Ensembl VEP (INFO CSQ) or SnpEff (INFO ANN), plain or gzipped; a MAF "
    "(Hugo_Symbol, HGVSp_Short, Tumor_Sample_Barcode); or a CSV/TSV table (gene, variation, "
    "optional text, disease, drugs, sample). The format is told by the content."
)
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
                        "file": {"type": "string", "format": "binary", "description": _FILE_HELP},
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


@dataclass
class _BatchInput:
    """A batch as received: JSON items, or an uploaded file spooled to ``path``."""

    options: BatchOptions
    items: Any = None
    path: Path | None = None
    filename: str = ""


@router.post(
    "/predict/batch",
    summary="Annotate many variants (JSON items, or a VCF, MAF or CSV/TSV upload)",
    response_model=AnnotationPublic,
    openapi_extra=_BATCH_BODY,
    responses={
        200: {
            "content": {CSV_MEDIA_TYPE: {}},
            "description": "JSON, or CSV (one line per input row) with ?format=csv or "
            "Accept: text/csv.",
        },
        413: {
            "description": "More rows than Settings.max_batch_rows, more bytes than "
            f"{batch_io.MAX_UPLOAD_BYTES // 2**20} MiB, or more evidence text than "
            f"{batch_io.MAX_BATCH_TEXT_CHARS:,} characters in all."
        },
        415: {"description": "Neither JSON nor multipart/form-data."},
        422: {
            "description": "A malformed body, or a file that cannot be read (the message "
            "names the file and the line)."
        },
    },
)
async def predict_batch(
    request: Request,
    service: ServiceDep,
    metrics: MetricsDep,
    settings: SettingsDep,
    format: Annotated[
        Literal["json", "csv"] | None,
        Query(description="Answer format; default JSON, or CSV if the Accept header asks for it."),
    ] = None,
) -> Any:
    """Each distinct variant is scored once however many samples carry it, tiered (AMP/ASCO/CAP)
    and looked up in CIViC (therapies by disease, assertions, functional evidence); every input
    row is kept, pointing at its variant: ``scored``, ``non_coding`` (kept, not scored) or
    ``error`` with its own ``{row, field, message}`` while the others are still annotated.
    Scored variants are stored in the history under one ``batch_id``, one row each."""
    as_csv = format == "csv" or (
        format is None and CSV_MEDIA_TYPE in request.headers.get("accept", "")
    )
    batch = await _read_batch(request)
    try:
        answer = await run_in_threadpool(_annotate, service, batch, settings.max_batch_rows, as_csv)
    finally:
        if batch.path is not None:
            batch.path.unlink(missing_ok=True)
    for label, count in answer.labels.items():
        metrics.predictions.labels(label, "batch").inc(count)
    for field_name, count in answer.error_fields.items():
        metrics.batch_row_errors.labels(field_name).inc(count)
    if as_csv:
        name = f"oncoclass-batch-{answer.batch_id or 'errors'}.csv"
        return Response(
            answer.body,
            media_type=f"{CSV_MEDIA_TYPE}; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="{name}"'},
        )
    # Already AnnotationPublic's JSON (Annotation.to_json): not validated and dumped again.
    return Response(answer.body, media_type="application/json")


@dataclass
class _BatchAnswer:
    """A finished batch: its answer's body (JSON or CSV) and what the metrics count."""

    body: bytes | str
    batch_id: str | None
    labels: Counter[str]
    error_fields: Counter[str]


def _annotate(
    service: OncoClassService, batch: _BatchInput, max_rows: int, as_csv: bool
) -> _BatchAnswer:
    """The annotation engine (a worker thread: it reads, scores and writes the history)."""
    options = batch.options
    check_task(options.task, service.predictor)
    limits: dict[str, Any] = {
        "disease": options.disease,
        "explain": options.explain,
        "max_rows": max_rows,
        "max_text_chars": batch_io.MAX_BATCH_TEXT_CHARS,
        "max_explained": MAX_EXPLAINED_ROWS,
        "progress": batch_io.deadline(service.settings.batch_time_limit_seconds),
    }
    if batch.path is None:
        annotation = annotate(
            service,
            json_records(batch.items),
            source=JSON_FORMAT,
            file_format=JSON_FORMAT,
            limit_field="items",
            **limits,
        )
    else:
        annotation = annotate_file(service, batch.path, name=batch.filename, **limits)
    try:
        with annotation:
            body = annotation_csv(annotation) if as_csv else annotation.to_json()
            return _BatchAnswer(
                body, annotation.batch_id, annotation.labels, annotation.error_fields
            )
    finally:
        batch_io.release_memory()


async def _read_batch(request: Request) -> _BatchInput:
    """The options and the items (JSON) or the spooled file (multipart) of a batch request;
    the rows are read and validated later, one by one, by the engine."""
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type.startswith("multipart/"):
        return await _read_upload(request)
    if content_type not in ("", "application/json") and not content_type.endswith("+json"):
        raise UnsupportedMediaTypeError(
            f"send JSON ({{'items': [...]}}) or a multipart/form-data upload, not {content_type!r}"
        )
    raw = await batch_io.read_body(request, batch_io.MAX_UPLOAD_BYTES, field="items")
    try:
        data = json.loads(raw)
    except (ValueError, RecursionError) as exc:  # bad JSON or UTF-8, 5,000-digit integers, ...
        raise InvalidInputError(f"the body is not valid JSON: {exc}", field=None) from exc
    if not isinstance(data, dict) or "items" not in data:
        raise InvalidInputError('the body must be a JSON object {"items": [...]}', field="items")
    options = _options({k: v for k, v in data.items() if k != "items"})
    return _BatchInput(options, items=data["items"])


async def _read_upload(request: Request) -> _BatchInput:
    """Parse the multipart body as it streams in (stopped at the byte limit), then copy its
    file to a temporary file in chunks."""
    limit = batch_io.MAX_UPLOAD_BYTES
    body = batch_io.limited_body(request, limit + batch_io.FORM_OVERHEAD_BYTES)
    parser = MultiPartParser(request.headers, body, max_files=1, max_fields=10)
    try:
        form = await parser.parse()
    except MultiPartException as exc:
        raise InvalidInputError(f"unreadable upload: {exc.message}", field="file") from exc
    try:
        upload = form.get("file")
        if not isinstance(upload, UploadFile):
            raise InvalidInputError(
                "upload the variant file as the form field 'file'", field="file"
            )
        fields = {k: v for k, v in form.items() if k != "file" and v != ""}
        options = _options(fields)
        path = await batch_io.spool_upload(upload, limit)
    finally:
        await form.close()
    # Only the name's last part: a browser may send a Windows path, and it names the file in
    # error messages and in the answer.
    filename = PureWindowsPath(upload.filename or "").name or "upload"
    return _BatchInput(options, path=path, filename=filename)


def _options(values: dict[str, Any]) -> BatchOptions:
    try:
        return BatchOptions.model_validate(values)
    except ValidationError as exc:
        error = exc.errors()[0]
        field = str(error["loc"][0]) if error.get("loc") else None
        raise InvalidInputError(f"{field}: {error['msg']}", field=field) from exc
