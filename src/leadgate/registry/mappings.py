"""Mapping versions: the column stages of every mapping version seen, and the changes between them.

A column's ``stage`` decides whether it may feed a model. Flipping a column recorded after sales contact
(X Education's Tags) to ``pre_decision`` makes the leakage guard pass and the model look excellent (AUC
0.973 on Tags): so every mapping version that ``train``, ``evaluate``, ``import`` or ``qualify`` sees is
recorded with its stages (table ``mapping_versions``), and ``stage_changes`` lists what changed since the
previous version of the same mapping name, which ``evaluate`` and ``train`` print and write into the report.
"""

from __future__ import annotations

from typing import Any

import orjson
from sqlalchemy import Connection, Table, select

from leadgate.db.models import MappingVersionRow
from leadgate.db.store import insert_ignore, utcnow

MAPPINGS: Table = MappingVersionRow.__table__  # type: ignore[assignment]


def record_mapping_version(conn: Connection, mapping: Any) -> list[str]:
    """Record ``mapping`` (a ``ColumnMapping``) if this content was not seen before; list its stage changes.

    Args:
        conn: open connection inside the caller's transaction.
        mapping: the column mapping (``name``, ``version``, ``columns`` and ``content_hash()``).

    Returns:
        One line per column whose stage differs from the latest earlier version of the same mapping name
        (``"Tags: post_decision -> pre_decision (xeducation@1 -> xeducation@2)"``), plus a line when the
        stages changed but the version number did not; empty when nothing changed or this is the first.
    """
    digest = mapping.content_hash()
    stages = {header: spec.stage for header, spec in mapping.columns.items()}
    version = str(getattr(mapping, "version", 1))
    conn.execute(
        insert_ignore(conn, MAPPINGS, ["name", "content_hash"]).values(
            name=mapping.name,
            version=version,
            content_hash=digest,
            stages=orjson.dumps(stages).decode(),
            first_seen_at=utcnow(),
        )
    )
    this_id = conn.execute(
        select(MAPPINGS.c.id).where(MAPPINGS.c.name == mapping.name, MAPPINGS.c.content_hash == digest)
    ).scalar_one()
    previous = conn.execute(
        select(MAPPINGS.c.version, MAPPINGS.c.stages)
        .where(MAPPINGS.c.name == mapping.name, MAPPINGS.c.id < this_id)
        .order_by(MAPPINGS.c.id.desc())
        .limit(1)
    ).first()
    if previous is None:
        return []
    before: dict[str, str] = orjson.loads(previous[1])
    since = f"{mapping.name}@{previous[0]} -> {mapping.name}@{version}"
    changes = [
        f"{header}: {before[header]} -> {stage} ({since})"
        for header, stage in stages.items()
        if header in before and before[header] != stage
    ]
    if changes and previous[0] == version:
        changes.append(
            f"the stages changed but mapping {mapping.name!r} is still version {version}: bump its version"
        )
    return changes
