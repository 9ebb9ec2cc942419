"""Roles, what each may do, and what each route needs: the one permission table of leadgate.

Two tables, read together (``leadgate.api.deps.authenticate`` enforces both on every request):

``ROLE_PERMISSIONS`` -- each role's permissions, and ``ROLE_VIEWS`` -- which objects it sees:

=================  =====  ======  ======  =========  ========  =========  =======  =======  =======  ======  =====
role               leads  leads   leads   decisions  handoffs  convers-   privacy  privacy  consent  audit   view
                   write  update  read    read       handle    ations     erase    export   write    read
                                                               read
=================  =====  ======  ======  =========  ========  =========  =======  =======  =======  ======  =====
``admin``          yes    yes     yes     yes        yes       yes        yes      yes      yes      yes     all
``revops``         yes    yes     yes     yes        no        no         no       no       yes      yes     all
``sales_manager``  no     no      yes     yes        yes       yes        no       no       no       no      all
``sales_rep``      no     no      yes     yes        yes       yes        no       no       no       no      own
``reviewer``       no     no      yes     yes        no        no         no       no       no       no      all
``analyst``        no     no      yes     yes        no        no         no       no       no       no      masked
``integration``    yes    no      no      no         no        no         no       no       yes      no      all
=================  =====  ======  ======  =========  ========  =========  =======  =======  =======  ======  =====

Views (object-level rules, applied by ``leadgate.governance.access``):

* ``all``: every lead, decision, conversation and handoff.
* ``own``: only objects whose ``owner`` is the caller's ``rep_id`` (``leads.owner``,
  ``conversations.owner``; a decision belongs to its lead). Another rep's object answers 404, exactly like
  an object that does not exist, so a rep cannot learn which ids exist (GitHub does the same for private
  repositories; OWASP API Security Top 10 2023, API1 "Broken Object Level Authorization"). Lists are
  filtered. A rep without a ``rep_id`` sees nothing.
* ``masked``: every object, with personal fields masked (``leadgate.governance.access.mask_lead``).

``sales_manager`` sees every rep's objects for now: teams arrive with the reps model of issue 9, and the
view then becomes "own team".

``ROUTE_PERMISSIONS`` -- the permission each protected route needs (method and full path template):

=======================================================  ======================
route                                                    permission
=======================================================  ======================
``POST /v1/leads``, ``POST /v1/leads/batch``             ``leads:write``
(their ``?update=true``: replace a stored lead)          ``leads:update``
``GET /v1/leads/{lead_id}``                              ``leads:read``
``GET /v1/leads/{lead_id}/decision``                     ``decisions:read``
``POST /v1/leads/{lead_id}/consents``                    ``consent:write``
``GET /v1/leads/{lead_id}/consents``                     ``leads:read``
``GET /v1/handoffs`` (the queue)                         ``handoffs:handle``
``GET /v1/handoffs/{conversation_id}`` (the transcript)  ``conversations:read``
``POST /v1/handoffs/{conversation_id}/messages``         ``handoffs:handle``
``POST /v1/handoffs/{conversation_id}/close``            ``handoffs:handle``
``POST /v1/privacy/erasures``                            ``privacy:erase``
``GET /v1/privacy/exports``                              ``privacy:export``
``GET /staff``, ``POST /staff/sign-out``                  ``staff:session``
``GET /staff/handoffs``, its ``reply`` and ``close``      ``handoffs:handle``
``GET /staff/handoffs/{conversation_id}``                ``conversations:read``
``GET /staff/review``, ``/staff/review/{lead_id}``,       ``review:write``
its ``approve``, ``tier`` and ``reassign`` (POST)
``GET /staff/inbox``, its ``{assignment_id}/first-touch`` ``inbox:work``
=======================================================  ======================

``review:write`` (the review queue of ``leadgate.review``: approve, change the tier, re-assign, each with
a reason) is for ``admin``, ``sales_manager`` and ``reviewer``; ``inbox:work`` (the rep inbox: the
assignments of a rep, marking first touch) for ``admin``, ``sales_manager`` and ``sales_rep``, and a
``sales_rep`` sees only its own inbox (its ``rep_id``).

``staff:session`` is what every staff role has and ``integration`` has not: being a signed-in person
(the staff pages' landing redirect and sign-out).

A route that is neither public (``leadgate.api.deps.PUBLIC_ROUTES``) nor in ``ROUTE_PERMISSIONS``
answers 403 to every caller (deny by default); ``tests/api/test_roles.py`` walks every route of the app
against every role. ``audit:read`` is the name the audit routes will take (the audit is read through the
CLI today).

``integration`` is for API keys of other systems (a CRM, a web-form backend) that submit leads and
consent; a staff member cannot have it (``staff_roles``). ``reviewer`` reads leads and decisions (the
human-in-the-loop review of ``review_required`` decisions); the review queue's routes come with it.

Why a Python table and not Casbin: the role-to-permission part would be a Casbin ``p, role, perm`` CSV,
no shorter than this dict, and the object rules (owner equals the caller's rep, masked fields) would move
into matcher strings that mypy cannot check and that cannot express masking; a dict of ``Literal``
permission names is checked by mypy, read in one screen, and needs no dependency.
"""

