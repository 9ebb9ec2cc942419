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

This module holds the format (the models, their rules and the loaders). Converting cells under a mapping
(``RowMapper``, ``ContentIds``, ``input_hash``) lives in ``leadgate.ingest.convert``; those names are
re-exported here, so ``from leadgate.ingest.mapping import RowMapper`` keeps working.
"""

from __future__ import annotations

import codecs
import hashlib
from pathlib import Path
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import orjson
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from leadgate.ingest.convert import CONTENT_ID_PREFIX, ContentIds, RowMapper, _check_source, input_hash
from leadgate.yamlcheck import ROOT, YamlError, YamlIssue, check_ref_version, check_yaml

__all__ = [
    "CONTENT_ID_PREFIX",
    "ColumnMapping",
    "ColumnSpec",
    "ColumnType",
    "ContentIds",
    "LeadField",
    "MappingError",
    "RowMapper",
    "Stage",
    "check_encoding",
    "check_timezone",
    "input_hash",
    "load_mapping",
    "load_mapping_text",
]

Stage = Literal["pre_decision", "post_decision", "label", "id"]
ColumnType = Literal["string", "category", "number", "integer", "boolean", "datetime"]
LeadField = Literal[
    "email", "first_name", "last_name", "company", "title", "country", "city", "phone", "owner"
]


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


def check_timezone(name: str) -> str:
    """Return ``name`` if it is an IANA time zone (``Europe/Berlin``, ``UTC``).

    Raises:
        ValueError: an unknown zone (the message suggests the form).
    """
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(
            f"unknown time zone {name!r}: use an IANA name such as 'Europe/Berlin' or 'UTC'"
        ) from None
    return name


def check_encoding(name: str) -> str:
    """Return ``name`` if Python knows the codec (``utf-8``, ``cp1252``, ``latin-1``).

    Raises:
        ValueError: an unknown codec (the message suggests common ones).
    """
    try:
        codecs.lookup(name)
    except LookupError:
        raise ValueError(
            f"unknown encoding {name!r}: use a Python codec name such as utf-8, cp1252 or latin-1"
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
        lead_field: also copy the value to this top-level ``Lead`` field (e.g. ``country``). ``owner``
            assigns the lead to the sales rep the column names (a CRM's lead owner); such a column must be
            ``post_decision`` (an assignment is made after qualification, and no model may learn from it).
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
        pii: ``true`` when the column holds personal data (a name, an address, free text about a person):
            its value is stored encrypted and erased with the person (``leadgate.privacy``). A column
            copied to ``email``, ``first_name``, ``last_name`` or ``phone`` is personal without it.

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
    pii: bool | None = None

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str | None) -> str | None:
        return None if value is None else check_timezone(value)

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
        if self.lead_field == "owner" and self.stage != "post_decision":
            raise ValueError(
                f"a column with lead_field: owner must have stage: post_decision (it has stage: {self.stage}): "
                "a lead's owner is assigned after qualification, so no model may learn from it"
            )
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
        return check_encoding(value)

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

    def personal_attributes(self) -> frozenset[str]:
        """Attribute names stored encrypted (``leadgate.privacy``).

        Columns with ``pii: true`` or copied to a personal lead field (``privacy.fields.PERSONAL_LEAD_FIELDS``:
        email, first_name, last_name, phone).
        """
        from leadgate.privacy.fields import PERSONAL_LEAD_FIELDS

        return frozenset(
            c.field for c in self.columns.values() if c.pii or c.lead_field in PERSONAL_LEAD_FIELDS
        )

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
_NEW_COLUMN_KEYS = ("missing_values", "true_values", "false_values", "timezone", "format", "decimal", "pii")


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
