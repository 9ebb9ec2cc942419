"""Which fields are personal, and where they are stored encrypted.

Leads: the top-level ``PERSONAL_LEAD_FIELDS`` and the attributes of mapping columns that are personal
(``pii: true``, or copied to one of those lead fields, see ``ColumnMapping.personal_attributes``) are
split out of the stored ``lead/v1`` document into ``leads.pii`` (one token per lead); the rest of the
document stays readable in ``leads.data``. ``split_lead`` and ``merge_lead`` go between the two forms.

``ENCRYPTED_COLUMNS`` lists every column holding tokens, with the row key bound into each token's
associated data (``crypto.aad``); key rotation and the tests walk it.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any

PERSONAL_LEAD_FIELDS: tuple[str, ...] = ("email", "first_name", "last_name", "phone")
"""Top-level ``lead/v1`` fields that are always personal data."""

_ATTRIBUTE_PARTS = ("attributes", "post_decision")


@dataclass(frozen=True)
class EncryptedColumn:
    """A column of tokens: ``table.column``, bound to the row by ``key_columns`` (joined with ``:``)."""

    table: str
    column: str
    key_columns: tuple[str, ...]

    def row_key(self, row: Mapping[str, Any]) -> str:
        """The row key bound into the token's associated data."""
        return ":".join(str(row[c]) for c in self.key_columns)


ENCRYPTED_COLUMNS: tuple[EncryptedColumn, ...] = (
    EncryptedColumn("leads", "pii", ("lead_id",)),
    EncryptedColumn("dead_letters", "record", ("dedupe_key",)),
    EncryptedColumn("conversations", "state", ("conversation_id",)),
    EncryptedColumn("conversation_events", "payload", ("conversation_id", "seq")),
    EncryptedColumn("bookings", "attendee_name", ("booking_id",)),
    EncryptedColumn("bookings", "attendee_email", ("booking_id",)),
    EncryptedColumn("bookings", "ics", ("booking_id",)),
)
"""Every encrypted column (``leads.pii`` is NULL for a lead without personal fields)."""


def split_lead(
    doc: dict[str, Any], personal_attributes: Collection[str] = ()
) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """Split a lead document into its non-personal part and its personal fields.

    Args:
        doc: the ``lead/v1`` record (not changed; the returned public part is a new dict when anything
            personal was found, else ``doc`` itself).
        personal_attributes: attribute names (in ``attributes`` or ``post_decision``) that are personal.

    Returns:
        ``(public, personal)``: ``public`` keeps every key, personal top-level fields set to None;
        ``personal`` is None when the lead has no personal value, else a dict of
        the top-level personal fields that are set and, under ``attributes`` / ``post_decision``, the
        personal attributes.
    """
    personal: dict[str, Any] = {}
    for name in PERSONAL_LEAD_FIELDS:
        if doc.get(name) is not None:
            personal[name] = doc[name]
    if personal_attributes:
        for part in _ATTRIBUTE_PARTS:
            values = doc.get(part)
            if values:
                found = {k: values[k] for k in personal_attributes if k in values}
                if found:
                    personal[part] = found
    if not personal:
        return doc, None
    public = {k: (None if k in personal and k not in _ATTRIBUTE_PARTS else v) for k, v in doc.items()}
    for part in _ATTRIBUTE_PARTS:
        if part in personal:
            public[part] = {k: v for k, v in doc[part].items() if k not in personal[part]}
    return public, personal


def merge_lead(public: dict[str, Any], personal: Mapping[str, Any] | None) -> dict[str, Any]:
    """The whole lead document from its two parts (``split_lead`` inverted; ``public`` is changed)."""
    if personal:
        for name, value in personal.items():
            if name in _ATTRIBUTE_PARTS:
                public[name] = {**public.get(name, {}), **value}
            else:
                public[name] = value
    return public


_EMAIL = re.compile(r"[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+")


def first_email(value: Any) -> str | None:
    """The first email address in a JSON-like value (strings searched depth first), or None."""
    if isinstance(value, str):
        found = _EMAIL.search(value)
        return found.group(0) if found else None
    if isinstance(value, Mapping):
        value = list(value.values())
    if isinstance(value, list | tuple):
        for item in value:
            got = first_email(item)
            if got is not None:
                return got
    return None