from __future__ import annotations

from typing import Final, Literal

from leadgate.errors import LeadgateError

Permission = Literal[
    "leads:write",
    "leads:update",
    "leads:read",
    "decisions:read",
    "handoffs:handle",
    "conversations:read",
    "privacy:erase",
    "privacy:export",
    "consent:write",
    "audit:read",
    "staff:session",
    "review:write",
    "inbox:work",
]

LEADS_WRITE: Final[Permission] = "leads:write"
LEADS_UPDATE: Final[Permission] = "leads:update"
LEADS_READ: Final[Permission] = "leads:read"
DECISIONS_READ: Final[Permission] = "decisions:read"
HANDOFFS: Final[Permission] = "handoffs:handle"
CONVERSATIONS_READ: Final[Permission] = "conversations:read"
PRIVACY_ERASE: Final[Permission] = "privacy:erase"
PRIVACY_EXPORT: Final[Permission] = "privacy:export"
CONSENT_WRITE: Final[Permission] = "consent:write"
AUDIT_READ: Final[Permission] = "audit:read"
STAFF_SESSION: Final[Permission] = "staff:session"
REVIEW: Final[Permission] = "review:write"
INBOX: Final[Permission] = "inbox:work"

View = Literal["all", "own", "masked"]
"""Which objects a role sees: every one, only its rep's (by ``owner``), or every one with personal fields masked."""

ROLE_PERMISSIONS: Final[dict[str, frozenset[Permission]]] = {
    "admin": frozenset(
        {
            LEADS_WRITE,
            LEADS_UPDATE,
            LEADS_READ,
            DECISIONS_READ,
            HANDOFFS,
            CONVERSATIONS_READ,
            PRIVACY_ERASE,
            PRIVACY_EXPORT,
            CONSENT_WRITE,
            AUDIT_READ,
            STAFF_SESSION,
            REVIEW,
            INBOX,
        }
    ),
    "revops": frozenset(
        {LEADS_WRITE, LEADS_UPDATE, LEADS_READ, DECISIONS_READ, CONSENT_WRITE, AUDIT_READ, STAFF_SESSION}
    ),
    "sales_manager": frozenset(
        {LEADS_READ, DECISIONS_READ, HANDOFFS, CONVERSATIONS_READ, STAFF_SESSION, REVIEW, INBOX}
    ),
    "sales_rep": frozenset({LEADS_READ, DECISIONS_READ, HANDOFFS, CONVERSATIONS_READ, STAFF_SESSION, INBOX}),
    "reviewer": frozenset({LEADS_READ, DECISIONS_READ, STAFF_SESSION, REVIEW}),
    "analyst": frozenset({LEADS_READ, DECISIONS_READ, STAFF_SESSION}),
    "integration": frozenset({LEADS_WRITE, CONSENT_WRITE}),
}
"""Each role's permissions (the first table of the module docstring)."""

ROLE_VIEWS: Final[dict[str, View]] = {
    "admin": "all",
    "revops": "all",
    "sales_manager": "all",
    "sales_rep": "own",
    "reviewer": "all",
    "analyst": "masked",
    "integration": "all",
}
"""Which objects each role sees (the ``view`` column of the module docstring)."""

