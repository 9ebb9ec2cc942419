"""Stream a CSV file as chunks of validated leads and rejected rows (dead letters).

The file is parsed by Arrow's CSV reader (``pyarrow.csv.open_csv``, one thread so that it reports row
numbers): the mapping's delimiter and encoding, quoted fields with line breaks, CRLF, a UTF-8
byte-order mark. Every column is read as text, so conversion stays in ``RowMapper`` (the same rules as
the single-lead path); rows with too few or too many fields become dead letters through Arrow's
``invalid_row_handler``, and rows whose every cell is empty (blank lines) become dead letters too.

Row numbers are 1-based data rows (the header is row 0; a quoted field spanning lines is one row), so
resuming after ``n`` committed rows starts at row ``n + 1``.
"""

from __future__ import annotations

import codecs
import csv
import hashlib
import io
from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from leadgate.contracts.errors import FieldError
from leadgate.contracts.lead import Lead
from leadgate.ingest.mapping import ColumnMapping, ContentIds, RowMapper

BLOCK_SIZE = 1 << 20
"""Bytes Arrow parses at a time (1 MiB: a few thousand rows of a typical CRM export)."""

_DELIMITER_NAMES = {",": "comma", ";": "semicolon", "\t": "tab", "|": "pipe"}


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


def _python_encoding(mapping: ColumnMapping) -> str:
    """The codec Python reads the file with (UTF-8 skips a byte-order mark)."""
    name = codecs.lookup(mapping.encoding).name
    return "utf-8-sig" if name in ("utf-8", "utf-8-sig") else name


def _arrow_encoding(mapping: ColumnMapping) -> str:
    """The encoding given to Arrow: ``utf8`` is parsed natively (BOM skipped), others transcoded."""
    name = codecs.lookup(mapping.encoding).name
    return "utf8" if name in ("utf-8", "utf-8-sig") else name


def _decode_problem(path: str | Path, mapping: ColumnMapping) -> str:
    """One line saying where the file stops being valid in the mapping's encoding, and what to do."""
    decoder = codecs.getincrementaldecoder(_python_encoding(mapping))()
    offset = line = 0
    where = ""
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 16), b""):
            try:
                decoder.decode(block)
            except UnicodeDecodeError as exc:
                pos = max(0, exc.start)
                bad = block[pos : pos + 1]
                lines = line + block.count(b"\n", 0, pos) + 1
                where = f" (byte 0x{bad.hex()} on line {lines})"
                break
            offset += len(block)
            line += block.count(b"\n")
    return (
        f"{path} is not valid {mapping.encoding}{where}: set `encoding:` in mapping {mapping.name!r} to the "
        "file's encoding (Excel and most Windows CRM exports use cp1252, older ones latin-1)"
    )


def _delimiter_hint(header: list[str], mapping: ColumnMapping) -> str | None:
    """A message suggesting another delimiter when the header splits into the declared columns with it."""
    line = mapping.delimiter.join(header)
    declared = set(mapping.columns)
    best: tuple[int, str] | None = None
    now = sum(h in declared for h in header)
    for candidate in (",", ";", "\t", "|"):
        if candidate == mapping.delimiter or candidate not in line:
            continue
        cells = next(csv.reader([line], delimiter=candidate))
        hits = sum(c.strip() in declared for c in cells)
        if hits > now and (best is None or hits > best[0]):
            best = (hits, candidate)
    if best is None:
        if len(header) == 1 and any(c in header[0] for c in ";\t|"):
            found = next(c for c in ";\t|" if c in header[0])
            best = (0, found)
        else:
            return None
    name = _DELIMITER_NAMES.get(best[1], repr(best[1]))
    shown = line if len(line) <= 80 else line[:77] + "..."
    current = _DELIMITER_NAMES.get(mapping.delimiter, repr(mapping.delimiter))
    return (
        f"the header row read with delimiter {mapping.delimiter!r} ({current}) is {len(header)} column(s), "
        f"{shown!r}; the file looks {name}-delimited: set `delimiter: {best[1]!r}` in mapping {mapping.name!r}"
    ).replace("'\\t'", '"\\t"')


