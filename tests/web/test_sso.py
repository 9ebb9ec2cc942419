"""Single sign-on against a real local OpenID provider (``oidc-provider-mock``, started here in a thread on
a free port) through the real app, on SQLite and PostgreSQL: the authorization code flow with Authlib
(discovery, state, nonce, ID token checks), linking an account by verified email, refusing unknown,
unverified and disabled people, provisioning with ``LEADGATE_OIDC_DEFAULT_ROLE``, and a forged state."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from tests.api.conversations_support import ChatApi, MakeChatApi, make_chat_api
from tests.web.staff_support import access_events, create_user

from leadgate.db.engine import write_lock
from leadgate.governance import users

with warnings.catch_warnings():
    # the provider imports deprecated Authlib modules (authlib.jose, its httpx client) on import; Authlib
    # adds an "always" filter for its warnings when first imported, so ours goes in front of it
    import authlib.deprecate  # noqa: F401

    warnings.simplefilter("ignore", DeprecationWarning)
    from oidc_provider_mock import User, run_server_in_thread

__all__ = ["make_chat_api"]  # the fixture, imported for pytest

# The provider (test-only code, in its own thread) calls an Authlib API that Authlib marks deprecated;
# warnings filters are process-wide, so the suite's "error" would fail its token endpoint.
pytestmark = [
    pytest.mark.filterwarnings("ignore:get_jwt_config:DeprecationWarning"),
    pytest.mark.filterwarnings("ignore:authlib.jose module is deprecated"),
]

PEOPLE = [
    User(sub="anna-sub", claims={"email": "Anna@Example.com", "email_verified": True, "name": "Anna Berg"}),
    User(sub="newbie-sub", claims={"email": "newbie@example.com", "email_verified": True, "name": "New Bie"}),
    User(sub="sly-sub", claims={"email": "sly@example.com", "email_verified": False}),
    User(sub="gone-sub", claims={"email": "gone@example.com", "email_verified": True}),
]


@pytest.fixture(scope="module")
def issuer() -> Iterator[str]:
    """The issuer URL of a real OpenID provider running in a thread (oidc-provider-mock)."""
    with run_server_in_thread(port=0, require_nonce=True, user_claims=PEOPLE) as server:
        yield f"http://localhost:{server.server_port}"


def _sso_api(make_chat_api: MakeChatApi, issuer: str, **settings: Any) -> ChatApi:
    return make_chat_api(
        oidc_issuer=issuer, oidc_client_id="leadgate-test", oidc_client_secret="not-so-secret", **settings
    )


def round_trip(client: Any, issuer: str, sub: str, next: str = "/staff/handoffs") -> httpx.Response:
    """Start SSO at leadgate, sign in as ``sub`` at the provider, return leadgate's callback answer."""
    start = client.get("/staff/sso/login", params={"next": next}, follow_redirects=False)
    assert start.status_code == 302, start.text
    authorize = start.headers["location"]
    assert authorize.startswith(f"{issuer}/oauth2/authorize?")
    query = httpx.URL(authorize).params
    assert query["redirect_uri"] == "http://testserver/staff/sso/callback"
    assert query["scope"] == "openid email profile" and query["state"] and query["nonce"]
    with httpx.Client(trust_env=False) as provider:
        assert provider.get(authorize).status_code == 200  # the provider's sign-in form
        answer = provider.post(authorize, data={"sub": sub}, follow_redirects=False)
    assert answer.status_code == 302, answer.text
    callback = answer.headers["location"]
    assert callback.startswith("http://testserver/staff/sso/callback?code=")
    return client.get(callback, follow_redirects=False)  # type: ignore[no-any-return]


def test_sso_signs_in_an_existing_account_by_verified_email_then_by_subject(
    make_chat_api: MakeChatApi, issuer: str
) -> None:
    api = _sso_api(make_chat_api, issuer)
    anna = create_user(api.state.engine, email="anna@example.com", password=None)
    sign_in = api.client.get("/staff/sign-in")
    assert "Sign in with single sign-on" in sign_in.text
    r = round_trip(api.client, issuer, "anna-sub")
    assert r.status_code == 303 and r.headers["location"] == "/staff/handoffs"
    assert "lg_session=" in r.headers["set-cookie"] and "httponly" in r.headers["set-cookie"].lower()
    queue = api.client.get("/staff/handoffs")
    assert queue.status_code == 200 and "anna@example.com" in queue.text
    with api.state.engine.connect() as conn:
        linked = users.get_user(conn, anna.id)
    assert (linked.oidc_issuer, linked.oidc_subject) == (issuer, "anna-sub")
    assert linked.last_sign_in_at is not None
    # signed out, then in again: found by (issuer, subject)
    api.client.cookies.clear()
    assert round_trip(api.client, issuer, "anna-sub").status_code == 303
    events = access_events(api.state.engine, action="sign_in", actor=f"user:{anna.id}")
    assert [(e["detail"]["method"], e["detail"]["linked"]) for e in events] == [("sso", True), ("sso", False)]
    with api.state.engine.connect() as conn:
        assert users.count_users(conn) == 1


