"""Administration: switching the served model without dropping a request; API keys."""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated

from fastapi import APIRouter, Depends
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from oncoclass.api.deps import MetricsDep, ServiceDep, StateDep, protected
from oncoclass.auth import KeyStore, Scope
from oncoclass.errors import NotFoundError
from oncoclass.schemas import ModelRef

router = APIRouter(prefix="/v1/admin", tags=["admin"], **protected("admin"))


class ReloadPublic(BaseModel):
    model: ModelRef
    path: str | None


@router.post(
    "/reload",
    summary="Switch to the newest model version",
    responses={
        422: {"description": "The model directory is damaged; the old model keeps serving."},
        503: {"description": "No model to load."},
    },
)
async def reload(service: ServiceDep, metrics: MetricsDep) -> ReloadPublic:
    """Load the configured model's ``current`` version, warm it up, then switch to it in one
    step: requests in flight finish on the model they started with, new ones get the new one.
    A model that fails to load changes nothing. (Replicas also switch by themselves within
    ``Settings.model_poll_seconds`` of a new ``oncoclass train``, and on SIGHUP.)"""
    model = await run_in_threadpool(service.reload)
    metrics.model_loaded.set(1)
    return ReloadPublic(model=model, path=str(service.predictor.path))


# ---- API keys ------------------------------------------------------------------------------------
class KeyPublic(BaseModel):
    id: int
    name: str
    prefix: str = Field(description="The public part of the key, shown in logs and lists.")
    scopes: list[str]
    rate_per_minute: int | None
    created_at: str
    revoked: bool


class KeyCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=100)
    scopes: list[Scope] = Field(min_length=1)
    rate_per_minute: int | None = Field(None, ge=1, le=1_000_000)


class KeyCreated(KeyPublic):
    key: str = Field(description="The key itself: shown once, never stored, never shown again.")


def _keys(state: StateDep) -> KeyStore:
    if state.keys is None:
        raise NotFoundError("this server requires no API keys (it listens on loopback only)")
    return state.keys


KeysDep = Annotated[KeyStore, Depends(_keys)]


NO_KEYS = {404: {"description": "This server requires no API keys (loopback only)."}}


@router.get("/keys", summary="List API keys (never their secrets)", responses=NO_KEYS)
def list_keys(keys: KeysDep) -> list[KeyPublic]:
    return [KeyPublic.model_validate(asdict(k)) for k in keys.list()]


@router.post("/keys", summary="Create an API key", status_code=201, responses=NO_KEYS)
def create_key(body: KeyCreate, keys: KeysDep) -> KeyCreated:
    key, secret = keys.create(body.name, body.scopes, body.rate_per_minute)
    return KeyCreated(**asdict(key), key=secret)


@router.delete(
    "/keys/{name_or_id}",
    summary="Revoke an API key",
    responses={
        404: {"description": "No active key with this name, id or prefix (or no keys at all)."},
        422: {"description": "Several active keys have this name: use the id."},
    },
)
def revoke_key(name_or_id: str, keys: KeysDep) -> KeyPublic:
    """The key stops working on every replica within a few seconds."""
    return KeyPublic.model_validate(asdict(keys.revoke(name_or_id)))
