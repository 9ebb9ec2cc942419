"""The draft's files: the YAML texts of leadgate.yaml, mapping.yaml, features.yaml and policy.yaml.

Each ``render_*`` function turns a ``Draft`` into one commented file; ``write_draft`` writes all four
(``FILES``) and reads them back with leadgate's own loaders.
"""

from __future__ import annotations

import json
import re
import textwrap
from collections.abc import Sequence
from pathlib import Path

import yaml

from leadgate.ingest.draft.infer import _LATE_NAME
from leadgate.ingest.draft.model import ColumnDraft, Draft, DraftError
from leadgate.scoring.leakage import LEAK_AUC_THRESHOLD

_CONSENT = re.compile(r"do_not|opt_?out|unsubscrib|consent|gdpr|dsgvo|no_contact|werbe")
_YAML_WORDS = frozenset({"y", "yes", "n", "no", "true", "false", "on", "off", "null", "none", "~"})
FILES = ("leadgate.yaml", "mapping.yaml", "features.yaml", "policy.yaml")
"""The files ``write_draft`` writes into the project folder."""


def _q(text: str) -> str:
    """A YAML double-quoted scalar (JSON's string syntax is a subset of YAML's)."""
    return json.dumps(text, ensure_ascii=False)


def _key(text: str) -> str:
    """``text`` as a block mapping key: plain when YAML reads it back unchanged, quoted otherwise."""
    if text and text.lower() not in _YAML_WORDS and not text[0].isdigit():
        try:
            if yaml.safe_load(f"{text}: 1") == {text: 1}:
                return text
        except yaml.YAMLError:
            pass
    return _q(text)


def _list(values: Sequence[str]) -> str:
    return "[" + ", ".join(map(_q, values)) + "]"


def _comment(text: str, indent: str = "") -> list[str]:
    return [f"{indent}# {line}" if line else f"{indent}#" for line in textwrap.wrap(text, 104 - len(indent))]


def _column_line(col: ColumnDraft) -> str:
    kind: str = col.type
    parts = [f"field: {col.field}", f"stage: {col.stage}", f"type: {kind}"]
    extra: list[str] = []
    if kind == "datetime":
        if col.format is not None:
            parts.append(f"format: {_q(col.format)}")
        if col.format is None or "%z" not in col.format:
            parts.append("timezone: UTC")
    if col.missing_values:
        extra.append(f"missing_values: {_list(col.missing_values)}")
    if kind == "boolean":
        extra.append(f"true_values: {_list(col.true_values)}")
        extra.append(f"false_values: {_list(col.false_values)}")
    if col.lead_field is not None:
        extra.append(f"lead_field: {col.lead_field}")
    return f"  {_key(col.header)}: {{{', '.join(parts + extra)}}}"


