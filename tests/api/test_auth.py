"""One way in (issue 8, items 1 and 2) on SQLite and PostgreSQL: deny by default over every route, the
public list, service API keys (roles, expiry, revocation, rotation, last use); the staff pages send an
anonymous browser to sign in."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import timedelta

from fastapi import FastAPI
from fastapi.routing import APIRoute, iter_route_contexts
from sqlalchemy import func, select, update
from starlette.responses import PlainTextResponse
from starlette.routing import Route
from tests.api.conftest import Api, TestClient, bearer, create_test_key
from tests.api.conversations_support import MakeChatApi, make_chat_api

from leadgate.api.deps import PUBLIC_ROUTES, is_staff_page
from leadgate.db.store import DEAD, utcnow
from leadgate.governance import api_keys
from leadgate.governance.roles import (
    CONSENT_WRITE,
    DECISIONS_READ,
    LEADS_READ,
    LEADS_WRITE,
    ROLES,
    permissions,
)

__all__ = ["make_chat_api"]  # the fixture, imported for pytest

LEAD = {"lead_id": "auth-1", "source": "web_form", "attributes": {"lead_origin": "API", "total_visits": 3}}
WRONG_KEY = "lg_" + "a" * 52


def _url(path: str) -> str:
    """A concrete URL for a route's path template (every parameter ``x``)."""
    return re.sub(r"\{[^}]+\}", "x", path)


def walk(client: TestClient) -> list[str]:
    """Call every route of the app, every method, without credentials; return what breaks the rules.

    A route outside ``PUBLIC_ROUTES`` must answer 401 with ``WWW-Authenticate: Bearer`` (also to a wrong
    key and to a non-bearer scheme), except that a staff page answers a caller without credentials
    with 303 to the sign-in page; a public one must answer without 401, 403 or 5xx (the sign-in form's
    POST may answer 403 for its missing CSRF token). A route that is not a FastAPI route (docs, mounts)
    never runs the auth dependency, so it must be public.
    """
    app: FastAPI = client.app  # type: ignore[assignment]
    problems: list[str] = []
    anonymous = {"Authorization": ""}  # the test client may carry a key by default
    for context in iter_route_contexts(app.routes):
        route, path = context.original_route, context.path or "?"
        if not isinstance(route, APIRoute):
            if path not in PUBLIC_ROUTES:
                problems.append(f"{path}: not a FastAPI route, so unguarded, and not in PUBLIC_ROUTES")
                continue
            r = client.get(path, headers=anonymous, follow_redirects=False)
            if r.status_code != 200:
                problems.append(f"GET {path}: public but answered {r.status_code}")
            continue
        for method in sorted(route.methods):
            url = _url(path)
            if path in PUBLIC_ROUTES:
                r = client.request(method, url, headers=anonymous, follow_redirects=False)
                csrf = r.status_code == 403 and "CSRF" in r.json().get("detail", "")
                if (r.status_code in (401, 403) and not csrf) or r.status_code >= 500:
                    problems.append(f"{method} {path}: public but answered {r.status_code}")
                continue
            if is_staff_page(path):
                r = client.request(method, url, headers=anonymous, follow_redirects=False)
                if r.status_code != 303 or not r.headers["location"].startswith("/staff/sign-in?next="):
                    problems.append(f"{method} {path}: a staff page answered {r.status_code}, not 303")
                wrong: tuple[dict[str, str], ...] = (bearer(WRONG_KEY), {"Authorization": "Basic czNjcmV0"})
            else:
                wrong = (anonymous, bearer(WRONG_KEY), {"Authorization": "Basic czNjcmV0"})
            for headers in wrong:
                r = client.request(method, url, headers=headers, follow_redirects=False)
                if r.status_code != 401 or r.headers.get("www-authenticate") != "Bearer":
                    problems.append(f"{method} {path} {headers}: answered {r.status_code}, not 401")
    return problems


