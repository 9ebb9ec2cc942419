"""Draft a leadgate project from a CSV export: what ``leadgate init FILE.csv`` writes.

``draft_project`` reads the file once and infers, column by column, everything a column mapping needs;
``write_draft`` writes four commented files the user reviews before anything is trained:

* ``mapping.yaml``: delimiter and encoding, the id, label and time columns, each column's type, missing
  tokens and boolean spellings, every column ``stage: pre_decision`` unless it is the id, label or time
  column, and a comment on each column whose single-column held-out AUC against the label is high
  enough to suggest it was recorded after the outcome;
* ``features.yaml``: one feature per usable column; ids, contact details, free text, dates, constant
  columns and likely leaks are present but commented out, each with its reason;
* ``policy.yaml``: tiers set relative to the measured base rate, no dataset-specific rules;
* ``leadgate.yaml``: the project file naming the three.

How each thing is found:

* encoding: strict UTF-8 when the bytes decode as UTF-8 (a BOM is noted), else ``charset_normalizer``'s
  best guess (named cp1252, which Windows exports use, when cp1252 reads the bytes to the same text);
* delimiter: ``csv.Sniffer`` restricted to ``, ; tab |``, confirmed by a constant field count over the
  first rows (else the candidate giving the most consistent count wins);
* types: ``boolean`` when every value is one of a known true/false pair (yes/no, true/false, 1/0, y/n,
  ja/nein, ...); ``integer`` / ``number`` when every value parses (decimal commas noted); ``datetime``
  when one ``strptime`` format (``DATETIME_FORMATS``) parses every value; otherwise ``category`` when
  the distinct values are few (``CATEGORY_MAX_LEVELS``) and ``string`` (free text) when not;
* missing tokens: the spellings of ``MISSING_TOKENS`` (``Select``, ``unknown``, ``N/A``, ``-``, ...) seen
  in a column, kept per column;
* id: a column whose values are all present, unique and valid lead ids, with an id-like name;
* label: ``--label COL``, or a column named like an outcome (``converted``, ``won``, ``status``, ...)
  whose values split into a positive and a negative outcome; other values of a status column (open,
  working) become missing, since their outcome is not known yet;
* time: a ``datetime`` column named like an arrival time (``created``, ``first_contact``, ``date``, ...),
  not like a later event (``last``, ``closed``, ``won``, ...);
* leaks: ``leadgate.scoring.leakage.single_feature_auc`` of each column against the label, flagged at
  ``LEAK_AUC_THRESHOLD``.

The package, by job:

* ``sniff``: the file's encoding and delimiter, and its rows (``read_table``);
* ``columns``: per-column inference (field names, types, missing tokens, boolean spellings, decimal
  commas: ``profile_column``);
* ``infer``: the id, label and time columns, the feature choice and the leak audit (``draft_project``);
* ``render``: the four files' texts and ``write_draft``;
* ``model``: the ``Draft`` and ``ColumnDraft`` records and ``DraftError``.

Every public name of these modules is importable from ``leadgate.ingest.draft``.
"""

from leadgate.ingest.draft.columns import (
    BOOLEAN_PAIRS,
    CATEGORY_MAX_LEVELS,
    CATEGORY_MAX_SHARE,
    DATETIME_FORMATS,
    LEAD_FIELDS,
    MISSING_TOKENS,
    profile_column,
    snake_name,
)
from leadgate.ingest.draft.infer import draft_project
from leadgate.ingest.draft.model import ColumnDraft, Draft, DraftError, DraftType
from leadgate.ingest.draft.render import (
    FILES,
    draft_tiers,
    render_features,
    render_mapping,
    render_policy,
    render_project,
    write_draft,
)
from leadgate.ingest.draft.sniff import (
    DELIMITERS,
    SAMPLE_BYTES,
    read_table,
    sniff_delimiter,
    sniff_encoding,
)

__all__ = [
    "BOOLEAN_PAIRS",
    "CATEGORY_MAX_LEVELS",
    "CATEGORY_MAX_SHARE",
    "DATETIME_FORMATS",
    "DELIMITERS",
    "FILES",
    "LEAD_FIELDS",
    "MISSING_TOKENS",
    "SAMPLE_BYTES",
    "ColumnDraft",
    "Draft",
    "DraftError",
    "DraftType",
    "draft_project",
    "draft_tiers",
    "profile_column",
    "read_table",
    "render_features",
    "render_mapping",
    "render_policy",
    "render_project",
    "snake_name",
    "sniff_delimiter",
    "sniff_encoding",
    "write_draft",
]
