"""What the API holds while it runs: settings, engine, ``Qualifier``, chat service and chat rate limits."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import orjson
from sqlalchemy import Engine

from leadgate.api.ratelimit import RateLimits
from leadgate.chat.service import ChatService
from leadgate.config import Settings
from leadgate.db import make_engine, store
from leadgate.db.engine import write_lock
from leadgate.defaults import default_path
from leadgate.pipeline import Qualifier
from leadgate.policy import load_policy

ChatFactory = Callable[[Settings, Engine, Qualifier], "ChatService[Any] | None"]
"""Builds the chat service of an API process from its settings, engine and qualifier (None: no chat)."""


def no_chat(settings: Settings, engine: Engine, qualifier: Qualifier) -> ChatService[Any] | None:
    """The default ``ChatFactory`` until the dialogue engine is wired: no chat (its endpoints answer 503)."""
    return None


@dataclass
class AppState:
    """Shared state of one API process.

    Attributes:
        settings, engine, qualifier: as loaded at startup.
        chat: the chat service, or None when the chat assistant is not configured (chat endpoints 503).
        rate_limits: per-IP and per-conversation limits of the public chat endpoints (default: from
            ``settings``, in memory).
    """

    settings: Settings
    engine: Engine
    qualifier: Qualifier
    chat: ChatService[Any] | None = None
    rate_limits: RateLimits = field(init=False)

    def __post_init__(self) -> None:
        self.rate_limits = RateLimits.from_settings(self.settings)

    @classmethod
    def from_settings(cls, settings: Settings, chat_factory: ChatFactory = no_chat) -> AppState:
        """Connect to the database, load the champion model (or the rule fallback) and the policy.

        ``chat_factory`` builds the chat service (default: none, the chat endpoints answer 503).
        """
        engine = make_engine(settings.database_url)
        policy = load_policy(settings.policy_file or default_path("policy.yaml"))
        qualifier = Qualifier.load(engine, policy, model_ref=f"{settings.model_name}@champion")
        return cls(settings, engine, qualifier, chat=chat_factory(settings, engine, qualifier))

    def close(self) -> None:
        """Release database connections."""
        self.engine.dispose()

    def dead_letter(self, path: str, body: Any, errors: list[dict[str, Any]]) -> None:
        """Keep a rejected request body with its errors in ``dead_letters`` (source ``api``)."""
        try:
            record = orjson.dumps(body, option=orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS)
        except TypeError:
            record = orjson.dumps(repr(body))
        key = hashlib.sha256(b"api|" + path.encode() + b"|" + record).hexdigest()
        row = {
            "source": "api",
            "dedupe_key": key,
            "import_run_id": None,
            "row_number": None,
            "record": record.decode(),
            "reason": "; ".join(f"{e['path']}: {e['reason']}" for e in errors),
            "errors": orjson.dumps(errors).decode(),
            "created_at": store.utcnow(),
        }
        with write_lock(self.engine), self.engine.begin() as conn:
            store.write_dead_letters(conn, [row])
