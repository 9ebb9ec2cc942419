"""What the API holds while it runs: settings, engine, ``Qualifier``, chat service, rate limits, session keys."""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import orjson
from sqlalchemy import Engine

from leadgate.actions.destinations import destinations_path, load_routes
from leadgate.actions.planning import Routes
from leadgate.api.ratelimit import RateLimits
from leadgate.chat.service import ChatService
from leadgate.config import Settings
from leadgate.db import make_engine, store
from leadgate.db.engine import write_lock
from leadgate.defaults import default_path
from leadgate.features import FeatureSet
from leadgate.governance.staff_sessions import SessionCookie, SessionLimits
from leadgate.ingest import ColumnMapping
from leadgate.pipeline import Qualifier
from leadgate.policy import load_policy
from leadgate.privacy.crypto import keyring
from leadgate.routing import Router, load_router
from leadgate.scoring import load_fit_rules

ChatFactory = Callable[[Settings, Engine, Qualifier], "ChatService[Any] | None"]
"""Builds the chat service of an API process from its settings, engine and qualifier (None: no chat)."""


def load_qualifier(settings: Settings, engine: Engine) -> Qualifier:
    """The ``Qualifier`` the API serves: the project's (``LEADGATE_PROJECT``) when set, else the shipped example.

    With a project: its policy, model (``model@champion``), feature set and fit rules. Without one: the
    policy of ``LEADGATE_POLICY_FILE`` (default the shipped X Education policy), ``LEADGATE_MODEL_NAME`` and
    the shipped X Education feature set and fit rules (the demo).

    Raises:
        ProjectError, PolicyError, ContractError, QualifierConfigError: a file is invalid or they do not fit.
    """
    if settings.project is not None:
        from leadgate.features import load_feature_set
        from leadgate.project import find_project, read_project

        found = find_project(settings.project, None)
        assert found is not None
        project = read_project(found)
        rules_path = project.fit_rules_path
        return Qualifier.load(
            engine,
            load_policy(project.policy_path),
            model_ref=project.model_ref,
            feature_set=load_feature_set(project.features_path),
            fit_rules=load_fit_rules(rules_path) if rules_path is not None else None,
        )
    policy = load_policy(settings.policy_file or default_path("policy.yaml"))
    return Qualifier.load(
        engine,
        policy,
        model_ref=f"{settings.model_name}@champion",
        feature_set=load_feature_set_default(),
        fit_rules=load_fit_rules(),
    )


def load_feature_set_default() -> FeatureSet:
    """The shipped example feature set (X Education), used without a project."""
    from leadgate.features import load_feature_set

    return load_feature_set(default_path("features.yaml"))


Bounds = dict[str, tuple[float | None, float | None]]
"""Inclusive ``(min, max)`` of each pre-decision attribute whose mapping declares one."""


def served_mapping(settings: Settings) -> ColumnMapping:
    """The served mapping: the project's, else the shipped one."""
    from leadgate.ingest import load_mapping

    if settings.project is not None:
        from leadgate.project import find_project, read_project

        found = find_project(settings.project, None)
        assert found is not None
        path = read_project(found).mapping_path
    else:
        path = default_path("mapping.yaml")
    return load_mapping(path)


def load_attribute_bounds(settings: Settings, mapping: ColumnMapping | None = None) -> Bounds:
    """The ``min``/``max`` of the pre-decision columns of the served mapping: the project's, else the shipped one.

    The API checks them as the CSV mapping does (a negative visit count is refused by both).
    """
    mapping = mapping or served_mapping(settings)
    return {
        spec.field: (spec.min, spec.max)
        for spec in mapping.columns.values()
        if spec.stage == "pre_decision" and (spec.min is not None or spec.max is not None)
    }


def no_chat(settings: Settings, engine: Engine, qualifier: Qualifier) -> ChatService[Any] | None:
    """The default ``ChatFactory`` until the dialogue engine is wired: no chat (its endpoints answer 503)."""
    return None


def _json_text(value: Any) -> str:
    try:
        return orjson.dumps(value, default=str).decode()
    except TypeError:  # a lone surrogate: orjson refuses it, json escapes it
        return json.dumps(value, default=str)


def storable_text(text: str) -> str:
    """``text`` with what PostgreSQL text cannot hold escaped: NUL and lone surrogates as backslash escapes."""
    return text.encode("utf-8", "backslashreplace").decode("utf-8").replace("\x00", "\\x00")


