"""Versioned, frozen data contracts passed between stages.

Every model is a frozen pydantic v2 model with a ``schema_version`` literal. Published JSON Schemas
live in ``schemas/`` at the repository root (``leadgate schemas export`` rewrites them); the test
``tests/contracts/test_schema_compat.py`` fails when a published schema changes incompatibly.
"""

from leadgate.contracts.decision import ActionName, Decision, Explanation, Factor, Score, Tier
from leadgate.contracts.errors import ContractError, FieldError
from leadgate.contracts.lead import Lead, Outcome, RawLead, Scalar, validate_lead

__all__ = [
    "ActionName",
    "ContractError",
    "Decision",
    "Explanation",
    "Factor",
    "FieldError",
    "Lead",
    "Outcome",
    "RawLead",
    "Scalar",
    "Score",
    "Tier",
    "validate_lead",
]
