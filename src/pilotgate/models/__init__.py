"""Models: the protocol every model implements, and the offline extractive reference model."""

from pilotgate.models.base import Model, ModelRequest, ModelResponse, Passage
from pilotgate.models.reference import NOTHING_FOUND, REFERENCE_MODEL_NAME, ReferenceModel, approximate_tokens

__all__ = [
    "NOTHING_FOUND",
    "REFERENCE_MODEL_NAME",
    "Model",
    "ModelRequest",
    "ModelResponse",
    "Passage",
    "ReferenceModel",
    "approximate_tokens",
]
