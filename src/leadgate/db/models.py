"""ORM tables. JSON payloads are stored as text written with orjson (portable and fast on both backends).

Tables:
    leads: one row per lead (unique ``lead_id``), the validated ``lead/v1`` JSON without its personal
        fields, which are in ``pii`` (encrypted, ``leadgate.privacy``), the email's blind index, its input
        hash, the id of its latest decision and its ``owner`` (the rep it is assigned to).
    dead_letters: rejected input with the original record (encrypted) and the reasons; deleted only by
        erasure or a retention period (``leadgate privacy purge``).
    import_runs: one row per file import, with the committed row offset used by ``--resume``.
    models, model_aliases: the model registry (artifact bytes, sha256, feature set, metrics; aliases).
    decisions: the append-only, hash-chained decision log (indexes only on time-ordered keys; a lead's
        latest decision is found through ``leads.latest_decision_id``).
    decision_explanations: explanations stored inline or computed on first request (append-only).
    audit_head: the chain head (last record hash, count), locked by each writer.
    outcomes: what happened to leads after their decisions, and when (training labels).
    mapping_versions: column stages of each mapping version seen (stage changes are shown by evaluate).
    api_keys: service API keys (see ``leadgate.db.key_models``).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    false,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

# SQLite only auto-increments INTEGER PRIMARY KEY; PostgreSQL gets a BIGINT identity.
BigId = BigInteger().with_variant(Integer(), "sqlite")


class Base(DeclarativeBase):
    """Declarative base of all leadgate tables."""


class LeadRow(Base):
    """A stored lead (``lead/v1`` JSON in ``data``)."""

    __tablename__ = "leads"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    lead_id: Mapped[str] = mapped_column(String(128), unique=True, nullable=False)
    source: Mapped[str] = mapped_column(String(64), nullable=False)
    received_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    input_hash: Mapped[str] = mapped_column(String(64), nullable=False)
    content_hash: Mapped[str] = mapped_column(String(64), nullable=False)
    data: Mapped[str] = mapped_column(Text, nullable=False)
    import_run_id: Mapped[int | None] = mapped_column(ForeignKey("import_runs.id"), nullable=True)
    # decision_id of the lead's latest decision (None until decided); see migration 0004.
    latest_decision_id: Mapped[str | None] = mapped_column(String(36), nullable=True)
    # the sales rep (rep id) the lead is assigned to, or None; not part of ``data`` nor of either hash
    # (an assignment, not the lead's content); migration 0008.
    owner: Mapped[str | None] = mapped_column(String(128), nullable=True, index=True)
    # Personal fields (email, names, phone, ``pii`` attributes), encrypted (leadgate.privacy); see 0009.
    pii: Mapped[str | None] = mapped_column(Text, nullable=True)
    email_index: Mapped[str | None] = mapped_column(String(64), nullable=True, index=True)
    tombstone_id: Mapped[str | None] = mapped_column(String(36), nullable=True)


class DeadLetterRow(Base):
    """A rejected record: where it came from, the original record and why it was rejected.

    A rejected API request is kept up to ``LEADGATE_DEAD_LETTER_MAX_BYTES``: a longer one is cut
    (``truncated``), with the size in bytes and sha256 of the whole original (migration 0010). ``caller``
    is who sent it (principal subject or ``ip:<address>``; None for imports). ``created_at`` is indexed
    for the retention purge.
    """

    __tablename__ = "dead_letters"
    __table_args__ = (
        UniqueConstraint("dedupe_key", name="uq_dead_letters_dedupe_key"),
        Index("ix_dead_letters_created_at", "created_at"),
        Index("ix_dead_letters_caller_created_at", "caller", "created_at"),
    )
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    source: Mapped[str] = mapped_column(String(64), nullable=False)
    dedupe_key: Mapped[str] = mapped_column(String(64), nullable=False)
    import_run_id: Mapped[int | None] = mapped_column(ForeignKey("import_runs.id"), nullable=True)
    row_number: Mapped[int | None] = mapped_column(Integer, nullable=True)
    record: Mapped[str] = mapped_column(Text, nullable=False)
    reason: Mapped[str] = mapped_column(Text, nullable=False)
    errors: Mapped[str] = mapped_column(Text, nullable=False)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    # blind index of the first email address in ``record`` (encrypted), for erasure; see 0009.
    email_index: Mapped[str | None] = mapped_column(String(64), nullable=True, index=True)
    caller: Mapped[str | None] = mapped_column(String(160), nullable=True)
    truncated: Mapped[bool] = mapped_column(Boolean, nullable=False, server_default=false(), default=False)
    original_bytes: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    original_sha256: Mapped[str | None] = mapped_column(String(64), nullable=True)


class ImportRunRow(Base):
    """One import of one file; ``rows_committed`` is the resume point."""

    __tablename__ = "import_runs"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    source: Mapped[str] = mapped_column(String(64), nullable=False)
    file_path: Mapped[str] = mapped_column(Text, nullable=False)
    file_sha256: Mapped[str] = mapped_column(String(64), nullable=False, index=True)
    mapping_hash: Mapped[str] = mapped_column(String(64), nullable=False)
    status: Mapped[str] = mapped_column(String(16), nullable=False)
    # ``import`` or ``qualify``; ``run_key`` is what else must match to resume (model, policy, explain mode).
    kind: Mapped[str] = mapped_column(String(16), nullable=False, server_default="import")
    run_key: Mapped[str] = mapped_column(String(64), nullable=False, server_default="")
    rows_committed: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    rows_imported: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    rows_unchanged: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    rows_rejected: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class ModelRow(Base):
    """A registered model version: pickled estimator bytes and their sha256."""

    __tablename__ = "models"
    __table_args__ = (UniqueConstraint("name", "version", name="uq_models_name_version"),)
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(64), nullable=False)
    version: Mapped[int] = mapped_column(Integer, nullable=False)
    content_hash: Mapped[str] = mapped_column(String(64), nullable=False)
    artifact: Mapped[bytes] = mapped_column(LargeBinary, nullable=False)
    feature_set: Mapped[str] = mapped_column(Text, nullable=False)
    metrics: Mapped[str] = mapped_column(Text, nullable=False)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)


class ModelAliasRow(Base):
    """An alias (``champion``, ``challenger``) pointing at one version of a model name."""

    __tablename__ = "model_aliases"
    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    alias: Mapped[str] = mapped_column(String(32), primary_key=True)
    version: Mapped[int] = mapped_column(Integer, nullable=False)


class DecisionRow(Base):
    """One decision (``decision/v1``), immutable once written; ``record_hash`` chains to ``prev_hash``."""

    __tablename__ = "decisions"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    decision_id: Mapped[str] = mapped_column(String(36), unique=True, nullable=False)
    lead_id: Mapped[str] = mapped_column(String(128), nullable=False)
    decided_at: Mapped[str] = mapped_column(String(32), nullable=False)  # ISO-8601 UTC, as hashed
    input_hash: Mapped[str] = mapped_column(String(64), nullable=False)
    feature_set: Mapped[str] = mapped_column(String(80), nullable=False)
    features: Mapped[str] = mapped_column(Text, nullable=False)
    model_name: Mapped[str] = mapped_column(String(64), nullable=False)
    model_version: Mapped[str] = mapped_column(String(32), nullable=False)
    model_hash: Mapped[str] = mapped_column(String(64), nullable=False)
    scorer: Mapped[str] = mapped_column(String(16), nullable=False)
    fallback_reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    probability: Mapped[float] = mapped_column(Float, nullable=False)
    confidence: Mapped[float] = mapped_column(Float, nullable=False)
    fit_score: Mapped[float] = mapped_column(Float, nullable=False)
    policy_version: Mapped[str] = mapped_column(String(80), nullable=False)
    tier: Mapped[str] = mapped_column(String(16), nullable=False)
    action: Mapped[str] = mapped_column(String(32), nullable=False)
    reasons: Mapped[str] = mapped_column(Text, nullable=False)
    review_required: Mapped[bool] = mapped_column(Boolean, nullable=False)
    actor: Mapped[str] = mapped_column(String(64), nullable=False)
    prev_hash: Mapped[str] = mapped_column(String(64), nullable=False)
    record_hash: Mapped[str] = mapped_column(String(64), nullable=False)
    # The import run that made the decision (None for API decisions); not hashed (see audit.chain).
    run_id: Mapped[int | None] = mapped_column(BigInteger, nullable=True, index=True)


class OutcomeRow(Base):
    """What happened to a lead after its decision, and when (``converted``, ``won``, ``lost``, ...)."""

    __tablename__ = "outcomes"
    __table_args__ = (UniqueConstraint("dedupe_key", name="uq_outcomes_dedupe_key"),)
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    lead_id: Mapped[str] = mapped_column(String(128), nullable=False, index=True)
    outcome: Mapped[str] = mapped_column(String(32), nullable=False)
    occurred_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    source: Mapped[str] = mapped_column(String(64), nullable=False)
    dedupe_key: Mapped[str] = mapped_column(String(64), nullable=False)
    record: Mapped[str] = mapped_column(Text, nullable=False)
    recorded_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    # the decision the outcome is linked to (CRM webhooks: the lead's latest decision at or before the
    # event; migration 0020); None for imported outcomes files
    decision_id: Mapped[str | None] = mapped_column(String(64), nullable=True)


class MappingVersionRow(Base):
    """The column stages of one mapping version (name and content hash), first seen at ``first_seen_at``."""

    __tablename__ = "mapping_versions"
    __table_args__ = (UniqueConstraint("name", "content_hash", name="uq_mapping_versions_name_hash"),)
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(64), nullable=False)
    version: Mapped[str] = mapped_column(String(64), nullable=False)
    content_hash: Mapped[str] = mapped_column(String(64), nullable=False)
    stages: Mapped[str] = mapped_column(Text, nullable=False)
    first_seen_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)


class DecisionExplanationRow(Base):
    """The explanation of one decision, stored inline or on first request; one row per decision."""

    __tablename__ = "decision_explanations"
    decision_id: Mapped[str] = mapped_column(ForeignKey("decisions.decision_id"), primary_key=True)
    explanation: Mapped[str] = mapped_column(Text, nullable=False)
    explanation_hash: Mapped[str] = mapped_column(String(64), nullable=False)
    computed: Mapped[str] = mapped_column(String(16), nullable=False)  # inline | on_request
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)


class AuditHeadRow(Base):
    """The head of the decision hash chain (a single row, id 1), locked by every writer."""

    __tablename__ = "audit_head"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    last_hash: Mapped[str] = mapped_column(String(64), nullable=False)
    count: Mapped[int] = mapped_column(BigInteger, nullable=False)


# Tables of later stages live in their own modules; importing them here registers them on Base.metadata.
from leadgate.db import access_models as _access_models  # noqa: E402, F401
from leadgate.db import acting_models as _acting_models  # noqa: E402, F401
from leadgate.db import booking_models as _booking_models  # noqa: E402, F401
from leadgate.db import channel_models as _channel_models  # noqa: E402, F401
from leadgate.db import chat_models as _chat_models  # noqa: E402, F401
from leadgate.db import consent_models as _consent_models  # noqa: E402, F401
from leadgate.db import crm_models as _crm_models  # noqa: E402, F401
from leadgate.db import inbound_models as _inbound_models  # noqa: E402, F401
from leadgate.db import key_models as _key_models  # noqa: E402, F401
from leadgate.db import notify_models as _notify_models  # noqa: E402, F401
from leadgate.db import privacy_models as _privacy_models  # noqa: E402, F401
from leadgate.db import routing_models as _routing_models  # noqa: E402, F401
from leadgate.db import user_models as _user_models  # noqa: E402, F401
