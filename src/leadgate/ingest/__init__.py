"""Channel sources -> validated ``Lead`` records or dead letters.

Public interface: ``ColumnMapping``/``load_mapping`` (the CSV column-mapping YAML), ``read_csv_chunks``
(stream a CSV file as chunks of leads and rejected rows), ``input_hash``.
"""

from leadgate.ingest.csv_source import CsvChunk, FileFormatError, Rejected, file_sha256, read_csv_chunks
from leadgate.ingest.mapping import ColumnMapping, ColumnSpec, MappingError, input_hash, load_mapping

__all__ = [
    "ColumnMapping",
    "ColumnSpec",
    "CsvChunk",
    "FileFormatError",
    "MappingError",
    "Rejected",
    "file_sha256",
    "input_hash",
    "load_mapping",
    "read_csv_chunks",
]