def check_header(header: list[str] | None, mapping: ColumnMapping) -> None:
    """Refuse a file whose header does not match the mapping.

    Raises:
        FileFormatError: listing undeclared and missing columns (or, when the header splits into the
            declared columns with another delimiter, saying which one to set). Undeclared columns are
            refused rather than dropped, so no data is lost silently.
    """
    if not header:
        raise FileFormatError("the file is empty: no header row")
    extra = [h for h in header if h not in mapping.columns]
    missing = [h for h in mapping.columns if h not in header]
    if extra or missing:
        hint = _delimiter_hint(header, mapping)
        if hint is not None:
            raise FileFormatError(hint)
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
    """The file's header row (read with the mapping's delimiter and encoding), checked against the mapping.

    Raises:
        FileFormatError: the header does not match the mapping, or the file's start is not valid in the
            mapping's encoding.
    """
    try:
        with open(path, newline="", encoding=_python_encoding(mapping)) as fh:
            header = next(csv.reader(fh, delimiter=mapping.delimiter), None)
    except UnicodeDecodeError:
        raise FileFormatError(_decode_problem(path, mapping)) from None
    except csv.Error as exc:
        raise FileFormatError(f"{path}: the header row is not valid CSV: {exc}") from None
    check_header(header, mapping)
    assert header is not None
    return header


@dataclass
class RawChunk:
    """Consecutive rows ``first_row..last_row`` of a CSV file, not yet mapped.

    Attributes:
        first_row, last_row: the data rows covered (1-based, inclusive).
        table: the well-formed rows as Arrow string columns in header order.
        numbers: ``(len(table),)`` int64, the row number of each row of ``table``.
        malformed: ``(row_number, cells, reason)`` of the rows that cannot be mapped (wrong number of
            fields, or every cell empty).
        lead_ids: the content ids of ``table``'s rows for a mapping without ``id_column`` (counted over
            the whole file), else None.
    """

    first_row: int
    last_row: int
    table: pa.Table
    numbers: np.ndarray
    malformed: list[tuple[int, list[str], str]]
    lead_ids: list[str] | None = None

    @property
    def rows(self) -> list[list[str]]:
        """The well-formed rows' cells (a row-wise copy; the mapping path reads the columns)."""
        return [list(r.values()) for r in self.table.to_pylist()]


def _open_arrow(
    path: str | Path, mapping: ColumnMapping, header: list[str], on_invalid: Callable[[Any], str]
) -> pacsv.CSVStreamingReader:
    return pacsv.open_csv(
        path,
        read_options=pacsv.ReadOptions(
            use_threads=False, block_size=BLOCK_SIZE, encoding=_arrow_encoding(mapping)
        ),
        parse_options=pacsv.ParseOptions(
            delimiter=mapping.delimiter,
            quote_char='"',
            double_quote=True,
            escape_char=False,
            newlines_in_values=True,
            ignore_empty_lines=False,
            invalid_row_handler=on_invalid,
        ),
        convert_options=pacsv.ConvertOptions(
            column_types={h: pa.string() for h in header},
            null_values=[],
            strings_can_be_null=False,
            quoted_strings_can_be_null=False,
        ),
    )


