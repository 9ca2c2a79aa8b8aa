"""Every error OncoClass raises on purpose, in one place.

The library raises these; only the API edge turns them into HTTP status codes.
"""

from __future__ import annotations


class OncoClassError(Exception):
    """Base class of all OncoClass errors."""


class DataError(OncoClassError, ValueError):
    """A data file is missing, malformed or yields no usable samples.

    The message names the file (and the line, where one is at fault).
    """

    def __init__(self, message: str, *, path: str | None = None, line: int | None = None) -> None:
        where = ""
        if path is not None:
            where = f"{path}" + (f", line {line}" if line is not None else "") + ": "
        super().__init__(where + message)
        self.path = path
        self.line = line


class DataNotFoundError(DataError, FileNotFoundError):
    """A data set is not in the data home and was not given by path."""


class FetchError(DataError):
    """A download failed or its checksum did not match."""


class InvalidInputError(OncoClassError, ValueError):
    """A user's input (gene, variation, text, ...) is unusable; ``field`` names the culprit."""

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class UnknownTaskError(OncoClassError, KeyError):
    """A task name that OncoClass does not ship."""

    def __str__(self) -> str:  # KeyError quotes its message; keep it readable
        return str(self.args[0]) if self.args else "unknown task"


class UnknownModelError(OncoClassError, KeyError):
    """A model name missing from the registry."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else "unknown model"


class ModelNotFoundError(OncoClassError, FileNotFoundError):
    """No trained model at the given path."""


class CorruptModelError(DataError):
    """A model directory that is there but cannot be trusted or read: a missing, truncated or
    altered file (checksums in ``model.json``), or a card that is not one. Names the file."""


class ModelNotFittedError(OncoClassError, RuntimeError):
    """A model used before ``fit``."""


class PayloadTooLargeError(InvalidInputError):
    """More rows, bytes or work than the service accepts at once."""


class ModelUnavailableError(OncoClassError):
    """No model is loaded (none trained yet, or it failed to load)."""


class NotFoundError(OncoClassError, LookupError):
    """A resource that does not exist, e.g. an unknown prediction id."""


class UnsupportedMediaTypeError(OncoClassError):
    """A body in a format the service does not read."""
