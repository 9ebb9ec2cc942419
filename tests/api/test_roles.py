"""Roles and objects (issue 8, item 4) on SQLite and PostgreSQL: every route of the app against every role
(from the permission table), a rep's own and another rep's objects, the filtered handoff queue, the
analyst's masked view, and the access-log records of personal-data reads (item 8)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute, iter_route_contexts
from sqlalchemy import Engine, update
from tests.api.conftest import Api, Trained, bearer, create_test_key, register
from tests.api.conversations_support import ChatApi, MakeChatApi, make_chat_api

from leadgate.api.deps import PUBLIC_ROUTES
from leadgate.audit.access import iter_access
from leadgate.db.chat_models import ConversationRow
from leadgate.governance.api_keys import key_prefix
from leadgate.governance.roles import (
    ROLE_PERMISSIONS,
    ROLES,
    ROUTE_PERMISSIONS,
    check_staff_role,
    permissions,
    staff_roles,
)
from leadgate.governance.roles import UnknownRoleError as RoleError

__all__ = ["make_chat_api"]  # the fixture, imported for pytest

OWN, OTHER = "rep-a", "rep-b"
"""The rep the ``sales_rep`` key acts as, and another rep."""
ATTRS = {"lead_origin": "API", "total_visits": 3}
PERSON = {
    "email": "anna.k@example.com",
    "first_name": "Anna",
    "last_name": "Kowalski",
    "phone": "+49 30 1234567",
    "company": "Acme GmbH",
}
CONVERSATIONS = ConversationRow.__table__

# What each role may call, written out by hand: the permission table must give exactly this.
LEADS_IN = {("POST", "/v1/leads"), ("POST", "/v1/leads/batch")}
READS = {
    ("GET", "/v1/leads/{lead_id}"),
    ("GET", "/v1/leads/{lead_id}/decision"),
    ("GET", "/v1/leads/{lead_id}/consents"),
}
CONSENT_IN = {("POST", "/v1/leads/{lead_id}/consents")}
HANDOFF_ROUTES = {
    ("GET", "/v1/handoffs"),
    ("GET", "/v1/handoffs/{conversation_id}"),
    ("POST", "/v1/handoffs/{conversation_id}/messages"),
    ("POST", "/v1/handoffs/{conversation_id}/close"),
}
# the staff pages (server-rendered, not in the OpenAPI schema): any person, and the handoff pages
STAFF = {("GET", "/staff"), ("POST", "/staff/sign-out")}
HANDOFF_PAGES = {
    ("GET", "/staff/handoffs"),
    ("GET", "/staff/handoffs/{conversation_id}"),
    ("POST", "/staff/handoffs/{conversation_id}/reply"),
    ("POST", "/staff/handoffs/{conversation_id}/close"),
}
PRIVACY = {("POST", "/v1/privacy/erasures"), ("GET", "/v1/privacy/exports")}
REVIEW_PAGES = {
    ("GET", "/staff/review"),
    ("GET", "/staff/review/{lead_id}"),
    ("POST", "/staff/review/{lead_id}/approve"),
    ("POST", "/staff/review/{lead_id}/tier"),
    ("POST", "/staff/review/{lead_id}/reassign"),
}
INBOX_PAGES = {("GET", "/staff/inbox"), ("POST", "/staff/inbox/{assignment_id}/first-touch")}
EXPECTED_ROUTES: dict[str, set[tuple[str, str]]] = {
    "admin": LEADS_IN
    | READS
    | CONSENT_IN
    | HANDOFF_ROUTES
    | STAFF
    | HANDOFF_PAGES
    | PRIVACY
    | REVIEW_PAGES
    | INBOX_PAGES,
    "revops": LEADS_IN | READS | CONSENT_IN | STAFF,
    "sales_manager": READS | HANDOFF_ROUTES | STAFF | HANDOFF_PAGES | REVIEW_PAGES | INBOX_PAGES,
    "sales_rep": READS | HANDOFF_ROUTES | STAFF | HANDOFF_PAGES | INBOX_PAGES,
    "reviewer": READS | STAFF | REVIEW_PAGES,
    "analyst": READS | STAFF,
    "integration": LEADS_IN | CONSENT_IN,
}


@dataclass
class World:
    """An app with a key per role, leads and handed-off conversations of two reps."""

    api: ChatApi
    engine: Engine
    keys: dict[str, str]
    own_lead: str = "own-1"
    other_lead: str = "other-1"
    shared_conv: str = ""
    other_conv: str = ""
    role_convs: dict[str, str] = field(default_factory=dict)
    page_convs: dict[str, str] = field(default_factory=dict)

    def headers(self, role: str) -> dict[str, str]:
        return bearer(self.keys[role])

    def call(self, role: str, method: str, url: str, body: Any = None) -> Any:
        """One request as ``role`` (redirects not followed); a body ``{"form": {...}}`` is sent as a form."""
        if isinstance(body, dict) and set(body) == {"form"}:
            return self.api.client.request(
                method, url, data=body["form"], headers=self.headers(role), follow_redirects=False
            )
        return self.api.client.request(
            method, url, json=body, headers=self.headers(role), follow_redirects=False
        )


def _handed_off(api: ChatApi, engine: Engine, owner: str | None) -> str:
    """A conversation the visitor handed to a person, assigned to ``owner`` (as routing will do)."""
    conv = api.open()
    assert api.post(conv, "c-1", "human").status_code == 200
    cid: str = conv["conversation_id"]
    with engine.begin() as conn:
        conn.execute(update(CONVERSATIONS).where(CONVERSATIONS.c.conversation_id == cid).values(owner=owner))
    return cid


@pytest.fixture
def world(make_chat_api: MakeChatApi, engine: Engine, trained: Trained) -> World:
    register(engine, trained)
    api = make_chat_api(max_message_chars=100)
    keys = {
        role: create_test_key(
            engine, role=role, name=f"k-{role}", rep_id=OWN if role == "sales_rep" else None
        )
        for role in ROLES
    }
    w = World(api, engine, keys)
    for lead_id, owner in ((w.own_lead, OWN), (w.other_lead, OTHER)):
        body = {"lead_id": lead_id, "attributes": ATTRS, "owner": owner, **PERSON}
        assert w.call("admin", "POST", "/v1/leads", body).status_code == 200
    w.shared_conv = _handed_off(api, engine, OWN)
    w.other_conv = _handed_off(api, engine, OTHER)
    w.role_convs = {role: _handed_off(api, engine, OWN) for role in ROLES}
    w.page_convs = {role: _handed_off(api, engine, OWN) for role in ROLES}
    return w


REVIEW_LEAD = "review-1"
"""The lead the review and inbox pages act on (a re-assignment moves its owner, so not ``own_lead``)."""


def _review_lead(w: World) -> str:
    """``REVIEW_LEAD``, stored and decided through the API the first time it is needed."""
    if w.call("admin", "GET", f"/v1/leads/{REVIEW_LEAD}").status_code == 404:
        body = {"lead_id": REVIEW_LEAD, "attributes": ATTRS, "owner": OWN, **PERSON}
        assert w.call("admin", "POST", "/v1/leads", body).status_code == 200
    return REVIEW_LEAD


def _other_tier(w: World) -> str:
    """A tier other than the one in force for the own lead (a tier change must change something)."""
    from leadgate.review.rules import TIERS, ReviewCriteria
    from leadgate.review.store import review_item

    with w.engine.connect() as conn:
        tier = review_item(conn, _review_lead(w), ReviewCriteria()).tier
    return next(t for t in TIERS if t != tier)


def _other_rep(w: World) -> str:
    """A rep of the shipped reps file other than the own lead's current one."""
    from leadgate.reps import load_reps
    from leadgate.routing import current_assignment

    with w.engine.connect() as conn:
        current = current_assignment(conn, _review_lead(w))
    rep = current["rep_id"] if current else None
    return next(r.id for r in load_reps().reps if r.active and r.id != rep)


