"""The format of a CSV file nobody described: its text encoding, its delimiter and its rows.

``read_table`` reads a whole file with the encoding from ``sniff_encoding`` and the delimiter from
``sniff_delimiter``. (Decimal commas are a property of a column's values: see
``leadgate.ingest.draft.columns.profile_column``.)
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

from leadgate.ingest.draft.model import DraftError

SAMPLE_BYTES = 1 << 20
"""Bytes read to guess the encoding (1 MiB; the whole file is then decoded with the guess)."""

DELIMITERS = ",;\t|"
"""Delimiters considered (the ones CRM exports use)."""


def sniff_encoding(data: bytes) -> tuple[str, bool]:
    """The encoding of a file's bytes and whether it starts with a UTF-8 byte-order mark.

    Strict UTF-8 first (UTF-8 is self-checking: text in another 8-bit encoding almost never decodes);
    otherwise ``charset_normalizer``'s best match, named cp1252 (the encoding of Windows exports) whenever
    cp1252 decodes the bytes to the very same text (Latin-1 and cp1250 often do on Western text).

    Args:
        data: the file's bytes (or a prefix; a multi-byte character cut at the end is tolerated).

    Returns:
        ``(codec name, bom)``; ``utf-8`` for pure ASCII.

    Raises:
        DraftError: no encoding decodes the bytes as text.
    """
    bom = data.startswith(b"\xef\xbb\xbf")
    try:
        data.decode("utf-8")
        return "utf-8", bom
    except UnicodeDecodeError as exc:
        if exc.start >= len(data) - 3 and len(data) >= SAMPLE_BYTES:
            return "utf-8", bom
    from charset_normalizer import from_bytes

    best = from_bytes(data).best()
    if best is None:
        raise DraftError("cannot tell the file's text encoding: is it a CSV file?")
    name = best.encoding.lower().replace("-", "_")
    try:
        # Several 8-bit code pages decode German or French text to the same characters (cp1250 and
        # cp1252 agree on umlauts and the euro sign); when cp1252 gives the very same text, name it.
        if data.decode("cp1252") == str(best):
            return "cp1252", False
    except UnicodeDecodeError:
        pass
    return name.replace("_", "-"), False


def sniff_delimiter(text: str) -> str:
    """The field delimiter of CSV text: ``csv.Sniffer`` over ``DELIMITERS``, checked on the first rows.

    A delimiter is kept when it splits the first 200 lines into the same number of fields (more than one);
    when the sniffer fails or its choice is not consistent, the candidate whose field count is most
    often equal to the header's wins.

    Raises:
        DraftError: no candidate splits the header into two or more columns.
    """
    lines = text.splitlines()[:200]
    sample = "\n".join(lines)

    def consistency(delim: str) -> tuple[float, int]:
        rows = list(csv.reader(io.StringIO(sample), delimiter=delim))
        if not rows or len(rows[0]) < 2:
            return 0.0, 0
        width = len(rows[0])
        return sum(len(r) == width for r in rows) / len(rows), width

    try:
        sniffed = csv.Sniffer().sniff(sample, delimiters=DELIMITERS).delimiter
    except csv.Error:
        sniffed = None
    if sniffed is not None and consistency(sniffed)[0] == 1.0:
        return sniffed
    scored = sorted(((consistency(d), -i, d) for i, d in enumerate(DELIMITERS)), reverse=True)
    (_, width), _, best = scored[0]
    if width < 2:
        raise DraftError("cannot find the delimiter: the header has a single column with , ; tab and |")
    return best


def read_table(path: Path) -> tuple[str, bool, str, list[str], list[list[str]], int]:
    """Read a CSV file whose format is unknown.

    Returns:
        ``(encoding, bom, delimiter, header, rows, short_rows)``: every row padded or cut to the header's
        width; ``short_rows`` counts the rows that had a different width.

    Raises:
        DraftError: the file is empty, not text, or has no data rows.
    """
    data = path.read_bytes()
    if not data.strip():
        raise DraftError(f"{path}: the file is empty")
    encoding, bom = sniff_encoding(data[:SAMPLE_BYTES])
    try:
        text = data.decode(encoding)
    except UnicodeDecodeError:
        encoding, bom = sniff_encoding(data)
        text = data.decode(encoding, errors="strict")
    text = text.removeprefix("\ufeff")
    delimiter = sniff_delimiter(text)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        header = [h.strip() for h in next(reader)]
    except StopIteration:
        raise DraftError(f"{path}: no header row") from None
    width = len(header)
    rows: list[list[str]] = []
    short = 0
    for row in reader:
        if not row:
            continue
        if len(row) != width:
            short += 1
            row = (row + [""] * width)[:width]
        rows.append(row)
    if not rows:
        raise DraftError(f"{path}: the file has a header but no data rows")
    dupes = sorted({h for h in header if header.count(h) > 1})
    if dupes:
        raise DraftError(f"{path}: duplicate column headers: {', '.join(map(repr, dupes))}")
    return encoding, bom, delimiter, header, rows, short