@dataclass
class AppState:
    """Shared state of one API process.

    Attributes:
        settings, engine, qualifier: as loaded at startup.
        chat: the chat service, or None when the chat assistant is not configured (chat endpoints 503).
        rate_limits: per-IP and per-conversation limits of the public chat endpoints (default: from
            ``settings``, in memory).
        attribute_bounds: the mapping's ``min``/``max`` per pre-decision attribute (``load_attribute_bounds``),
            checked by ``POST /v1/leads`` and the batch route.
        clock: the current UTC time for staff sessions (tests move it to expire a session).
        session_limits: idle and absolute limits of staff sessions (from ``settings``).
        session_cookie: signs and reads the ``lg_session`` cookie with ``LEADGATE_SECRET_KEY``.
        personal_attributes: the served mapping's personal attributes, stored encrypted
            (``ColumnMapping.personal_attributes``).
        router: assigns routed decisions to reps (the policy's ``routing:`` section over
            ``settings.reps_file``), or None when the policy routes nobody.
        routes: action kind -> destinations (``settings.destinations_file``, the project's, or the embedded
            CRM): every decision's actions are written to the outbox in its transaction.
    """

    settings: Settings
    engine: Engine
    qualifier: Qualifier
    chat: ChatService[Any] | None = None
    rate_limits: RateLimits = field(init=False)
    attribute_bounds: Bounds = field(init=False)
    session_limits: SessionLimits = field(init=False)
    session_cookie: SessionCookie = field(init=False)
    clock: Callable[[], datetime] = store.utcnow
    personal_attributes: frozenset[str] = field(init=False)
    router: Router | None = field(init=False)
    routes: Routes = field(init=False)
    scored: int = field(init=False, default=0)
    out_of_range: int = field(init=False, default=0)

    def __post_init__(self) -> None:
        self.rate_limits = RateLimits.from_settings(self.settings)
        mapping = served_mapping(self.settings)
        self.attribute_bounds = load_attribute_bounds(self.settings, mapping)
        self.personal_attributes = mapping.personal_attributes()
        self.router = load_router(self.qualifier.policy, self.settings.reps_file)
        self.routes = load_routes(destinations_path(self.settings))
        self.session_limits = SessionLimits(
            idle=timedelta(minutes=self.settings.session_idle_minutes),
            absolute=timedelta(hours=self.settings.session_absolute_hours),
        )
        self.session_cookie = SessionCookie(self.settings.secret_key, self.session_limits.absolute)
        self._counts_lock = threading.Lock()

    @classmethod
    def from_settings(cls, settings: Settings, chat_factory: ChatFactory = no_chat) -> AppState:
        """Connect to the database, load the champion model (or the rule fallback) and the policy.

        ``chat_factory`` builds the chat service (default: none, the chat endpoints answer 503).
        """
        engine = make_engine(settings.database_url)
        keyring(engine, settings)  # the data keys from these settings (refused outside dev without one)
        qualifier = load_qualifier(settings, engine)
        return cls(settings, engine, qualifier, chat=chat_factory(settings, engine, qualifier))

    def count_out_of_range(self, flags: list[bool]) -> None:
        """Add a batch's out-of-range flags to the counts ``/healthz`` reports (since the process started)."""
        with self._counts_lock:
            self.scored += len(flags)
            self.out_of_range += sum(flags)

    def close(self) -> None:
        """Release database connections."""
        self.engine.dispose()

    def dead_letter(self, path: str, body: Any, errors: list[dict[str, Any]], caller: str) -> None:
        """Keep one rejected request body with its errors in ``dead_letters`` (see ``dead_letters``).

        Raises:
            RateLimited: ``caller`` has used up its dead-letter quota; nothing was stored.
        """
        self.dead_letters([(path, body, errors)], caller)

    def dead_letters(self, rejected: list[tuple[str, Any, list[dict[str, Any]]]], caller: str) -> None:
        """Keep rejected request bodies ``(path, body, errors)`` in ``dead_letters`` (source ``api``), in one transaction.

        Each body is kept as JSON text of at most ``LEADGATE_DEAD_LETTER_MAX_BYTES`` bytes (cut at a
        character boundary, ``truncated`` set), with the size in bytes and sha256 of the whole JSON text, and
        the caller (``ratelimit.caller_id``). The same body at the same path is kept once.

        Raises:
            RateLimited: ``caller`` has used up its dead-letter quota (``LEADGATE_DEAD_LETTER_QUOTA``,
                counted per dead letter); nothing was stored.
        """
        if not rejected:
            return
        self.rate_limits.hit_dead_letters(caller, len(rejected))
        limit = self.settings.dead_letter_max_bytes
        now = store.utcnow()
        rows = []
        for path, body, errors in rejected:
            try:
                record = orjson.dumps(body, option=orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS)
            except TypeError:
                record = orjson.dumps(repr(body))
            digest = hashlib.sha256(record).hexdigest()
            key = hashlib.sha256(b"api|" + path.encode() + b"|" + record).hexdigest()
            rows.append(
                {
                    "source": "api",
                    "dedupe_key": key,
                    "import_run_id": None,
                    "row_number": None,
                    # cut at a byte limit, then back to whole UTF-8 characters (orjson writes valid UTF-8)
                    "record": record[:limit].decode("utf-8", errors="ignore"),
                    # a path may hold the refused NUL or a lone surrogate (an attribute name)
                    "reason": storable_text("; ".join(f"{e['path']}: {e['reason']}" for e in errors)),
                    "errors": storable_text(_json_text(errors)),
                    "created_at": now,
                    "caller": caller[:160],
                    "truncated": len(record) > limit,
                    "original_bytes": len(record),
                    "original_sha256": digest,
                }
            )
        with write_lock(self.engine), self.engine.begin() as conn:
            store.write_dead_letters(conn, rows)