def test_sso_refuses_unknown_unverified_and_disabled_people(make_chat_api: MakeChatApi, issuer: str) -> None:
    api = _sso_api(make_chat_api, issuer)
    create_user(api.state.engine, email="sly@example.com", password=None)
    gone = create_user(api.state.engine, email="gone@example.com", password=None)
    with write_lock(api.state.engine), api.state.engine.begin() as conn:
        users.disable_user(conn, gone.email)
    for sub, reason in [
        ("newbie-sub", "no leadgate account for this email"),
        ("sly-sub", "did not confirm a verified email"),
        ("gone-sub", "this account is disabled"),
    ]:
        r = round_trip(api.client, issuer, sub)
        assert r.status_code == 403 and reason in r.text, (sub, r.text)
        assert "lg_session" not in r.headers.get("set-cookie", "")
    assert api.client.get("/staff/handoffs", follow_redirects=False).status_code == 303
    assert [e["detail"]["reason"] for e in access_events(api.state.engine, action="sign_in_failed")] == [
        "sso_refused"
    ] * 3
    with api.state.engine.connect() as conn:
        assert users.count_users(conn) == 2 and users.find_user(conn, "sly@example.com").oidc_subject is None


def test_sso_provisions_new_people_only_when_a_default_role_is_set(
    make_chat_api: MakeChatApi, issuer: str
) -> None:
    api = _sso_api(make_chat_api, issuer, oidc_default_role="sales_rep")
    r = round_trip(api.client, issuer, "newbie-sub")
    assert r.status_code == 303
    with api.state.engine.connect() as conn:
        newbie = users.find_user(conn, "newbie@example.com")
    assert (newbie.role, newbie.display_name, newbie.created_by, newbie.has_password) == (
        "sales_rep",
        "New Bie",
        "sso",
        False,
    )
    assert [e["object_ids"] for e in access_events(api.state.engine, action="user_create")] == [
        [str(newbie.id)]
    ]
    assert api.client.get("/staff/handoffs").status_code == 200
    # an unverified email is never provisioned
    api.client.cookies.clear()
    assert round_trip(api.client, issuer, "sly-sub").status_code == 403


def test_a_forged_or_replayed_callback_is_refused(make_chat_api: MakeChatApi, issuer: str) -> None:
    api = _sso_api(make_chat_api, issuer)
    create_user(api.state.engine, email="anna@example.com", password=None)
    forged = api.client.get(
        "/staff/sso/callback", params={"code": "x", "state": "forged"}, follow_redirects=False
    )
    assert forged.status_code == 400 and "Single sign-on failed" in forged.text
    # a real callback works once; its replay (state used up) does not
    start = api.client.get("/staff/sso/login", follow_redirects=False)
    with httpx.Client(trust_env=False) as provider:
        answer = provider.post(start.headers["location"], data={"sub": "anna-sub"}, follow_redirects=False)
    callback = answer.headers["location"]
    assert api.client.get(callback, follow_redirects=False).status_code == 303
    api.client.cookies.delete("lg_session")
    assert api.client.get(callback, follow_redirects=False).status_code == 400


def test_sso_routes_are_404_when_not_configured(make_chat_api: MakeChatApi) -> None:
    api = make_chat_api()
    assert api.client.get("/staff/sso/login", follow_redirects=False).status_code == 404
    assert "single sign-on" not in api.client.get("/staff/sign-in").text


def test_sso_settings_are_checked_at_startup() -> None:
    from pydantic import ValidationError

    from leadgate.config import Settings

    with pytest.raises(ValidationError, match="LEADGATE_OIDC_CLIENT_ID"):
        Settings(oidc_issuer="https://id.example.com")
    with pytest.raises(ValidationError, match="LEADGATE_OIDC_DEFAULT_ROLE='integration'"):
        Settings(oidc_issuer="https://id.example.com", oidc_client_id="x", oidc_default_role="integration")
    assert Settings(oidc_default_role="analyst").oidc_default_role == "analyst"
