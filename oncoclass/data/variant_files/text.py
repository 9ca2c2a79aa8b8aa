"""Opening a variant file: its bytes (gzip undone), a binary-content check, numbered text lines."""

from __future__ import annotations

import codecs
import gzip
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO, TextIO

from oncoclass.errors import DataError

GZIP_MAGIC = b"\x1f\x8b"
ZIP_MAGIC = b"PK\x03\x04"  # .xlsx workbooks are ZIP archives
BCF_MAGIC = b"BCF\x02"
#: How much of the file the binary check and the format sniffing look at.
SNIFF_BYTES = 8192
#: Control characters no text file has (tab, newlines, form feed and ESC aside).
_CONTROL = bytes([*range(0, 9), 11, *range(14, 27), *range(28, 32)])
#: Errors that a truncated or corrupt gzip stream raises while it is read.
GZIP_ERRORS = (OSError, EOFError, zlib.error)


def open_binary(path: Path) -> BinaryIO:
    """The file's bytes, decompressed on the fly when it is gzipped (bgzip included)."""
    with path.open("rb") as probe:
        gzipped = probe.read(2) == GZIP_MAGIC
    return gzip.open(path, "rb") if gzipped else path.open("rb")


def read_head(path: Path, name: str) -> bytes:
    """The first bytes of the (decompressed) file, for sniffing its format."""
    try:
        with open_binary(path) as handle:
            return handle.read(SNIFF_BYTES)
    except GZIP_ERRORS as exc:
        raise DataError(f"the file is not readable gzip: {exc}", path=name) from exc


def check_text(head: bytes, name: str) -> None:
    """Refuse binary content (a spreadsheet, an image, ...) before parsing any of it."""
    if head.startswith(ZIP_MAGIC):
        raise DataError(
            "the file is a ZIP archive (an Excel workbook?), not a VCF, MAF or CSV/TSV table; "
            "save it as CSV or TSV",
            path=name,
        )
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        raise DataError(
            "the file is UTF-16 text (Excel's 'Unicode Text'); save it as CSV UTF-8", path=name
        )
    controls = sum(head.count(c) for c in _CONTROL)
    if b"\x00" in head or controls > len(head) // 20:
        raise DataError("the file is binary, not a VCF, MAF or CSV/TSV table", path=name)


class TextLines(Iterator[str]):
    """The text lines of a file, one at a time, numbered from 1 (``number`` is the last one's).

    Bytes are decoded line by line: UTF-8 (a leading BOM dropped), else Windows-1252, which is what
    Excel writes on Windows, so that one accented word does not need the whole file in memory to
    decide. A line that is neither, or holds a NUL byte, is a DataError naming it. So is a line
    over ``max_line_chars``: no variant table has one, and reading it whole would break the memory
    bound.
    """

    def __init__(self, handle: BinaryIO | TextIO, name: str, max_line_chars: int) -> None:
        self._handle = handle
        self._name = name
        self._max = max_line_chars
        self.number = 0

    def __next__(self) -> str:
        try:
            chunk: bytes | str = self._handle.readline(self._max + 1)
        except UnicodeDecodeError as exc:  # a text stream decodes on its own
            raise self.error(f"undecodable text ({exc.reason})", self.number + 1) from exc
        except GZIP_ERRORS as exc:
            raise self.error(f"the gzip stream is corrupt: {exc}", self.number + 1) from exc
        if not chunk:
            raise StopIteration
        self.number += 1
        if len(chunk) > self._max:
            raise self.error(
                f"the line is over {self._max:,} characters long; not a variant table?"
            )
        line = self._decode(chunk) if isinstance(chunk, bytes) else chunk
        if self.number == 1:
            line = line.removeprefix("\ufeff")
        if "\x00" in line:
            raise self.error("binary content (NUL bytes) in a text file")
        return line

    def _decode(self, chunk: bytes) -> str:
        if self.number == 1:
            chunk = chunk.removeprefix(codecs.BOM_UTF8)
        try:
            return chunk.decode("utf-8")
        except UnicodeDecodeError:
            pass
        try:
            return chunk.decode("cp1252")
        except UnicodeDecodeError as exc:
            raise self.error("undecodable text: neither UTF-8 nor Windows-1252") from exc

    def error(self, message: str, line: int | None = None) -> DataError:
        return DataError(message, path=self._name, line=self.number if line is None else line)
