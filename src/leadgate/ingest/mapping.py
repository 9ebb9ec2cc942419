"""Column mappings: how the columns of one source's CSV become ``Lead`` v1 fields.

Each column declares its ``stage``: ``pre_decision`` (known when the lead arrives; may feed a model),
``post_decision`` (recorded after sales contact; stored, never a feature), ``label`` (the outcome, a
boolean) or ``id`` (the source's record id, the idempotency key).

The mapping file (YAML, read strictly: duplicate keys and unknown keys are refused with their line)::

    mapping_version: 1          # format version
    name: olist_mql
    version: 1                  # the mapping's own version; bump it on any change
    source: csv:olist           # recorded on every lead
    delimiter: ","              # one character
    encoding: utf-8             # any Python codec name; a UTF-8 byte-order mark is skipped
    decimal: "."                # "." or "," (decimal comma, e.g. semicolon exports of European Excel)
    id_column: mql_id           # optional; without it lead ids come from the row's content
    time_column: first_contact_date   # optional: a datetime column, when the lead arrived
    time_ordered: false         # rows are in arrival order (used when there is no time_column)
    missing_values: ["", "Select"]    # cells that mean "no value" (every column, unless it sets its own)
    true_values: [yes, true, "1", y]  # boolean spellings, compared case-insensitively
    false_values: [no, false, "0", n]
    columns:
      first_contact_date: {field: first_contact_date, stage: pre_decision, type: datetime,
                           timezone: America/Sao_Paulo}
      origin: {field: origin, stage: pre_decision, type: category, missing_values: ["", unknown]}
      won: {field: won, stage: label, type: boolean, true_values: [won], false_values: [lost]}

A column's own ``missing_values``, ``true_values`` and ``false_values`` replace the mapping-wide lists for
that column.
"""

from __future__ import annotations

import codecs
import functools
import hashlib
import itertools
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, datetime, tzinfo
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import numpy as np
import orjson
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    TypeAdapter,
    ValidationError,
    field_validator,
    model_validator,
)

from leadgate.contracts.errors import ContractError, FieldError
from leadgate.contracts.lead import Lead, LeadId, ScalarIn
from leadgate.yamlcheck import ROOT, YamlError, YamlIssue, check_ref_version, check_yaml

if TYPE_CHECKING:
    import pyarrow as pa

Stage = Literal["pre_decision", "post_decision", "label", "id"]
ColumnType = Literal["string", "category", "number", "integer", "boolean", "datetime"]
LeadField = Literal["email", "first_name", "last_name", "company", "title", "country", "city", "phone"]


_RECORD_TEMPLATE: dict[str, Any] = {
    name: (field.default if name != "schema_version" else "lead/v1")
    for name, field in Lead.model_fields.items()
    if name not in ("attributes", "post_decision")
}
_RECORD_TEMPLATE["received_at"] = None
_STRIP = ConfigDict(str_strip_whitespace=True)
_SCALAR = TypeAdapter(ScalarIn, config=_STRIP)
_LEAD_ID = TypeAdapter(LeadId, config=_STRIP)

CONTENT_ID_PREFIX = "row-"
"""Prefix of the lead ids derived from a row's content (mappings without ``id_column``)."""


def _field_adapter(name: str) -> TypeAdapter[Any]:
    field = Lead.model_fields[name]
    annotated: Any = Annotated[field.annotation, *field.metadata] if field.metadata else field.annotation
    return TypeAdapter(annotated, config=_STRIP)


def _adapter_check(adapter: TypeAdapter[Any], what: str) -> Callable[[Any], tuple[bool, Any]]:
    def check(value: Any) -> tuple[bool, Any]:
        try:
            return True, adapter.validate_python(value)
        except ValidationError as exc:
            return False, f"{what}: " + "; ".join(e["msg"] for e in exc.errors())

    return check


def _checker(spec: ColumnSpec) -> Callable[[Any], tuple[bool, Any]]:
    """The contract check of a converted, non-missing value of this column."""
    if spec.stage == "id":
        return _adapter_check(_LEAD_ID, "lead_id")
    scalar = _adapter_check(_SCALAR, "attribute value")
    if spec.lead_field is None:
        return scalar
    field = _adapter_check(_field_adapter(spec.lead_field), spec.lead_field)

    def both(value: Any) -> tuple[bool, Any]:
        ok, out = scalar(value)
        return field(out) if ok else (ok, out)

    return both