def _open_assignment(w: World) -> str:
    """A new open assignment of the review lead to the ``sales_rep`` key's rep (``store_assignment``)."""
    import uuid

    from leadgate.contracts.action import Assignment
    from leadgate.db.engine import write_lock
    from leadgate.db.store import utcnow
    from leadgate.routing import current_assignment, store_assignment

    lead_id = _review_lead(w)
    decision = w.call("admin", "GET", f"/v1/leads/{lead_id}/decision").json()
    with write_lock(w.engine), w.engine.begin() as conn:
        current = current_assignment(conn, lead_id)
        assignment_id = str(uuid.uuid4())
        store_assignment(
            conn,
            Assignment(
                assignment_id=assignment_id,
                lead_id=lead_id,
                decision_id=decision["decision_id"],
                rep_id=OWN,
                rule="territory",
                reason="territory IN: rule india",
                policy_version=decision["policy_version"],
                assigned_at=utcnow(),
            ),
            supersedes=current["assignment_id"] if current else None,
        )
    return assignment_id


Call = Callable[[World, str], tuple[str, Any, int]]
"""``(world, role) -> (url, JSON body, status of success)`` of one route, for a caller allowed to call it."""

CALLS: dict[tuple[str, str], Call] = {
    ("POST", "/v1/leads"): lambda w, r: (
        "/v1/leads",
        {"lead_id": f"m-{r}", "attributes": ATTRS},
        200,
    ),
    ("POST", "/v1/leads/batch"): lambda w, r: (
        "/v1/leads/batch",
        {"leads": [{"lead_id": f"mb-{r}", "attributes": ATTRS}]},
        200,
    ),
    ("GET", "/v1/leads/{lead_id}"): lambda w, r: (f"/v1/leads/{w.own_lead}", None, 200),
    ("GET", "/v1/leads/{lead_id}/decision"): lambda w, r: (f"/v1/leads/{w.own_lead}/decision", None, 200),
    ("POST", "/v1/leads/{lead_id}/consents"): lambda w, r: (
        f"/v1/leads/{w.own_lead}/consents",
        {
            "consents": [
                {"purpose": "email_marketing", "granted": True, "source": "api", "wording_version": r}
            ]
        },
        201,
    ),
    ("GET", "/v1/leads/{lead_id}/consents"): lambda w, r: (f"/v1/leads/{w.own_lead}/consents", None, 200),
    ("GET", "/v1/handoffs"): lambda w, r: ("/v1/handoffs", None, 200),
    ("GET", "/v1/handoffs/{conversation_id}"): lambda w, r: (f"/v1/handoffs/{w.shared_conv}", None, 200),
    ("POST", "/v1/handoffs/{conversation_id}/messages"): lambda w, r: (
        f"/v1/handoffs/{w.role_convs[r]}/messages",
        {"text": f"hello from {r}"},
        201,
    ),
    ("POST", "/v1/handoffs/{conversation_id}/close"): lambda w, r: (
        f"/v1/handoffs/{w.role_convs[r]}/close",
        {},
        200,
    ),
    # a person nobody holds data about: the erasure still writes its tombstone, the export is empty
    ("POST", "/v1/privacy/erasures"): lambda w, r: (
        "/v1/privacy/erasures",
        {"email": f"nobody-{r.replace('_', '-')}@example.org", "reason": "matrix test"},
        201,
    ),
    ("GET", "/v1/privacy/exports"): lambda w, r: ("/v1/privacy/exports?email=nobody@example.org", None, 200),
    ("GET", "/staff"): lambda w, r: ("/staff", None, 303),
    ("POST", "/staff/sign-out"): lambda w, r: ("/staff/sign-out", None, 303),
    ("GET", "/staff/handoffs"): lambda w, r: ("/staff/handoffs", None, 200),
    ("GET", "/staff/handoffs/{conversation_id}"): lambda w, r: (
        f"/staff/handoffs/{w.shared_conv}",
        None,
        200,
    ),
    ("POST", "/staff/handoffs/{conversation_id}/reply"): lambda w, r: (
        f"/staff/handoffs/{w.page_convs[r]}/reply",
        {"form": {"text": f"page reply from {r}"}},
        303,
    ),
    ("POST", "/staff/handoffs/{conversation_id}/close"): lambda w, r: (
        f"/staff/handoffs/{w.page_convs[r]}/close",
        None,
        303,
    ),
    ("GET", "/staff/review"): lambda w, r: ("/staff/review", None, 200),
    ("GET", "/staff/review/{lead_id}"): lambda w, r: (f"/staff/review/{_review_lead(w)}", None, 200),
    ("POST", "/staff/review/{lead_id}/approve"): lambda w, r: (
        f"/staff/review/{_review_lead(w)}/approve",
        {"form": {"reason": f"approved by {r}"}},
        303,
    ),
    ("POST", "/staff/review/{lead_id}/tier"): lambda w, r: (
        f"/staff/review/{_review_lead(w)}/tier",
        {"form": {"tier": _other_tier(w), "reason": f"tier set by {r}"}},
        303,
    ),
    ("POST", "/staff/review/{lead_id}/reassign"): lambda w, r: (
        f"/staff/review/{_review_lead(w)}/reassign",
        {"form": {"rep": _other_rep(w), "reason": f"re-assigned by {r}"}},
        303,
    ),
    ("GET", "/staff/inbox"): lambda w, r: ("/staff/inbox", None, 200),
    ("POST", "/staff/inbox/{assignment_id}/first-touch"): lambda w, r: (
        f"/staff/inbox/{_open_assignment(w)}/first-touch",
        None,
        303,
    ),
}
"""One concrete call per protected route; a route without one fails the matrix test."""


