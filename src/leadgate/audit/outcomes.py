"""Outcomes: what happened to a lead after its decision, and when; the labels training learns from.

An outcome is stored apart from the lead (table ``outcomes``): the lead's id, one of ``OUTCOMES``, when it
happened (``occurred_at``, UTC, or None when the source does not say) and the source record. Storing is
idempotent: the same lead, outcome and time from the same source are stored once, whatever the number of
imports (CRM webhooks will write here too). Training joins leads to the outcomes known at its cut-off
(``labels_at``), so an outcome recorded after the cut-off never labels a lead in training.

An outcomes file is described by an outcomes mapping (YAML, read with the line-precise checker)::

    outcomes_version: 1
    name: olist_closed_deals
    source: csv:olist_deals
    delimiter: ","                 # optional, default ","
    encoding: utf-8                # optional
    lead_id_column: mql_id         # the lead's id, as the leads mapping's id column holds it
    outcome: won                   # every row is this outcome (a file of closed deals) ...
    # outcome_column: Stage        # ... or the column holding it, with its spellings:
    # values: {Closed Won: won, Closed Lost: lost, Qualified: opportunity_created}
    occurred_at_column: won_date   # optional: when it happened
    timezone: America/Sao_Paulo    # optional: zone of times written without an offset (default UTC)
    positive: [won]                # outcomes that count as a conversion in training (default converted, won)
    label_window_days: 180         # optional: a lead converted only if it happened within 180 days of arrival;
                                   # leads younger than that at the cut-off are left out of training (not mature)
"""

from __future__ import annotations

import codecs
import csv
import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo

import orjson
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from sqlalchemy import Connection, Table, func, select

from leadgate.db.models import OutcomeRow
from leadgate.db.store import insert_ignore, utcnow
from leadgate.errors import LeadgateError
from leadgate.ingest.mapping import check_encoding, check_timezone
from leadgate.yamlcheck import YamlError, check_yaml

OUTCOMES: Table = OutcomeRow.__table__  # type: ignore[assignment]

Outcome = Literal["converted", "opportunity_created", "won", "lost", "disqualified", "meeting_held"]
"""The outcomes leadgate knows: a conversion (MQL -> SQL or customer, as the source defines it), an
opportunity created, a deal won or lost, a lead disqualified by sales, a sales meeting held (CRM webhooks)."""

OUTCOME_NAMES: tuple[str, ...] = (
    "converted",
    "opportunity_created",
    "won",
    "lost",
    "disqualified",
    "meeting_held",
)


_DEFAULT_POSITIVE: tuple[Outcome, ...] = ("converted", "won")


class OutcomesError(LeadgateError, ValueError):
    """An outcomes mapping or file cannot be used (one line naming the file, column or value)."""


