"""Helpers of the staff sign-in tests (no tests here): accounts, the forms' CSRF tokens, signing in."""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import Engine

from leadgate.audit.access import iter_access
from leadgate.db.engine import write_lock
from leadgate.governance import users

PASSWORD = "correct horse battery staple"
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def create_user(
    engine: Engine, email: str = "anna@example.com", role: str = "sales_manager", **kwargs: Any
) -> users.User:
    """A staff account with ``PASSWORD`` (unless ``password`` is given) in this test's database."""
    kwargs.setdefault("password", PASSWORD)
    with write_lock(engine), engine.begin() as conn:
        return users.create_user(conn, email=email, role=role, created_by="tests", **kwargs)


def csrf_of(html: str) -> str:
    """The CSRF token of the first form of a page."""
    match = _CSRF.search(html)
    assert match is not None, html
    return match.group(1)


def sign_in(client: Any, email: str = "anna@example.com", password: str = PASSWORD, next: str = "") -> Any:
    """GET the sign-in form, then POST it with its CSRF token; the POST's response (not followed)."""
    form = client.get("/staff/sign-in")
    assert form.status_code == 200, form.text
    return client.post(
        "/staff/sign-in",
        data={"email": email, "password": password, "next": next, "csrf_token": csrf_of(form.text)},
        follow_redirects=False,
    )


def access_events(engine: Engine, **filters: Any) -> list[dict[str, Any]]:
    """The access log's events (``iter_access`` filters: ``actor``, ``action``, ``object_id``)."""
    with engine.connect() as conn:
        return list(iter_access(conn, **filters))


def staff_payloads(engine: Engine) -> list[str]:
    """The stored ``staff_message`` event payloads (JSON text), decrypted as the chat store reads them."""
    from sqlalchemy import select

    from leadgate.chat.store import EVENTS
    from leadgate.privacy.crypto import aad, keyring

    ring = keyring(engine)
    with engine.connect() as conn:
        rows = conn.execute(
            select(EVENTS.c.conversation_id, EVENTS.c.seq, EVENTS.c.payload).where(
                EVENTS.c.kind == "staff_message"
            )
        ).all()
    return [
        ring.decrypt_text(p, aad("conversation_events", "payload", f"{cid}:{seq}")) for cid, seq, p in rows
    ]
