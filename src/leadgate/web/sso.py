"""Single sign-on with OpenID Connect: Authlib's Starlette client, and who an ID token's person is here.

Configured by ``LEADGATE_OIDC_ISSUER``, ``LEADGATE_OIDC_CLIENT_ID`` and ``LEADGATE_OIDC_CLIENT_SECRET``;
the provider's endpoints and keys come from its discovery document
(``<issuer>/.well-known/openid-configuration``, OpenID Connect Discovery 1.0). Authlib runs the
authorization code flow with ``state`` and ``nonce`` (kept in the signed ``lg_flow`` cookie of Starlette's
``SessionMiddleware``) and checks the ID token's signature, issuer, audience, expiry and nonce.

Who signs in (``resolve_sso_user``), in this order:

1. the user linked to the token's ``(iss, sub)``;
2. else the user with the token's ``email``, only when the provider says ``email_verified`` is true and
   the user has no other OIDC identity yet: the identity is linked to them (an unverified email could
   be anyone's, so it never matches an account);
3. else, when ``LEADGATE_OIDC_DEFAULT_ROLE`` is set, a new SSO-only user with that role (verified email
   only); otherwise the sign-in is refused and an admin creates the account first
   (``leadgate users create --email E --role R --sso-only``).

A disabled user is refused whatever matched.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection

from leadgate.config import Settings
from leadgate.errors import LeadgateError
from leadgate.governance import users
from leadgate.governance.users import User

SCOPES = "openid email profile"
"""Scopes asked for: the ID token with the person's email and name."""


class SsoRefused(LeadgateError):
    """The provider's person may not sign in here (no account, unverified email, disabled account)."""


@dataclass(frozen=True)
class SsoResult:
    """Who signed in by SSO.

    Attributes:
        user: the leadgate user.
        linked: the OIDC identity was linked to an existing user by verified email just now.
        created: the user was created just now (``LEADGATE_OIDC_DEFAULT_ROLE``).
    """

    user: User
    linked: bool = False
    created: bool = False


def sso_enabled(settings: Settings) -> bool:
    """True when an issuer and client id are configured."""
    return bool(settings.oidc_issuer and settings.oidc_client_id)


def build_oauth(settings: Settings) -> Any:
    """The Authlib Starlette client ``oidc`` registered from the settings (discovery URL of the issuer).

    Returns:
        The registered client (``authorize_redirect``, ``authorize_access_token``).
    """
    assert settings.oidc_issuer is not None
    with warnings.catch_warnings():
        # Authlib prefers the httpx2 package and says so on import; httpx (a dependency) works the same
        warnings.filterwarnings("ignore", message="The httpx module is deprecated")
        from authlib.integrations.starlette_client import OAuth

    oauth = OAuth()
    oauth.register(
        "oidc",
        client_id=settings.oidc_client_id,
        client_secret=settings.oidc_client_secret,
        server_metadata_url=settings.oidc_issuer.rstrip("/") + "/.well-known/openid-configuration",
        client_kwargs={"scope": SCOPES},
    )
    return oauth.create_client("oidc")


def resolve_sso_user(conn: Connection, claims: dict[str, Any], *, default_role: str | None) -> SsoResult:
    """The user the checked ID token ``claims`` sign in as (see the module docstring for the order).

    Args:
        conn: a connection in a transaction (hold ``write_lock``: the identity may be linked, or the
            user created).
        claims: the validated ID token claims (``iss``, ``sub``, ``email``, ``email_verified``, ``name``).
        default_role: ``LEADGATE_OIDC_DEFAULT_ROLE``, or None to refuse people without an account.

    Raises:
        SsoRefused: no account and no default role, an unverified email, an email whose account is linked
            to another identity, or a disabled account.
    """
    issuer, subject = str(claims.get("iss") or ""), str(claims.get("sub") or "")
    if not issuer or not subject:
        raise SsoRefused("the provider's ID token has no issuer or subject")
    found = users.find_by_oidc(conn, issuer, subject)
    if found is not None:
        if not found.active:
            raise SsoRefused("this account is disabled")
        return SsoResult(found)
    email = claims.get("email")
    if not isinstance(email, str) or claims.get("email_verified") is not True:
        raise SsoRefused("the provider did not confirm a verified email address for this account")
    try:
        by_email: User | None = users.find_user(conn, email)
    except users.UserNotFoundError:
        by_email = None
    except users.UserError as exc:
        raise SsoRefused(str(exc)) from exc
    if by_email is not None:
        if not by_email.active:
            raise SsoRefused("this account is disabled")
        if by_email.oidc_subject is not None:
            raise SsoRefused("this email's account signs in with another single sign-on identity")
        return SsoResult(users.link_oidc(conn, by_email.id, issuer, subject), linked=True)
    if default_role is None:
        raise SsoRefused("no leadgate account for this email: ask an admin to create one")
    name = claims.get("name")
    created = users.create_user(
        conn,
        email=email,
        role=default_role,
        created_by="sso",
        display_name=name[:128] if isinstance(name, str) and name.strip() else None,
        oidc_issuer=issuer,
        oidc_subject=subject,
    )
    return SsoResult(created, created=True)