def _protected_operations(app: FastAPI) -> list[tuple[str, str]]:
    """``(method, path template)`` of every operation outside ``PUBLIC_ROUTES``, in declaration order."""
    out = []
    for context in iter_route_contexts(app.routes):
        route, path = context.original_route, context.path
        if isinstance(route, APIRoute) and path not in PUBLIC_ROUTES:
            out.extend((method, path) for method in sorted(route.methods))
    return out


def test_every_route_against_every_role(world: World) -> None:
    app: FastAPI = world.api.client.app  # type: ignore[assignment]
    operations = _protected_operations(app)
    # the walk covers every operation of the OpenAPI schema
    spec = world.api.client.get("/openapi.json").json()["paths"]
    documented = {(m.upper(), p) for p, ops in spec.items() if p not in PUBLIC_ROUTES for m in ops}
    assert documented == {op for op in operations if not op[1].startswith("/staff")}
    # deny by default: every protected route has a row in the table and a call here; no stale rows
    assert [op for op in operations if op not in ROUTE_PERMISSIONS] == []
    assert set(ROUTE_PERMISSIONS) == set(operations) == set(CALLS)
    problems = []
    for role in ROLES:
        allowed = {op for op in operations if ROUTE_PERMISSIONS[op] in permissions(role)}
        assert allowed == EXPECTED_ROUTES[role], role
        for method, path in operations:  # declaration order: a reply comes before the close
            url, body, success = CALLS[(method, path)](world, role)
            expected = success if (method, path) in allowed else 403
            r = world.call(role, method, url, body)
            if r.status_code != expected:
                problems.append(
                    f"{role} {method} {path}: {r.status_code}, expected {expected}: {r.text[:120]}"
                )
            elif expected == 403:
                assert ROUTE_PERMISSIONS[(method, path)] in r.text, r.text
    assert problems == []
    # what the allowed calls did: each handling role replied in and closed its own conversation
    handlers = [r for r in ROLES if ("POST", "/v1/handoffs/{conversation_id}/close") in EXPECTED_ROUTES[r]]
    for role in ROLES:
        detail = world.call("admin", "GET", f"/v1/handoffs/{world.role_convs[role]}").json()
        replies = [m["text"] for m in detail["messages"] if m["role"] == "staff"]
        assert (detail["status"], replies) == (
            ("closed", [f"hello from {role}"]) if role in handlers else ("handoff", [])
        )
        page = world.call("admin", "GET", f"/v1/handoffs/{world.page_convs[role]}").json()
        replies = [m["text"] for m in page["messages"] if m["role"] == "staff"]
        assert (page["status"], replies) == (
            ("closed", [f"page reply from {role}"]) if role in handlers else ("handoff", [])
        )
    # the review pages: each reviewing role approved, changed the tier and re-assigned; each inbox role
    # marked one first touch (their actor is their key)
    from leadgate.audit.events import iter_events

    with world.engine.connect() as conn:
        overrides = [(e["actor"], e["data"]["kind"]) for e in iter_events(conn, kind="override")]
        touches = [e["actor"] for e in iter_events(conn, kind="first_touch")]
    reviewers = [r for r in ROLES if ("POST", "/staff/review/{lead_id}/tier") in EXPECTED_ROUTES[r]]
    subjects = {r: f"key:{key_prefix(world.keys[r])}" for r in ROLES}
    assert overrides == [(subjects[r], k) for r in reviewers for k in ("approve", "tier", "reassign")]
    inbox = [r for r in ROLES if ("GET", "/staff/inbox") in EXPECTED_ROUTES[r]]
    assert touches == [subjects[r] for r in inbox]


