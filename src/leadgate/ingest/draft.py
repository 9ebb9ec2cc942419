"""Draft a leadgate project from a CSV export: what ``leadgate init FILE.csv`` writes.

``draft_project`` reads the file once and infers, column by column, everything a column mapping needs;
``write_draft`` writes four commented files the user reviews before anything is trained:

* ``mapping.yaml``: delimiter and encoding, the id, label and time columns, each column's type, missing
  tokens and boolean spellings, every column ``stage: pre_decision`` unless it is the id, label or time
  column, and a comment on each column whose single-column held-out AUC against the label is high
  enough to suggest it was recorded after the outcome;
* ``features.yaml``: one feature per usable column; ids, contact details, free text, dates, constant
  columns and likely leaks are present but commented out, each with its reason;
* ``policy.yaml``: tiers set relative to the measured base rate, no dataset-specific rules;
* ``leadgate.yaml``: the project file naming the three.

How each thing is found:

* encoding: strict UTF-8 when the bytes decode as UTF-8 (a BOM is noted), else ``charset_normalizer``'s
  best guess (named cp1252, which Windows exports use, when cp1252 reads the bytes to the same text);
* delimiter: ``csv.Sniffer`` restricted to ``, ; tab |``, confirmed by a constant field count over the
  first rows (else the candidate giving the most consistent count wins);
* types: ``boolean`` when every value is one of a known true/false pair (yes/no, true/false, 1/0, y/n,
  ja/nein, ...); ``integer`` / ``number`` when every value parses (decimal commas noted); ``datetime``
  when one ``strptime`` format (``DATETIME_FORMATS``) parses every value; otherwise ``category`` when
  the distinct values are few (``CATEGORY_MAX_LEVELS``) and ``string`` (free text) when not;
* missing tokens: the spellings of ``MISSING_TOKENS`` (``Select``, ``unknown``, ``N/A``, ``-``, ...) seen
  in a column, kept per column;
* id: a column whose values are all present, unique and valid lead ids, with an id-like name;
* label: ``--label COL``, or a column named like an outcome (``converted``, ``won``, ``status``, ...)
  whose values split into a positive and a negative outcome; other values of a status column (open,
  working) become missing, since their outcome is not known yet;
* time: a ``datetime`` column named like an arrival time (``created``, ``first_contact``, ``date``, ...),
  not like a later event (``last``, ``closed``, ``won``, ...);
* leaks: ``leadgate.scoring.leakage.single_feature_auc`` of each column against the label, flagged at
  ``LEAK_AUC_THRESHOLD``.
"""

from __future__ import annotations

import csv
import io
import json
import re
import textwrap
import unicodedata
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from dataclasses import field as _field
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

import numpy as np
import yaml
from pydantic import TypeAdapter, ValidationError

from leadgate.contracts.lead import Lead, LeadId
from leadgate.errors import LeadgateError
from leadgate.scoring.leakage import LEAK_AUC_THRESHOLD, single_feature_auc

DraftType = Literal["string", "category", "number", "integer", "boolean", "datetime"]

SAMPLE_BYTES = 1 << 20
"""Bytes read to guess the encoding (1 MiB; the whole file is then decoded with the guess)."""

DELIMITERS = ",;\t|"
"""Delimiters considered (the ones CRM exports use)."""

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

