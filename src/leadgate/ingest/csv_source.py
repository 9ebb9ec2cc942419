"""Stream a CSV file as chunks of validated leads and rejected rows (dead letters).

Row numbers are 1-based data rows (the header is row 0), so resuming after ``n`` committed rows
starts at row ``n + 1``.
"""

from __future__ import annotations

import csv
import hashlib
import itertools
from collections.abc import Generator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from leadgate.contracts.errors import FieldError
from leadgate.contracts.lead import Lead
from leadgate.ingest.mapping import ColumnMapping, RowMapper


class FileFormatError(ValueError):
    """The file as a whole cannot be read with the mapping (e.g. undeclared or missing columns)."""


@dataclass(frozen=True)
class Rejected:
    """A rejected row: its number, the original cells and the reasons."""

    row_number: int
    record: dict[str, str | None]
    errors: list[FieldError]

    @property
    def reason(self) -> str:
        """All reasons in one line."""
        return "; ".join(str(e) for e in self.errors)


@dataclass
class CsvChunk:
    """Consecutive rows ``first_row..last_row`` split into valid lead records and rejected rows.

    ``records`` holds ``(row_number, record)`` pairs where each record is the validated ``lead/v1`` dict
    (``lead_document`` form); ``leads`` gives the same as ``Lead`` objects.
    """

    first_row: int
    last_row: int
    records: list[tuple[int, dict[str, Any]]] = field(default_factory=list)
    rejected: list[Rejected] = field(default_factory=list)

    @property
    def leads(self) -> list[tuple[int, Lead]]:
        """``(row_number, Lead)`` pairs (validated from the records on each access)."""
        return [(n, Lead.model_validate(r)) for n, r in self.records]


def file_sha256(path: str | Path) -> str:
    """sha256 hex digest of a file's bytes (read in 1 MiB blocks)."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def check_header(header: list[str] | None, mapping: ColumnMapping) -> None:
    """Refuse a file whose header does not match the mapping.

    Raises:
        FileFormatError: listing undeclared and missing columns. Undeclared columns are refused rather
            than dropped, so no data is lost silently.
    """
    if not header:
        raise FileFormatError("the file is empty: no header row")
    extra = [h for h in header if h not in mapping.columns]
    missing = [h for h in mapping.columns if h not in header]
    dupes = sorted({h for h in header if header.count(h) > 1})
    problems = []
    if extra:
        problems.append(f"columns not declared in mapping {mapping.name!r}: {extra}")
    if missing:
        problems.append(f"columns declared but absent from the file: {missing}")
    if dupes:
        problems.append(f"duplicate header names: {dupes}")
    if problems:
        raise FileFormatError("; ".join(problems))


def read_header(path: str | Path, mapping: ColumnMapping) -> list[str]:
    """The file's header row, checked against the mapping.

    Raises:
        FileFormatError: the header does not match the mapping.
    """
    with open(path, newline="", encoding="utf-8-sig") as fh:
        header = next(csv.reader(fh), None)
    check_header(header, mapping)
    assert header is not None
    return header


@dataclass
class RawChunk:
    """Consecutive raw rows of a CSV file: ``rows[k]`` is data row ``first_row + k`` (cells as strings)."""

    first_row: int
    rows: list[list[str]]


def read_raw_chunks(
    path: str | Path, mapping: ColumnMapping, *, start_row: int = 0, chunk_size: int = 5000
) -> tuple[list[str], Generator[RawChunk, None, None]]:
    """The header and the raw rows after ``start_row``, in chunks of at most ``chunk_size`` rows.

    The header is checked against the mapping before any row is read; ``map_chunk`` turns a raw
    chunk into leads and rejected rows (in this process or another). The file is opened when the first
    chunk is asked for and closed when the iterator is exhausted or closed.

    Raises:
        FileFormatError: the header does not match the mapping.
    """
    header = read_header(path, mapping)

    def chunks() -> Generator[RawChunk, None, None]:
        with open(path, newline="", encoding="utf-8-sig") as fh:
            reader = csv.reader(fh)
            next(reader, None)
            row_number = 0
            for _ in itertools.islice(reader, start_row):
                row_number += 1
            if row_number < start_row:
                return
            while batch := list(itertools.islice(reader, chunk_size)):
                yield RawChunk(row_number + 1, batch)
                row_number += len(batch)

    return header, chunks()


def map_chunk(mapper: RowMapper, raw: RawChunk) -> CsvChunk:
    """Split a raw chunk into validated lead records and rejected rows (see ``RowMapper.to_records``)."""
    return _map_batch(mapper, mapper.header, raw.rows, raw.first_row, len(mapper.header))


def read_csv_chunks(
    path: str | Path, mapping: ColumnMapping, *, start_row: int = 0, chunk_size: int = 5000
) -> Iterator[CsvChunk]:
    """Yield the rows after ``start_row`` in chunks of at most ``chunk_size`` rows, mapped and validated.

    Args:
        path: CSV file (UTF-8, optional BOM, header row first).
        mapping: the column mapping.
        start_row: number of data rows already committed; they are skipped.
        chunk_size: rows per chunk (>= 1).

    Raises:
        FileFormatError: the header does not match the mapping.
    """
    header, chunks = read_raw_chunks(path, mapping, start_row=start_row, chunk_size=chunk_size)
    mapper = mapping.compile(header)
    for raw in chunks:
        yield map_chunk(mapper, raw)


def _map_batch(
    mapper: RowMapper, header: list[str], batch: list[list[str]], first: int, width: int
) -> CsvChunk:
    chunk = CsvChunk(first_row=first, last_row=first + len(batch) - 1)
    good_rows: list[list[str]] = []
    good_numbers: list[int] = []
    for offset, cells in enumerate(batch):
        number = first + offset
        if len(cells) == width:
            good_rows.append(cells)
            good_numbers.append(number)
            continue
        record: dict[str, str | None] = dict(zip(header, cells, strict=False))
        if len(cells) > width:
            record["__extra__"] = ",".join(cells[width:])
        reason = FieldError("<row>", f"has {len(cells)} fields, the header has {width}")
        chunk.rejected.append(Rejected(number, record, [reason]))
    records, errors = mapper.to_records(good_rows)
    for i, lead_record in enumerate(records):
        if lead_record is None:
            chunk.rejected.append(
                Rejected(good_numbers[i], dict(zip(header, good_rows[i], strict=True)), errors[i])
            )
        else:
            chunk.records.append((good_numbers[i], lead_record))
    chunk.rejected.sort(key=lambda r: r.row_number)
    return chunk
