"""Drafting a project from a file: the id, label and time columns, the features and the leak audit.

``draft_project`` reads the file (``leadgate.ingest.draft.sniff``), profiles every column
(``leadgate.ingest.draft.columns``), then chooses the roles across columns, decides which columns are
proposed as features and measures each column's single-column AUC against the label
(``leadgate.scoring.leakage``).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

import numpy as np
from pydantic import TypeAdapter, ValidationError

from leadgate.contracts.lead import LeadId
from leadgate.ingest.draft.columns import _lead_field, _number, _unique_fields, profile_column, snake_name
from leadgate.ingest.draft.model import ColumnDraft, Draft, DraftError
from leadgate.ingest.draft.sniff import read_table
from leadgate.scoring.leakage import LEAK_AUC_THRESHOLD, single_feature_auc

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
_LEAD_ID = TypeAdapter(LeadId)


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
    """Read a CSV export and infer a commented draft project (see ``leadgate.ingest.draft``).

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
