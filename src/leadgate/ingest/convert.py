"""Cell conversion: rows of a CSV become validated ``lead/v1`` records under a ``ColumnMapping``.

The mapping *format* (``ColumnSpec``, ``ColumnMapping``, ``load_mapping``) lives in
``leadgate.ingest.mapping``; this module applies it:

* ``RowMapper`` converts the cells of each column (text transforms, booleans, numbers with a decimal
  point or comma, datetimes to ISO-8601 UTC) and checks the values against the ``Lead`` contract types;
* ``ContentIds`` derives lead ids from a row's content for mappings without an ``id_column``;
* ``input_hash`` hashes what a decision may depend on (the lead id and pre-decision attributes).

Every public name here is also importable from ``leadgate.ingest.mapping`` (and the package-level ones
from ``leadgate.ingest``).
"""

from __future__ import annotations

import functools
import hashlib
import itertools
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, datetime, tzinfo
from typing import TYPE_CHECKING, Annotated, Any
from zoneinfo import ZoneInfo

import numpy as np
import orjson
from pydantic import ConfigDict, TypeAdapter, ValidationError

from leadgate.contracts.errors import ContractError, FieldError
from leadgate.contracts.lead import Lead, LeadId, ScalarIn

if TYPE_CHECKING:
    import pyarrow as pa

    from leadgate.ingest.mapping import ColumnMapping, ColumnSpec, LeadField, Stage

__all__ = ["CONTENT_ID_PREFIX", "ContentIds", "RowMapper", "input_hash"]


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
