"""Lead contracts: ``RawLead`` (as received from a channel) and ``Lead`` v1 (validated, normalized).

A lead keeps what was known when it arrived (``attributes``, the only input features may read) apart from
what was recorded after sales contact (``post_decision``, kept for audit and analysis, never a feature)
and from its ``outcome`` (the label, filled in when it is known).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    EmailStr,
    Field,
    Strict,
    ValidationError,
    field_validator,
)
from pydantic_core import PydanticCustomError

from leadgate.contracts.errors import ContractError

Scalar = str | int | float | bool | None
"""A single attribute value (the Python type)."""

UNSTORABLE_REASON = "must not contain NUL characters (\\x00) or unpaired surrogates"
"""Reason given for a string PostgreSQL cannot store (SQLite refuses it the same way, for one contract)."""

NO_NUL_PATTERN = "^[^\\x00]*$"
"""JSON Schema ``pattern`` of a storable string (no NUL), in the OpenAPI schema of every string."""


def unstorable(text: str) -> bool:
    """True when PostgreSQL text cannot hold ``text``: a NUL character or an unpaired surrogate."""
    if "\x00" in text:
        return True
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def _storable(value: Any) -> Any:
    if isinstance(value, str) and unstorable(value):
        raise PydanticCustomError("unstorable_text", UNSTORABLE_REASON)
    return value


Storable = AfterValidator(_storable)
"""Refuses strings with NUL characters or unpaired surrogates (PostgreSQL text cannot hold them; a JSON body
parsed by FastAPI keeps an escaped ``\\ud800``). Add it to every string type of input that gets stored.
The published contract schemas leave it out; the API's OpenAPI schema says it for every string
(``leadgate.api.errors.document_errors``)."""

# The validated form of ``Scalar``: strict types tried left to right, commonest first (no coercion:
# "1" stays a string, 1 stays an int, True stays a bool); 64-bit integers, finite floats, strings of at
# most 10,000 characters.
ScalarIn = Annotated[
    None  # noqa: RUF036 - first on purpose: the commonest value is tried first
    | Annotated[str, Strict(), Field(max_length=10_000)]
    | Annotated[bool, Strict()]
    | Annotated[int, Strict(), Field(ge=-(2**63), le=2**63 - 1)]
    | Annotated[float, Strict(), Field(allow_inf_nan=False)],
    Field(union_mode="left_to_right"),
    Storable,
]
_AttrName = Annotated[str, Field(min_length=1, max_length=128), Storable]
Attributes = dict[_AttrName, ScalarIn]

LeadId = Annotated[str, Field(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9][A-Za-z0-9._:@\-]*$")]

OwnerId = Annotated[str, Field(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9][A-Za-z0-9._:@\-]*$")]
"""The id of the sales rep a lead is assigned to (the rep ids of ``booking.yaml`` fit, as do CRM user ids and
emails): a letter or digit, then letters, digits and ``. _ : @ -``; at most 128 characters."""

_FROZEN = ConfigDict(frozen=True, extra="forbid", str_strip_whitespace=True)


class RawLead(BaseModel):
    """A lead as a channel delivered it, before mapping: one CSV row, form post or webhook body.

    Attributes:
        source: channel name (``csv:xeducation``, ``api``, ``chat``).
        external_id: the channel's own id for the record, if any; with ``source`` it is the idempotency key.
        payload: the original fields, unmodified (strings for CSV).
        received_at: when leadgate received it (UTC).
    """

    model_config = _FROZEN
    schema_version: Literal["raw_lead/v1"] = "raw_lead/v1"
    source: Annotated[str, Field(min_length=1, max_length=64), Storable]
    external_id: Annotated[str, Storable] | None = None
    payload: dict[str, Any]
    received_at: datetime = Field(default_factory=lambda: datetime.now(UTC))


class Outcome(BaseModel):
    """What became of the lead, when known. ``converted`` is the training label."""

    model_config = _FROZEN
    converted: bool | None = None
    recorded_at: datetime | None = None


class Lead(BaseModel):
    """A validated lead, contract ``lead/v1``.

    Attributes:
        lead_id: stable id, unique per source (``[A-Za-z0-9][A-Za-z0-9._:@-]*``, at most 128 chars).
        source: channel the lead came from.
        received_at: arrival time (UTC); the decision time features are computed for.
        email, first_name, last_name, company, title, country, city, phone: contact fields, all optional.
        owner: the sales rep (``OwnerId``) the lead is assigned to, when the sender knows it (a CRM export,
            an API client); routing assigns it otherwise. Stored in ``leads.owner``, apart from the lead's
            content: it is in neither ``input_hash`` nor ``content_hash``, and a lead sent again without
            an owner keeps the one it has.
        attributes: pre-decision values known on arrival (mapped names, e.g. ``lead_origin``); the only
            values a feature set may read. Values are scalars; floats are finite.
        post_decision: values recorded after sales contact (e.g. rep tags); never fed to a model.
        outcome: the label when it is known.
    """

    model_config = _FROZEN
    schema_version: Literal["lead/v1"] = "lead/v1"
    lead_id: LeadId
    source: Annotated[str, Field(min_length=1, max_length=64), Storable] = "api"
    received_at: datetime = Field(default_factory=lambda: datetime.now(UTC))
    email: Annotated[EmailStr, Storable] | None = None
    first_name: Annotated[str, Field(max_length=200), Storable] | None = None
    last_name: Annotated[str, Field(max_length=200), Storable] | None = None
    company: Annotated[str, Field(max_length=300), Storable] | None = None
    title: Annotated[str, Field(max_length=300), Storable] | None = None
    country: Annotated[str, Field(max_length=100), Storable] | None = None
    city: Annotated[str, Field(max_length=100), Storable] | None = None
    phone: Annotated[str, Field(max_length=40), Storable] | None = None
    owner: OwnerId | None = None
    attributes: Attributes = Field(default_factory=dict)
    post_decision: Attributes = Field(default_factory=dict)
    outcome: Outcome | None = None

    @field_validator("received_at")
    @classmethod
    def _aware(cls, value: datetime) -> datetime:
        return value if value.tzinfo else value.replace(tzinfo=UTC)


def lead_document(lead: Lead) -> dict[str, Any]:
    """The JSON-ready dict of a lead, equal to ``lead.model_dump()`` but built without the serializer.

    Used on the batch path (a few microseconds instead of about ten); ``tests/contracts`` checks it
    against ``model_dump`` on every real lead. Values are plain Python (datetimes stay datetimes).
    """
    doc = dict(lead.__dict__)
    outcome = lead.outcome
    doc["outcome"] = None if outcome is None else dict(outcome.__dict__)
    return doc


def validate_lead(data: dict[str, Any]) -> Lead:
    """Validate a plain dict as ``Lead`` v1.

    Raises:
        ContractError: with one ``FieldError(path, reason)`` per broken rule.
    """
    try:
        return Lead.model_validate(data)
    except ValidationError as exc:
        raise ContractError("lead/v1", ContractError.from_validation_error("lead/v1", exc).errors) from exc