def test_a_sales_rep_reads_only_its_own_leads(world: World) -> None:
    own = world.call("sales_rep", "GET", f"/v1/leads/{world.own_lead}")
    assert own.status_code == 200 and own.json()["owner"] == OWN and own.json()["email"] == PERSON["email"]
    assert world.call("sales_rep", "GET", f"/v1/leads/{world.own_lead}/decision").status_code == 200
    assert world.call("sales_rep", "GET", f"/v1/leads/{world.own_lead}/consents").status_code == 200
    # another rep's lead answers exactly as a lead that does not exist
    for lead_id in (world.other_lead, "no-such-lead"):
        r = world.call("sales_rep", "GET", f"/v1/leads/{lead_id}")
        assert (r.status_code, r.json()) == (404, {"detail": f"lead {lead_id!r} not found"})
        r = world.call("sales_rep", "GET", f"/v1/leads/{lead_id}/decision")
        assert (r.status_code, r.json()) == (404, {"detail": f"no decision for lead {lead_id!r}"})
        r = world.call("sales_rep", "GET", f"/v1/leads/{lead_id}/consents")
        assert (r.status_code, r.json()) == (404, {"detail": f"no stored lead {lead_id!r}"})
    # a manager sees every rep's lead (team scoping waits for issue 9)
    other = world.call("sales_manager", "GET", f"/v1/leads/{world.other_lead}")
    assert other.status_code == 200 and other.json()["owner"] == OTHER
    # a sales_rep key that acts as no rep sees nothing
    nobody = bearer(create_test_key(world.engine, role="sales_rep", name="no-rep"))
    assert world.api.client.get(f"/v1/leads/{world.own_lead}", headers=nobody).status_code == 404
    assert world.api.client.get("/v1/handoffs", headers=nobody).json() == {"handoffs": []}


