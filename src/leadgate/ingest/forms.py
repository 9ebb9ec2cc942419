"""Web-form definitions and the mapping of one submission to a ``lead/v1`` lead (pure; no I/O but loading).

A forms file (YAML, checked line-precisely by ``leadgate.yamlcheck``) declares each form: which form field
goes to which lead field (``email``, ``first_name`` ... or ``attributes.<name>``) with which type, which
fields are required, which consent checkbox records which consent purpose under which wording version,
and how the form may be posted: ``signed`` (server to server, Standard Webhooks HMAC signature with the
form's secret from ``LEADGATE_FORM_SECRETS``) and/or ``browser`` (the embeddable form: a ticket, a
honeypot field and a minimum fill time). Example: ``defaults/forms.yaml``; guide: ``docs/channels.md``.

A submission's lead id is ``form-<form_id>-<first 24 hex digits of sha256(submission id)>``: the same
submission always makes the same lead.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from leadgate.contracts.errors import ContractError, FieldError
from leadgate.contracts.lead import Lead
from leadgate.governance.consent import Purpose
from leadgate.yamlcheck import YamlError, YamlIssue, check_yaml

LEAD_FIELDS = ("email", "first_name", "last_name", "company", "title", "country", "city", "phone")
"""Contact fields of ``lead/v1`` a form field may fill; any other target is ``attributes.<name>``."""

FORM_ID_PATTERN = r"^[a-z0-9][a-z0-9_-]{0,63}$"
SOURCE_PREFIX = "form:"
"""``Lead.source`` of a form lead: ``form:<form_id>``."""

_TRUE = frozenset({"true", "on", "yes", "1", "y"})
_FALSE = frozenset({"false", "off", "no", "0", "n", ""})

FieldType = Literal["string", "number", "integer", "boolean"]


class FormsError(YamlError):
    """A forms file is not valid; ``str()`` lists one ``file:line:col: path: message`` line per issue."""


class FieldSpec(BaseModel):
    """Where one form field goes.

    Attributes:
        to: ``email``, ``first_name``, ``last_name``, ``company``, ``title``, ``country``, ``city``,
            ``phone``, or ``attributes.<name>``.
        type: how the value is read: ``string`` (default), ``number``, ``integer`` or ``boolean``;
            numbers and booleans may arrive as text (an HTML form sends text).
        required: a submission without a value for it is refused.
        max_length: longest text accepted (characters; default 1,000).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)
    to: str
    type: FieldType = "string"
    required: bool = False
    max_length: int = Field(default=1000, ge=1, le=10_000)

    @field_validator("to")
    @classmethod
    def _target(cls, value: str) -> str:
        if value in LEAD_FIELDS:
            return value
        prefix, _, name = value.partition(".")
        if prefix != "attributes" or not name or len(name) > 128:
            raise ValueError(f"must be one of {', '.join(LEAD_FIELDS)} or attributes.<name>, got {value!r}")
        return value


class ConsentSpec(BaseModel):
    """A consent checkbox: ticked, it records consent to ``purpose`` under ``wording_version``."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    purpose: Purpose
    wording_version: Annotated[str, Field(min_length=1, max_length=128)]


class FormSpec(BaseModel):
    """One form.

    Attributes:
        description: what the form is (shown nowhere; for the reader).
        fields: form field name -> ``FieldSpec``.
        consents: checkbox name -> ``ConsentSpec``.
        signed: accepts server-to-server posts signed with the form's Standard Webhooks secret.
        browser: accepts posts from the embeddable browser form (ticket, honeypot, minimum fill time).
        honeypot: a field hidden from people; a submission with a value in it is refused (a bot).
        min_fill_seconds: fewest seconds between the ticket (form shown) and the submission; people need
            several seconds for even a short form, bots post at once. Default 3.
        personal: attribute names holding personal data (stored encrypted with the contact fields).
        constants: attributes every lead of this form gets (``lead_origin: Landing Page Submission``).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)
    description: str = ""
    fields: dict[str, FieldSpec] = Field(min_length=1)
    consents: dict[str, ConsentSpec] = Field(default_factory=dict)
    signed: bool = True
    browser: bool = False
    honeypot: str | None = None
    min_fill_seconds: float = Field(default=3.0, ge=0, le=3600)
    personal: list[str] = Field(default_factory=list)
    constants: dict[Annotated[str, Field(min_length=1, max_length=128)], str | int | float | bool] = Field(
        default_factory=dict
    )

    @model_validator(mode="after")
    def _consistent(self) -> FormSpec:
        if not (self.signed or self.browser):
            raise ValueError("a form must accept signed or browser posts (or both)")
        names = set(self.fields)
        clash = names & set(self.consents)
        if clash:
            raise ValueError(f"{', '.join(sorted(clash))}: both a field and a consent checkbox")
        if self.honeypot is not None and self.honeypot in names | set(self.consents):
            raise ValueError(f"honeypot {self.honeypot!r} is also a real field")
        targets = [spec.to for spec in self.fields.values()]
        doubled = sorted({t for t in targets if targets.count(t) > 1})
        if doubled:
            raise ValueError(f"two fields fill {', '.join(doubled)}")
        return self


