"""Consent: what each lead agreed to or withdrew, per purpose, and whether an outgoing action may contact them.

Statements of consent come from three places, all read by ``statements``:

* rows of the ``consents`` table (``record_consent``): from a form or CRM through
  ``POST /v1/leads/{lead_id}/consents``, from ``leadgate consent record``, and from the chat assistant's
  consent question (``leadgate.chat.qualify``), each with its source, the version of the wording the person
  saw, when they said it, who recorded it and the evidence;
* the lead's own attributes, as imported or posted: ``do_not_email`` / ``do_not_call`` (true: an
  objection to e-mail / calls, as CRM exports carry it, e.g. X Education's "Do Not Email" column) and
  ``consent_<purpose>`` (true or false, e.g. a form's marketing opt-in box mapped to
  ``consent_email_marketing``), dated at the lead's ``received_at`` with the lead's source;
* nothing: no statement for a purpose.

For each purpose the statement in force is the newest by ``given_at`` (a withdrawal wins a tie), so a
later opt-in after an old objection counts, and a withdrawal always ends an earlier consent (GDPR Art. 7(3):
withdrawing must be as easy as giving). ``may_contact`` then decides: a purpose in ``OPT_IN_PURPOSES``
(marketing e-mail: ePrivacy Directive 2002/58/EC Art. 13 and GDPR Art. 6(1)(a)) needs consent in force;
the others (a rep's e-mail or call about the lead's own request: legitimate interest, GDPR Art. 6(1)(f)
and the right to object, Art. 21) are allowed unless an objection or withdrawal is in force.

Every outgoing action asks ``may_contact`` first, through ``leadgate.actions.gate``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Annotated, Any, Final, Literal

import orjson
from pydantic import AfterValidator, BaseModel, ConfigDict, Field
from sqlalchemy import Connection, Table, insert, select

from leadgate.contracts.lead import Storable
from leadgate.db.consent_models import ConsentRow
from leadgate.errors import LeadgateError

CONSENTS: Final[Table] = ConsentRow.__table__  # type: ignore[assignment]

Purpose = Literal["email_marketing", "email_sales", "phone_sales"]
PURPOSES: Final[dict[str, str]] = {
    "email_marketing": "nurture and marketing e-mail (newsletters, content, campaigns)",
    "email_sales": "a sales rep's e-mail about the lead's own request (follow-up, meeting)",
    "phone_sales": "a sales rep's phone call about the lead's own request",
}
"""The purposes consent is recorded for, and what each covers."""

OPT_IN_PURPOSES: Final[frozenset[str]] = frozenset({"email_marketing"})
"""Purposes that need consent in force (opt-in); the others are allowed unless objected to (opt-out)."""

Source = Literal["chat", "form", "import", "api", "crm", "cli"]
SOURCES: Final[tuple[str, ...]] = ("chat", "form", "import", "api", "crm", "cli")
"""Where a statement of consent came from."""

OBJECTION_ATTRIBUTES: Final[dict[str, tuple[str, ...]]] = {
    "do_not_email": ("email_marketing", "email_sales"),
    "do_not_call": ("phone_sales",),
}
"""Lead attributes that, when true, object to these purposes."""


class ConsentError(LeadgateError, ValueError):
    """A statement of consent that cannot be recorded (a time in the future, consent without wording)."""


class UnknownLeadError(ConsentError):
    """The lead is not stored."""


def _aware(ts: datetime | None) -> datetime | None:
    if ts is not None and ts.tzinfo is None:
        raise ValueError("given_at needs a time zone (e.g. 2026-05-01T09:30:00Z)")
    return ts


class ConsentIn(BaseModel):
    """One statement to record (``POST /v1/leads/{lead_id}/consents``, ``leadgate consent record``).

    Attributes:
        purpose: one of ``PURPOSES``.
        granted: true when consent is given, false when it is withdrawn (or refused).
        source: where the person said it (one of ``SOURCES``).
        wording_version: the version of the consent text the person saw (``signup-form-2026-03``); 1 to 128
            characters. Required when ``granted`` is true: consent to an unknown text proves nothing.
        given_at: when the person said it (ISO-8601 with a zone); default: when it is recorded.
        evidence: small facts that locate the statement (``form_submission_id``, ``conversation_id``).
    """

    model_config = ConfigDict(
        extra="forbid",
        # the rule of record_consent, stated in the schema: granted consent names its wording
        json_schema_extra={
            "if": {"properties": {"granted": {"const": True}}, "required": ["granted"]},
            "then": {"properties": {"wording_version": {"type": "string"}}, "required": ["wording_version"]},
        },
    )

    purpose: Purpose
    granted: bool
    source: Source
    wording_version: Annotated[str, Storable, Field(min_length=1, max_length=128)] | None = None
    given_at: Annotated[datetime | None, AfterValidator(_aware)] = None
    evidence: dict[
        Annotated[str, Storable, Field(max_length=64)],
        Annotated[str, Storable, Field(max_length=256)]
        # integers a JSON number holds exactly (an IEEE double: +-(2**53 - 1), "safe integers")
        | Annotated[int, Field(ge=-(2**53 - 1), le=2**53 - 1)],
    ] = Field(default_factory=dict, max_length=10)


@dataclass(frozen=True)
class ConsentStatement:
    """A statement of consent or withdrawal for one purpose, wherever it was recorded.

    ``origin`` is ``consents`` (a row, ``row_id`` set) or ``lead`` (derived from the lead's attributes).
    """

    lead_id: str
    purpose: str
    granted: bool
    source: str
    wording_version: str | None
    given_at: datetime
    origin: str
    recorded_by: str | None = None
    row_id: int | None = None
    evidence: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        """JSON-able form (``given_at`` as ISO-8601)."""
        return {
            "purpose": self.purpose,
            "granted": self.granted,
            "source": self.source,
            "wording_version": self.wording_version,
            "given_at": self.given_at.isoformat(),
            "origin": self.origin,
            "recorded_by": self.recorded_by,
            "evidence": self.evidence,
        }


def record_consent(
    conn: Connection,
    lead_id: str,
    items: Sequence[ConsentIn],
    *,
    actor: str,
    role: str | None,
    route: str | None = None,
    now: datetime | None = None,
) -> list[ConsentStatement]:
    """Store statements of consent for a stored lead, and one ``consent_change`` access-log event.

    Args:
        conn: a connection inside a write transaction (hold ``write_lock`` on SQLite).
        lead_id: the lead (must be stored).
        items: the statements.
        actor: who records them (``Principal.subject``, ``cli:<user>``, ``chat``).
        role: the actor's role, or None.
        route: the route template or CLI command, for the access log.
        now: the recording time (default: now, UTC).

    Returns:
        The stored statements, in order.

    Raises:
        UnknownLeadError: the lead is not stored.
        ConsentError: a ``given_at`` lies in the future, or consent is granted without a ``wording_version``.
    """
    from leadgate.audit.access import record_access
    from leadgate.db.store import LEADS, utcnow

    now = now or utcnow()
    if conn.execute(select(LEADS.c.id).where(LEADS.c.lead_id == lead_id)).first() is None:
        raise UnknownLeadError(f"no stored lead {lead_id!r}: consent is recorded for stored leads")
    rows = []
    for item in items:
        given = item.given_at or now
        if given > now:
            raise ConsentError(f"given_at {given.isoformat()} is in the future")
        if item.granted and item.wording_version is None:
            raise ConsentError(f"consent to {item.purpose} needs the wording_version the person agreed to")
        rows.append(
            {
                "lead_id": lead_id,
                "purpose": item.purpose,
                "granted": item.granted,
                "source": item.source,
                "wording_version": item.wording_version,
                "given_at": given.astimezone(UTC),
                "recorded_at": now,
                "recorded_by": actor,
                "evidence": orjson.dumps(item.evidence, option=orjson.OPT_SORT_KEYS).decode(),
            }
        )
    out = []
    for row in rows:
        row_id = conn.execute(insert(CONSENTS).values(**row)).inserted_primary_key[0]  # type: ignore[index]
        out.append(_statement(row, row_id))
    if rows:
        record_access(
            conn,
            actor=actor,
            role=role,
            action="consent_change",
            route=route,
            object_type="lead",
            object_ids=[lead_id],
            detail={
                "changes": [f"{r['purpose']}:{'granted' if r['granted'] else 'withdrawn'}" for r in rows]
            },
        )
    return out


def _statement(row: Any, row_id: int) -> ConsentStatement:
    evidence = row["evidence"]
    return ConsentStatement(
        lead_id=row["lead_id"],
        purpose=row["purpose"],
        granted=bool(row["granted"]),
        source=row["source"],
        wording_version=row["wording_version"],
        given_at=_utc(row["given_at"]),
        origin="consents",
        recorded_by=row["recorded_by"],
        row_id=row_id,
        evidence=orjson.loads(evidence) if isinstance(evidence, str) else dict(evidence),
    )


def _utc(ts: datetime) -> datetime:
    return ts.replace(tzinfo=UTC) if ts.tzinfo is None else ts.astimezone(UTC)


def _lead_source(source: str) -> str:
    """The consent source of a lead's own attributes: ``chat``, ``api``, else ``import`` (CSV and CRM files)."""
    if source == "chat":
        return "chat"
    if source == "api":
        return "api"
    return "import"


def lead_statements(lead: dict[str, Any]) -> list[ConsentStatement]:
    """Statements carried by a stored lead's attributes (``do_not_email``, ``do_not_call``, ``consent_<purpose>``).

    Args:
        lead: the stored ``lead/v1`` dict (``lead_id``, ``source``, ``received_at``, ``attributes``).

    Returns:
        One statement per purpose an attribute speaks to, dated at ``received_at``; the wording version is
        the attribute ``consent_wording_version`` when the mapping supplies it.
    """
    attrs = lead.get("attributes") or {}
    received = lead["received_at"]
    given = _utc(datetime.fromisoformat(received) if isinstance(received, str) else received)
    source = _lead_source(str(lead.get("source", "")))
    wording = attrs.get("consent_wording_version")
    out = []
    for attribute, purposes in OBJECTION_ATTRIBUTES.items():
        if attrs.get(attribute) is True:
            out += [
                ConsentStatement(
                    lead["lead_id"], p, False, source, None, given, "lead", evidence={"attribute": attribute}
                )
                for p in purposes
            ]
    for purpose in PURPOSES:
        value = attrs.get(f"consent_{purpose}")
        if isinstance(value, bool):
            out.append(
                ConsentStatement(
                    lead["lead_id"],
                    purpose,
                    value,
                    source,
                    str(wording) if wording is not None else None,
                    given,
                    "lead",
                    evidence={"attribute": f"consent_{purpose}"},
                )
            )
    return out


def statements(conn: Connection, lead_id: str) -> list[ConsentStatement]:
    """Every statement of consent about a lead (rows and the lead's attributes), oldest first.

    Raises:
        UnknownLeadError: the lead is not stored.
    """
    from leadgate.db import store

    lead = store.get_lead(conn, lead_id)
    if lead is None:
        raise UnknownLeadError(f"no stored lead {lead_id!r}")
    rows = conn.execute(
        select(CONSENTS).where(CONSENTS.c.lead_id == lead_id).order_by(CONSENTS.c.given_at, CONSENTS.c.id)
    ).mappings()
    out = lead_statements(lead) + [_statement(r, r["id"]) for r in rows]
    return sorted(out, key=lambda s: s.given_at)


def in_force(
    items: Sequence[ConsentStatement], purpose: str, at: datetime | None = None
) -> ConsentStatement | None:
    """The statement in force for ``purpose`` at ``at`` (default: the newest), or None when there is none.

    It is the latest ``given_at`` not after ``at``; on a tie a withdrawal wins.
    """
    best: ConsentStatement | None = None
    for s in items:
        if s.purpose != purpose or (at is not None and s.given_at > at):
            continue
        if best is None or (s.given_at, not s.granted) >= (best.given_at, not best.granted):
            best = s
    return best


@dataclass(frozen=True)
class Permit:
    """Whether an outgoing action may contact a lead for a purpose, and why (one line)."""

    allowed: bool
    purpose: str
    reason: str
    statement: ConsentStatement | None = None


def decide(items: Sequence[ConsentStatement], purpose: str, at: datetime | None = None) -> Permit:
    """``may_contact`` on statements already read (see the module docstring for the rule)."""
    if purpose not in PURPOSES:
        raise ConsentError(f"unknown consent purpose {purpose!r}: use one of {', '.join(PURPOSES)}")
    s = in_force(items, purpose, at)
    if s is not None and not s.granted:
        how = "objected" if s.origin == "lead" else "withdrew consent"
        return Permit(False, purpose, f"the lead {how} to {purpose} ({s.source}, {s.given_at:%Y-%m-%d})", s)
    if s is not None:
        return Permit(True, purpose, f"consent to {purpose} given ({s.source}, {s.wording_version})", s)
    if purpose in OPT_IN_PURPOSES:
        return Permit(False, purpose, f"no consent to {purpose} on record (opt-in required)")
    return Permit(True, purpose, f"no objection to {purpose} on record (opt-out purpose)")


def may_contact(conn: Connection, lead_id: str, purpose: str, at: datetime | None = None) -> Permit:
    """Whether ``lead_id`` may be contacted for ``purpose`` at ``at`` (default: now).

    Raises:
        ConsentError: unknown purpose or lead.
    """
    return decide(statements(conn, lead_id), purpose, at)