@functools.lru_cache(maxsize=32)
def _list_adapters(stage: Stage, lead_field: LeadField | None) -> tuple[TypeAdapter[Any], ...]:
    """The adapters of ``_checker`` over whole lists (one pydantic call for all values), in order."""
    if stage == "id":
        return (TypeAdapter(list[LeadId], config=_STRIP),)
    scalar = TypeAdapter(list[ScalarIn], config=_STRIP)
    if lead_field is None:
        return (scalar,)
    field = Lead.model_fields[lead_field]
    annotated: Any = Annotated[field.annotation, *field.metadata] if field.metadata else field.annotation
    return scalar, TypeAdapter(list[annotated], config=_STRIP)


def _check_all(spec: ColumnSpec, values: list[Any]) -> list[Any] | None:
    """Every value through the column's contract types in one call each; None if any value fails.

    The same validators as ``_checker`` (applied to a list), so the same values come out; on a failure
    the caller checks value by value to name the bad ones.
    """
    try:
        for adapter in _list_adapters(spec.stage, spec.lead_field):
            values = adapter.validate_python(values)
    except ValidationError:
        return None
    return values


def _check_source(source: str) -> None:
    try:
        _field_adapter("source").validate_python(source)
    except ValidationError as exc:
        raise ValueError(f"mapping source {source!r} is not a valid lead source: {exc}") from exc


class MappingError(YamlError):
    """The mapping file itself is invalid.

    ``str()`` gives one ``file:line:col: path: message`` line per issue (see ``leadgate.yamlcheck``).
    Built with a single message (``MappingError("...")``) it is that message, with no issues.
    """

    def __init__(self, source: str, issues: list[YamlIssue] | None = None) -> None:
        if issues is None:
            ValueError.__init__(self, source)
            self.source = source
            self.issues = []
        else:
            super().__init__(source, issues)


def _check_timezone(name: str) -> str:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(
            f"unknown time zone {name!r}: use an IANA name such as 'Europe/Berlin' or 'UTC'"
        ) from None
    return name