def read_raw_chunks(
    path: str | Path, mapping: ColumnMapping, *, start_row: int = 0, chunk_size: int = 5000
) -> tuple[list[str], Generator[RawChunk, None, None]]:
    """The header and the raw rows after ``start_row``, in chunks of at most ``chunk_size`` rows.

    The header is checked against the mapping before any row is read; ``map_chunk`` turns a raw
    chunk into leads and rejected rows (in this process or another). The file is opened when the first
    chunk is asked for and closed when the iterator is exhausted or closed. Rows before ``start_row`` are
    parsed and dropped (so content ids still count them).

    Raises:
        FileFormatError: the header does not match the mapping (at once), or, while iterating, the file
            is not valid in the mapping's encoding or not valid CSV (an unterminated quote).
    """
    header = read_header(path, mapping)
    width = len(header)
    delimiter = mapping.delimiter

    def chunks() -> Generator[RawChunk, None, None]:
        invalid: list[tuple[int, list[str], str]] = []

        def on_invalid(row: Any) -> str:
            # Arrow's row number counts the header as row 1 (one thread: always known).
            cells = next(csv.reader(io.StringIO(row.text, newline=""), delimiter=delimiter), [])
            invalid.append((row.number - 1, cells, f"has {len(cells)} fields, the header has {width}"))
            return "skip"

        content = ContentIds(mapping) if mapping.id_column is None else None
        try:
            reader = _open_arrow(path, mapping, header, on_invalid)
        except pa.ArrowInvalid as exc:
            raise _format_error(path, mapping, exc) from None
        next_number = 1  # the smallest row number not yet given to a row
        taken = 0  # invalid rows already placed
        empty_table = pa.schema([(h, pa.string()) for h in header]).empty_table()
        pending: list[pa.Table] = [empty_table]
        pending_numbers: list[np.ndarray] = []
        pending_ids: list[list[str]] = []
        bad: list[tuple[int, list[str], str]] = []
        first = start_row + 1
        with reader:
            while True:
                try:
                    batch = reader.read_next_batch()
                except StopIteration:
                    break
                except pa.ArrowInvalid as exc:
                    raise _format_error(path, mapping, exc) from None
                m = batch.num_rows
                # Numbers of this batch's rows: the next m numbers not taken by invalid rows. Every
                # invalid row before the batch's last row has been reported (Arrow parses in order).
                skip = np.array([r[0] for r in invalid[taken:]], dtype=np.int64)
                span = np.arange(next_number, next_number + m + len(skip), dtype=np.int64)
                numbers = span[~np.isin(span, skip)][:m] if m else span[:0]
                if m:
                    next_number = int(numbers[-1]) + 1
                while taken < len(invalid) and invalid[taken][0] < next_number:
                    if invalid[taken][0] >= first:
                        bad.append(invalid[taken])
                    taken += 1
                if m == 0:
                    continue
                table = pa.Table.from_batches([batch])
                if table.column_names != header:
                    raise FileFormatError(
                        f"{path}: Arrow read the header as {table.column_names}, not {header}"
                    )
                empty = _empty_rows(table)
                ids = content.ids(_columns_by_header(table, content.headers), m) if content else None
                if empty.any():
                    for i in np.flatnonzero(empty).tolist():
                        if numbers[i] >= first:
                            bad.append((int(numbers[i]), [""] * width, "the row is empty"))
                    keep = ~empty
                    table = table.filter(pa.array(keep))
                    numbers = numbers[keep]
                    if ids is not None:
                        ids = [x for x, k in zip(ids, keep.tolist(), strict=True) if k]
                if len(numbers) and numbers[0] < first:
                    cut = int(np.searchsorted(numbers, first))
                    table, numbers = table.slice(cut), numbers[cut:]
                    ids = ids[cut:] if ids is not None else None
                pending.append(table)
                pending_numbers.append(numbers)
                if ids is not None:
                    pending_ids.append(ids)
                # Emit every chunk whose last row has been passed (all its invalid rows are known).
                while next_number - 1 >= first + chunk_size - 1:
                    last = first + chunk_size - 1
                    chunk, pending, pending_numbers, pending_ids, bad = _cut(
                        first, last, pending, pending_numbers, pending_ids, bad, content is not None
                    )
                    yield chunk
                    first = last + 1
        # Invalid rows after the last well-formed row are reported at the end.
        for entry in invalid[taken:]:
            if entry[0] >= first:
                bad.append(entry)
        end = max([next_number - 1, *(b[0] for b in bad)])
        while first <= end:
            last = min(first + chunk_size - 1, end)
            chunk, pending, pending_numbers, pending_ids, bad = _cut(
                first, last, pending, pending_numbers, pending_ids, bad, content is not None
            )
            yield chunk
            first = last + 1

    return header, chunks()