def render_mapping(draft: Draft) -> str:
    """The draft ``mapping.yaml`` text (format: the plan's mapping format, ``leadgate.ingest.mapping``)."""
    lines = [
        *_comment(
            f"Draft column mapping for {draft.source.name}, written by `leadgate init`. Review it before "
            "importing: every choice below was inferred from the file and is explained next to it (docs/init.md)."
        ),
        f"# The file: {draft.n_rows} data rows, {len(draft.columns)} columns.",
        "# Stages: pre_decision - known when the lead arrives: may feed a model",
        "#         post_decision - filled in or updated after first contact: stored, never a feature",
        "#         label - the outcome to learn; id - the source's record id (the idempotency key)",
        "# Every column is pre_decision unless it is the id or the label: set stage: post_decision on any",
        "# column your team fills in after the first contact (status, tags, notes, last activity, scores).",
    ]
    audited = sorted((c for c in draft.columns if c.auc is not None), key=lambda c: -(c.auc or 0.0))
    if audited:
        lines.append("#")
        lines += _comment(
            f"Leak audit: held-out ROC AUC of each column alone against {draft.label_column} (0.5 = no "
            f"signal; {LEAK_AUC_THRESHOLD} or more is flagged, leadgate.scoring.leakage): "
            + ", ".join(
                f"{c.header} {c.auc:.3f}{' LIKELY LEAK' if c.header in draft.leaks else ''}"
                for c in audited[:10]
            )
            + ("." if len(audited) <= 10 else ", ...")
        )
    lines += [
        "mapping_version: 1",
        f"name: {draft.name}",
        "version: 1                  # the mapping's own version: bump it on any change",
        f"source: {_q('csv:' + draft.name)}",
        f"delimiter: {_q(draft.delimiter)}",
        f"encoding: {draft.encoding}"
        + ("          # the file starts with a byte-order mark" if draft.bom else ""),
    ]
    if draft.decimal == ",":
        lines.append('decimal: ","                # numbers are written with a decimal comma (12,5)')
    if draft.id_column is not None:
        lines.append(f"id_column: {_key(draft.id_column)}   # every value present and unique, id-like name")
    else:
        lines += _comment(
            "No id column: no column is present, unique and named like an id in every row. Without "
            "id_column each lead's id is a hash of the row's content, so re-importing the same file is "
            "idempotent; name the CRM's record id here if the export has one."
        )
    if draft.time_column is not None:
        lines.append(
            f"time_column: {_key(draft.time_column)}   # when the lead arrived: the axis of forward evaluation"
        )
    else:
        lines += _comment(
            "No arrival-time column found. Name a datetime column with time_column, or set "
            "time_ordered: true if the rows are in arrival order, so evaluation can test forward in time."
        )
    lines += [
        'missing_values: [""]        # mapping-wide; a column\'s own missing_values replace this list',
        "columns:",
    ]
    for col in draft.columns:
        notes = list(col.notes)
        if col.stage == "label":
            notes.insert(0, f"THE LABEL ({draft.label_note})")
        if col.stage == "id":
            notes.insert(0, "THE ID")
        if col.header == draft.time_column:
            notes.insert(0, "THE ARRIVAL TIME")
        if col.type == "datetime" and (col.format is None or "%z" not in col.format):
            notes.append("the values carry no time zone: UTC assumed; set timezone to the CRM's zone")
        if col.excluded is not None and col.stage == "pre_decision":
            notes.append(f"not a feature: {col.excluded}")
        for note in notes:
            lines += _comment(note, "  ")
        lines.append(_column_line(col))
    return "\n".join(lines) + "\n"


def _feature_line(col: ColumnDraft) -> str:
    kind = col.feature or ("numeric" if col.type in ("integer", "number") else "categorical")
    return f"{{name: {col.field}, kind: {kind}, description: {_q(col.header)}}}"


def render_features(draft: Draft) -> str:
    """The draft ``features.yaml`` text (format: ``leadgate.features.FeatureSet``)."""
    lines = [
        *_comment(
            f"Draft feature set for {draft.source.name}, written by `leadgate init`. Each feature reads the "
            "pre_decision column of the same field name in mapping.yaml; `kind` is numeric or categorical and "
            "`description` is the plain words explanations use (edit them). Left out, commented: the id, the "
            "label and the arrival time, contact details, free text, dates, constant columns, likely leaks."
        ),
        "# Bump `version` on any change: every decision records name@version.",
        f"name: {draft.name}",
        "version: 1",
        "features:",
    ]
    usable = [c for c in draft.columns if c.feature is not None]
    for col in draft.columns:
        if col.stage in ("id", "label"):
            continue
        if col in usable:
            late = (
                "   # the name suggests a later update: check its stage"
                if _LATE_NAME.search(col.field)
                else ""
            )
            lines.append(f"  - {_feature_line(col)}{late}")
        else:
            lines.append(f"  # - {_feature_line(col)}   # {col.excluded}")
    if not usable:
        lines.insert(len(lines) - 1, "# CHECK: no column qualifies as a feature; uncomment at least one.")
    return "\n".join(lines) + "\n"


def _round(x: float) -> float:
    return float(f"{x:.3g}")