class ColumnSpec(BaseModel):
    """How one CSV column maps.

    Attributes:
        field: snake_case attribute name the value is stored under.
        stage: when the value is known (see module docstring).
        type: ``string``/``category`` (text), ``number`` (float), ``integer``, ``boolean``, ``datetime``
            (stored as the ISO-8601 UTC string ``YYYY-MM-DDTHH:MM:SSZ``, fractions of a second dropped).
        transform: optional text transform applied before storing (``lower``, ``upper``).
        min, max: inclusive numeric bounds; a value outside them rejects the row.
        lead_field: also copy the value to this top-level ``Lead`` field (e.g. ``country``).
        required: a missing value rejects the row.
        missing_values: this column's "no value" cells (replace the mapping-wide list).
        true_values, false_values: this boolean column's spellings (replace the mapping-wide lists;
            compared case-insensitively).
        timezone: IANA zone of ``datetime`` values written without an offset (default UTC). A local time
            that does not exist (the daylight-saving gap) rejects the row, except a date without a time
            (the day then starts when the gap ends); one that occurs twice (the
            hour after the clocks go back) is read as the first occurrence (PEP 495 ``fold=0``).
        format: ``strptime`` format of a ``datetime`` column; without it ISO-8601 is read
            (``datetime.fromisoformat``: ``YYYY-MM-DD``, ``YYYY-MM-DD HH:MM[:SS]``, ``T``, offsets, ``Z``).
        decimal: this number column's decimal separator (replaces the mapping-wide ``decimal``).

    Raises (on validation):
        ValueError: a label that is not ``type: boolean``; boolean spellings on a non-boolean column;
            ``timezone``/``format`` on a non-datetime column; an unknown time zone.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")
    field: Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]*$", max_length=64)]
    stage: Stage
    type: ColumnType = "string"
    transform: Literal["lower", "upper"] | None = None
    min: float | None = None
    max: float | None = None
    lead_field: LeadField | None = None
    required: bool = False
    missing_values: list[str] | None = None
    true_values: list[str] | None = None
    false_values: list[str] | None = None
    timezone: str | None = None
    format: Annotated[str, Field(min_length=1)] | None = None
    decimal: Literal[".", ","] | None = None

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str | None) -> str | None:
        return None if value is None else _check_timezone(value)

    @model_validator(mode="after")
    def _consistent(self) -> ColumnSpec:
        if self.stage == "label" and self.type != "boolean":
            raise ValueError(
                f"a label column must have type: boolean (it has type: {self.type}); list its spellings "
                "in true_values and false_values, e.g. {true_values: [won], false_values: [lost]}"
            )
        if self.type != "boolean" and (self.true_values is not None or self.false_values is not None):
            raise ValueError(f"true_values/false_values apply only to boolean columns (type: {self.type})")
        if self.decimal is not None and self.type not in ("number", "integer"):
            raise ValueError(f"decimal applies only to number and integer columns (type: {self.type})")
        if self.type != "datetime" and (self.timezone is not None or self.format is not None):
            raise ValueError(f"timezone/format apply only to datetime columns (type: {self.type})")
        if self.type == "datetime" and self.stage in ("label", "id"):
            raise ValueError(f"a datetime column cannot have stage {self.stage!r}")
        return self


class ColumnMapping(BaseModel):
    """A versioned column mapping (YAML; see the module docstring for the format).

    Attributes:
        mapping_version: format version, currently 1.
        name: mapping name.
        version: the mapping's own version (whole number or string, default 1); bump it on any change.
        source: source name recorded on each lead (``csv:xeducation``).
        delimiter: the one-character field delimiter (default ``,``).
        encoding: the file's text encoding, any Python codec name (default ``utf-8``; a UTF-8 byte-order
            mark is skipped). Excel and most Windows CRM exports use ``cp1252``.
        decimal: the decimal separator of ``number`` columns, ``.`` or ``,``. With ``,`` a value holding
            a ``.`` is refused (it could be a thousands separator).
        id_column: the column holding the record id (its stage must be ``id``). Without one, a lead's id
            is ``row-`` + the first 32 hex digits of sha256 over the source, the row's pre-decision cells
            and how many earlier rows of the file had the same cells (see ``content_ids``): the same file
            imported again gives the same ids, identical rows stay separate leads, and filling in
            outcomes or post-decision columns in a later export does not change them.
        time_column: header of a ``datetime`` column giving when each lead arrived, or of an ``integer``
            / ``number`` arrival sequence (a CRM's lead number): the time axis of forward-in-time
            evaluation.
        time_ordered: the rows are in arrival order (used when there is no ``time_column``).
        missing_values: cell values that mean "no value" (X Education's ``Select`` placeholder).
        true_values, false_values: spellings of booleans (compared case-insensitively).
        columns: CSV header -> ``ColumnSpec``; every header must be declared.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")
    mapping_version: Literal[1] = 1
    name: str
    version: int | str = 1
    source: Annotated[str, Field(min_length=1, max_length=64)]
    delimiter: Annotated[str, Field(min_length=1, max_length=1)] = ","
    encoding: str = "utf-8"
    decimal: Literal[".", ","] = "."
    id_column: str | None = None
    time_column: str | None = None
    time_ordered: bool = False
    missing_values: list[str] = Field(default_factory=lambda: [""])
    true_values: list[str] = Field(default_factory=lambda: ["yes", "true", "1", "y"])
    false_values: list[str] = Field(default_factory=lambda: ["no", "false", "0", "n"])
    columns: dict[str, ColumnSpec]

    @field_validator("version", mode="before")
    @classmethod
    def _version(cls, value: Any) -> int | str:
        return check_ref_version(value, "mapping_version")

    @field_validator("delimiter")
    @classmethod
    def _delimiter(cls, value: str) -> str:
        if value in ('"', "\r", "\n"):
            raise ValueError(f"delimiter {value!r} cannot be a quote or a line break")
        return value

    @field_validator("encoding")
    @classmethod
    def _encoding(cls, value: str) -> str:
        try:
            codecs.lookup(value)
        except LookupError:
            raise ValueError(
                f"unknown encoding {value!r}: use a Python codec name such as utf-8, cp1252 or latin-1"
            ) from None
        return value

    @model_validator(mode="after")
    def _consistent(self) -> ColumnMapping:
        if self.id_column is not None:
            if self.id_column not in self.columns:
                raise ValueError(f"id_column {self.id_column!r} is not among the declared columns")
            if self.columns[self.id_column].stage != "id":
                raise ValueError(f"id_column {self.id_column!r} must have stage 'id'")
        ids = [h for h, c in self.columns.items() if c.stage == "id" and h != self.id_column]
        if ids:
            raise ValueError(f"column {ids[0]!r} has stage 'id' but is not the id_column")
        if self.time_column is not None:
            if self.time_column not in self.columns:
                raise ValueError(f"time_column {self.time_column!r} is not among the declared columns")
            if self.columns[self.time_column].type not in ("datetime", "integer", "number"):
                raise ValueError(
                    f"time_column {self.time_column!r} must have type datetime (when the lead arrived) or "
                    "integer / number (an arrival sequence number such as a CRM's lead number)"
                )
        fields = [c.field for c in self.columns.values()]
        dupes = sorted({f for f in fields if fields.count(f) > 1})
        if dupes:
            raise ValueError(f"fields mapped twice: {', '.join(dupes)}")
        labels = [h for h, c in self.columns.items() if c.stage == "label"]
        if len(labels) > 1:
            raise ValueError(f"at most one label column, got {labels}")
        return self

    @property
    def label_column(self) -> str | None:
        """The CSV header of the label column, or None."""
        return next((h for h, c in self.columns.items() if c.stage == "label"), None)

    @property
    def label_field(self) -> str | None:
        """The field name of the label column, or None."""
        header = self.label_column
        return None if header is None else self.columns[header].field

    @property
    def time_field(self) -> str | None:
        """The attribute name of the time column (``time_column``), or None."""
        return None if self.time_column is None else self.columns[self.time_column].field

    @property
    def id_field(self) -> str | None:
        """The field name of the id column, or None when ids come from the row's content."""
        return None if self.id_column is None else self.columns[self.id_column].field

    def stages(self) -> dict[str, str]:
        """Attribute name -> declared stage, for the feature-set leakage check."""
        return {c.field: c.stage for c in self.columns.values()}

    def content_hash(self) -> str:
        """sha256 of the canonical JSON of the mapping (part of an import's resume key).

        Options added after the first format (``version``, ``delimiter``, ``encoding``, ``decimal``,
        ``time_column``, ``time_ordered`` and the per-column lists, zone and format) are left out when
        they hold their defaults, so a mapping written before them keeps its hash (and its resumable runs).
        """
        dump = self.model_dump()
        for key, default in _NEW_DEFAULTS.items():
            if dump[key] == default:
                del dump[key]
        for column in dump["columns"].values():
            for key in _NEW_COLUMN_KEYS:
                if column[key] is None:
                    del column[key]
        return hashlib.sha256(orjson.dumps(dump, option=orjson.OPT_SORT_KEYS)).hexdigest()

    def compile(self, header: list[str] | None = None) -> RowMapper:
        """A row mapper for files with ``header`` (default: the declared columns in order)."""
        return RowMapper(self, header if header is not None else list(self.columns))


_NEW_DEFAULTS: dict[str, Any] = {
    "version": 1,
    "delimiter": ",",
    "encoding": "utf-8",
    "decimal": ".",
    "time_column": None,
    "time_ordered": False,
}
_NEW_COLUMN_KEYS = ("missing_values", "true_values", "false_values", "timezone", "format", "decimal")


class ContentIds:
    """Lead ids from row content, for mappings without ``id_column``; one instance per file, in file order.

    ``id = "row-" + sha256(orjson([source, k, [[header, cell], ...]]))[:32]`` over the pre-decision
    columns' stripped cells in header order (sorted), where ``k`` counts the earlier rows of the file with
    the same cells (so identical rows stay separate leads). The counter keeps one 64-bit key per distinct
    row (about 100 bytes each).
    """

    def __init__(self, mapping: ColumnMapping) -> None:
        self.source = mapping.source
        self.headers = sorted(h for h, c in mapping.columns.items() if c.stage == "pre_decision")
        self._seen: dict[bytes, int] = {}

    def ids(self, columns: Mapping[str, Sequence[str | None]], n: int) -> list[str]:
        """The ids of the next ``n`` rows, given each header's cells (at least ``self.headers``)."""
        cols = [columns[h] for h in self.headers]
        seen = self._seen
        out: list[str] = []
        append = out.append
        rows: Iterable[tuple[Any, ...]] = zip(*cols, strict=True) if cols else itertools.repeat((), n)
        headers = self.headers
        for cells in rows:
            pairs = [[h, "" if c is None else c.strip()] for h, c in zip(headers, cells, strict=True)]
            key = hashlib.sha256(orjson.dumps(pairs)).digest()[:8]
            k = seen.get(key, 0)
            seen[key] = k + 1
            digest = hashlib.sha256(orjson.dumps([self.source, k, pairs])).hexdigest()
            append(CONTENT_ID_PREFIX + digest[:32])
        return out


def _date_only(text: str, fmt: str | None) -> bool:
    """Whether a datetime cell holds a date without a time of day.

    Such a date stands for the start of the day; where the clocks skip midnight (São Paulo moved to
    summer time at 00:00 until 2018), the day starts at the instant the gap ends, which is what the
    conversion already gives, so the date is accepted instead of rejected.
    """
    if fmt is not None:
        return not any(d in fmt for d in ("%H", "%I", "%M", "%S", "%X", "%c", "%p"))
    return ":" not in text


def _parse_datetime(text: str, spec: ColumnSpec, zone: tzinfo) -> str:
    """A cell of a ``datetime`` column as ``YYYY-MM-DDTHH:MM:SSZ`` (UTC).

    Raises:
        ValueError: the text is not a date/time in the column's format, or a local time that does not
            exist in the column's zone.
    """
    try:
        value = datetime.strptime(text, spec.format) if spec.format else datetime.fromisoformat(text)
    except ValueError:
        expected = f"format {spec.format!r}" if spec.format else "ISO-8601, e.g. 2024-03-31 14:05:00"
        raise ValueError(f"expected a date/time ({expected}), got {text!r}") from None
    if value.tzinfo is None:
        local = value.replace(tzinfo=zone)
        utc = local.astimezone(UTC)
        if utc.astimezone(zone).replace(tzinfo=None) != value and not _date_only(text, spec.format):
            raise ValueError(f"{text!r} does not exist in time zone {zone} (the clocks skip it)")
    else:
        utc = value.astimezone(UTC)
    return f"{utc.year:04d}-{utc.month:02d}-{utc.day:02d}T{utc.hour:02d}:{utc.minute:02d}:{utc.second:02d}Z"


class _Column:
    """A column's compiled settings: position in the header, spec and value lists."""

    __slots__ = ("decimal_comma", "false", "header", "index", "missing", "spec", "true", "zone")

    def __init__(self, index: int, header: str, spec: ColumnSpec, mapping: ColumnMapping) -> None:
        self.index = index
        self.header = header
        self.spec = spec
        self.missing = frozenset(
            spec.missing_values if spec.missing_values is not None else mapping.missing_values
        )
        true = spec.true_values if spec.true_values is not None else mapping.true_values
        false = spec.false_values if spec.false_values is not None else mapping.false_values
        self.true = frozenset(v.strip().lower() for v in true)
        self.false = frozenset(v.strip().lower() for v in false)
        self.zone: tzinfo = ZoneInfo(spec.timezone) if spec.timezone else UTC
        self.decimal_comma = (spec.decimal or mapping.decimal) == ","


class RowMapper:
    """Turns CSV rows into validated ``lead/v1`` records, a column at a time.

    A record is the plain-dict form of a ``Lead`` (exactly ``lead_document(Lead.model_validate(record))``,
    checked on every real row by ``tests/ingest``). Each distinct cell value of a column is converted and
    validated once, against the very pydantic types the ``Lead`` contract declares (``ScalarIn`` for
    attributes, the field's own type for ``lead_field`` columns, ``LeadId`` for the id), so the batch path
    costs a few microseconds a row instead of a full model validation, with the same rules.

    Columns come either as Python sequences of cells (``to_records``) or as Arrow string arrays from the
    CSV reader (``to_records_arrow``); the Arrow path finds the distinct values with
    ``pyarrow.compute.dictionary_encode`` and spreads the converted values back with one numpy take.
    """

    def __init__(self, mapping: ColumnMapping, header: list[str]):
        self.mapping = mapping
        self.header = header
        index = {h: i for i, h in enumerate(header)}
        self._columns = [_Column(index[h], h, spec, mapping) for h, spec in mapping.columns.items()]
        _check_source(mapping.source)

    def _convert_distinct(self, col: _Column, distinct: list[str]) -> tuple[list[Any], dict[int, str]]:
        """Convert and check each distinct cell once: ``(values, bad)``, ``bad`` maps index -> reason."""
        spec = col.spec
        values: list[Any] = [None] * len(distinct)
        bad: dict[int, str] = {}
        for i, raw in enumerate(distinct):
            ok, value = self._convert_cell(col, raw)
            if ok:
                values[i] = value
            else:
                bad[i] = value
        present = [i for i, v in enumerate(values) if v is not None]
        checked = _check_all(spec, [values[i] for i in present])
        if checked is not None:
            for i, v in zip(present, checked, strict=True):
                values[i] = v
        else:
            check = _checker(spec)
            for i in present:
                ok, value = check(values[i])
                if ok:
                    values[i] = value
                else:
                    values[i] = None
                    bad[i] = value
        return values, bad

    def _convert_column(
        self, col: _Column, cells: Sequence[str], errors: dict[int, list[FieldError]]
    ) -> list[Any]:
        # Cells repeat heavily (categories, flags, small counts): convert and check each distinct string
        # once, then map the column through the table (a C-level loop).
        distinct = list(dict.fromkeys(cells))
        values, bad = self._convert_distinct(col, distinct)
        table = dict(zip(distinct, values, strict=True))
        if bad:
            reasons = {distinct[i]: reason for i, reason in bad.items()}
            path = f"columns.{col.header}"
            for i, raw in enumerate(cells):
                if raw in reasons:
                    errors.setdefault(i, []).append(FieldError(path, reasons[raw]))
        return list(map(table.__getitem__, cells))

    def _convert_arrow(self, col: _Column, cells: pa.Array, errors: dict[int, list[FieldError]]) -> list[Any]:
        import pyarrow.compute as pc

        encoded = pc.dictionary_encode(cells)
        distinct: list[str] = encoded.dictionary.to_pylist()
        codes = encoded.indices.to_numpy(zero_copy_only=False)
        values, bad = self._convert_distinct(col, distinct)
        table = np.empty(len(values), dtype=object)
        table[:] = values
        if bad:
            path = f"columns.{col.header}"
            bad_codes = np.fromiter(bad, dtype=codes.dtype, count=len(bad))
            for i in np.flatnonzero(np.isin(codes, bad_codes)).tolist():
                errors.setdefault(i, []).append(FieldError(path, bad[int(codes[i])]))
        out: list[Any] = table[codes].tolist()
        return out

    def _convert_cell(self, col: _Column, raw: str) -> tuple[bool, Any]:
        """``(True, value)`` or ``(False, reason)`` for one cell."""
        spec = col.spec
        text = raw.strip()
        if text in col.missing:
            if spec.required or spec.stage == "id":
                return False, "a value is required"
            return True, None
        try:
            return True, self._convert(col, raw, text)
        except ValueError as exc:
            return False, str(exc)

    def _convert(self, col: _Column, raw: str, text: str) -> Any:
        spec = col.spec
        kind = spec.type
        if kind == "string" or kind == "category":
            if spec.transform == "lower":
                return text.lower()
            if spec.transform == "upper":
                return text.upper()
            return text
        if kind == "boolean":
            low = text.lower()
            if low in col.true:
                return True
            if low in col.false:
                return False
            raise ValueError(
                f"expected a boolean (true: {'/'.join(sorted(col.true))}; false: {'/'.join(sorted(col.false))}),"
                f" got {raw!r}"
            )
        if kind == "datetime":
            return _parse_datetime(text, spec, col.zone)
        if col.decimal_comma:
            if "." in text:
                raise ValueError(f"expected a number with a decimal comma, got {raw!r}")
            text = text.replace(",", ".")
        try:
            number: float | int = float(text)
        except ValueError:
            raise ValueError(f"expected a number, got {raw!r}") from None
        if not math.isfinite(number):
            raise ValueError(f"expected a finite number, got {raw!r}")
        if kind == "integer":
            if not float(number).is_integer():
                raise ValueError(f"expected a whole number, got {raw!r}")
            number = int(number)
        if spec.min is not None and number < spec.min:
            raise ValueError(f"must be >= {spec.min:g}, got {raw!r}")
        if spec.max is not None and number > spec.max:
            raise ValueError(f"must be <= {spec.max:g}, got {raw!r}")
        return number

    def to_records(
        self,
        rows: list[list[str]],
        received_at: datetime | None = None,
        lead_ids: Sequence[str] | None = None,
    ) -> tuple[list[dict[str, Any] | None], dict[int, list[FieldError]]]:
        """Map rows (each exactly ``len(header)`` cells) to validated ``lead/v1`` records.

        Args:
            rows: the rows' cells in header order.
            received_at: arrival time stamped on every record (default: now, UTC).
            lead_ids: the rows' ids when the mapping has no ``id_column`` (default: content ids counted
                within ``rows``; see ``ContentIds``). Ignored when it has one.

        Returns:
            ``(records, errors)``: ``records[i]`` is None where row ``i`` was rejected; ``errors[i]``
            lists why, with paths ``columns.<CSV header>``.
        """
        if not rows:
            return [], {}
        transposed = list(zip(*rows, strict=True))
        return self._records(transposed, len(rows), received_at, lead_ids, arrow=False)

    def to_records_arrow(
        self,
        columns: Sequence[pa.Array],
        received_at: datetime | None = None,
        lead_ids: Sequence[str] | None = None,
    ) -> tuple[list[dict[str, Any] | None], dict[int, list[FieldError]]]:
        """Like ``to_records`` for columns given as Arrow string arrays in header order (no nulls)."""
        n = len(columns[0]) if columns else 0
        if n == 0:
            return [], {}
        return self._records(columns, n, received_at, lead_ids, arrow=True)

    def _records(
        self,
        cols: Sequence[Any],
        n: int,
        received_at: datetime | None,
        lead_ids: Sequence[str] | None,
        *,
        arrow: bool,
    ) -> tuple[list[dict[str, Any] | None], dict[int, list[FieldError]]]:
        errors: dict[int, list[FieldError]] = {}
        stamp = received_at or datetime.now(UTC)
        attr_names: list[str] = []
        attr_cols: list[list[Any]] = []
        post_names: list[str] = []
        post_cols: list[list[Any]] = []
        top_names: list[str] = []
        top_cols: list[list[Any]] = []
        ids: Sequence[Any] = [None] * n
        labels: list[Any] | None = None
        convert: Callable[[_Column, Any, dict[int, list[FieldError]]], list[Any]] = (
            self._convert_arrow if arrow else self._convert_column
        )
        for col in self._columns:
            values = convert(col, cols[col.index], errors)
            spec = col.spec
            if spec.stage == "id":
                ids = values
            elif spec.stage == "label":
                labels = values
            elif spec.stage == "pre_decision":
                attr_names.append(spec.field)
                attr_cols.append(values)
            else:
                post_names.append(spec.field)
                post_cols.append(values)
            if spec.lead_field:
                top_names.append(spec.lead_field)
                top_cols.append(values)
        if self.mapping.id_column is None:
            if lead_ids is None:
                content = ContentIds(self.mapping)
                by_header = {
                    h: (cols[self.header.index(h)].to_pylist() if arrow else cols[self.header.index(h)])
                    for h in content.headers
                }
                lead_ids = content.ids(by_header, n)
            ids = lead_ids
        # Records are assembled a column at a time: each record key gets a column of n values (or one
        # constant), and ``dict(zip(keys, row))`` runs in C. Key order is the template's (the ``Lead``
        # field order), then ``attributes`` and ``post_decision``, as ``lead_document`` gives. A lead
        # field whose value is missing keeps its default, which is None, like a missing value.
        fixed = {**_RECORD_TEMPLATE, "source": self.mapping.source, "received_at": stamp}
        columns: dict[str, Iterable[Any]] = {k: itertools.repeat(v, n) for k, v in fixed.items()}
        columns["lead_id"] = ids
        for name, values in zip(top_names, top_cols, strict=True):
            columns[name] = values
        if labels is not None:
            columns["outcome"] = [
                None if label is None else {"converted": label, "recorded_at": None} for label in labels
            ]
        columns["attributes"] = _dicts(attr_names, attr_cols, n)
        columns["post_decision"] = _dicts(post_names, post_cols, n)
        keys = tuple(columns)
        out: list[dict[str, Any] | None] = list(
            map(dict, map(zip, itertools.repeat(keys), zip(*columns.values(), strict=True)))
        )
        for i in errors:
            out[i] = None
        return out, errors

    def to_leads(self, rows: list[list[str]]) -> tuple[list[Lead | None], dict[int, list[FieldError]]]:
        """Like ``to_records`` but returns ``Lead`` objects (validated again by pydantic)."""
        records, errors = self.to_records(rows)
        return [None if r is None else Lead.model_validate(r) for r in records], errors

    def to_lead(self, row: dict[str, str]) -> Lead:
        """Map and validate one row given as header -> cell.

        Raises:
            ContractError: naming each bad column (``columns.<header>``) or lead field and the reason.
        """
        missing = [h for h in self.header if h not in row]
        if missing:
            raise ContractError(
                "lead/v1", [FieldError(f"columns.{h}", "column missing from the row") for h in missing]
            )
        leads, errors = self.to_leads([[row[h] for h in self.header]])
        if errors:
            raise ContractError("lead/v1", errors[0])
        lead = leads[0]
        assert lead is not None
        return lead


def _dicts(names: list[str], columns: list[list[Any]], n: int) -> list[dict[str, Any]]:
    """One dict ``{names[k]: columns[k][i]}`` per row ``i`` (n of them), built in C."""
    if not columns:
        return [{} for _ in range(n)]
    return list(map(dict, map(zip, itertools.repeat(names), zip(*columns, strict=True))))


def input_hash(lead: Lead | Mapping[str, Any]) -> str:
    """sha256 hex of the canonical JSON of what the decision may depend on: id and pre-decision attributes.

    Accepts a ``Lead`` or its record (``lead_document``). Post-decision values and the outcome are left
    out, so recording an outcome does not change it.
    """
    if isinstance(lead, Lead):
        payload = {"lead_id": lead.lead_id, "attributes": lead.attributes}
    else:
        payload = {"lead_id": lead["lead_id"], "attributes": lead["attributes"]}
    return hashlib.sha256(orjson.dumps(payload, option=orjson.OPT_SORT_KEYS)).hexdigest()


def load_mapping_text(text: str, source: str = "<mapping>") -> ColumnMapping:
    """Parse and validate a column mapping given as YAML text.

    Args:
        text: the YAML document.
        source: the file name used in the messages.

    Raises:
        MappingError: one ``source:line:col: path: message`` line per issue (YAML syntax, duplicate keys,
            unknown keys, schema rules, an invalid lead source).
    """
    mapping, issues = check_yaml(text, ColumnMapping, "mapping file")
    if mapping is None:
        raise MappingError(source, issues)
    try:
        _check_source(mapping.source)
    except ValueError as exc:
        raise MappingError(source, [YamlIssue(1, 1, "source", str(exc))]) from exc
    return mapping


def load_mapping(path: str | Path) -> ColumnMapping:
    """Load a column mapping from a YAML file (strictly: see ``load_mapping_text``).

    Raises:
        FileNotFoundError: the file does not exist.
        MappingError: the YAML is malformed, repeats a key or breaks the mapping schema
            (``file:line:col: path: message`` per issue).
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise MappingError(
            str(path), [YamlIssue(1, 1, ROOT, f"the mapping file is not UTF-8: {exc}")]
        ) from exc
    return load_mapping_text(text, str(path))
