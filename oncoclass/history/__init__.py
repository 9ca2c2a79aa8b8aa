"""The prediction history: every prediction the service makes, stored with its inputs, outputs,
model and time, in SQLite (default) or PostgreSQL."""

from oncoclass.history.db import Database, create_database_engine
from oncoclass.history.models import ApiKeyRecord, Base, PredictionRecord
from oncoclass.history.repository import PredictionRepository

__all__ = [
    "ApiKeyRecord",
    "Base",
    "Database",
    "PredictionRecord",
    "PredictionRepository",
    "create_database_engine",
]
