"""Column mappings: how the columns of one source's CSV become ``Lead`` v1 fields.

Each column declares its ``stage``: ``pre_decision`` (known when the lead arrives; may feed a model),
``post_decision`` (recorded after sales contact; stored, never a feature), ``label`` (the outcome) or
``id`` (the source's record id, the idempotency key).
"""

from __future__ import annotations

import functools
import hashlib
import itertools
import math
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any, Literal

import orjson
import yaml
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError, model_validator

from leadgate.contracts.errors import ContractError, FieldError
from leadgate.contracts.lead import Lead, LeadId, ScalarIn

Stage = Literal["pre_decision", "post_decision", "label", "id"]
ColumnType = Literal["string", "category", "number", "integer", "boolean"]
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


class MappingError(ValueError):
    """The mapping file itself is invalid (message names the field path and reason)."""


class ColumnSpec(BaseModel):
    """How one CSV column maps.

    Attributes:
        field: snake_case attribute name the value is stored under.
        stage: when the value is known (see module docstring).
        type: ``string``/``category`` (text), ``number`` (float), ``integer``, ``boolean``.
        transform: optional text transform applied before storing (``lower``, ``upper``).
        min, max: inclusive numeric bounds; a value outside them rejects the row.
        lead_field: also copy the value to this top-level ``Lead`` field (e.g. ``country``).
        required: a missing value rejects the row.
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


class ColumnMapping(BaseModel):
    """A versioned column mapping (YAML).

    Attributes:
        mapping_version: format version, currently 1.
        name: mapping name.
        source: source name recorded on each lead (``csv:xeducation``).
        id_column: the column holding the record id (its stage must be ``id``).
        missing_values: cell values that mean "no value" (X Education's ``Select`` placeholder).
        true_values, false_values: spellings of booleans (compared case-insensitively).
        columns: CSV header -> ``ColumnSpec``; every header must be declared.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")
    mapping_version: Literal[1] = 1
    name: str
    source: Annotated[str, Field(min_length=1, max_length=64)]
    id_column: str
    missing_values: list[str] = Field(default_factory=lambda: [""])
    true_values: list[str] = Field(default_factory=lambda: ["yes", "true", "1", "y"])
    false_values: list[str] = Field(default_factory=lambda: ["no", "false", "0", "n"])
    columns: dict[str, ColumnSpec]

    @model_validator(mode="after")
    def _consistent(self) -> ColumnMapping:
        if self.id_column not in self.columns:
            raise ValueError(f"id_column {self.id_column!r} is not among the declared columns")
        if self.columns[self.id_column].stage != "id":
            raise ValueError(f"id_column {self.id_column!r} must have stage 'id'")
        fields = [c.field for c in self.columns.values()]
        dupes = sorted({f for f in fields if fields.count(f) > 1})
        if dupes:
            raise ValueError(f"fields mapped twice: {', '.join(dupes)}")
        labels = [h for h, c in self.columns.items() if c.stage == "label"]
        if len(labels) > 1:
            raise ValueError(f"at most one label column, got {labels}")
        return self

    def stages(self) -> dict[str, str]:
        """Attribute name -> declared stage, for the feature-set leakage check."""
        return {c.field: c.stage for c in self.columns.values()}

    def content_hash(self) -> str:
        """sha256 of the canonical JSON of the mapping (part of an import's resume key)."""
        return hashlib.sha256(orjson.dumps(self.model_dump(), option=orjson.OPT_SORT_KEYS)).hexdigest()

    def compile(self, header: list[str] | None = None) -> RowMapper:
        """A row mapper for files with ``header`` (default: the declared columns in order)."""
        return RowMapper(self, header if header is not None else list(self.columns))


class RowMapper:
    """Turns CSV rows (lists of cells in header order) into validated ``lead/v1`` records, a column at a time.

    A record is the plain-dict form of a ``Lead`` (exactly ``lead_document(Lead.model_validate(record))``,
    checked on every real row by ``tests/ingest``). Each distinct cell value of a column is converted and
    validated once, against the very pydantic types the ``Lead`` contract declares (``ScalarIn`` for
    attributes, the field's own type for ``lead_field`` columns, ``LeadId`` for the id), so the batch path
    costs a few microseconds a row instead of a full model validation, with the same rules.
    """

    def __init__(self, mapping: ColumnMapping, header: list[str]):
        self.mapping = mapping
        self.header = header
        self._missing = frozenset(mapping.missing_values)
        self._true = frozenset(v.lower() for v in mapping.true_values)
        self._false = frozenset(v.lower() for v in mapping.false_values)
        index = {h: i for i, h in enumerate(header)}
        self._columns = [(index[h], h, spec) for h, spec in mapping.columns.items()]
        _check_source(mapping.source)

    def _convert_column(
        self, header: str, spec: ColumnSpec, cells: tuple[str, ...], errors: dict[int, list[FieldError]]
    ) -> list[Any]:
        # Cells repeat heavily (categories, flags, small counts): convert and check each distinct string
        # once, then map the column through the table (a C-level loop).
        table: dict[str, Any] = {}
        bad: dict[str, str] = {}
        for raw in set(cells):
            ok, value = self._convert_cell(spec, raw)
            if ok:
                table[raw] = value
            else:
                bad[raw] = value
        present = [raw for raw, value in table.items() if value is not None]
        checked = _check_all(spec, [table[raw] for raw in present])
        if checked is not None:
            table.update(zip(present, checked, strict=True))
        else:
            check = _checker(spec)
            for raw in present:
                ok, value = check(table[raw])
                if ok:
                    table[raw] = value
                else:
                    del table[raw]
                    bad[raw] = value
        if not bad:
            return list(map(table.__getitem__, cells))
        path = f"columns.{header}"
        for i, raw in enumerate(cells):
            if raw in bad:
                errors.setdefault(i, []).append(FieldError(path, bad[raw]))
        return list(map(table.get, cells))

    def _convert_cell(self, spec: ColumnSpec, raw: str) -> tuple[bool, Any]:
        """``(True, value)`` or ``(False, reason)`` for one cell."""
        text = raw.strip()
        if text in self._missing:
            if spec.required or spec.stage == "id":
                return False, "a value is required"
            return True, None
        try:
            return True, self._convert(spec, raw, text)
        except ValueError as exc:
            return False, str(exc)

    def _convert(self, spec: ColumnSpec, raw: str, text: str) -> Any:
        kind = spec.type
        if kind == "string" or kind == "category":
            if spec.transform == "lower":
                return text.lower()
            if spec.transform == "upper":
                return text.upper()
            return text
        if kind == "boolean":
            low = text.lower()
            if low in self._true:
                return True
            if low in self._false:
                return False
            raise ValueError(
                f"expected a boolean ({'/'.join(sorted(self._true | self._false))}), got {raw!r}"
            )
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
        self, rows: list[list[str]], received_at: datetime | None = None
    ) -> tuple[list[dict[str, Any] | None], dict[int, list[FieldError]]]:
        """Map rows (each exactly ``len(header)`` cells) to validated ``lead/v1`` records.

        Args:
            rows: the rows' cells in header order.
            received_at: arrival time stamped on every record (default: now, UTC).

        Returns:
            ``(records, errors)``: ``records[i]`` is None where row ``i`` was rejected; ``errors[i]``
            lists why, with paths ``columns.<CSV header>``.
        """
        n = len(rows)
        errors: dict[int, list[FieldError]] = {}
        if n == 0:
            return [], errors
        stamp = received_at or datetime.now(UTC)
        transposed = list(zip(*rows, strict=True))
        attr_names: list[str] = []
        attr_cols: list[list[Any]] = []
        post_names: list[str] = []
        post_cols: list[list[Any]] = []
        top_names: list[str] = []
        top_cols: list[list[Any]] = []
        ids: list[Any] = [None] * n
        labels: list[Any] | None = None
        for idx, header, spec in self._columns:
            values = self._convert_column(header, spec, transposed[idx], errors)
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
                None
                if label is None
                else {"converted": label if isinstance(label, bool) else bool(label), "recorded_at": None}
                for label in labels
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


def load_mapping(path: str | Path) -> ColumnMapping:
    """Load a column mapping from YAML.

    Raises:
        FileNotFoundError: the file does not exist.
        MappingError: the YAML is malformed or breaks the mapping schema (field path and reason).
    """
    try:
        raw = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise MappingError(f"{path}: not valid YAML: {exc}") from exc
    try:
        return ColumnMapping.model_validate(raw)
    except ValidationError as exc:
        err = ContractError.from_validation_error("column_mapping", exc)
        raise MappingError(f"{path}: " + "; ".join(str(e) for e in err.errors)) from exc
