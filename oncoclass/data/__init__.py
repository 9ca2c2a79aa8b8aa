"""Data sources, each mapped to :class:`Sample`: CIViC, the Kaggle MSKCC files, users' tables."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from oncoclass.data.civic import CivicEvidence, load_civic, read_evidence
from oncoclass.data.generic import load_table, write_table
from oncoclass.data.home import civic_data_dir, fetch_civic, get_data_home
from oncoclass.data.mskcc import load_mskcc_stage1, load_mskcc_train
from oncoclass.data.records import Sample
from oncoclass.errors import InvalidInputError

__all__ = [
    "SOURCES",
    "CivicEvidence",
    "Sample",
    "civic_data_dir",
    "fetch_civic",
    "get_data_home",
    "load_civic",
    "load_mskcc_stage1",
    "load_mskcc_train",
    "load_samples",
    "load_table",
    "read_evidence",
    "write_table",
]

SOURCES: tuple[str, ...] = ("civic", "mskcc", "mskcc-stage1", "table")


def load_samples(source: str, path: Path | str | None = None, **kwargs: Any) -> list[Sample]:
    """Load ``source`` (one of :data:`SOURCES`) from ``path``; keyword arguments go to its loader.

    For ``"civic"`` the path may be left out: the newest release in the data home is used.
    """
    if source == "civic":
        return load_civic(path if path is not None else civic_data_dir(), **kwargs)
    if path is None:
        raise InvalidInputError(f"data source {source!r} needs a path", field="path")
    if source == "mskcc":
        return load_mskcc_train(path, **kwargs)
    if source == "mskcc-stage1":
        return load_mskcc_stage1(path, **kwargs)
    if source == "table":
        return load_table(path, **kwargs)
    raise InvalidInputError(
        f"unknown data source {source!r}; choose one of {', '.join(SOURCES)}", field="source"
    )