_CONTACT = frozenset({"email", "first_name", "last_name", "phone", "company"})
_ID_NAME = re.compile(r"(^|_)(id|uuid|guid|key|nr|no|number|nummer)$|^(id|uuid|guid)(_|$)|_id_")
_STRONG_ID_NAME = re.compile(r"(^|_)(id|uuid|guid)$|^(id|uuid|guid)(_|$)")
_LABEL_NAME = re.compile(
    r"convert|(^|_)won($|_)|(^|_)win|status|outcome|result|(^|_)closed|is_customer|became_customer|"
    r"(^|_)deal|success|signed|purchas|gewonnen|abschluss|(^|_)target($|_)|(^|_)label($|_)|konvertiert"
)
_STRONG_LABEL_NAME = re.compile(r"convert|(^|_)won($|_)|outcome|is_customer|gewonnen|abschluss|(^|_)label$")
_NEGATIVE = re.compile(
    r"not[\s_-]*converted|unqualif|disqualif|closed[\s_-]*lost|(^|\W)lost($|\W)|rejected|junk|(^|\W)dead($|\W)|"
    r"verloren|abgelehnt|nicht[\s_-]*konvertiert|no[\s_-]*sale|churn",
    re.IGNORECASE,
)
_POSITIVE = re.compile(
    r"closed[\s_-]*won|(^|\W)won($|\W)|converted|customer|gewonnen|(^|\W)signed($|\W)|purchased|konvertiert|"
    r"abgeschlossen|(^|\W)kunde($|\W)",
    re.IGNORECASE,
)
_TIME_NAME = re.compile(
    r"creat|first_?contact|submit|received|sign_?up|regist|arriv|captur|erstell|eingang|angelegt|"
    r"(^|_)date($|_)|datum|time|timestamp|(^|_)am$"
)
_STRONG_TIME_NAME = re.compile(r"creat|first_?contact|submit|received|arriv|erstell|eingang|angelegt")
_LATE_NAME = re.compile(
    r"(^|_)last($|_)|modif|updat|(^|_)clos|(^|_)won($|_)|(^|_)lost($|_)|convert|(^|_)next($|_)|(^|_)due|"
    r"(^|_)stage($|_)|status|owner|(^|_)score($|_)|quality|(^|_)tags?($|_)|(^|_)notes?($|_)|activity|"
    r"became|customer|deal|geaendert|letzte"
)
_INT = re.compile(r"^[+-]?\d+$")
_FLOAT = re.compile(r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$")
_COMMA_FLOAT = re.compile(r"^[+-]?\d+(,\d+)?$")
_THOUSANDS = re.compile(r"^[+-]?\d{1,3}([.,]\d{3})+([.,]\d+)?$")
_LEAD_ID = TypeAdapter(LeadId)


class DraftError(LeadgateError, ValueError):
    """The file cannot be drafted (empty, unreadable, no header, a bad ``--label``); one line."""


@dataclass
class ColumnDraft:
    """What was inferred about one column.

    Attributes:
        header: the CSV header.
        field: the snake_case attribute name proposed.
        type: the inferred type.
        stage: ``pre_decision``, ``id``, ``label`` (the time column stays ``pre_decision``).
        missing_values: the column's missing spellings (``""`` first) when it has more than ``""``.
        true_values, false_values: spellings seen for a boolean (or the label).
        format: ``strptime`` format of a datetime the mapping cannot read as ISO-8601.
        decimal_comma: numbers are written with a decimal comma (``12,5``).
        lead_field: the ``Lead`` contact field it is copied to, if any.
        n_missing: missing cells; distinct: distinct non-missing values; top: the commonest values.
        auc: single-column held-out AUC against the label (None: not measured).
        feature: ``numeric``/``categorical`` when it is proposed as a feature, else None.
        excluded: why it is not a feature (None when it is).
        notes: comments written next to the column.
    """

    header: str
    field: str
    type: DraftType
    stage: str = "pre_decision"
    missing_values: list[str] = _field(default_factory=list)
    true_values: list[str] = _field(default_factory=list)
    false_values: list[str] = _field(default_factory=list)
    format: str | None = None
    decimal_comma: bool = False
    lead_field: str | None = None
    n_missing: int = 0
    distinct: int = 0
    top: list[str] = _field(default_factory=list)
    unique: bool = False
    auc: float | None = None
    feature: str | None = None
    excluded: str | None = None
    notes: list[str] = _field(default_factory=list)


@dataclass
class Draft:
    """A drafted project: the file's format, its columns and the choices made.

    Attributes:
        source: the CSV file.
        name: snake_case project name (from the file name).
        encoding, delimiter, bom: the file's format.
        n_rows: data rows; short_rows: rows with a different number of cells than the header.
        columns: one ``ColumnDraft`` per header, in file order.
        id_column, label_column, time_column: headers chosen, or None.
        label_note: how the label was chosen or why there is none.
        n_positive, n_negative: labelled rows per outcome (0 without a label).
        decimal: the decimal separator of the file's numbers (``.`` or ``,``).
        leaks: headers flagged by the leak audit, highest AUC first.
        warnings: things the user must look at (ambiguous dates, no label, ...).
    """

    source: Path
    name: str
    encoding: str
    delimiter: str
    bom: bool
    n_rows: int
    short_rows: int
    columns: list[ColumnDraft]
    id_column: str | None = None
    label_column: str | None = None
    time_column: str | None = None
    label_note: str = ""
    decimal: str = "."
    n_positive: int = 0
    n_negative: int = 0
    leaks: list[str] = _field(default_factory=list)
    warnings: list[str] = _field(default_factory=list)

    @property
    def base_rate(self) -> float | None:
        """Share of positive outcomes among labelled rows, or None without a label."""
        total = self.n_positive + self.n_negative
        return self.n_positive / total if total else None

    def column(self, header: str) -> ColumnDraft:
        """The ``ColumnDraft`` of ``header`` (KeyError if there is none)."""
        for c in self.columns:
            if c.header == header:
                return c
        raise KeyError(header)


# --------------------------------------------------------------------------------------------- format


def sniff_encoding(data: bytes) -> tuple[str, bool]:
    """The encoding of a file's bytes and whether it starts with a UTF-8 byte-order mark.

    Strict UTF-8 first (UTF-8 is self-checking: text in another 8-bit encoding almost never decodes);
    otherwise ``charset_normalizer``'s best match, named cp1252 (the encoding of Windows exports) whenever
    cp1252 decodes the bytes to the very same text (Latin-1 and cp1250 often do on Western text).

    Args:
        data: the file's bytes (or a prefix; a multi-byte character cut at the end is tolerated).

    Returns:
        ``(codec name, bom)``; ``utf-8`` for pure ASCII.

    Raises:
        DraftError: no encoding decodes the bytes as text.
    """
    bom = data.startswith(b"\xef\xbb\xbf")
    try:
        data.decode("utf-8")
        return "utf-8", bom
    except UnicodeDecodeError as exc:
        if exc.start >= len(data) - 3 and len(data) >= SAMPLE_BYTES:
            return "utf-8", bom
    from charset_normalizer import from_bytes

    best = from_bytes(data).best()
    if best is None:
        raise DraftError("cannot tell the file's text encoding: is it a CSV file?")
    name = best.encoding.lower().replace("-", "_")
    try:
        # Several 8-bit code pages decode German or French text to the same characters (cp1250 and
        # cp1252 agree on umlauts and the euro sign); when cp1252 gives the very same text, name it.
        if data.decode("cp1252") == str(best):
            return "cp1252", False
    except UnicodeDecodeError:
        pass
    return name.replace("_", "-"), False


def sniff_delimiter(text: str) -> str:
    """The field delimiter of CSV text: ``csv.Sniffer`` over ``DELIMITERS``, checked on the first rows.

    A delimiter is kept when it splits the first 200 lines into the same number of fields (more than one);
    when the sniffer fails or its choice is not consistent, the candidate whose field count is most
    often equal to the header's wins.

    Raises:
        DraftError: no candidate splits the header into two or more columns.
    """
    lines = text.splitlines()[:200]
    sample = "\n".join(lines)

    def consistency(delim: str) -> tuple[float, int]:
        rows = list(csv.reader(io.StringIO(sample), delimiter=delim))
        if not rows or len(rows[0]) < 2:
            return 0.0, 0
        width = len(rows[0])
        return sum(len(r) == width for r in rows) / len(rows), width

    try:
        sniffed = csv.Sniffer().sniff(sample, delimiters=DELIMITERS).delimiter
    except csv.Error:
        sniffed = None
    if sniffed is not None and consistency(sniffed)[0] == 1.0:
        return sniffed
    scored = sorted(((consistency(d), -i, d) for i, d in enumerate(DELIMITERS)), reverse=True)
    (_, width), _, best = scored[0]
    if width < 2:
        raise DraftError("cannot find the delimiter: the header has a single column with , ; tab and |")
    return best


def read_table(path: Path) -> tuple[str, bool, str, list[str], list[list[str]], int]:
    """Read a CSV file whose format is unknown.

    Returns:
        ``(encoding, bom, delimiter, header, rows, short_rows)``: every row padded or cut to the header's
        width; ``short_rows`` counts the rows that had a different width.

    Raises:
        DraftError: the file is empty, not text, or has no data rows.
    """
    data = path.read_bytes()
    if not data.strip():
        raise DraftError(f"{path}: the file is empty")
    encoding, bom = sniff_encoding(data[:SAMPLE_BYTES])
    try:
        text = data.decode(encoding)
    except UnicodeDecodeError:
        encoding, bom = sniff_encoding(data)
        text = data.decode(encoding, errors="strict")
    text = text.removeprefix("\ufeff")
    delimiter = sniff_delimiter(text)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        header = [h.strip() for h in next(reader)]
    except StopIteration:
        raise DraftError(f"{path}: no header row") from None
    width = len(header)
    rows: list[list[str]] = []
    short = 0
    for row in reader:
        if not row:
            continue
        if len(row) != width:
            short += 1
            row = (row + [""] * width)[:width]
        rows.append(row)
    if not rows:
        raise DraftError(f"{path}: the file has a header but no data rows")
    dupes = sorted({h for h in header if header.count(h) > 1})
    if dupes:
        raise DraftError(f"{path}: duplicate column headers: {', '.join(map(repr, dupes))}")
    return encoding, bom, delimiter, header, rows, short


# ---------------------------------------------------------------------------------------------- names


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


# -------------------------------------------------------------------------------------------- columns


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


# ---------------------------------------------------------------------------------------------- roles


def _split_label(col: ColumnDraft, values: Sequence[str]) -> tuple[list[str], list[str], list[str]] | None:
    """``(positive, negative, open)`` spellings of a label column, or None when they do not split."""
    distinct = sorted({v.strip() for v in values} - {"", *col.missing_values})
    if col.type == "boolean":
        return col.true_values, col.false_values, []
    pos, neg, rest = [], [], []
    for v in distinct:
        if _NEGATIVE.search(v):
            neg.append(v)
        elif _POSITIVE.search(v):
            pos.append(v)
        else:
            rest.append(v)
    if pos and neg:
        return pos, neg, rest
    return None


def _choose_label(
    draft: Draft, cells: dict[str, list[str]], label: str | None, positive: Sequence[str] | None
) -> tuple[str, list[str], list[str], list[str]] | None:
    if label is not None:
        if label not in cells:
            raise DraftError(f"--label {label!r} is not a column of the file (columns: {', '.join(cells)})")
        col = draft.column(label)
        seen = sorted({v.strip() for v in cells[label]} - {"", *col.missing_values})
        if positive:
            unknown = [p for p in positive if p not in seen]
            if unknown:
                raise DraftError(
                    f"--positive {', '.join(map(repr, unknown))} never appears in column {label!r} "
                    f"(values seen: {', '.join(map(repr, seen[:20]))})"
                )
            neg = [v for v in seen if v not in positive]
            if not neg:
                raise DraftError(f"every value of {label!r} is positive: a label needs both outcomes")
            draft.label_note = (
                f"chosen with --label; positive: {', '.join(positive)}; every other value is negative"
            )
            return label, list(positive), neg, []
        split = _split_label(col, cells[label])
        if split is None:
            raise DraftError(
                f"cannot tell which values of {label!r} mean a positive outcome "
                f"(values seen: {', '.join(map(repr, seen[:20]))}): name them with --positive VALUE"
            )
        draft.label_note = "chosen with --label"
        return label, *split
    candidates = []
    for col in draft.columns:
        if col.stage == "id" or not _LABEL_NAME.search(col.field) or col.type == "datetime":
            continue
        split = _split_label(col, cells[col.header])
        if split is None:
            continue
        rank = (0 if _STRONG_LABEL_NAME.search(col.field) else 1, 0 if col.type == "boolean" else 1)
        candidates.append((rank, col.header, split))
    if not candidates:
        return None
    candidates.sort(key=lambda c: c[0])
    _, header, split = candidates[0]
    others = [c[1] for c in candidates[1:]]
    draft.label_note = "named like an outcome, with values that split into won and lost" + (
        f" (other candidates: {', '.join(others)})" if others else ""
    )
    return header, *split


def _choose_id(draft: Draft) -> str | None:
    best: tuple[int, int, str] | None = None
    for i, col in enumerate(draft.columns):
        if not col.unique or not _ID_NAME.search(col.field):
            continue
        rank = 0 if _STRONG_ID_NAME.search(col.field) else 1
        if best is None or (rank, i) < best[:2]:
            best = (rank, i, col.header)
    if best is None:
        return None
    return best[2]


def _choose_time(draft: Draft) -> str | None:
    best: tuple[int, int, str] | None = None
    for i, col in enumerate(draft.columns):
        if col.type != "datetime" or col.stage != "pre_decision":
            continue
        if not _TIME_NAME.search(col.field) or _LATE_NAME.search(col.field):
            continue
        rank = 0 if _STRONG_TIME_NAME.search(col.field) else 1
        if best is None or (rank, i) < best[:2]:
            best = (rank, i, col.header)
    return None if best is None else best[2]


def draft_project(
    path: str | Path,
    label: str | None = None,
    positive: Sequence[str] | None = None,
    name: str | None = None,
) -> Draft:
    """Read a CSV export and infer a commented draft project (see the module docstring).

    Args:
        path: the CSV file.
        label: the label column's header (default: inferred; None found is not an error).
        positive: with ``label``, the values that mean a positive outcome (all other values negative).
        name: snake_case project name (default: from the file name).

    Returns:
        The ``Draft``; ``write_draft`` turns it into files.

    Raises:
        DraftError: the file cannot be read as CSV, ``label`` is not a column or its outcomes cannot be
            told apart, or ``positive`` is given without ``label``.
    """
    path = Path(path)
    if positive and label is None:
        raise DraftError("--positive needs --label (the column whose values it names)")
    encoding, bom, delimiter, header, rows, short = read_table(path)
    cells = {h: [r[i] for r in rows] for i, h in enumerate(header)}
    fields = _unique_fields(header)
    project = snake_name(name or path.stem, 40)
    columns = [profile_column(h, f, cells[h], delimiter) for h, f in zip(header, fields, strict=True)]
    draft = Draft(path, project, encoding, delimiter, bom, len(rows), short, columns)
    if any(c.decimal_comma for c in columns):
        # The mapping has one decimal separator for the whole file; with a comma, a "." is refused.
        draft.decimal = ","
        for c in columns:
            if c.type == "number" and not c.decimal_comma:
                c.type = "string"
                c.notes.append(
                    "CHECK: numbers with a decimal point in a file whose other numbers use decimal commas "
                    '(decimal: ","): kept as text'
                )
    if short:
        draft.warnings.append(f"{short} row(s) have a different number of cells than the header")

    draft.id_column = _choose_id(draft)
    if draft.id_column is not None:
        idc = draft.column(draft.id_column)
        idc.stage, idc.type, idc.excluded = "id", "string", "the record id"
        idc.true_values, idc.false_values = [], []
        try:
            for v in cells[idc.header]:
                _LEAD_ID.validate_python(v.strip())
        except ValidationError:
            idc.notes.append(
                "CHECK: some ids have characters a lead id cannot hold (letters, digits . _ : @ -)"
            )

    chosen = _choose_label(draft, cells, label, positive)
    y: np.ndarray | None = None
    known: np.ndarray | None = None
    if chosen is None:
        draft.label_note = (
            "no column looks like an outcome (converted/won/status with won and lost values): "
            "import outcomes with `leadgate outcomes import`, or rerun with --label COL"
        )
        draft.warnings.append(draft.label_note)
    else:
        head, pos, neg, open_ = chosen
        col = draft.column(head)
        col.stage, col.type, col.excluded = "label", "boolean", "the label"
        col.true_values, col.false_values = pos, neg
        if open_:
            col.missing_values = list(dict.fromkeys(["", *col.missing_values[1:], *open_]))
            col.notes.append(f"outcome not known yet (stored as missing): {', '.join(map(repr, open_))}")
        draft.label_column = head
        values = [v.strip() for v in cells[head]]
        pos_set, neg_set = set(pos), set(neg)
        if col.type == "boolean":
            pos_set |= {p.lower() for p in pos}
            neg_set |= {n.lower() for n in neg}
        y = np.array([1 if v in pos_set or v.lower() in pos_set else 0 for v in values], dtype=np.int64)
        known = np.array([v in pos_set or v in neg_set or v.lower() in pos_set | neg_set for v in values])
        draft.n_positive = int(y[known].sum())
        draft.n_negative = int(known.sum() - draft.n_positive)

    draft.time_column = _choose_time(draft)
    if draft.time_column is None:
        draft.warnings.append(
            "no arrival-time column found: forward-in-time evaluation needs `time_column` (a datetime "
            "column) or `time_ordered: true` when rows are in arrival order"
        )

    for col in draft.columns:
        _classify(draft, col, cells[col.header])

    if y is not None and known is not None:
        _audit(draft, cells, y, known)
    return draft


def _classify(draft: Draft, col: ColumnDraft, values: list[str]) -> None:
    """Decide whether ``col`` is proposed as a feature, and note why not."""
    if col.stage in ("id", "label"):
        return
    if col.header == draft.time_column:
        col.excluded = "the arrival time (the time axis of forward evaluation, never a feature by itself)"
        return
    present = [v.strip() for v in values if v.strip() not in {"", *col.missing_values}]
    col.lead_field = _lead_field(col.field, sorted(set(present)))
    if col.excluded is not None:
        return
    if col.distinct <= 1:
        only = f": {col.top[0]!r} in every row" if col.top else ""
        col.excluded = f"constant{only}"
    elif col.lead_field in _CONTACT:
        col.excluded = f"contact detail (copied to the lead's {col.lead_field})"
    elif col.type == "datetime":
        col.excluded = "a date: never a model feature by itself"
        if _LATE_NAME.search(col.field):
            col.notes.append("the name suggests a later event: likely post_decision")
    elif col.unique and col.type in ("integer", "number", "string") and _ID_NAME.search(col.field):
        col.excluded = (
            "unique per row, like an id or a sequence number: a feature only with forward-in-time "
            "evidence (docs/leakage.md)"
        )
    elif col.type == "string":
        col.excluded = f"free text, {col.distinct} distinct values: not a useful feature as it is"
    else:
        col.feature = "numeric" if col.type in ("integer", "number") else "categorical"
    if col.feature is not None and _LATE_NAME.search(col.field):
        col.notes.append("the name suggests a value updated after first contact: check its stage")
    if col.decimal_comma:
        col.notes.append("numbers written with a decimal comma")


def _audit(draft: Draft, cells: dict[str, list[str]], y: np.ndarray, known: np.ndarray) -> None:
    counts = np.bincount(y[known], minlength=2)
    if counts.min() < 5:
        draft.warnings.append(
            f"leak audit skipped: only {counts.min()} labelled row(s) of the rarer outcome (5 needed)"
        )
        return
    yk = y[known]
    for col in draft.columns:
        if col.stage != "pre_decision" or col.type == "datetime" or col.header == draft.time_column:
            continue
        if col.distinct <= 1:
            continue
        missing = {"", *col.missing_values}
        raw = [v.strip() for v, k in zip(cells[col.header], known, strict=True) if k]
        values: list[Any]
        if col.type in ("integer", "number"):
            kind: Literal["numeric", "categorical"] = "numeric"
            values = [None if v in missing else _number(v, col.decimal_comma) for v in raw]
        else:
            kind = "categorical"
            values = [None if v in missing else v.lower() if col.type == "boolean" else v for v in raw]
        col.auc = single_feature_auc(values, yk, kind)
        if col.auc >= LEAK_AUC_THRESHOLD:
            draft.leaks.append(col.header)
            col.notes.append(
                f"LIKELY LEAK: this column alone predicts {draft.label_column} with held-out AUC "
                f"{col.auc:.3f} (>= {LEAK_AUC_THRESHOLD}): likely recorded after the outcome: "
                "set stage: post_decision if so"
            )
            if col.feature is not None:
                col.feature, col.excluded = None, f"likely leak (held-out AUC {col.auc:.3f} alone)"
    draft.leaks.sort(key=lambda h: -(draft.column(h).auc or 0.0))


# ------------------------------------------------------------------------------------------- rendering

_CONSENT = re.compile(r"do_not|opt_?out|unsubscrib|consent|gdpr|dsgvo|no_contact|werbe")
_YAML_WORDS = frozenset({"y", "yes", "n", "no", "true", "false", "on", "off", "null", "none", "~"})
FILES = ("leadgate.yaml", "mapping.yaml", "features.yaml", "policy.yaml")
"""The files ``write_draft`` writes into the project folder."""


def _q(text: str) -> str:
    """A YAML double-quoted scalar (JSON's string syntax is a subset of YAML's)."""
    return json.dumps(text, ensure_ascii=False)


def _key(text: str) -> str:
    """``text`` as a block mapping key: plain when YAML reads it back unchanged, quoted otherwise."""
    if text and text.lower() not in _YAML_WORDS and not text[0].isdigit():
        try:
            if yaml.safe_load(f"{text}: 1") == {text: 1}:
                return text
        except yaml.YAMLError:
            pass
    return _q(text)


def _list(values: Sequence[str]) -> str:
    return "[" + ", ".join(map(_q, values)) + "]"


def _comment(text: str, indent: str = "") -> list[str]:
    return [f"{indent}# {line}" if line else f"{indent}#" for line in textwrap.wrap(text, 104 - len(indent))]


def _column_line(col: ColumnDraft) -> str:
    kind: str = col.type
    parts = [f"field: {col.field}", f"stage: {col.stage}", f"type: {kind}"]
    extra: list[str] = []
    if kind == "datetime":
        if col.format is not None:
            parts.append(f"format: {_q(col.format)}")
        if col.format is None or "%z" not in col.format:
            parts.append("timezone: UTC")
    if col.missing_values:
        extra.append(f"missing_values: {_list(col.missing_values)}")
    if kind == "boolean":
        extra.append(f"true_values: {_list(col.true_values)}")
        extra.append(f"false_values: {_list(col.false_values)}")
    if col.lead_field is not None:
        extra.append(f"lead_field: {col.lead_field}")
    return f"  {_key(col.header)}: {{{', '.join(parts + extra)}}}"


def render_mapping(draft: Draft) -> str:
    """The draft ``mapping.yaml`` text (format: the plan's mapping format, ``leadgate.ingest.mapping``)."""
    lines = [
        *_comment(
            f"Draft column mapping for {draft.source.name}, written by `leadgate init`. Review it before "
            "importing: every choice below was inferred from the file and is explained next to it (docs/init.md)."
        ),
        f"# The file: {draft.n_rows} data rows, {len(draft.columns)} columns.",
        "# Stages: pre_decision - known when the lead arrives: may feed a model",
        "#         post_decision - filled in or updated after first contact: stored, never a feature",
        "#         label - the outcome to learn; id - the source's record id (the idempotency key)",
        "# Every column is pre_decision unless it is the id or the label: set stage: post_decision on any",
        "# column your team fills in after the first contact (status, tags, notes, last activity, scores).",
    ]
    audited = sorted((c for c in draft.columns if c.auc is not None), key=lambda c: -(c.auc or 0.0))
    if audited:
        lines.append("#")
        lines += _comment(
            f"Leak audit: held-out ROC AUC of each column alone against {draft.label_column} (0.5 = no "
            f"signal; {LEAK_AUC_THRESHOLD} or more is flagged, leadgate.scoring.leakage): "
            + ", ".join(
                f"{c.header} {c.auc:.3f}{' LIKELY LEAK' if c.header in draft.leaks else ''}"
                for c in audited[:10]
            )
            + ("." if len(audited) <= 10 else ", ...")
        )
    lines += [
        "mapping_version: 1",
        f"name: {draft.name}",
        "version: 1                  # the mapping's own version: bump it on any change",
        f"source: {_q('csv:' + draft.name)}",
        f"delimiter: {_q(draft.delimiter)}",
        f"encoding: {draft.encoding}"
        + ("          # the file starts with a byte-order mark" if draft.bom else ""),
    ]
    if draft.decimal == ",":
        lines.append('decimal: ","                # numbers are written with a decimal comma (12,5)')
    if draft.id_column is not None:
        lines.append(f"id_column: {_key(draft.id_column)}   # every value present and unique, id-like name")
    else:
        lines += _comment(
            "No id column: no column is present, unique and named like an id in every row. Without "
            "id_column each lead's id is a hash of the row's content, so re-importing the same file is "
            "idempotent; name the CRM's record id here if the export has one."
        )
    if draft.time_column is not None:
        lines.append(
            f"time_column: {_key(draft.time_column)}   # when the lead arrived: the axis of forward evaluation"
        )
    else:
        lines += _comment(
            "No arrival-time column found. Name a datetime column with time_column, or set "
            "time_ordered: true if the rows are in arrival order, so evaluation can test forward in time."
        )
    lines += [
        'missing_values: [""]        # mapping-wide; a column\'s own missing_values replace this list',
        "columns:",
    ]
    for col in draft.columns:
        notes = list(col.notes)
        if col.stage == "label":
            notes.insert(0, f"THE LABEL ({draft.label_note})")
        if col.stage == "id":
            notes.insert(0, "THE ID")
        if col.header == draft.time_column:
            notes.insert(0, "THE ARRIVAL TIME")
        if col.type == "datetime" and (col.format is None or "%z" not in col.format):
            notes.append("the values carry no time zone: UTC assumed; set timezone to the CRM's zone")
        if col.excluded is not None and col.stage == "pre_decision":
            notes.append(f"not a feature: {col.excluded}")
        for note in notes:
            lines += _comment(note, "  ")
        lines.append(_column_line(col))
    return "\n".join(lines) + "\n"


def _feature_line(col: ColumnDraft) -> str:
    kind = col.feature or ("numeric" if col.type in ("integer", "number") else "categorical")
    return f"{{name: {col.field}, kind: {kind}, description: {_q(col.header)}}}"


def render_features(draft: Draft) -> str:
    """The draft ``features.yaml`` text (format: ``leadgate.features.FeatureSet``)."""
    lines = [
        *_comment(
            f"Draft feature set for {draft.source.name}, written by `leadgate init`. Each feature reads the "
            "pre_decision column of the same field name in mapping.yaml; `kind` is numeric or categorical and "
            "`description` is the plain words explanations use (edit them). Left out, commented: the id, the "
            "label and the arrival time, contact details, free text, dates, constant columns, likely leaks."
        ),
        "# Bump `version` on any change: every decision records name@version.",
        f"name: {draft.name}",
        "version: 1",
        "features:",
    ]
    usable = [c for c in draft.columns if c.feature is not None]
    for col in draft.columns:
        if col.stage in ("id", "label"):
            continue
        if col in usable:
            late = (
                "   # the name suggests a later update: check its stage"
                if _LATE_NAME.search(col.field)
                else ""
            )
            lines.append(f"  - {_feature_line(col)}{late}")
        else:
            lines.append(f"  # - {_feature_line(col)}   # {col.excluded}")
    if not usable:
        lines.insert(len(lines) - 1, "# CHECK: no column qualifies as a feature; uncomment at least one.")
    return "\n".join(lines) + "\n"


def _round(x: float) -> float:
    return float(f"{x:.3g}")


def draft_tiers(base_rate: float | None) -> tuple[float, float, float]:
    """``(hot, warm, nurture)`` thresholds relative to the base rate ``b``.

    hot = min(2b, (1 + b) / 2): leads at least twice as likely to convert as an average lead (or halfway
    from ``b`` to certainty when 2b would be out of reach); warm = b: a call converts at least as often
    as a call to an average lead did before scoring; nurture = b / 4: below a quarter of the base rate
    the lead is disqualified. On X Education (b = 0.385) this gives 0.69 / 0.385 / 0.096, close to the
    hand-set 0.70 / 0.40 / 0.10 of examples/xeducation/policy.yaml. Three significant digits.
    Without a base rate: 0.5 / 0.2 / 0.05 placeholders.
    """
    if base_rate is None or not 0.0 < base_rate < 1.0:
        return 0.5, 0.2, 0.05
    b = base_rate
    hot, warm, nurture = _round(min(2 * b, (1 + b) / 2)), _round(b), _round(b / 4)
    if not hot > warm > nurture > 0:
        raise DraftError(f"cannot set tiers from a base rate of {b:.4f}")
    return hot, warm, nurture


def render_policy(draft: Draft) -> str:
    """The draft ``policy.yaml`` text (format: docs/policy.md); no dataset-specific rules."""
    b = draft.base_rate
    hot, warm, nurture = draft_tiers(b)
    if b is not None:
        rate = (
            f"# The data: {draft.n_positive} of {draft.n_positive + draft.n_negative} labelled leads had a "
            f"positive outcome, a base rate of {b:.1%}."
        )
        tier_notes = [
            f"  # Twice the base rate (or halfway from it to 1 when that is lower): {hot}.",
            f"  hot: {hot}",
            "  # The base rate: a call to one of these converts at least as often as a call to an average lead.",
            f"  warm: {warm}",
            "  # A quarter of the base rate: below it the lead is disqualified and nobody follows it up.",
            f"  nurture: {nurture}",
        ]
    else:
        rate = (
            "# The file has no label, so the base rate is unknown: these tiers are placeholders. Once outcomes "
            "are imported, set warm to the base rate, hot to about twice it and nurture to a quarter of it."
        )
        tier_notes = [f"  hot: {hot}", f"  warm: {warm}", f"  nurture: {nurture}"]
    consent = [c.header for c in draft.columns if c.type == "boolean" and _CONSENT.search(c.field)]
    lines = [
        f"# Draft qualification policy for {draft.source.name}, written by `leadgate init`.",
        "# Format, precedence and review rules: docs/policy.md; check it with `leadgate policy check`.",
        "# Order of application: disqualification rules, the tier by probability, overrides, review rules.",
        "policy_version: 1",
        f"name: {draft.name}",
        "version: 1                 # bump on any change: every decision records name@version",
        f"description: Draft tiers and routing for {_q(draft.source.name)[1:-1]} (edit before use).",
        "",
        "# Thresholds are calibrated probabilities of a positive outcome (the scorer's probability), inclusive.",
        rate,
        "tiers:",
        *tier_notes,
        "",
        "# No disqualification rules: leadgate adds none it cannot justify from your data. Consent rules",
        "# belong here (examples/xeducation/policy.yaml disqualifies leads who refused email and phone).",
    ]
    if consent:
        lines += _comment(
            f"Columns that look like consent flags: {', '.join(consent)}. A rule reads attributes.<field> "
            "of a pre_decision column, e.g. {field: attributes.do_not_call, op: eq, value: true}."
        )
    lines += [
        "disqualification: []",
        "",
        "actions:",
        "  hot: route_to_sales",
        "  warm: route_to_sales     # at or above the base rate: worth a call, after the hot leads",
        "  nurture: nurture         # the nurture track",
        "  disqualified: discard    # no follow-up; the lead and its decision stay on record",
        "",
        "overrides: []",
        "",
        "review:",
        "  # confidence is the scorer's trust in its own probability (1 = fully trusted); 0.60 is a starting",
        "  # point: revisit it once `leadgate evaluate` shows how large the review queue gets.",
        "  min_confidence: 0.60",
        "  # Rule-fallback scores are not calibrated probabilities: a person confirms each such decision.",
        "  on_fallback: true",
    ]
    return "\n".join(lines) + "\n"


def _yaml_str(text: str) -> str:
    """``text`` as a YAML scalar (quoted when plain YAML would read it otherwise)."""
    import json

    plain = yaml.safe_load(text) if text else None
    return (
        text
        if isinstance(plain, str) and plain == text and ": " not in text and " #" not in text
        else json.dumps(text)
    )


def render_project(draft: Draft, folder: Path | None = None) -> str:
    """The draft ``leadgate.yaml`` text (format: ``leadgate.project.ProjectFile``).

    ``data`` names the drafted file relative to ``folder`` (the project folder; default the current one),
    so ``train`` and ``evaluate`` need no ``--data``.
    """
    import os

    data = os.path.relpath(Path(draft.source).resolve(), (folder or Path.cwd()).resolve())
    lines = [
        *_comment(
            f"leadgate project drafted from {draft.source.name} by `leadgate init`. Paths are relative to this "
            "folder. Review mapping.yaml, features.yaml and policy.yaml before `leadgate evaluate`."
        ),
        "project_version: 1",
        f"name: {draft.name}",
        f"data: {_yaml_str(data)}   # the file train and evaluate read (this draft's source)",
        "mapping: mapping.yaml",
        "features: features.yaml",
        "# fit_rules: fit.yaml       # optional ICP fit rules; without them the fallback uses probability bands",
        "policy: policy.yaml",
        f"model: {draft.name}_propensity   # registry name: train registers it, qualify loads name@champion",
    ]
    if draft.label_column is None:
        lines += [
            "# This file has no label: write an outcomes mapping and import outcomes with",
            "# `leadgate outcomes import OUTCOMES.csv --mapping outcomes.yaml`, then uncomment:",
            "# outcomes: outcomes.yaml",
        ]
    else:
        lines.append(
            "# outcomes: outcomes.yaml   # optional: outcomes recorded later (leadgate outcomes import)"
        )
    lines += [
        "evaluation:",
        "  folds: 5",
        "  max_rejected_share: 0.05     # train and evaluate refuse when more rows than this are rejected",
    ]
    return "\n".join(lines) + "\n"


def write_draft(draft: Draft, out: str | Path, force: bool = False) -> list[Path]:
    """Write ``FILES`` into ``out`` (created if needed) and check them.

    The policy is validated with ``leadgate.policy.load_policy``, the feature set with
    ``leadgate.features.load_feature_set`` (when it has a feature) and the mapping's columns are read back.

    Returns:
        The paths written, in ``FILES`` order.

    Raises:
        DraftError: a file exists and ``force`` is False (naming them all), or a written file does not
            read back (a bug: the message names the file).
    """
    folder = Path(out)
    paths = [folder / name for name in FILES]
    existing = [str(p) for p in paths if p.exists()]
    if existing and not force:
        raise DraftError(f"refusing to overwrite {', '.join(existing)} (use --force to replace them)")
    texts = {
        "leadgate.yaml": render_project(draft, folder),
        "mapping.yaml": render_mapping(draft),
        "features.yaml": render_features(draft),
        "policy.yaml": render_policy(draft),
    }
    parsed = yaml.safe_load(texts["mapping.yaml"])
    if list(parsed["columns"]) != [c.header for c in draft.columns]:
        raise DraftError("internal error: the drafted mapping.yaml does not read back its column headers")
    folder.mkdir(parents=True, exist_ok=True)
    for path in paths:
        path.write_text(texts[path.name], encoding="utf-8")
    from leadgate.features import load_feature_set
    from leadgate.policy import load_policy

    load_policy(folder / "policy.yaml")
    if yaml.safe_load(texts["features.yaml"]).get("features"):
        load_feature_set(folder / "features.yaml")
    return paths
