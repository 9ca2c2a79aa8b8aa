"""API keys: who may call the service, for what, and how often.

A key is ``onc_<prefix>_<secret>``: the prefix (public) finds its record, the secret is never
stored, only the SHA-256 of the whole key (the secret is 32 random bytes, so a plain hash
cannot be brute-forced; a slow password hash would only slow every request). Each key has
scopes:

* ``predict``: classify (single and batch), look variants up, read the model card;
* ``history``: read stored predictions;
* ``admin``: switch the model, manage keys, read metrics and the API schema.

Keys are required whenever the server listens beyond loopback (``Settings.auth`` "auto"), or
always ("required"); on loopback the service needs none, so ``make run`` stays
zero-configuration. Keys live in the history database, so every replica sharing it shares
them; each replica caches them for a few seconds (a revoked key stops working within
:data:`CACHE_SECONDS`). Each key is rate limited per replica (a token bucket).
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import secrets
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from sqlalchemy import select

from oncoclass.errors import InvalidInputError, NotFoundError, OncoClassError
from oncoclass.history import ApiKeyRecord, Database
from oncoclass.history.db import WRITE_OPTIONS
from oncoclass.history.models import utcnow

Scope = Literal["predict", "history", "admin"]
SCOPES: tuple[Scope, ...] = ("predict", "history", "admin")
KEY_PREFIX = "onc"
HEADER = "X-API-Key"
#: How long a replica trusts its copy of the keys before reading them again.
CACHE_SECONDS = 5.0


class AuthenticationError(OncoClassError):
    """No key, or not a valid one (401)."""


class PermissionDeniedError(OncoClassError):
    """A valid key without the scope the request needs (403)."""


class RateLimitedError(OncoClassError):
    """Too many requests for this key (429); ``retry_after`` seconds until the next one."""

    def __init__(self, message: str, retry_after: float) -> None:
        super().__init__(message)
        self.retry_after = retry_after


@dataclass(frozen=True, slots=True)
class ApiKey:
    """A key's public facts (never its secret)."""

    id: int
    name: str
    prefix: str
    scopes: tuple[str, ...]
    rate_per_minute: int | None
    created_at: str
    revoked: bool


def is_loopback(host: str) -> bool:
    """Whether ``host`` (what the server binds) is reachable only from this machine."""
    if host in ("localhost", "localhost.localdomain"):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def auth_required(mode: str, host: str) -> bool:
    if mode == "required":
        return True
    if mode == "auto":
        return not is_loopback(host)
    raise InvalidInputError(f"auth must be 'auto' or 'required', not {mode!r}", field="auth")


