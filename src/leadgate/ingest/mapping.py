"""Column mappings: how the columns of one source's CSV become ``Lead`` v1 fields.

Each column declares its ``stage``: ``pre_decision`` (known when the lead arrives; may feed a model),
``post_decision`` (recorded after sales contact; stored, never a feature), ``label`` (the outcome) or
``id`` (the source's record id, the idempotency key).
"""

from __future__ import annotations

import hashlib
import math
from pathlib import Path
from typing import Annotated, Any, Literal

import orjson
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from leadgate.contracts.errors import ContractError, FieldError
from leadgate.contracts.lead import Lead

Stage = Literal["pre_decision", "post_decision", "label", "id"]
ColumnType = Literal["string", "category", "number", "integer", "boolean"]
LeadField = Literal["email", "first_name", "last_name", "company", "title", "country", "city", "phone"]


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
    """Turns CSV rows (lists of cells in header order) into ``Lead`` objects, a column at a time.

    Converting whole columns keeps the per-row cost low on the batch path (about 10 microseconds a row,
    most of it pydantic validation of the ``Lead``); a single row goes through the same code.
    """

    def __init__(self, mapping: ColumnMapping, header: list[str]):
        self.mapping = mapping
        self.header = header
        self._missing = frozenset(mapping.missing_values)
        self._true = frozenset(v.lower() for v in mapping.true_values)
        self._false = frozenset(v.lower() for v in mapping.false_values)
        index = {h: i for i, h in enumerate(header)}
        self._columns = [(index[h], h, spec) for h, spec in mapping.columns.items()]

    def _convert_column(
        self, header: str, spec: ColumnSpec, cells: tuple[str, ...], errors: dict[int, list[FieldError]]
    ) -> list[Any]:
        path = f"columns.{header}"
        # Cells repeat heavily (categories, flags, small counts): convert each distinct string once.
        cache: dict[str, tuple[bool, Any]] = {}
        out: list[Any] = [None] * len(cells)
        for i, raw in enumerate(cells):
            hit = cache.get(raw)
            if hit is None:
                hit = cache[raw] = self._convert_cell(spec, raw)
            ok, value = hit
            if ok:
                out[i] = value
            else:
                errors.setdefault(i, []).append(FieldError(path, value))
        return out

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

    def to_lead_dicts(
        self, rows: list[list[str]]
    ) -> tuple[list[dict[str, Any] | None], dict[int, list[FieldError]]]:
        """Map rows (each exactly ``len(header)`` cells) to ``lead/v1`` dicts, not yet validated as ``Lead``.

        Returns:
            ``(dicts, errors)``: ``dicts[i]`` is None where row ``i`` has errors; ``errors[i]`` lists them,
            with paths ``columns.<CSV header>``.
        """
        n = len(rows)
        errors: dict[int, list[FieldError]] = {}
        if n == 0:
            return [], errors
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
        source = self.mapping.source
        out: list[dict[str, Any] | None] = []
        attr_rows = list(zip(*attr_cols, strict=True)) if attr_cols else [()] * n
        post_rows = list(zip(*post_cols, strict=True)) if post_cols else [()] * n
        top_rows = list(zip(*top_cols, strict=True)) if top_cols else [()] * n
        for i in range(n):
            if i in errors:
                out.append(None)
                continue
            lead: dict[str, Any] = {
                "lead_id": ids[i],
                "source": source,
                "attributes": dict(zip(attr_names, attr_rows[i], strict=True)),
                "post_decision": dict(zip(post_names, post_rows[i], strict=True)),
            }
            for name, value in zip(top_names, top_rows[i], strict=True):
                if value is not None:
                    lead[name] = value
            if labels is not None and labels[i] is not None:
                label = labels[i]
                lead["outcome"] = {"converted": label if isinstance(label, bool) else bool(label)}
            out.append(lead)
        return out, errors

    def to_leads(self, rows: list[list[str]]) -> tuple[list[Lead | None], dict[int, list[FieldError]]]:
        """Map and validate rows; like ``to_lead_dicts`` but returns ``Lead`` objects.

        Contract errors of a row (bad lead id, bad email) are added to ``errors`` under the ``Lead``
        field path; that row's entry is None.
        """
        dicts, errors = self.to_lead_dicts(rows)
        leads: list[Lead | None] = []
        for i, data in enumerate(dicts):
            if data is None:
                leads.append(None)
                continue
            try:
                leads.append(Lead.model_validate(data))
            except ValidationError as exc:
                errors[i] = ContractError.from_validation_error("lead/v1", exc).errors
                leads.append(None)
        return leads, errors

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


def input_hash(lead: Lead) -> str:
    """sha256 hex of the canonical JSON of what the decision may depend on: id and pre-decision attributes.

    Post-decision values and the outcome are left out, so recording an outcome does not change it.
    """
    payload = {"lead_id": lead.lead_id, "attributes": lead.attributes}
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