def test_every_route_needs_credentials_unless_public(make_chat_api: MakeChatApi) -> None:
    api = make_chat_api()
    app: FastAPI = api.client.app  # type: ignore[assignment]
    assert walk(api.client) == []
    # the walk covered every operation of the OpenAPI schema, and the public list names only real routes
    walked = {c.path for c in iter_route_contexts(app.routes)}
    assert set(api.client.get("/openapi.json").json()["paths"]) <= walked
    assert walked >= PUBLIC_ROUTES
    protected = {c.path for c in iter_route_contexts(app.routes) if c.path not in PUBLIC_ROUTES}
    assert {
        "/v1/leads",
        "/v1/leads/{lead_id}",
        "/v1/handoffs",
        "/staff/handoffs",
        "/staff/sign-out",
    } <= protected
    # the OpenAPI schema says which operations need the bearer key
    spec = api.client.get("/openapi.json").json()
    assert spec["components"]["securitySchemes"]["apiKey"] == {
        "type": "http",
        "scheme": "bearer",
        "description": "A service API key (`leadgate keys create`); see docs/security.md.",
    }
    for path, operations in spec["paths"].items():
        for operation in operations.values():
            assert ("security" in operation) == (path not in PUBLIC_ROUTES), path


def test_a_new_route_is_protected_unless_listed(make_chat_api: MakeChatApi) -> None:
    api = make_chat_api()
    app: FastAPI = api.client.app  # type: ignore[assignment]

    @app.get("/v1/brand-new")
    def brand_new() -> dict[str, str]:
        return {"ok": "yes"}

    assert api.client.get("/v1/brand-new").status_code == 401
    # authenticated, but the route has no row in the permission table: denied to every role, admin too
    for role in ROLES:
        key = create_test_key(api.state.engine, role=role, name=f"new-{role}")
        r = api.client.get("/v1/brand-new", headers=bearer(key))
        assert r.status_code == 403, (role, r.text)
        assert "no entry in the permission table" in r.json()["detail"]
    assert walk(api.client) == []
    # a route that bypasses FastAPI's dependencies is caught by the walk
    app.router.routes.append(Route("/raw", lambda request: PlainTextResponse("raw")))
    assert walk(api.client) == ["/raw: not a FastAPI route, so unguarded, and not in PUBLIC_ROUTES"]


def test_each_role_gets_what_the_permission_table_allows(make_api: Callable[..., Api]) -> None:
    api = make_api()
    lead_id = api.client.post("/v1/leads", json={**LEAD, "owner": "rep-auth"}).json()["lead_id"]
    for role in ROLES:
        rep = "rep-auth" if role == "sales_rep" else None  # a rep sees its own leads only (test_roles.py)
        headers = bearer(create_test_key(api.engine, role=role, name=f"key-{role}", rep_id=rep))
        allowed = permissions(role)
        calls = [
            ("POST", "/v1/leads", {**LEAD, "lead_id": f"auth-{role}"}, LEADS_WRITE),
            ("POST", "/v1/leads/batch", {"leads": [{**LEAD, "lead_id": f"b-{role}"}]}, LEADS_WRITE),
            ("GET", f"/v1/leads/{lead_id}", None, LEADS_READ),
            ("GET", f"/v1/leads/{lead_id}/decision", None, DECISIONS_READ),
        ]
        for method, url, body, permission in calls:
            r = api.client.request(method, url, json=body, headers=headers)
            expected = 200 if permission in allowed else 403
            assert r.status_code == expected, (role, method, url, r.text)
            if expected == 403:
                assert permission in r.json()["detail"] and role in r.json()["detail"]
    assert permissions("integration") == {LEADS_WRITE, CONSENT_WRITE}
    assert {r for r in ROLES if LEADS_READ in permissions(r)} == {
        "admin",
        "revops",
        "sales_manager",
        "sales_rep",
        "reviewer",
        "analyst",
    }


