"""Staff accounts and sessions on SQLite and PostgreSQL: argon2 hashes, the password policy, case-blind
unique emails, the dummy verification of unknown emails, rehashing, idle and absolute session expiry,
sign-out, and a disabled user's sessions ending at once."""

from __future__ import annotations

from datetime import timedelta

import pytest
from argon2 import PasswordHasher
from sqlalchemy import Engine, select

from leadgate.db.engine import write_lock
from leadgate.db.store import utcnow
from leadgate.governance import staff_sessions, users
from leadgate.governance.roles import STAFF_ROLES, UnknownRoleError

PASSWORD = "correct horse battery staple"
LIMITS = staff_sessions.SessionLimits(idle=timedelta(minutes=30), absolute=timedelta(hours=12))


def _create(engine: Engine, email: str = "Anna@Example.com", **kwargs: object) -> users.User:
    kwargs.setdefault("password", PASSWORD)
    kwargs.setdefault("role", "sales_rep")
    with write_lock(engine), engine.begin() as conn:
        return users.create_user(conn, email=email, created_by="tests", **kwargs)  # type: ignore[arg-type]


def test_passwords_are_argon2id_hashes_with_the_rfc_9106_defaults(engine: Engine) -> None:
    user = _create(engine, display_name="Anna", rep_id="rep-7")
    with engine.connect() as conn:
        stored = conn.execute(select(users.USERS.c.password_hash)).scalar_one()
    assert stored.startswith("$argon2id$v=19$m=65536,t=3,p=4$") and PASSWORD not in stored
    assert (user.email, user.role, user.rep_id, user.display_name) == (
        "Anna@example.com",
        "sales_rep",
        "rep-7",
        "Anna",
    )
    assert user.has_password and user.active and user.subject == f"user:{user.id}"
    with engine.connect() as conn:
        assert users.check_password(conn, "anna@EXAMPLE.com", PASSWORD).user == user
        assert users.check_password(conn, "anna@example.com", PASSWORD + "x").user is None
        assert users.check_password(conn, "nobody@example.com", PASSWORD).user is None
        assert users.check_password(conn, "not an email", PASSWORD).user is None


def test_email_is_unique_whatever_its_case_and_the_policy_is_enforced(engine: Engine) -> None:
    _create(engine)
    with pytest.raises(users.UserError, match="exists already"):
        _create(engine, email="ANNA@example.COM")
    with pytest.raises(users.UserError, match="at least 15 characters"):
        _create(engine, email="bo@example.com", password="fourteen chars")
    with pytest.raises(users.UserError, match="too long"):
        _create(engine, email="bo@example.com", password="x" * 1025)
    with pytest.raises(users.UserError, match="not a valid email"):
        _create(engine, email="bo@")
    with pytest.raises(users.UserError, match="API keys only"):
        _create(engine, email="bo@example.com", role="integration")
    with pytest.raises(UnknownRoleError):
        _create(engine, email="bo@example.com", role="boss")
    assert "integration" not in STAFF_ROLES and "admin" in STAFF_ROLES
    with engine.connect() as conn:
        assert users.count_users(conn) == 1


def test_sso_only_users_have_no_password_and_cannot_use_one(engine: Engine) -> None:
    user = _create(engine, email="sso@example.com", password=None)
    assert not user.has_password
    with engine.connect() as conn:
        assert users.check_password(conn, "sso@example.com", "").user is None
        assert users.check_password(conn, "sso@example.com", PASSWORD).user is None


