"""What the endpoints depend on, as ``Annotated[..., Depends()]`` types.

Everything lives in one :class:`Services` object that the app's lifespan builds and stores in
``app.state``: no module-level globals, so two apps (two tests) never share a model, a database
or a metrics registry.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.orm import Session

from oncoclass.api.errors import ModelUnavailableError
from oncoclass.api.metrics import Metrics
from oncoclass.history import Database, PredictionRepository
from oncoclass.knowledge import KnowledgeBase
from oncoclass.predictor import Predictor
from oncoclass.settings import Settings


@dataclass
class Services:
    settings: Settings
    database: Database
    knowledge: KnowledgeBase
    metrics: Metrics
    predictor: Predictor | None = None
    #: Why there is no predictor (shown by /health and in 503 answers).
    model_error: str | None = None


def get_services(request: Request) -> Services:
    return request.app.state.services


ServicesDep = Annotated[Services, Depends(get_services)]


def get_settings(services: ServicesDep) -> Settings:
    return services.settings


def get_predictor(services: ServicesDep) -> Predictor:
    if services.predictor is None:
        raise ModelUnavailableError(f"no model is loaded: {services.model_error}")
    return services.predictor


def get_knowledge(services: ServicesDep) -> KnowledgeBase:
    return services.knowledge


def get_metrics(services: ServicesDep) -> Metrics:
    return services.metrics


def get_session(services: ServicesDep) -> Iterator[Session]:
    with services.database.session() as session:
        yield session


SessionDep = Annotated[Session, Depends(get_session)]


def get_repository(session: SessionDep) -> PredictionRepository:
    return PredictionRepository(session)


SettingsDep = Annotated[Settings, Depends(get_settings)]
PredictorDep = Annotated[Predictor, Depends(get_predictor)]
KnowledgeDep = Annotated[KnowledgeBase, Depends(get_knowledge)]
MetricsDep = Annotated[Metrics, Depends(get_metrics)]
RepositoryDep = Annotated[PredictionRepository, Depends(get_repository)]