def test_wrong_expired_and_revoked_keys_get_401(make_api: Callable[..., Api]) -> None:
    api = make_api(model=False)
    past = utcnow() - timedelta(days=2)
    expired = create_test_key(api.engine, name="old", expires_in=timedelta(days=1), now=past)
    revoked = create_test_key(api.engine, name="gone")
    with api.engine.begin() as conn:
        api_keys.revoke_key(conn, api_keys.key_prefix(revoked))
    # the right prefix with a wrong rest: found by prefix, refused by hash
    forged = api.key[:11] + ("b" if api.key[11] != "b" else "c") + api.key[12:]
    for key in (expired, revoked, forged, WRONG_KEY, "lg_short", api.key + "x"):
        r = api.client.get("/v1/leads/nobody", headers=bearer(key))
        assert r.status_code == 401 and r.headers["www-authenticate"] == "Bearer", key
    assert api.client.get("/v1/leads/nobody").status_code == 404  # the client's own key works


def test_rotation_keeps_the_old_key_for_the_grace_period_only(make_api: Callable[..., Api]) -> None:
    api = make_api(model=False)
    prefix = api_keys.key_prefix(api.key)
    with api.engine.begin() as conn:
        new_key, new, old = api_keys.rotate_key(conn, prefix, grace=timedelta(days=7), created_by="t")
    assert (new.rotated_from, new.role, new.name) == (old.id, old.role, old.name)
    for key in (api.key, new_key):
        assert api.client.get("/v1/leads/nobody", headers=bearer(key)).status_code == 404
    # once the grace period is over, only the new key works
    with api.engine.begin() as conn:
        conn.execute(
            update(api_keys.API_KEYS)
            .where(api_keys.API_KEYS.c.id == old.id)
            .values(expires_at=utcnow() - timedelta(seconds=1))
        )
    assert api.client.get("/v1/leads/nobody", headers=bearer(api.key)).status_code == 401
    assert api.client.get("/v1/leads/nobody", headers=bearer(new_key)).status_code == 404


def test_last_used_is_written_at_most_once_a_minute(make_api: Callable[..., Api]) -> None:
    api = make_api(model=False)
    table = api_keys.API_KEYS
    prefix = api_keys.key_prefix(api.key)

    def last_used() -> object:
        with api.engine.connect() as conn:
            return conn.execute(select(table.c.last_used_at).where(table.c.prefix == prefix)).scalar_one()

    assert last_used() is None
    api.client.get("/v1/leads/nobody")
    first = last_used()
    assert first is not None
    api.client.get("/v1/leads/nobody")
    assert last_used() == first
    with api.engine.begin() as conn:
        conn.execute(
            update(table).where(table.c.prefix == prefix).values(last_used_at=utcnow() - timedelta(minutes=2))
        )
    api.client.get("/v1/leads/nobody")
    assert last_used() != first


def test_a_body_that_is_not_json_gets_401_without_a_key_and_leaves_no_dead_letter(
    make_api: Callable[..., Api],
) -> None:
    api = make_api(model=False)

    def dead_letters() -> int:
        with api.engine.connect() as conn:
            return int(conn.execute(select(func.count()).select_from(DEAD)).scalar_one())

    json_type = {"content-type": "application/json"}
    r = api.client.post("/v1/leads", content=b"{not json", headers={**json_type, "Authorization": ""})
    assert r.status_code == 401 and dead_letters() == 0
    r = api.client.post("/v1/leads", content=b"{not json", headers=json_type)
    assert r.status_code == 422 and dead_letters() == 1


def test_handoffs_take_a_key_whose_role_handles_them(make_chat_api: MakeChatApi) -> None:
    api = make_chat_api()
    engine = api.state.engine
    for role in ROLES:
        key = create_test_key(engine, role=role, name=f"h-{role}")
        r = api.client.get("/v1/handoffs", headers=bearer(key))
        assert r.status_code == (200 if role in ("admin", "sales_manager", "sales_rep") else 403), role
    # the retired shared staff token (LEADGATE_STAFF_TOKEN) is ignored: a plain wrong bearer
    old = make_chat_api(staff_token="s3cret")
    assert old.client.get("/v1/handoffs", headers=bearer("s3cret")).status_code == 401