ROUTE_PERMISSIONS: Final[dict[tuple[str, str], Permission]] = {
    ("POST", "/v1/leads"): LEADS_WRITE,
    ("POST", "/v1/leads/batch"): LEADS_WRITE,
    ("GET", "/v1/leads/{lead_id}"): LEADS_READ,
    ("GET", "/v1/leads/{lead_id}/decision"): DECISIONS_READ,
    ("POST", "/v1/leads/{lead_id}/consents"): CONSENT_WRITE,
    ("GET", "/v1/leads/{lead_id}/consents"): LEADS_READ,
    ("GET", "/v1/handoffs"): HANDOFFS,
    ("GET", "/v1/handoffs/{conversation_id}"): CONVERSATIONS_READ,
    ("POST", "/v1/handoffs/{conversation_id}/messages"): HANDOFFS,
    ("POST", "/v1/handoffs/{conversation_id}/close"): HANDOFFS,
    ("POST", "/v1/privacy/erasures"): PRIVACY_ERASE,
    ("GET", "/v1/privacy/exports"): PRIVACY_EXPORT,
    # the staff pages (server-rendered, signed-in staff; not in the OpenAPI schema)
    ("GET", "/staff"): STAFF_SESSION,
    ("POST", "/staff/sign-out"): STAFF_SESSION,
    ("GET", "/staff/handoffs"): HANDOFFS,
    ("GET", "/staff/handoffs/{conversation_id}"): CONVERSATIONS_READ,
    ("POST", "/staff/handoffs/{conversation_id}/reply"): HANDOFFS,
    ("POST", "/staff/handoffs/{conversation_id}/close"): HANDOFFS,
    ("GET", "/staff/review"): REVIEW,
    ("GET", "/staff/review/{lead_id}"): REVIEW,
    ("POST", "/staff/review/{lead_id}/approve"): REVIEW,
    ("POST", "/staff/review/{lead_id}/tier"): REVIEW,
    ("POST", "/staff/review/{lead_id}/reassign"): REVIEW,
    ("GET", "/staff/inbox"): INBOX,
    ("POST", "/staff/inbox/{assignment_id}/first-touch"): INBOX,
}
"""``(HTTP method, full path template) -> permission`` of every protected route (the second table)."""

ROLES: Final[tuple[str, ...]] = tuple(ROLE_PERMISSIONS)
"""The valid role names, in the order of the table."""

API_KEY_ONLY_ROLES: Final[frozenset[str]] = frozenset({"integration"})
"""Roles only an API key can have (another system, not a person)."""

STAFF_ROLES: Final[tuple[str, ...]] = tuple(r for r in ROLES if r not in API_KEY_ONLY_ROLES)
"""Roles a person (a staff account) may have: every role but ``API_KEY_ONLY_ROLES``."""


class UnknownRoleError(LeadgateError, ValueError):
    """A role name that is not one of ``ROLES`` (or not one a staff member may have)."""


def check_role(role: str) -> str:
    """``role`` if it is a known role.

    Raises:
        UnknownRoleError: ``role`` is not one of ``ROLES`` (the message lists them).
    """
    if role not in ROLE_PERMISSIONS:
        raise UnknownRoleError(f"unknown role {role!r}: use one of {', '.join(ROLES)}")
    return role


def staff_roles() -> tuple[str, ...]:
    """The roles a staff member (a person with a sign-in) may have: ``STAFF_ROLES``."""
    return STAFF_ROLES


def check_staff_role(role: str) -> str:
    """``role`` if a staff member may have it.

    Raises:
        UnknownRoleError: not a known role, or an API-key-only role such as ``integration``.
    """
    check_role(role)
    if role in API_KEY_ONLY_ROLES:
        raise UnknownRoleError(
            f"role {role!r} is for API keys of other systems only: use one of {', '.join(staff_roles())}"
        )
    return role


def permissions(role: str) -> frozenset[Permission]:
    """The permissions of ``role`` (empty for an unknown role, so a stale row grants nothing)."""
    return ROLE_PERMISSIONS.get(role, frozenset())


def view(role: str | None) -> View:
    """Which objects ``role`` sees; ``own`` (the narrowest that still shows something) for an unknown role.

    None (the shared staff token, until staff accounts replace it) sees ``all``, as it always did.
    """
    if role is None:
        return "all"
    return ROLE_VIEWS.get(role, "own")


def route_permission(method: str, path: str | None) -> Permission | None:
    """The permission route ``method path`` needs, or None when the route is not in ``ROUTE_PERMISSIONS``.

    ``HEAD`` is looked up as ``GET``.
    """
    if path is None:
        return None
    method = method.upper()
    return ROUTE_PERMISSIONS.get(("GET" if method == "HEAD" else method, path))
