"""What the API holds while it runs: settings, the engine and the loaded ``Qualifier``."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

import orjson
from sqlalchemy import Engine

from leadgate.config import Settings
from leadgate.db import make_engine, store
from leadgate.db.engine import write_lock
from leadgate.defaults import default_path
from leadgate.pipeline import Qualifier
from leadgate.policy import load_policy


@dataclass
class AppState:
    """Shared state of one API process."""

    settings: Settings
    engine: Engine
    qualifier: Qualifier

    @classmethod
    def from_settings(cls, settings: Settings) -> AppState:
        """Connect to the database and load the champion model (or the rule fallback) and the policy."""
        engine = make_engine(settings.database_url)
        policy = load_policy(settings.policy_file or default_path("policy.yaml"))
        qualifier = Qualifier.load(engine, policy, model_ref=f"{settings.model_name}@champion")
        return cls(settings, engine, qualifier)

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