def test_the_handoff_queue_is_filtered_for_a_rep(world: World) -> None:
    unassigned = _handed_off(world.api, world.engine, None)
    rep_queue = [
        h["conversation_id"] for h in world.call("sales_rep", "GET", "/v1/handoffs").json()["handoffs"]
    ]
    everyone = [
        h["conversation_id"] for h in world.call("sales_manager", "GET", "/v1/handoffs").json()["handoffs"]
    ]
    assert world.other_conv in everyone and unassigned in everyone and world.shared_conv in everyone
    assert rep_queue == [c for c in everyone if c not in (world.other_conv, unassigned)]
    assert len(rep_queue) == 1 + 2 * len(ROLES)
    queue = world.call("sales_rep", "GET", "/v1/handoffs").json()["handoffs"]
    assert {h["owner"] for h in queue} == {OWN}
    # another rep's conversation: 404 for reading, replying and closing, and nothing changes
    cid = world.other_conv
    for method, url, body in (
        ("GET", f"/v1/handoffs/{cid}", None),
        ("POST", f"/v1/handoffs/{cid}/messages", {"text": "mine now"}),
        ("POST", f"/v1/handoffs/{cid}/close", {}),
    ):
        r = world.call("sales_rep", method, url, body)
        assert (r.status_code, r.json()) == (404, {"detail": "conversation not found"}), (method, url)
    detail = world.call("admin", "GET", f"/v1/handoffs/{cid}").json()
    assert detail["status"] == "handoff" and detail["owner"] == OTHER
    assert not [m for m in detail["messages"] if m["role"] == "staff"]


def test_an_analyst_sees_personal_fields_masked(world: World) -> None:
    clear = world.call("admin", "GET", f"/v1/leads/{world.own_lead}")
    masked = world.call("analyst", "GET", f"/v1/leads/{world.own_lead}")
    assert masked.status_code == 200
    assert masked.json()["email"] == "***@example.com"
    assert {k: masked.json()[k] for k in ("first_name", "last_name", "phone")} == dict.fromkeys(
        ("first_name", "last_name", "phone")
    )
    # everything else as the admin reads it, the same version (ETag)
    personal = {"email", "first_name", "last_name", "phone"}
    assert {k: v for k, v in masked.json().items() if k not in personal} == {
        k: v for k, v in clear.json().items() if k not in personal
    }
    assert masked.json()["company"] == PERSON["company"] and masked.json()["attributes"] == ATTRS
    assert masked.headers["etag"] == clear.headers["etag"]
    assert clear.json()["email"] == PERSON["email"] and clear.json()["phone"] == PERSON["phone"]
    decision = world.call("analyst", "GET", f"/v1/leads/{world.own_lead}/decision")
    assert decision.status_code == 200 and decision.json()["lead_id"] == world.own_lead


