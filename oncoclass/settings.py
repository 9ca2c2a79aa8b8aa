"""All settings in one place, read from ``ONCOCLASS_*`` environment variables (or a .env file)."""

from __future__ import annotations

import os
import secrets
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


def _default_data_home() -> Path:
    return Path.home() / "oncoclass_data"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="ONCOCLASS_", env_file=".env", extra="ignore")

    #: Where fetched data sets, trained models and the default SQLite history live.
    data_home: Path = Field(default_factory=_default_data_home)
    #: CIViC's public release location; ``{release}`` and ``{name}`` are filled in.
    civic_url: str = "https://civicdb.org/downloads/{release}/{release}-{name}.tsv"
    #: The CIViC release ``data fetch civic`` gets: "latest" (the newest monthly release),
    #: "nightly", or a date such as "01-Aug-2024".
    civic_release: str = "latest"
    #: The model ``train`` builds by default, and whose directory the service uses.
    default_model: str = "ensemble"
    #: The model the service and ``predict`` use: a model directory, or a model home whose
    #: ``current`` version is followed (default: the default model's home in the data home).
    model_dir: Path | None = None
    #: How often (seconds) a running service checks whether ``current`` moved to a newer
    #: version, and switches to it (0: only on SIGHUP or POST /v1/admin/reload).
    model_poll_seconds: float = 30.0
    #: SQLAlchemy URL of the prediction history; default: SQLite file in the data home.
    database_url: str | None = None
    #: What the history keeps of an evidence text: "scrubbed" (de-identified: names, dates,
    #: record numbers, contacts, addresses, ages over 89 replaced) or "none" (only its keyed
    #: hash). Logs never hold a text either way.
    store_text: Literal["scrubbed", "none"] = "scrubbed"
    #: Texts at least this long (characters) are de-identified in a helper process, on the
    #: other core while the model reads them (0: always in the request's thread). A service
    #: that keeps texts and accepts texts this long starts the helper with itself: ~0.45 GB
    #: more memory (Presidio imports transformers), ~90 ms less per 100k-character paper.
    scrub_helper_chars: int = 20_000
    #: Secret key of the text hashes (HMAC), shared by every replica; default: a random key
    #: created once in the data home (``text-hash.key``).
    text_hash_key: str | None = None
    #: Largest evidence text accepted, in characters (a long paper is ~100k).
    max_text_chars: int = 300_000
    #: Largest batch accepted by the API, in rows.
    max_batch_rows: int = 5_000
    #: A batch running longer than this (seconds) is stopped with a 413 (split the file).
    batch_time_limit_seconds: float = 300.0
    #: Below this gap between the two most likely classes an answer is flagged a close call.
    min_margin: float = 0.2
    #: Intra-op threads per PyTorch call. One: the networks are small, a server runs many
    #: requests at once, and on a 2-core machine under load two spinning OpenMP threads make
    #: each tensor operation up to 50x slower than one thread does.
    torch_threads: int = 1
    #: API keys: "auto" requires them when ``host`` is not a loopback address (so a server on
    #: 127.0.0.1 needs none), "required" always. Create keys with ``oncoclass keys create``.
    auth: str = "auto"
    #: Requests a minute per API key (a key may have its own limit).
    rate_limit_per_minute: int = 600
    host: str = "127.0.0.1"
    port: int = 8000
    seed: int = 13

    @property
    def models_dir(self) -> Path:
        return self.data_home / "models"

    @property
    def default_model_dir(self) -> Path:
        """The model directory, or model home (see ``oncoclass.models.store``), to serve."""
        return self.model_dir or self.models_dir / f"clinical-significance-{self.default_model}"

    def hash_key(self) -> bytes:
        """The text-hash key: the setting, else the data home's, created on first use."""
        if self.text_hash_key:
            return self.text_hash_key.encode()
        path = self.data_home / "text-hash.key"
        if not path.is_file():
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(f".{os.getpid()}.tmp")
            tmp.write_bytes(secrets.token_hex(32).encode())
            tmp.chmod(0o600)
            try:
                os.link(tmp, path)  # fails if another process made it first: keep theirs
            except FileExistsError:
                pass
            finally:
                tmp.unlink(missing_ok=True)
        return path.read_bytes().strip()

    @property
    def resolved_database_url(self) -> str:
        return self.database_url or f"sqlite:///{self.data_home / 'history.sqlite3'}"


@lru_cache
def get_settings() -> Settings:
    return Settings()


def configure_runtime(settings: Settings | None = None) -> None:
    """Apply the process-wide settings (thread counts) once, at a program's start."""
    import torch

    torch.set_num_threads(max(1, (settings or get_settings()).torch_threads))
