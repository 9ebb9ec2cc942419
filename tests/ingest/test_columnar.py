"""The columnar reader (Arrow) gives exactly the records of a straightforward row-by-row reference.

The reference reads the file with Python's ``csv`` module and builds each lead by plain per-cell rules
and full pydantic validation of the ``Lead`` contract, one row at a time; the columnar path must give the
same records (same keys in the same order, same values: the stored JSON is byte-identical), the same
rejected row numbers and the same chunk boundaries, on the real file and on nasty variants.
"""

from __future__ import annotations

import csv
import io
import math
from pathlib import Path
from typing import Any

import orjson
import pytest
from pydantic import ValidationError
from tests.conftest import LEADS_CSV, MAPPING

from leadgate.contracts.lead import Lead, lead_document
from leadgate.ingest import load_mapping, read_csv_chunks
from leadgate.ingest.mapping import ColumnMapping

STORED_ORDER = [
    *(f for f in Lead.model_fields if f not in ("received_at", "attributes", "post_decision")),
    "attributes",
    "post_decision",
]
"""Key order of the stored lead documents (``leads.data``) since before the columnar reader."""


def _cell(mapping: ColumnMapping, spec: Any, raw: str) -> Any:
    text = raw.strip()
    if text in mapping.missing_values:
        if spec.stage == "id":
            raise ValueError("required")
        return None
    if spec.type in ("string", "category"):
        return {"lower": text.lower(), "upper": text.upper()}.get(spec.transform, text)
    if spec.type == "boolean":
        if text.lower() in mapping.true_values:
            return True
        if text.lower() in mapping.false_values:
            return False
        raise ValueError(raw)
    number = float(text)
    if not math.isfinite(number) or (spec.min is not None and number < spec.min):
        raise ValueError(raw)
    if spec.type == "integer":
        if not number.is_integer():
            raise ValueError(raw)
        return int(number)
    return number


def reference(path: Path, mapping: ColumnMapping) -> tuple[dict[int, bytes], set[int]]:
    """Row number -> stored JSON of the lead (without ``received_at``), and the rejected row numbers."""
    with open(path, newline="", encoding="utf-8-sig") as fh:
        rows = list(csv.reader(fh))
    header = rows[0]
    good: dict[int, bytes] = {}
    bad: set[int] = set()
    for number, cells in enumerate(rows[1:], start=1):
        if len(cells) != len(header) or all(c == "" for c in cells):
            bad.add(number)
            continue
        data: dict[str, Any] = {"source": mapping.source, "attributes": {}, "post_decision": {}}
        try:
            for name, raw in zip(header, cells, strict=True):
                spec = mapping.columns[name]
                value = _cell(mapping, spec, raw)
                if spec.stage == "id":
                    data["lead_id"] = value
                elif spec.stage == "label":
                    data["outcome"] = None if value is None else {"converted": value}
                else:
                    data["attributes" if spec.stage == "pre_decision" else "post_decision"][spec.field] = (
                        value
                    )
                if spec.lead_field:
                    data[spec.lead_field] = value
            doc = lead_document(Lead.model_validate(data))
        except (ValueError, ValidationError):
            bad.add(number)
            continue
        doc.pop("received_at")
        good[number] = orjson.dumps({k: doc[k] for k in STORED_ORDER})
    return good, bad


def columnar(
    path: Path, mapping: ColumnMapping, **kw: int
) -> tuple[dict[int, bytes], set[int], list[tuple[int, int]]]:
    good: dict[int, bytes] = {}
    bad: set[int] = set()
    spans = []
    for chunk in read_csv_chunks(path, mapping, **kw):
        spans.append((chunk.first_row, chunk.last_row))
        for number, record in chunk.records:
            assert lead_document(Lead.model_validate(record)) == record
            record = dict(record)
            record.pop("received_at")
            good[number] = orjson.dumps(record)
        bad.update(r.row_number for r in chunk.rejected)
    return good, bad, spans


def test_real_file_equals_reference() -> None:
    mapping = load_mapping(MAPPING)
    want_good, want_bad = reference(LEADS_CSV, mapping)
    good, bad, spans = columnar(LEADS_CSV, mapping, chunk_size=1000)
    assert len(good) == 9240 and not bad and not want_bad
    assert good == want_good
    assert spans[0] == (1, 1000) and spans[-1] == (9001, 9240)