def draft_tiers(base_rate: float | None) -> tuple[float, float, float]:
    """``(hot, warm, nurture)`` thresholds relative to the base rate ``b``.

    hot = min(2b, (1 + b) / 2): leads at least twice as likely to convert as an average lead (or halfway
    from ``b`` to certainty when 2b would be out of reach); warm = b: a call converts at least as often
    as a call to an average lead did before scoring; nurture = b / 4: below a quarter of the base rate
    the lead is disqualified. On X Education (b = 0.385) this gives 0.69 / 0.385 / 0.096, close to the
    hand-set 0.70 / 0.40 / 0.10 of examples/xeducation/policy.yaml. Three significant digits.
    Without a base rate: 0.5 / 0.2 / 0.05 placeholders.
    """
    if base_rate is None or not 0.0 < base_rate < 1.0:
        return 0.5, 0.2, 0.05
    b = base_rate
    hot, warm, nurture = _round(min(2 * b, (1 + b) / 2)), _round(b), _round(b / 4)
    if not hot > warm > nurture > 0:
        raise DraftError(f"cannot set tiers from a base rate of {b:.4f}")
    return hot, warm, nurture


def render_policy(draft: Draft) -> str:
    """The draft ``policy.yaml`` text (format: docs/policy.md); no dataset-specific rules."""
    b = draft.base_rate
    hot, warm, nurture = draft_tiers(b)
    if b is not None:
        rate = (
            f"# The data: {draft.n_positive} of {draft.n_positive + draft.n_negative} labelled leads had a "
            f"positive outcome, a base rate of {b:.1%}."
        )
        tier_notes = [
            f"  # Twice the base rate (or halfway from it to 1 when that is lower): {hot}.",
            f"  hot: {hot}",
            "  # The base rate: a call to one of these converts at least as often as a call to an average lead.",
            f"  warm: {warm}",
            "  # A quarter of the base rate: below it the lead is disqualified and nobody follows it up.",
            f"  nurture: {nurture}",
        ]
    else:
        rate = (
            "# The file has no label, so the base rate is unknown: these tiers are placeholders. Once outcomes "
            "are imported, set warm to the base rate, hot to about twice it and nurture to a quarter of it."
        )
        tier_notes = [f"  hot: {hot}", f"  warm: {warm}", f"  nurture: {nurture}"]
    consent = [c.header for c in draft.columns if c.type == "boolean" and _CONSENT.search(c.field)]
    lines = [
        f"# Draft qualification policy for {draft.source.name}, written by `leadgate init`.",
        "# Format, precedence and review rules: docs/policy.md; check it with `leadgate policy check`.",
        "# Order of application: disqualification rules, the tier by probability, overrides, review rules.",
        "policy_version: 1",
        f"name: {draft.name}",
        "version: 1                 # bump on any change: every decision records name@version",
        f"description: Draft tiers and routing for {_q(draft.source.name)[1:-1]} (edit before use).",
        "",
        "# Thresholds are calibrated probabilities of a positive outcome (the scorer's probability), inclusive.",
        rate,
        "tiers:",
        *tier_notes,
        "",
        "# No disqualification rules: leadgate adds none it cannot justify from your data. Consent rules",
        "# belong here (examples/xeducation/policy.yaml disqualifies leads who refused email and phone).",
    ]
    if consent:
        lines += _comment(
            f"Columns that look like consent flags: {', '.join(consent)}. A rule reads attributes.<field> "
            "of a pre_decision column, e.g. {field: attributes.do_not_call, op: eq, value: true}."
        )
    lines += [
        "disqualification: []",
        "",
        "actions:",
        "  hot: route_to_sales",
        "  warm: route_to_sales     # at or above the base rate: worth a call, after the hot leads",
        "  nurture: nurture         # the nurture track",
        "  disqualified: discard    # no follow-up; the lead and its decision stay on record",
        "",
        "overrides: []",
        "",
        "review:",
        "  # confidence is the scorer's trust in its own probability (1 = fully trusted); 0.60 is a starting",
        "  # point: revisit it once `leadgate evaluate` shows how large the review queue gets.",
        "  min_confidence: 0.60",
        "  # Rule-fallback scores are not calibrated probabilities: a person confirms each such decision.",
        "  on_fallback: true",
    ]
    return "\n".join(lines) + "\n"


