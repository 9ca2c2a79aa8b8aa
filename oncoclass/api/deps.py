"""What the endpoints depend on, as ``Annotated[..., Depends()]`` types.

The app's lifespan builds one :class:`ApiState` (the service plus what only HTTP needs: the
Prometheus metrics) and stores it in ``app.state``: no module-level globals, so two apps (two
tests) never share a model, a database or a metrics registry.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request

from oncoclass.api.metrics import Metrics
from oncoclass.service import OncoClassService
from oncoclass.settings import Settings


@dataclass
class ApiState:
    service: OncoClassService
    metrics: Metrics


def get_state(request: Request) -> ApiState:
    return request.app.state.api


StateDep = Annotated[ApiState, Depends(get_state)]


def get_service(state: StateDep) -> OncoClassService:
    return state.service


def get_metrics(state: StateDep) -> Metrics:
    return state.metrics


def get_settings(service: Annotated[OncoClassService, Depends(get_service)]) -> Settings:
    return service.settings


ServiceDep = Annotated[OncoClassService, Depends(get_service)]
MetricsDep = Annotated[Metrics, Depends(get_metrics)]
SettingsDep = Annotated[Settings, Depends(get_settings)]