def _hash(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def _split(key: str) -> str | None:
    """The prefix of a well-formed key, else None."""
    parts = key.strip().split("_")
    if len(parts) != 3 or parts[0] != KEY_PREFIX or not parts[1] or not parts[2]:
        return None
    return parts[1]


class KeyStore:
    """Creates, lists, revokes and verifies keys in the history database."""

    def __init__(self, database: Database, cache_seconds: float = CACHE_SECONDS) -> None:
        self.database = database
        self.cache_seconds = cache_seconds
        self._cache: dict[str, ApiKeyRecord] = {}
        self._loaded_at = -float("inf")
        self._lock = threading.Lock()

    # ---- management (CLI, admin API) ------------------------------------------------------------
    def create(
        self, name: str, scopes: Sequence[str], rate_per_minute: int | None = None
    ) -> tuple[ApiKey, str]:
        """A new key: its record and the key itself, shown once and never again."""
        name = name.strip()
        if not name:
            raise InvalidInputError("a key needs a name", field="name")
        bad = sorted(set(scopes) - set(SCOPES))
        if bad or not scopes:
            raise InvalidInputError(
                f"scopes must be some of {', '.join(SCOPES)}; got {', '.join(scopes) or 'none'}",
                field="scopes",
            )
        if rate_per_minute is not None and rate_per_minute < 1:
            raise InvalidInputError("the rate limit must be at least 1/min", field="rate")
        prefix = secrets.token_hex(4)
        key = f"{KEY_PREFIX}_{prefix}_{secrets.token_urlsafe(32).replace('_', '-')}"
        record = ApiKeyRecord(
            name=name,
            prefix=prefix,
            key_hash=_hash(key),
            scopes=sorted(set(scopes), key=SCOPES.index),
            rate_per_minute=rate_per_minute,
            created_at=utcnow(),
        )
        with self.database.session() as session:
            session.connection(execution_options=WRITE_OPTIONS)
            session.add(record)
            session.commit()
            public = _public(record)
        self.invalidate()
        return public, key

    def list(self) -> list[ApiKey]:
        with self.database.session() as session:
            return [_public(r) for r in session.scalars(select(ApiKeyRecord).order_by("id"))]

    def revoke(self, name_or_id: str) -> ApiKey:
        """Revoke the (non-revoked) key with this name, id or prefix."""
        with self.database.session() as session:
            session.connection(execution_options=WRITE_OPTIONS)
            rows = [
                r
                for r in session.scalars(select(ApiKeyRecord))
                if r.revoked_at is None and name_or_id in (r.name, str(r.id), r.prefix)
            ]
            if not rows:
                raise NotFoundError(f"no active key named {name_or_id!r}")
            if len(rows) > 1:
                raise InvalidInputError(
                    f"{len(rows)} active keys are named {name_or_id!r}: revoke one by id",
                    field="key",
                )
            rows[0].revoked_at = utcnow()
            session.commit()
            public = _public(rows[0])
        self.invalidate()
        return public

    # ---- verification (every request) ----------------------------------------------------------
    def verify(self, key: str | None) -> ApiKeyRecord:
        """The active record of ``key``; :class:`AuthenticationError` otherwise."""
        if not key:
            raise AuthenticationError(f"this server requires an API key: send it as {HEADER}")
        prefix = _split(key)
        record = self._records().get(prefix or "")
        if record is None or not hmac.compare_digest(record.key_hash, _hash(key)):
            raise AuthenticationError("the API key is not valid (revoked, or mistyped)")
        return record

    def invalidate(self) -> None:
        with self._lock:
            self._loaded_at = -float("inf")

    def _records(self) -> dict[str, ApiKeyRecord]:
        with self._lock:
            if time.monotonic() - self._loaded_at > self.cache_seconds:
                with self.database.session() as session:
                    rows = session.scalars(
                        select(ApiKeyRecord).where(ApiKeyRecord.revoked_at.is_(None))
                    )
                    self._cache = {r.prefix: r for r in rows}
                self._loaded_at = time.monotonic()
            return self._cache


def _public(record: ApiKeyRecord) -> ApiKey:
    return ApiKey(
        id=record.id,
        name=record.name,
        prefix=record.prefix,
        scopes=tuple(record.scopes),
        rate_per_minute=record.rate_per_minute,
        created_at=record.created_at.isoformat(timespec="seconds"),
        revoked=record.revoked_at is not None,
    )


class RateLimiter:
    """A token bucket per key: ``rate`` requests a minute, bursts up to a tenth of a minute's
    worth (at least 5)."""

    def __init__(self) -> None:
        self._buckets: dict[str, tuple[float, float]] = {}
        self._lock = threading.Lock()

    def take(self, key: str, per_minute: int) -> None:
        rate = per_minute / 60.0
        capacity = max(5.0, per_minute / 10.0)
        now = time.monotonic()
        with self._lock:
            tokens, last = self._buckets.get(key, (capacity, now))
            tokens = min(capacity, tokens + (now - last) * rate)
            if tokens < 1.0:
                self._buckets[key] = (tokens, now)
                raise RateLimitedError(
                    f"this key may make {per_minute} requests a minute; slow down",
                    retry_after=(1.0 - tokens) / rate,
                )
            self._buckets[key] = (tokens - 1.0, now)
