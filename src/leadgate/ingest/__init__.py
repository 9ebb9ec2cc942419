"""Channel sources -> validated ``Lead`` records or dead letters.

Public interface: ``ColumnMapping``/``load_mapping`` (the CSV column-mapping YAML), ``read_csv_chunks``
(stream a CSV file as chunks of leads and rejected rows), ``input_hash``.
"""

from leadgate.ingest.csv_source import (
    CsvChunk,
    FileFormatError,
    RawChunk,
    Rejected,
    file_sha256,
    map_chunk,
    read_csv_chunks,
    read_raw_chunks,
)
from leadgate.ingest.mapping import ColumnMapping, ColumnSpec, MappingError, input_hash, load_mapping

__all__ = [
    "ColumnMapping",
    "ColumnSpec",
    "CsvChunk",
    "FileFormatError",
    "MappingError",
    "RawChunk",
    "Rejected",
    "file_sha256",
    "input_hash",
    "load_mapping",
    "map_chunk",
    "read_csv_chunks",
    "read_raw_chunks",
]
