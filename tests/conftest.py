"""Fixtures shared by every test package."""

from __future__ import annotations

from pathlib import Path

import pytest

from oncoclass.settings import Settings, configure_runtime

# As the CLI and the service do: one intra-op thread (see Settings.torch_threads).
configure_runtime(Settings())

#: The real data sets, beside the repository (never copied into it): ../shared/data.
SHARED_DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data"


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The real data folder (``../shared/data``); tests that need it skip when it is absent."""
    path = SHARED_DATA.resolve()
    if not path.is_dir():
        pytest.skip(f"real data not found at {path}")
    return path