class OutcomesMapping(BaseModel):
    """How the columns of an outcomes file become outcomes (see the module docstring for the YAML)."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    outcomes_version: Literal[1] = 1
    name: Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]*$", max_length=64)]
    source: Annotated[str, Field(min_length=1, max_length=64)]
    delimiter: Annotated[str, Field(min_length=1, max_length=1)] = ","
    encoding: str = "utf-8"
    lead_id_column: str
    outcome: Outcome | None = None
    outcome_column: str | None = None
    values: dict[str, Outcome] = Field(default_factory=dict)
    occurred_at_column: str | None = None
    timezone: str = "UTC"
    positive: list[Outcome] = Field(default_factory=lambda: list(_DEFAULT_POSITIVE))
    label_window_days: Annotated[int, Field(ge=1, le=3650)] | None = None

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        return check_timezone(value)

    @field_validator("encoding")
    @classmethod
    def _encoding(cls, value: str) -> str:
        return check_encoding(value)

    @model_validator(mode="after")
    def _one_outcome_source(self) -> OutcomesMapping:
        if (self.outcome is None) == (self.outcome_column is None):
            raise ValueError("give exactly one of 'outcome' (every row) and 'outcome_column'")
        if self.outcome_column is not None and not self.values:
            raise ValueError("'outcome_column' needs 'values': each spelling in the file -> an outcome")
        if not self.positive:
            raise ValueError("'positive' needs at least one outcome")
        return self

    def content_hash(self) -> str:
        """sha256 of the canonical JSON of this mapping."""
        return hashlib.sha256(orjson.dumps(self.model_dump(), option=orjson.OPT_SORT_KEYS)).hexdigest()


def load_outcomes_mapping(path: str | Path) -> OutcomesMapping:
    """Load an outcomes mapping.

    Raises:
        FileNotFoundError: the file does not exist.
        YamlError: ``file:line:col: path: message`` for each problem (syntax, duplicate keys, schema).
    """
    mapping, issues = check_yaml(Path(path).read_text(encoding="utf-8"), OutcomesMapping, "outcomes mapping")
    if mapping is None:
        raise YamlError(str(path), issues)
    return mapping


def parse_time(text: str, zone: str) -> datetime:
    """Parse an ISO-8601 date or date-time; a value without an offset is in ``zone``. Returns UTC.

    Raises:
        ValueError: not an ISO-8601 date or date-time.
    """
    value = datetime.fromisoformat(text.strip())
    if value.tzinfo is None:
        value = value.replace(tzinfo=ZoneInfo(zone))
    return value.astimezone(UTC)


@dataclass
class OutcomeRecords:
    """Rows of an outcomes file: valid outcome rows and rejected rows ``(row number, record, reason)``."""

    rows: list[dict[str, Any]] = field(default_factory=list)
    rejected: list[tuple[int, dict[str, str], str]] = field(default_factory=list)


def read_outcomes(path: str | Path, mapping: OutcomesMapping) -> OutcomeRecords:
    """Read an outcomes file into ``outcomes`` rows (not yet stored).

    Raises:
        OutcomesError: the file cannot be decoded with the mapping's encoding, or lacks a named column.
    """
    path = Path(path)
    out = OutcomeRecords()
    try:
        encoding = "utf-8-sig" if codecs.lookup(mapping.encoding).name == "utf-8" else mapping.encoding
        with open(path, newline="", encoding=encoding) as fh:
            reader = csv.DictReader(fh, delimiter=mapping.delimiter)
            header = list(reader.fieldnames or [])
            if header and header[0].startswith("\ufeff"):
                header[0] = header[0].removeprefix("\ufeff")
                reader.fieldnames = header
            needed = [mapping.lead_id_column, mapping.outcome_column, mapping.occurred_at_column]
            absent = [c for c in needed if c is not None and c not in header]
            if absent:
                hint = ""
                if len(header) == 1 and mapping.delimiter not in header[0]:
                    hint = " (is the delimiter right? the header was read as one column)"
                raise OutcomesError(
                    f"{path}: columns named by outcomes mapping {mapping.name!r} are absent: {absent}{hint}"
                )
            recorded = utcnow()
            for number, raw in enumerate(reader, start=1):
                record = {k: v for k, v in raw.items() if k is not None}
                row, reason = _outcome_row(record, mapping, recorded)
                if row is None:
                    out.rejected.append((number, record, reason))
                else:
                    out.rows.append(row)
    except UnicodeDecodeError as exc:
        raise OutcomesError(
            f"{path}: not readable as {mapping.encoding} ({exc.reason} at byte {exc.start}); set 'encoding' "
            "in the outcomes mapping (for example cp1252 or latin-1)"
        ) from exc
    return out


def _outcome_row(
    record: dict[str, Any], mapping: OutcomesMapping, recorded: datetime
) -> tuple[dict[str, Any] | None, str]:
    lead_id = (record.get(mapping.lead_id_column) or "").strip()
    if not lead_id:
        return None, f"{mapping.lead_id_column}: a lead id is required"
    if mapping.outcome is not None:
        outcome: str = mapping.outcome
    else:
        spelled = (record.get(mapping.outcome_column or "") or "").strip()
        found = mapping.values.get(spelled)
        if found is None:
            known = ", ".join(sorted(mapping.values))
            return None, f"{mapping.outcome_column}: {spelled!r} is not one of the declared values ({known})"
        outcome = found
    occurred: datetime | None = None
    if mapping.occurred_at_column is not None:
        text = (record.get(mapping.occurred_at_column) or "").strip()
        if text:
            try:
                occurred = parse_time(text, mapping.timezone)
            except ValueError:
                return None, f"{mapping.occurred_at_column}: expected an ISO-8601 date or time, got {text!r}"
    when = occurred.isoformat() if occurred else ""
    key = hashlib.sha256(f"{mapping.source}|{lead_id}|{outcome}|{when}".encode()).hexdigest()
    return {
        "lead_id": lead_id,
        "outcome": outcome,
        "occurred_at": occurred,
        "source": mapping.source,
        "dedupe_key": key,
        "record": orjson.dumps(record, option=orjson.OPT_SORT_KEYS).decode(),
        "recorded_at": recorded,
    }, ""


def write_outcomes(conn: Connection, rows: Sequence[dict[str, Any]]) -> int:
    """Store outcome rows, skipping those already stored (same source, lead, outcome and time).

    Returns:
        The number of rows newly stored.
    """
    if not rows:
        return 0
    before = count_outcomes(conn)
    unique = list({r["dedupe_key"]: r for r in rows}.values())
    conn.execute(insert_ignore(conn, OUTCOMES, ["dedupe_key"]), unique)
    return count_outcomes(conn) - before


def labels_at(
    conn: Connection, lead_ids: Iterable[str], cutoff: datetime, positive: Sequence[str]
) -> dict[str, datetime]:
    """Which leads had a positive outcome known at ``cutoff``, and when the first one happened.

    An outcome counts when it happened at or before ``cutoff`` (or, without a time, was recorded by then).

    Returns:
        lead_id -> time (UTC) of its earliest positive outcome known at the cut-off, for every lead of
        ``lead_ids`` that has one; the other leads are absent (the caller treats them as not converted).
    """
    wanted = set(lead_ids)
    cutoff = cutoff.astimezone(UTC)
    found: dict[str, datetime] = {}
    query = select(OUTCOMES.c.lead_id, OUTCOMES.c.occurred_at, OUTCOMES.c.recorded_at).where(
        OUTCOMES.c.outcome.in_(list(positive))
    )
    for lead_id, occurred, recorded in conn.execute(query):
        if lead_id not in wanted:
            continue
        when = occurred if occurred is not None else recorded
        if when.tzinfo is None:  # SQLite returns naive UTC
            when = when.replace(tzinfo=UTC)
        if when <= cutoff and (lead_id not in found or when < found[lead_id]):
            found[lead_id] = when
    return found


def count_outcomes(conn: Connection, source: str | None = None) -> int:
    """Stored outcomes (of one source, or all)."""
    query = select(func.count()).select_from(OUTCOMES)
    if source is not None:
        query = query.where(OUTCOMES.c.source == source)
    return int(conn.execute(query).scalar_one())
