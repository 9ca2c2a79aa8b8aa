"""What the batch endpoint needs beyond the annotation engine: reading a request body with a
byte limit, spooling an uploaded file to disk, and the limits of one batch.

An upload is never held in memory: the multipart body is parsed as it streams in (stopped as
soon as it passes :data:`MAX_UPLOAD_BYTES`, with or without a Content-Length header), and the
file is copied in chunks to a temporary file, which the variant-file reader then streams
(:func:`oncoclass.data.variant_files.read_variants`: VCF, MAF or CSV/TSV, told by content).
"""

from __future__ import annotations

import contextlib
import ctypes
import tempfile
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path

from starlette.datastructures import UploadFile
from starlette.requests import Request

from oncoclass.annotate.writers import safe_cell, to_csv
from oncoclass.errors import PayloadTooLargeError

__all__ = [
    "MAX_BATCH_TEXT_CHARS",
    "MAX_UPLOAD_BYTES",
    "limited_body",
    "read_body",
    "safe_cell",
    "spool_upload",
    "to_csv",
]

FILE = "file"
#: Largest upload (or JSON body) read; a bigger one is refused (413) while it is being read.
MAX_UPLOAD_BYTES = 64 * 2**20
#: Most characters of evidence text in one batch, all rows together (each text's own limit is
#: ``Settings.max_text_chars``): beyond it the model's work is too long for one request.
MAX_BATCH_TEXT_CHARS = 5_000_000
#: Bytes copied at a time from the parsed form to the spooled file.
UPLOAD_CHUNK = 2**20
#: What a multipart body may hold beyond the file: boundaries, headers, the small fields.
FORM_OVERHEAD_BYTES = 64 * 2**10


def _too_large(max_bytes: int, field: str) -> PayloadTooLargeError:
    return PayloadTooLargeError(
        f"the upload is over {max_bytes / 2**20:g} MiB, the most one request accepts; split the "
        "file (or annotate it with `oncoclass annotate`)",
        field=field,
    )


async def limited_body(
    request: Request, max_bytes: int, *, field: str = FILE
) -> AsyncIterator[bytes]:
    """The request body as it arrives, stopped with a 413 as soon as it passes ``max_bytes``
    (a chunked body declares no length, so the middleware's Content-Length check cannot)."""
    received = 0
    async for chunk in request.stream():
        received += len(chunk)
        if received > max_bytes:
            raise _too_large(max_bytes, field)
        yield chunk


async def read_body(request: Request, max_bytes: int, *, field: str) -> bytes:
    """A JSON body, whole (it is parsed whole anyway), within ``max_bytes``."""
    return b"".join([chunk async for chunk in limited_body(request, max_bytes, field=field)])


async def spool_upload(upload: UploadFile, max_bytes: int = MAX_UPLOAD_BYTES) -> Path:
    """The uploaded file copied, in chunks, to a temporary file (the caller deletes it)."""
    handle = tempfile.NamedTemporaryFile(prefix="oncoclass-upload-", delete=False)  # noqa: SIM115
    path = Path(handle.name)
    try:
        with handle:
            size = 0
            while chunk := await upload.read(UPLOAD_CHUNK):
                size += len(chunk)
                if size > max_bytes:
                    raise _too_large(max_bytes, FILE)
                handle.write(chunk)
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    return path


def deadline(seconds: float) -> Callable[[str, int, int | None], None]:
    """A progress callback for the annotation engine that stops a batch running longer than
    ``seconds`` (a 413 saying so; nothing of it is stored, the history is written at the end)."""
    start = time.monotonic()

    def check(stage: str, done: int, total: int | None) -> None:
        if time.monotonic() - start > seconds:
            raise PayloadTooLargeError(
                f"the batch needed more than {seconds:g} s (stopped while at {stage}, "
                f"{done:,} done); split it into smaller files",
                field="file",
            )

    return check


def release_memory() -> None:
    """Give freed memory back to the operating system after a large batch (glibc keeps freed
    heap pages otherwise, and a server's resident size would stay at its largest batch)."""
    with contextlib.suppress(OSError, AttributeError):  # not glibc: nothing to do
        ctypes.CDLL("libc.so.6").malloc_trim(0)