def test_reads_of_personal_data_are_in_the_access_log(world: World) -> None:
    def events(role: str) -> list[dict[str, Any]]:
        with world.engine.connect() as conn:
            return list(iter_access(conn, actor=f"key:{key_prefix(world.keys[role])}"))

    assert world.call("admin", "GET", f"/v1/leads/{world.own_lead}").status_code == 200
    assert world.call("analyst", "GET", f"/v1/leads/{world.own_lead}").status_code == 200
    assert world.call("reviewer", "GET", f"/v1/leads/{world.own_lead}/decision").status_code == 200
    assert world.call("reviewer", "GET", f"/v1/leads/{world.own_lead}/consents").status_code == 200
    assert world.call("sales_rep", "GET", f"/v1/leads/{world.other_lead}").status_code == 404
    assert world.call("sales_rep", "GET", f"/v1/handoffs/{world.shared_conv}").status_code == 200
    assert world.call("sales_rep", "GET", "/v1/handoffs").status_code == 200
    # submitting a lead is no read
    assert (
        world.call("integration", "POST", "/v1/leads", {"lead_id": "x-1", "attributes": ATTRS}).status_code
        == 200
    )

    [admin] = events("admin")  # the fixture's posts by admin are no reads
    assert (admin["action"], admin["role"], admin["route"], admin["object_type"], admin["object_ids"]) == (
        "read_pii",
        "admin",
        "/v1/leads/{lead_id}",
        "lead",
        [world.own_lead],
    )
    [analyst] = events("analyst")
    assert (analyst["action"], analyst["role"], analyst["object_ids"]) == (
        "read_masked",
        "analyst",
        [world.own_lead],
    )
    decision, consent = events("reviewer")
    assert (decision["action"], decision["route"], decision["detail"]["part"]) == (
        "read_pii",
        "/v1/leads/{lead_id}/decision",
        "decision",
    )
    assert (consent["route"], consent["object_ids"], consent["detail"]) == (
        "/v1/leads/{lead_id}/consents",
        [world.own_lead],
        {"part": "consent"},
    )
    transcript, queue = events("sales_rep")  # the 404 read nothing, so it is not there
    assert (transcript["route"], transcript["object_type"], transcript["object_ids"]) == (
        "/v1/handoffs/{conversation_id}",
        "conversation",
        [world.shared_conv],
    )
    assert queue["route"] == "/v1/handoffs" and world.other_conv not in queue["object_ids"]
    assert world.shared_conv in queue["object_ids"] and queue["role"] == "sales_rep"
    assert events("integration") == []


def test_staff_roles_exclude_api_key_only_roles() -> None:
    assert staff_roles() == tuple(r for r in ROLES if r != "integration")
    assert check_staff_role("sales_rep") == "sales_rep"
    with pytest.raises(RoleError, match="API keys of other systems only"):
        check_staff_role("integration")
    with pytest.raises(RoleError, match="unknown role 'boss'"):
        check_staff_role("boss")
    # every permission a role has is needed by a route or named for a route still to come
    used = set(ROUTE_PERMISSIONS.values()) | {"leads:update"}
    pending = {"privacy:erase", "privacy:export", "audit:read"}
    assert set().union(*ROLE_PERMISSIONS.values()) <= used | pending


def test_the_api_sets_an_owner_and_a_post_without_one_keeps_it(make_api: Callable[..., Api]) -> None:
    api = make_api()
    lead = {"lead_id": "api-o1", "attributes": {"lead_origin": "API", "total_visits": 3}}
    assert api.client.post("/v1/leads", json={**lead, "owner": "rep-a"}).status_code == 200
    got = api.client.get("/v1/leads/api-o1")
    assert got.json()["owner"] == "rep-a"
    # the same content without an owner: idempotent (no 409), the owner stays
    assert api.client.post("/v1/leads", json=lead).status_code == 200
    again = api.client.get("/v1/leads/api-o1")
    assert again.json()["owner"] == "rep-a" and again.headers["etag"] == got.headers["etag"]
    # another owner alone is no content change: reassigned without 409
    assert api.client.post("/v1/leads", json={**lead, "owner": "rep-b"}).status_code == 200
    assert api.client.get("/v1/leads/api-o1").json()["owner"] == "rep-b"
    # other content still needs ?update=true or If-Match
    changed = {**lead, "attributes": {"lead_origin": "API", "total_visits": 4}}
    assert api.client.post("/v1/leads", json=changed).status_code == 409
    bad = api.client.post("/v1/leads", json={**lead, "owner": "rep a"})
    assert bad.status_code == 422 and bad.json()["detail"][0]["path"] == "body.owner"
