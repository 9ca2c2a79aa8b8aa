"""What the endpoints depend on, as ``Annotated[..., Depends()]`` types.

The app's lifespan builds one :class:`ApiState` (the service plus what only HTTP needs: the
Prometheus metrics) and stores it in ``app.state``: no module-level globals, so two apps (two
tests) never share a model, a database or a metrics registry.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated, Any

from fastapi import Depends, Request
from starlette.concurrency import run_in_threadpool

from oncoclass.api.metrics import Metrics
from oncoclass.auth import HEADER, KeyStore, PermissionDeniedError, RateLimiter, Scope
from oncoclass.service import OncoClassService
from oncoclass.settings import Settings


@dataclass
class ApiState:
    service: OncoClassService
    metrics: Metrics
    #: None when the server needs no keys (it listens on loopback only).
    keys: KeyStore | None = None
    limiter: RateLimiter = field(default_factory=RateLimiter)


# The dependencies are coroutines: each plain function would cost a hop to the thread pool
# and back (~0.5 ms apiece on a busy 2-core machine, measured) for what is an attribute read.
async def get_state(request: Request) -> ApiState:
    return request.app.state.api


StateDep = Annotated[ApiState, Depends(get_state)]


async def get_service(state: StateDep) -> OncoClassService:
    return state.service


async def get_metrics(state: StateDep) -> Metrics:
    return state.metrics


async def get_settings(service: Annotated[OncoClassService, Depends(get_service)]) -> Settings:
    return service.settings


def require(scope: Scope | None) -> Any:
    """A dependency checking the request's API key for ``scope`` (None: any valid key) and
    its rate limit, when the server requires keys. The key comes in ``X-API-Key`` (or
    ``Authorization: Bearer``)."""

    async def check(request: Request, state: StateDep) -> None:
        if state.keys is None:
            return
        # The key table is read from the database now and then: not on the event loop.
        await run_in_threadpool(_check_key, request, state.keys, state, scope)

    return Depends(check)


def _check_key(request: Request, keys: KeyStore, state: ApiState, scope: Scope | None) -> None:
    key = request.headers.get(HEADER)
    if key is None:
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        key = token.strip() if scheme.lower() == "bearer" else None
    record = keys.verify(key)
    if scope is not None and scope not in record.scopes:
        raise PermissionDeniedError(
            f"this key ({record.name}) may not do this: it needs the '{scope}' scope"
        )
    limit = record.rate_per_minute or state.service.settings.rate_limit_per_minute
    state.limiter.take(record.prefix, limit)
    request.state.api_key = record.name


#: What ``require`` may answer, documented on every protected route.
AUTH_RESPONSES: dict[int | str, dict[str, Any]] = {
    401: {"description": "No API key, or not a valid one (when the server requires keys)."},
    403: {"description": "The API key lacks the scope this operation needs."},
    429: {"description": "This key's rate limit is reached; see Retry-After."},
}


def protected(scope: Scope | None) -> dict[str, Any]:
    """Router arguments: the key check for ``scope`` and the answers it may give."""
    return {"dependencies": [require(scope)], "responses": AUTH_RESPONSES}


ServiceDep = Annotated[OncoClassService, Depends(get_service)]
MetricsDep = Annotated[Metrics, Depends(get_metrics)]
SettingsDep = Annotated[Settings, Depends(get_settings)]
