"""Model registry: versions, content hashes and aliases (``champion``, ``challenger``).

Models are loaded by ``name``, ``name@alias`` or ``name@<version>``, never by a file path
(MLflow's model-URI convention).
"""

from leadgate.registry.models import (
    ModelNotFoundError,
    RegisteredModel,
    list_models,
    load_model,
    register_model,
    set_alias,
)

__all__ = [
    "ModelNotFoundError",
    "RegisteredModel",
    "list_models",
    "load_model",
    "register_model",
    "set_alias",
]