def _cut(
    first: int,
    last: int,
    pending: list[pa.Table],
    numbers: list[np.ndarray],
    ids: list[list[str]],
    bad: list[tuple[int, list[str], str]],
    with_ids: bool,
) -> tuple[RawChunk, list[pa.Table], list[np.ndarray], list[list[str]], list[tuple[int, list[str], str]]]:
    """Split the buffered rows into the chunk ``first..last`` and what remains."""
    table = pa.concat_tables(pending)
    nums = np.concatenate(numbers) if numbers else np.zeros(0, dtype=np.int64)
    all_ids = [x for part in ids for x in part] if with_ids else None
    k = int(np.searchsorted(nums, last, side="right"))
    head = table.slice(0, k).combine_chunks()
    rest = table.slice(k)
    chunk = RawChunk(
        first_row=first,
        last_row=last,
        table=head,
        numbers=nums[:k],
        malformed=[b for b in bad if b[0] <= last],
        lead_ids=all_ids[:k] if all_ids is not None else None,
    )
    remaining_ids = [all_ids[k:]] if all_ids is not None else []
    return chunk, [rest], [nums[k:]], remaining_ids, [b for b in bad if b[0] > last]


def _empty_rows(table: pa.Table) -> np.ndarray:
    """``(num_rows,)`` bool: every cell of the row is the empty string (a blank line reads so)."""
    mask: Any = None
    for column in table.columns:
        is_empty = pc.equal(pc.binary_length(column), 0)
        mask = is_empty if mask is None else pc.and_(mask, is_empty)
    out: np.ndarray = mask.to_numpy(zero_copy_only=False) if mask is not None else np.zeros(0, dtype=bool)
    return out.astype(bool)


def _columns_by_header(table: pa.Table, headers: list[str]) -> dict[str, list[str]]:
    return {h: table.column(h).to_pylist() for h in headers}


def _format_error(path: str | Path, mapping: ColumnMapping, exc: pa.ArrowInvalid) -> FileFormatError:
    message = str(exc)
    if "UTF8" in message or "UTF-8" in message or isinstance(exc.__context__, UnicodeDecodeError):
        return FileFormatError(_decode_problem(path, mapping))
    return FileFormatError(f"{path}: not valid CSV with delimiter {mapping.delimiter!r}: {message.strip()}")


def map_chunk(mapper: RowMapper, raw: RawChunk) -> CsvChunk:
    """Split a raw chunk into validated lead records and rejected rows (see ``RowMapper.to_records``)."""
    header = mapper.header
    width = len(header)
    chunk = CsvChunk(first_row=raw.first_row, last_row=raw.last_row)
    for number, cells, reason in raw.malformed:
        record: dict[str, str | None] = dict(zip(header, cells, strict=False))
        if len(cells) > width:
            record["__extra__"] = mapper.mapping.delimiter.join(cells[width:])
        chunk.rejected.append(Rejected(number, record, [FieldError("<row>", reason)]))
    table = raw.table
    if table.num_rows:
        columns = [table.column(i).combine_chunks() for i in range(width)]
        records, errors = mapper.to_records_arrow(columns, lead_ids=raw.lead_ids)
        numbers = raw.numbers.tolist()
        if errors:
            cells_of = table.take(pa.array(sorted(errors), type=pa.int64())).to_pylist()
            for i, cells in zip(sorted(errors), cells_of, strict=True):
                chunk.rejected.append(Rejected(numbers[i], dict(cells), errors[i]))
            chunk.records = [(numbers[i], r) for i, r in enumerate(records) if r is not None]
        else:
            chunk.records = list(zip(numbers, records, strict=True))  # type: ignore[arg-type]
    chunk.rejected.sort(key=lambda r: r.row_number)
    return chunk


def read_csv_chunks(
    path: str | Path, mapping: ColumnMapping, *, start_row: int = 0, chunk_size: int = 5000
) -> Iterator[CsvChunk]:
    """Yield the rows after ``start_row`` in chunks of at most ``chunk_size`` rows, mapped and validated.

    Args:
        path: CSV file (header row first; delimiter and encoding from the mapping).
        mapping: the column mapping.
        start_row: number of data rows already committed; they are skipped.
        chunk_size: rows per chunk (>= 1).

    Raises:
        FileFormatError: the header does not match the mapping, or the file cannot be decoded or parsed.
    """
    header, chunks = read_raw_chunks(path, mapping, start_row=start_row, chunk_size=chunk_size)
    mapper = mapping.compile(header)
    for raw in chunks:
        yield map_chunk(mapper, raw)
