"""Models: one registry, one contract (``fit``/``predict_proba``/``save``), self-describing
checkpoints. Importing this package registers every model."""

from oncoclass.models.base import REGISTRY, Classifier, get_model_class, load_model, read_card
from oncoclass.models.baseline import BaselineClassifier
from oncoclass.models.cnn import CNNClassifier
from oncoclass.models.encoder import EncoderClassifier
from oncoclass.models.ensemble import EnsembleClassifier
from oncoclass.models.multimodal import MultiModalClassifier

__all__ = [
    "REGISTRY",
    "BaselineClassifier",
    "CNNClassifier",
    "Classifier",
    "EncoderClassifier",
    "EnsembleClassifier",
    "MultiModalClassifier",
    "get_model_class",
    "load_model",
    "read_card",
]


def create_model(name: str, **params: object) -> Classifier:
    """A fresh, unfitted model from the registry."""
    return get_model_class(name)(**params)  # type: ignore[arg-type]
