"""The sha256 of a file: how model directories, the encoder's built artefacts and downloaded
data are checked before they are trusted."""

from __future__ import annotations

import hashlib
from pathlib import Path


def sha256_of(path: Path) -> str:
    """Hex sha256 of the file's bytes (read in chunks: weights and releases are large)."""
    with path.open("rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()