def _nasty(tmp_path: Path, *, bom: bool, eol: str, final_eol: bool, blank_lines: bool) -> Path:
    with open(LEADS_CSV, newline="", encoding="utf-8") as fh:
        rows = list(csv.reader(fh))
    header, body = rows[0], rows[1:1200]
    out = []
    for i, row in enumerate(body):
        row = list(row)
        if i % 41 == 1:
            row[12] = 'Finance,\r\nManagement "quoted"'  # Specialization: a quoted field over two lines
        if i % 53 == 2:
            row[30] = 'Les "Bureaux", Lyon'
        if i % 97 == 5:
            row = row[:10]  # short row
        if i % 131 == 7:
            row = [*row, "extra", "cells"]  # long row
        if i % 61 == 3:
            row[7] = "lots"  # bad number
        out.append(row)
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator=eol)
    writer.writerow(header)
    for i, row in enumerate(out):
        writer.writerow(row)
        if blank_lines and i % 200 == 199:
            buf.write(eol)
    text = buf.getvalue()
    if not final_eol:
        text = text.removesuffix(eol)
    path = tmp_path / "nasty.csv"
    path.write_bytes((b"\xef\xbb\xbf" if bom else b"") + text.encode("utf-8"))
    return path


@pytest.mark.parametrize(
    ("bom", "eol", "final_eol", "blank_lines"),
    [
        (True, "\r\n", True, False),
        (False, "\n", False, False),
        (True, "\n", True, True),
        (False, "\r\n", False, True),
    ],
)
def test_nasty_variants_equal_reference(
    tmp_path: Path, bom: bool, eol: str, final_eol: bool, blank_lines: bool
) -> None:
    path = _nasty(tmp_path, bom=bom, eol=eol, final_eol=final_eol, blank_lines=blank_lines)
    mapping = load_mapping(MAPPING)
    want_good, want_bad = reference(path, mapping)
    assert len(want_bad) > 40 and len(want_good) > 1000
    good, bad, spans = columnar(path, mapping, chunk_size=250)
    assert good == want_good
    assert bad == want_bad
    last = max(want_bad | set(want_good))
    assert spans == [(a, min(a + 249, last)) for a in range(1, last + 1, 250)]
    # resuming after any committed row gives the rest, in chunks of the same size
    for start in (1, 249, 250, 777):
        good2, bad2, spans2 = columnar(path, mapping, chunk_size=250, start_row=start)
        assert good2 == {n: r for n, r in want_good.items() if n > start}
        assert bad2 == {n for n in want_bad if n > start}
        assert spans2[0][0] == start + 1 and spans2[-1][1] == last


def test_ragged_rows_are_dead_letters_with_their_cells(tmp_path: Path) -> None:
    path = _nasty(tmp_path, bom=False, eol="\n", final_eol=True, blank_lines=True)
    mapping = load_mapping(MAPPING)
    rejected = {r.row_number: r for c in read_csv_chunks(path, mapping) for r in c.rejected}
    short, long_ = rejected[6], rejected[8]
    assert short.reason == "<row>: has 10 fields, the header has 37"
    assert short.record["Prospect ID"] and len(short.record) == 10
    assert long_.reason == "<row>: has 39 fields, the header has 37"
    assert long_.record["__extra__"] == "extra,cells"
    assert rejected[201].reason == "<row>: the row is empty"


def test_trailing_ragged_rows_and_only_bad_rows(tmp_path: Path) -> None:
    header = LEADS_CSV.read_text(encoding="utf-8").splitlines()[0]
    path = tmp_path / "x.csv"
    path.write_text(header + "\nonly,three,cells\n\na,b\n", encoding="utf-8")
    chunks = list(read_csv_chunks(path, load_mapping(MAPPING), chunk_size=2))
    assert [(c.first_row, c.last_row) for c in chunks] == [(1, 2), (3, 3)]
    assert [r.row_number for c in chunks for r in c.rejected] == [1, 2, 3]
    assert not any(c.records for c in chunks)
