"""The draft's data: what ``leadgate init`` inferred about a file and each of its columns.

``Draft`` (the file, its format and the id/label/time choices) holds one ``ColumnDraft`` per column;
``leadgate.ingest.draft.infer`` fills them in and ``leadgate.ingest.draft.render`` writes them out.
"""

from __future__ import annotations

from dataclasses import dataclass
from dataclasses import field as _field
from pathlib import Path
from typing import Literal

from leadgate.errors import LeadgateError

DraftType = Literal["string", "category", "number", "integer", "boolean", "datetime"]


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
