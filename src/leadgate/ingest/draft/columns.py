"""One column at a time: field names, types, missing tokens, boolean spellings, decimal commas.

``profile_column`` infers what a column mapping needs to know about one column from its cells; the
roles (id, label, time) and the feature choice are decided across columns by
``leadgate.ingest.draft.infer``.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from pydantic import TypeAdapter, ValidationError

from leadgate.contracts.lead import Lead
from leadgate.ingest.draft.model import ColumnDraft

MISSING_TOKENS = frozenset(
    {
        "select",  # an unchosen drop-down (X Education)
        "unknown",
        "n/a",
        "na",
        "#n/a",
        "n.a.",
        "-",
        "--",
        "?",
        "none",
        "null",
        "nil",
        "nan",
        "(blank)",
        "(none)",
        "--none--",  # Salesforce's empty picklist
        "not set",
        "not specified",
        "not provided",
        "k.a.",  # German "keine Angabe"
        "k. a.",
        "keine angabe",
        "unbekannt",
    }
)
"""Cell values (compared case-insensitively, after stripping) that usually mean "no value"."""

BOOLEAN_PAIRS: tuple[tuple[str, str], ...] = (
    ("yes", "no"),
    ("true", "false"),
    ("1", "0"),
    ("y", "n"),
    ("t", "f"),
    ("ja", "nein"),
    ("j", "n"),
    ("oui", "non"),
    ("si", "no"),
    ("sí", "no"),
)
"""Known (true, false) spellings, lower case."""

DATETIME_FORMATS: tuple[tuple[str, bool], ...] = (
    ("%Y-%m-%d", True),
    ("%Y-%m-%d %H:%M", True),
    ("%Y-%m-%d %H:%M:%S", True),
    ("%Y-%m-%dT%H:%M:%S", True),
    ("%Y-%m-%dT%H:%M:%SZ", True),
    ("%Y-%m-%dT%H:%M:%S%z", True),
    ("%Y-%m-%dT%H:%M:%S.%f", True),
    ("%Y-%m-%dT%H:%M:%S.%fZ", True),
    ("%Y-%m-%dT%H:%M:%S.%f%z", True),
    ("%Y-%m-%d %H:%M:%S.%f", False),
    ("%d.%m.%Y", False),
    ("%d.%m.%Y %H:%M", False),
    ("%d.%m.%Y %H:%M:%S", False),
    ("%m/%d/%Y", False),
    ("%m/%d/%Y %H:%M", False),
    ("%m/%d/%Y %I:%M %p", False),
    ("%m/%d/%Y %H:%M:%S", False),
    ("%d/%m/%Y", False),
    ("%d/%m/%Y %H:%M", False),
    ("%d/%m/%Y %H:%M:%S", False),
    ("%Y/%m/%d", False),
    ("%Y/%m/%d %H:%M:%S", False),
    ("%d-%m-%Y", False),
    ("%m/%d/%y", False),
    ("%d.%m.%y", False),
)
"""``strptime`` formats tried in order, with whether the mapping reads them without a ``format`` (ISO-8601).
US month-first comes before day-first: when both parse every value, the draft says the order is ambiguous."""

CATEGORY_MAX_LEVELS = 50
"""A text column with at most this many distinct values is a ``category``."""

CATEGORY_MAX_SHARE = 0.2
"""Above ``CATEGORY_MAX_LEVELS``, a text column is still a ``category`` when its distinct values are at
most this share of its non-missing cells (and at most 1000); otherwise it is free text (``string``)."""

LEAD_FIELDS: dict[str, str] = {
    "email": r"e_?mail(_address|_adresse)?|work_email|contact_email",
    "first_name": r"first_?name|vorname|given_name|firstname",
    "last_name": r"last_?name|nachname|surname|family_name|lastname",
    "company": r"company|company_name|firma|account_name|organi[sz]ation|unternehmen",
    "title": r"title|job_title|position|jobtitle",
    "country": r"country|country_region|land",
    "city": r"city|ort|stadt",
    "phone": r"phone|phone_number|mobile|telefon|tel|mobile_phone",
}
"""Lead contact field -> field-name pattern (full match) of the columns copied to it."""


_INT = re.compile(r"^[+-]?\d+$")
_FLOAT = re.compile(r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$")
_COMMA_FLOAT = re.compile(r"^[+-]?\d+(,\d+)?$")
_THOUSANDS = re.compile(r"^[+-]?\d{1,3}([.,]\d{3})+([.,]\d+)?$")


def snake_name(text: str, max_length: int = 64) -> str:
    """``text`` as a snake_case name (``^[a-z][a-z0-9_]*$``): accents dropped, other characters to ``_``.

    ``"Umsatz (Mio. €)"`` -> ``umsatz_mio``; a name that would start with a digit gets a ``c_`` prefix;
    an empty result is ``column``.
    """
    text = text.replace("ß", "ss")
    plain = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    name = re.sub(r"[^a-z0-9]+", "_", plain.lower()).strip("_") or "column"
    if not name[0].isalpha():
        name = "c_" + name
    return name[:max_length].rstrip("_")


def _unique_fields(headers: Sequence[str]) -> list[str]:
    seen: set[str] = set()
    out = []
    for h in headers:
        base = snake_name(h, 60)
        name, k = base, 2
        while name in seen:
            name, k = f"{base}_{k}", k + 1
        seen.add(name)
        out.append(name)
    return out


def _datetime_format(values: Sequence[str]) -> tuple[str, bool, bool] | None:
    """``(format, iso, ambiguous)`` of the first format parsing every value, or None."""
    found: list[tuple[str, bool]] = []
    for fmt, iso in DATETIME_FORMATS:
        try:
            for v in values:
                datetime.strptime(v, fmt)
        except ValueError:
            continue
        found.append((fmt, iso))
        if len(found) == 1 and "%m/%d" not in fmt:
            break
    if not found:
        return None
    fmt, iso = found[0]
    ambiguous = any(f.replace("%m/%d", "%d/%m") == fmt.replace("%m/%d", "%d/%m") for f, _ in found[1:])
    return fmt, iso, ambiguous


def _lead_field(field_name: str, values: Sequence[str]) -> str | None:
    for target, pattern in LEAD_FIELDS.items():
        if re.fullmatch(pattern, field_name):
            adapter: TypeAdapter[Any] = TypeAdapter(Lead.model_fields[target].annotation)  # type: ignore[arg-type]
            try:
                for v in values:
                    adapter.validate_python(v)
            except ValidationError:
                return None
            return target
    return None


def profile_column(header: str, field_name: str, cells: Sequence[str], delimiter: str) -> ColumnDraft:
    """Infer one column's type, missing tokens and boolean spellings from its cells.

    Args:
        header: the CSV header.
        field_name: the attribute name proposed for it.
        cells: every cell of the column (n,), as read.
        delimiter: the file's delimiter (``;`` makes ``1,5`` a decimal comma rather than a thousands
            separator).

    Returns:
        A ``ColumnDraft`` (stage ``pre_decision``; roles and features are decided by ``draft_project``).
    """
    stripped = [c.strip() for c in cells]
    counts = Counter(stripped)
    tokens = sorted((v for v in counts if v and v.lower() in MISSING_TOKENS), key=lambda v: -counts[v])
    missing = {"", *tokens}
    present = {v: k for v, k in counts.items() if v not in missing}
    col = ColumnDraft(header=header, field=field_name, type="string")
    col.n_missing = sum(k for v, k in counts.items() if v in missing)
    col.distinct = len(present)
    col.top = [v for v, _ in Counter(present).most_common(5)]
    col.unique = col.n_missing == 0 and col.distinct == len(cells)
    if tokens:
        col.missing_values = ["", *tokens]
        col.notes.append(f"missing-value token(s) seen: {', '.join(map(repr, tokens))}")
    values = list(present)
    lowered = {v.lower() for v in values}
    if not values:
        col.type = "string"
        col.excluded = "always missing"
        return col
    for true, false in BOOLEAN_PAIRS:
        if lowered <= {true, false}:
            col.type = "boolean"
            col.true_values = sorted({v for v in values if v.lower() == true}) or [_spell(true, values)]
            col.false_values = sorted({v for v in values if v.lower() == false}) or [_spell(false, values)]
            return col
    if all(_INT.match(v) for v in values) and not any(
        len(v) > 1 and v.lstrip("+-").startswith("0") for v in values
    ):
        col.type = "integer"
        return col
    if all(_FLOAT.match(v) for v in values):
        col.type = "number"
        return col
    if all(_COMMA_FLOAT.match(v) for v in values) and (
        delimiter != "," or any(re.search(r",(\d{1,2}|\d{4,})$", v) for v in values)
    ):
        col.type = "number"
        col.decimal_comma = True
        return col
    if all(_THOUSANDS.match(v) or _FLOAT.match(v) for v in values):
        col.notes.append(
            "CHECK: numbers with thousands separators (1.234,5 or 1,234.5): the mapping reads plain numbers "
            "only, so this column is kept as text; export it without thousands separators to use it"
        )
    fmt = _datetime_format(values)
    if fmt is not None:
        col.type = "datetime"
        col.format = None if fmt[1] else fmt[0]
        if fmt[2]:
            col.notes.append(
                f"CHECK: day and month are both 12 or less in every value; read as {fmt[0]} "
                "(month first); use %d/%m/... if the export is day first"
            )
        return col
    non_missing = len(cells) - col.n_missing
    if col.distinct == non_missing and non_missing >= 10:
        col.type = "string"
    elif col.distinct <= CATEGORY_MAX_LEVELS or (
        col.distinct <= 1000 and col.distinct <= CATEGORY_MAX_SHARE * non_missing
    ):
        col.type = "category"
    else:
        col.type = "string"
    return col


def _spell(lower: str, values: Sequence[str]) -> str:
    """The missing side of a boolean pair spelled like the side that was seen (``No`` -> ``Yes``)."""
    sample = values[0]
    if sample.isupper():
        return lower.upper()
    if sample[:1].isupper():
        return lower.capitalize()
    return lower


def _number(text: str, decimal_comma: bool) -> float | None:
    if decimal_comma:
        text = text.replace(".", "").replace(",", ".")
    try:
        return float(text)
    except ValueError:
        return None