def _yaml_str(text: str) -> str:
    """``text`` as a YAML scalar (quoted when plain YAML would read it otherwise)."""
    import json

    plain = yaml.safe_load(text) if text else None
    return (
        text
        if isinstance(plain, str) and plain == text and ": " not in text and " #" not in text
        else json.dumps(text)
    )


def render_project(draft: Draft, folder: Path | None = None) -> str:
    """The draft ``leadgate.yaml`` text (format: ``leadgate.project.ProjectFile``).

    ``data`` names the drafted file relative to ``folder`` (the project folder; default the current one),
    so ``train`` and ``evaluate`` need no ``--data``.
    """
    import os

    data = os.path.relpath(Path(draft.source).resolve(), (folder or Path.cwd()).resolve())
    lines = [
        *_comment(
            f"leadgate project drafted from {draft.source.name} by `leadgate init`. Paths are relative to this "
            "folder. Review mapping.yaml, features.yaml and policy.yaml before `leadgate evaluate`."
        ),
        "project_version: 1",
        f"name: {draft.name}",
        f"data: {_yaml_str(data)}   # the file train and evaluate read (this draft's source)",
        "mapping: mapping.yaml",
        "features: features.yaml",
        "# fit_rules: fit.yaml       # optional ICP fit rules; without them the fallback uses probability bands",
        "policy: policy.yaml",
        f"model: {draft.name}_propensity   # registry name: train registers it, qualify loads name@champion",
    ]
    if draft.label_column is None:
        lines += [
            "# This file has no label: write an outcomes mapping and import outcomes with",
            "# `leadgate outcomes import OUTCOMES.csv --mapping outcomes.yaml`, then uncomment:",
            "# outcomes: outcomes.yaml",
        ]
    else:
        lines.append(
            "# outcomes: outcomes.yaml   # optional: outcomes recorded later (leadgate outcomes import)"
        )
    lines += [
        "evaluation:",
        "  folds: 5",
        "  max_rejected_share: 0.05     # train and evaluate refuse when more rows than this are rejected",
    ]
    return "\n".join(lines) + "\n"


def write_draft(draft: Draft, out: str | Path, force: bool = False) -> list[Path]:
    """Write ``FILES`` into ``out`` (created if needed) and check them.

    The policy is validated with ``leadgate.policy.load_policy``, the feature set with
    ``leadgate.features.load_feature_set`` (when it has a feature) and the mapping's columns are read back.

    Returns:
        The paths written, in ``FILES`` order.

    Raises:
        DraftError: a file exists and ``force`` is False (naming them all), or a written file does not
            read back (a bug: the message names the file).
    """
    folder = Path(out)
    paths = [folder / name for name in FILES]
    existing = [str(p) for p in paths if p.exists()]
    if existing and not force:
        raise DraftError(f"refusing to overwrite {', '.join(existing)} (use --force to replace them)")
    texts = {
        "leadgate.yaml": render_project(draft, folder),
        "mapping.yaml": render_mapping(draft),
        "features.yaml": render_features(draft),
        "policy.yaml": render_policy(draft),
    }
    parsed = yaml.safe_load(texts["mapping.yaml"])
    if list(parsed["columns"]) != [c.header for c in draft.columns]:
        raise DraftError("internal error: the drafted mapping.yaml does not read back its column headers")
    folder.mkdir(parents=True, exist_ok=True)
    for path in paths:
        path.write_text(texts[path.name], encoding="utf-8")
    from leadgate.features import load_feature_set
    from leadgate.policy import load_policy

    load_policy(folder / "policy.yaml")
    if yaml.safe_load(texts["features.yaml"]).get("features"):
        load_feature_set(folder / "features.yaml")
    return paths
