"""The chat service's transactions and locks.

* :func:`write_transaction`: one short write transaction: PostgreSQL ``BEGIN`` (the conversation row is
  locked by ``ConversationStore.lock``, ``SELECT ... FOR NO KEY UPDATE``, until commit); SQLite
  ``BEGIN IMMEDIATE`` under the database writer lock (``db.write_lock``, DESIGN rule 6).
* :func:`conversation_lock`: a process-wide lock per (database, conversation), used on SQLite to process
  one conversation's messages one at a time (one server process per SQLite database). It is a thread lock,
  not a database lock: the database is free while the assistant runs.

No lock of the database is held while the dialogue engine (and its language model) runs or while its
commands are carried out: ``ChatService.post`` stores the visitor message in one transaction, runs the
engine and the commands, then stores the turn in another, checking optimistically that nobody answered
the message meanwhile.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Connection, Engine

from leadgate.db.engine import write_lock

_CONVERSATION_LOCKS: dict[tuple[str, str], list[Any]] = {}
_CONVERSATION_LOCKS_GUARD = threading.Lock()


@contextmanager
def conversation_lock(engine: Engine, conversation_id: str) -> Iterator[None]:
    """A process-wide lock per (database, conversation), removed when nobody holds or waits for it."""
    key = (str(engine.url), conversation_id)
    with _CONVERSATION_LOCKS_GUARD:
        entry = _CONVERSATION_LOCKS.setdefault(key, [threading.Lock(), 0])
        entry[1] += 1
    try:
        with entry[0]:
            yield
    finally:
        with _CONVERSATION_LOCKS_GUARD:
            entry[1] -= 1
            if entry[1] == 0:
                del _CONVERSATION_LOCKS[key]


@contextmanager
def write_transaction(engine: Engine) -> Iterator[Connection]:
    """A connection in a write transaction, committed at the end of the block, rolled back on an error."""
    if engine.dialect.name != "sqlite":
        with engine.begin() as conn:
            yield conn
        return
    with write_lock(engine), engine.connect() as conn:
        conn.exec_driver_sql("BEGIN IMMEDIATE")
        try:
            yield conn
        except BaseException:
            conn.rollback()
            raise
        conn.commit()
