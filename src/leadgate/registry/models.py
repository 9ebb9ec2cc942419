"""Model versions stored in the database: pickled estimator bytes, their sha256, feature set and metrics."""

from __future__ import annotations

import hashlib
import io
from dataclasses import dataclass
from typing import Any

import joblib
import orjson
from sqlalchemy import Connection, Table, func, select

from leadgate.db.models import ModelAliasRow, ModelRow
from leadgate.db.store import insert_ignore, utcnow
from leadgate.errors import LeadgateError
from leadgate.features import FeatureSet

MODELS: Table = ModelRow.__table__  # type: ignore[assignment]
ALIASES: Table = ModelAliasRow.__table__  # type: ignore[assignment]


class ModelNotFoundError(LeadgateError, LookupError):
    """No model matches the reference (name, alias or version)."""


@dataclass(frozen=True)
class RegisteredModel:
    """A loaded model version.

    Attributes:
        name, version: registry identity; ``ref`` is ``name@version``.
        content_hash: sha256 of the stored artifact bytes (checked on load).
        estimator: the unpickled estimator (sklearn conventions).
        feature_set: the feature set it was trained on.
        metrics: training / evaluation figures recorded at registration.
    """

    name: str
    version: int
    content_hash: str
    estimator: Any
    feature_set: FeatureSet
    metrics: dict[str, Any]

    @property
    def ref(self) -> str:
        """``name@version``."""
        return f"{self.name}@{self.version}"


def register_model(
    conn: Connection,
    name: str,
    estimator: Any,
    feature_set: FeatureSet,
    metrics: dict[str, Any] | None = None,
    aliases: tuple[str, ...] = ("champion",),
) -> RegisteredModel:
    """Store a new version of model ``name`` and point ``aliases`` at it.

    Returns:
        The registered version (version numbers start at 1 and increase by one).
    """
    buf = io.BytesIO()
    joblib.dump(estimator, buf)
    blob = buf.getvalue()
    digest = hashlib.sha256(blob).hexdigest()
    version = (
        conn.execute(select(func.max(MODELS.c.version)).where(MODELS.c.name == name)).scalar() or 0
    ) + 1
    conn.execute(
        MODELS.insert().values(
            name=name,
            version=version,
            content_hash=digest,
            artifact=blob,
            feature_set=feature_set.model_dump_json(),
            metrics=orjson.dumps(metrics or {}, option=orjson.OPT_SERIALIZE_NUMPY).decode(),
            created_at=utcnow(),
        )
    )
    for alias in aliases:
        set_alias(conn, name, alias, version)
    return RegisteredModel(name, version, digest, estimator, feature_set, metrics or {})


def set_alias(conn: Connection, name: str, alias: str, version: int) -> None:
    """Point ``name@alias`` at ``version``.

    Raises:
        ModelNotFoundError: the version does not exist.
    """
    exists = conn.execute(
        select(MODELS.c.id).where(MODELS.c.name == name, MODELS.c.version == version)
    ).first()
    if exists is None:
        raise ModelNotFoundError(f"model {name}@{version} is not registered")
    conn.execute(ALIASES.delete().where(ALIASES.c.name == name, ALIASES.c.alias == alias))
    conn.execute(
        insert_ignore(conn, ALIASES, ["name", "alias"]).values(name=name, alias=alias, version=version)
    )


def _resolve(conn: Connection, ref: str) -> tuple[str, int]:
    name, _, tag = ref.partition("@")
    if not tag:
        tag = "champion"
    if tag.isdigit():
        return name, int(tag)
    version = conn.execute(
        select(ALIASES.c.version).where(ALIASES.c.name == name, ALIASES.c.alias == tag)
    ).scalar()
    if version is None:
        raise ModelNotFoundError(f"no model registered as {name}@{tag}")
    return name, int(version)


def load_model(conn: Connection, ref: str) -> RegisteredModel:
    """Load ``name``, ``name@alias`` or ``name@version`` (``name`` alone means ``name@champion``).

    Raises:
        ModelNotFoundError: nothing matches.
        ValueError: the stored bytes do not match their recorded sha256 (tampered or corrupted).
    """
    name, version = _resolve(conn, ref)
    row = (
        conn.execute(select(MODELS).where(MODELS.c.name == name, MODELS.c.version == version))
        .mappings()
        .first()
    )
    if row is None:
        raise ModelNotFoundError(f"model {name}@{version} is not registered")
    blob = bytes(row["artifact"])
    digest = hashlib.sha256(blob).hexdigest()
    if digest != row["content_hash"]:
        raise ValueError(
            f"model {name}@{version}: artifact sha256 {digest} != recorded {row['content_hash']}"
        )
    estimator = joblib.load(io.BytesIO(blob))
    feature_set = FeatureSet.model_validate_json(row["feature_set"])
    return RegisteredModel(name, version, digest, estimator, feature_set, orjson.loads(row["metrics"]))


def list_models(conn: Connection) -> list[dict[str, Any]]:
    """All versions with their aliases: ``[{name, version, content_hash, created_at, aliases}]``."""
    aliases: dict[tuple[str, int], list[str]] = {}
    for r in conn.execute(select(ALIASES)):
        aliases.setdefault((r.name, r.version), []).append(r.alias)
    rows = conn.execute(
        select(MODELS.c.name, MODELS.c.version, MODELS.c.content_hash, MODELS.c.created_at).order_by(
            MODELS.c.name, MODELS.c.version
        )
    )
    return [
        {
            "name": r.name,
            "version": r.version,
            "content_hash": r.content_hash,
            "created_at": r.created_at,
            "aliases": sorted(aliases.get((r.name, r.version), [])),
        }
        for r in rows
    ]