def test_unknown_emails_cost_one_argon2_verification_too(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    _create(engine)
    verified: list[str] = []
    real = users.hasher()

    class Counting(PasswordHasher):
        def verify(self, hash: str | bytes, password: str | bytes) -> bool:
            verified.append(str(hash)[:10])
            return real.verify(hash, password)

    monkeypatch.setattr(users, "hasher", lambda: Counting())
    with engine.connect() as conn:
        for email in ("anna@example.com", "nobody@example.com", "bad email"):
            users.check_password(conn, email, "a wrong password here")
    assert verified == ["$argon2id$"] * 3


def test_a_hash_with_old_parameters_is_replaced_at_the_next_sign_in(engine: Engine) -> None:
    user = _create(engine)
    weak = PasswordHasher(time_cost=1, memory_cost=8192, parallelism=1).hash(PASSWORD)
    with write_lock(engine), engine.begin() as conn:
        users.store_rehash(conn, user.id, weak)
    with engine.connect() as conn:
        check = users.check_password(conn, user.email, PASSWORD)
    assert check.user is not None and check.new_hash is not None
    assert check.new_hash.startswith("$argon2id$v=19$m=65536,t=3,p=4$")
    with write_lock(engine), engine.begin() as conn:
        users.store_rehash(conn, user.id, check.new_hash)
    with engine.connect() as conn:
        again = users.check_password(conn, user.email, PASSWORD)
    assert again.user is not None and again.new_hash is None


def test_sessions_end_when_idle_past_their_absolute_limit_or_signed_out(engine: Engine) -> None:
    user = _create(engine)
    t0 = utcnow()
    with write_lock(engine), engine.begin() as conn:
        token, csrf = staff_sessions.start_session(conn, user.id, LIMITS, method="password", now=t0)
    with engine.connect() as conn:
        live = staff_sessions.find_session(conn, token, LIMITS, t0 + timedelta(minutes=29))
        assert live is not None and live.user == user and live.csrf_token == csrf
        assert staff_sessions.find_session(conn, token, LIMITS, t0 + timedelta(minutes=30)) is None  # idle
        assert staff_sessions.find_session(conn, "not-a-token", LIMITS, t0) is None
        stored = conn.execute(select(staff_sessions.SESSIONS.c.token_hash)).scalar_one()
    assert token not in stored  # only its sha256 is stored
    # used every 20 minutes, it lives until its absolute end (12 h), not longer
    now = t0
    while now + timedelta(minutes=20) < t0 + LIMITS.absolute:
        now += timedelta(minutes=20)
        with engine.connect() as conn:
            live = staff_sessions.find_session(conn, token, LIMITS, now)
        assert live is not None, now - t0
        assert staff_sessions.needs_touch(live, now)
        with write_lock(engine), engine.begin() as conn:
            staff_sessions.touch_session(conn, live.id, now)
    with engine.connect() as conn:
        assert staff_sessions.find_session(conn, token, LIMITS, t0 + LIMITS.absolute) is None
    # sign-out ends it at once
    with write_lock(engine), engine.begin() as conn:
        token2, _ = staff_sessions.start_session(conn, user.id, LIMITS, method="password")
        assert staff_sessions.end_session(conn, token2) == user.id
        assert staff_sessions.end_session(conn, token2) is None
    with engine.connect() as conn:
        assert staff_sessions.find_session(conn, token2, LIMITS) is None


def test_disabling_a_user_or_changing_the_password_ends_their_sessions(engine: Engine) -> None:
    anna, bo = _create(engine), _create(engine, email="bo@example.com")
    with write_lock(engine), engine.begin() as conn:
        a1, _ = staff_sessions.start_session(conn, anna.id, LIMITS, method="password")
        a2, _ = staff_sessions.start_session(conn, anna.id, LIMITS, method="sso")
        b1, _ = staff_sessions.start_session(conn, bo.id, LIMITS, method="password")
        disabled, changed = users.disable_user(conn, "ANNA@example.com")
        assert changed and not disabled.active and disabled.disabled_at is not None
        assert users.disable_user(conn, "anna@example.com")[1] is False
    with engine.connect() as conn:
        assert staff_sessions.find_session(conn, a1, LIMITS) is None
        assert staff_sessions.find_session(conn, a2, LIMITS) is None
        assert staff_sessions.find_session(conn, b1, LIMITS) is not None
        # a disabled user cannot sign in with the right password
        assert users.check_password(conn, "anna@example.com", PASSWORD).user is None
    new = "a completely new passphrase"
    with write_lock(engine), engine.begin() as conn:
        users.set_password(conn, "bo@example.com", new)
        with pytest.raises(users.UserNotFoundError, match="no user with email"):
            users.set_password(conn, "nobody@example.com", new)
    with engine.connect() as conn:
        assert staff_sessions.find_session(conn, b1, LIMITS) is None
        assert users.check_password(conn, "bo@example.com", PASSWORD).user is None
        assert users.check_password(conn, "bo@example.com", new).user is not None


def test_the_session_cookie_is_signed_and_expires() -> None:
    cookie = staff_sessions.SessionCookie("k" * 40, timedelta(hours=12))
    value = cookie.dump("tok")
    assert cookie.load(value) == "tok" and value != "tok"
    assert cookie.load(value[:-2] + ("AA" if not value.endswith("AA") else "BB")) is None
    assert staff_sessions.SessionCookie("other-key" * 5, timedelta(hours=12)).load(value) is None
    assert staff_sessions.SessionCookie("k" * 40, timedelta(seconds=-1)).load(value) is None