class FormsFile(BaseModel):
    """A forms file: ``forms_version: 1`` and the forms by id (``[a-z0-9][a-z0-9_-]*``, at most 64)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    forms_version: Literal[1]
    forms: dict[Annotated[str, Field(pattern=FORM_ID_PATTERN)], FormSpec]


def check_forms_text(text: str) -> tuple[FormsFile | None, list[YamlIssue]]:
    """Validate forms YAML text; ``(forms, [])`` when valid, else ``(None, issues)`` with lines and columns."""
    return check_yaml(text, FormsFile, "forms file")


def load_forms(path: str | Path) -> FormsFile:
    """Read and validate a forms file.

    Raises:
        FormsError: one ``file:line:col: path: message`` line per problem.
        FileNotFoundError: no such file.
    """
    path = Path(path)
    forms, issues = check_forms_text(path.read_text(encoding="utf-8"))
    if forms is None:
        raise FormsError(str(path), issues)
    return forms


def submission_key(submission_id: str) -> str:
    """The sha256 (hex) of a submission id: how ``form_submissions`` stores it (any length, any text)."""
    return hashlib.sha256(submission_id.encode("utf-8", "surrogatepass")).hexdigest()


def form_lead_id(form_id: str, submission_id: str) -> str:
    """The lead id of a submission (the same submission always makes the same lead)."""
    return f"form-{form_id}-{submission_key(submission_id)[:24]}"


def _read(name: str, spec: FieldSpec, value: Any) -> tuple[Any, str | None]:
    """``(value, None)`` read as ``spec.type``, or ``(None, reason)``; blank text is no value (None)."""
    if isinstance(value, str):
        value = value.strip()
        if value == "" and spec.type != "boolean":
            return None, None
    if value is None:
        return None, None
    if spec.type == "string":
        if isinstance(value, bool) or not isinstance(value, str | int | float):
            return None, f"expected text, got {type(value).__name__}"
        text = str(value)
        if len(text) > spec.max_length:
            return None, f"longer than {spec.max_length} characters"
        return text, None
    if spec.type == "boolean":
        if isinstance(value, bool):
            return value, None
        if isinstance(value, str) and value.lower() in _TRUE | _FALSE:
            return value.lower() in _TRUE, None
        return None, f"expected true or false (a checkbox), got {value!r}"
    if isinstance(value, bool):
        return None, f"expected a number, got {value!r}"
    number: float
    if isinstance(value, int | float):
        number = float(value)
    elif isinstance(value, str):
        try:
            number = float(value.replace(",", "")) if len(value) <= 40 else math.nan
        except ValueError:
            return None, f"expected a number, got {value!r}"
    else:
        return None, f"expected a number, got {type(value).__name__}"
    if not math.isfinite(number):
        return None, f"expected a finite number, got {value!r}"
    if spec.type == "integer":
        if not number.is_integer():
            return None, f"expected a whole number, got {value!r}"
        return int(number), None
    return (int(number) if isinstance(value, int) else number), None


@dataclass(frozen=True)
class MappedSubmission:
    """A submission as a lead, with the consents ticked and the fields the form does not declare.

    Attributes:
        lead: the ``lead/v1`` lead (``source`` ``form:<form_id>``).
        consents: the ``ConsentSpec`` of each consent checkbox ticked, in declaration order.
        ignored_fields: submitted field names the form does not declare (not stored), sorted.
    """

    lead: Lead
    consents: list[ConsentSpec]
    ignored_fields: list[str]


def map_submission(
    form_id: str, form: FormSpec, fields: dict[str, Any], submission_id: str, now: datetime
) -> MappedSubmission:
    """The lead of one submission.

    Args:
        form_id: the form's id.
        form: its definition.
        fields: submitted field name -> value (text, number, boolean or null).
        submission_id: the client's submission id (or the ``webhook-id``): makes the lead id.
        now: arrival time (aware): ``received_at``.

    Returns:
        The ``MappedSubmission``.

    Raises:
        ContractError: one ``FieldError`` per problem, paths ``fields.<name>`` (a missing required field,
            a value of the wrong type) or the lead field (an invalid email address).
    """
    errors: list[FieldError] = []
    lead: dict[str, Any] = {
        "lead_id": form_lead_id(form_id, submission_id),
        "source": SOURCE_PREFIX + form_id,
        "received_at": now,
    }
    attributes: dict[str, Any] = dict(form.constants)
    origin: dict[str, str] = {}
    for name, spec in form.fields.items():
        value, problem = _read(name, spec, fields.get(name))
        if problem is not None:
            errors.append(FieldError(f"fields.{name}", problem))
            continue
        if value is None:
            if spec.required:
                errors.append(FieldError(f"fields.{name}", "required"))
            continue
        origin[spec.to] = name
        if spec.to.startswith("attributes."):
            attributes[spec.to.removeprefix("attributes.")] = value
        else:
            lead[spec.to] = value if isinstance(value, str) else str(value)
    consents: list[ConsentSpec] = []
    for name, consent in form.consents.items():
        value, problem = _read(name, FieldSpec(to="attributes.consent", type="boolean"), fields.get(name))
        if problem is not None:
            errors.append(FieldError(f"fields.{name}", problem))
        elif value:
            consents.append(consent)
    if errors:
        raise ContractError("lead/v1", errors)
    lead["attributes"] = attributes
    try:
        validated = Lead.model_validate(lead)
    except ValidationError as exc:
        found = ContractError.from_validation_error("lead/v1", exc)
        # name the form field the user filled in, not only the lead field
        renamed = [
            FieldError(f"fields.{origin.get(e.path, e.path)}", f"{e.path}: {e.reason}") for e in found.errors
        ]
        raise ContractError("lead/v1", renamed) from exc
    declared = set(form.fields) | set(form.consents) | ({form.honeypot} if form.honeypot else set())
    ignored = sorted(set(fields) - declared)
    return MappedSubmission(validated, consents, ignored)
