"""Roles and the permissions each one has: the one table the API checks (``leadgate.api.deps``).

A stub until staff identities and object-level checks arrive (issue 8, items 3 and 4): it says which role
may call which kind of route, nothing about which objects.

=================  ===========  ============  ==========  ==============  ================
role               leads:write  leads:update  leads:read  decisions:read  handoffs:handle
=================  ===========  ============  ==========  ==============  ================
``admin``          yes          yes           yes         yes             yes
``revops``         yes          yes           yes         yes             no
``sales_manager``  no           no            yes         yes             yes
``sales_rep``      no           no            no          no              yes
``reviewer``       no           no            no          no              no
``analyst``        no           no            yes         yes             no
``integration``    yes          no            no          no              no
=================  ===========  ============  ==========  ==============  ================

``leads:write`` is ``POST /v1/leads`` and ``/v1/leads/batch``; ``leads:update`` lets those routes replace a
stored lead with different content by ``?update=true`` (without it, or an ``If-Match`` of the stored version,
409); ``leads:read`` is ``GET /v1/leads/{id}``;
``decisions:read`` is ``GET /v1/leads/{id}/decision``; ``handoffs:handle`` is every ``/v1/handoffs`` route.
``integration`` is meant for API keys of other systems (a CRM, a web form backend) that only submit leads.
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
    "privacy:erase",
    "privacy:export",
    "consent:write",
    "audit:read",
]

LEADS_WRITE: Final[Permission] = "leads:write"
LEADS_UPDATE: Final[Permission] = "leads:update"
LEADS_READ: Final[Permission] = "leads:read"
DECISIONS_READ: Final[Permission] = "decisions:read"
HANDOFFS: Final[Permission] = "handoffs:handle"
PRIVACY_ERASE: Final[Permission] = "privacy:erase"
PRIVACY_EXPORT: Final[Permission] = "privacy:export"
CONSENT_WRITE: Final[Permission] = "consent:write"
AUDIT_READ: Final[Permission] = "audit:read"

ROLE_PERMISSIONS: Final[dict[str, frozenset[Permission]]] = {
    "admin": frozenset(
        {
            LEADS_WRITE,
            LEADS_UPDATE,
            LEADS_READ,
            DECISIONS_READ,
            HANDOFFS,
            PRIVACY_ERASE,
            PRIVACY_EXPORT,
            CONSENT_WRITE,
            AUDIT_READ,
        }
    ),
    "revops": frozenset({LEADS_WRITE, LEADS_UPDATE, LEADS_READ, DECISIONS_READ, CONSENT_WRITE, AUDIT_READ}),
    "sales_manager": frozenset({LEADS_READ, DECISIONS_READ, HANDOFFS}),
    "sales_rep": frozenset({HANDOFFS}),
    "reviewer": frozenset(),
    "analyst": frozenset({LEADS_READ, DECISIONS_READ}),
    "integration": frozenset({LEADS_WRITE, CONSENT_WRITE}),
}
"""Each role's permissions (the table of the module docstring)."""

ROLES: Final[tuple[str, ...]] = tuple(ROLE_PERMISSIONS)
"""The valid role names, in the order of the table."""

STAFF_ROLES: Final[tuple[str, ...]] = tuple(r for r in ROLES if r != "integration")
"""Roles a person (a staff account) may have: every role but ``integration``, which is for API keys only."""


class UnknownRoleError(LeadgateError, ValueError):
    """A role name that is not one of ``ROLES``."""


def check_role(role: str) -> str:
    """``role`` if it is a known role.

    Raises:
        UnknownRoleError: ``role`` is not one of ``ROLES`` (the message lists them).
    """
    if role not in ROLE_PERMISSIONS:
        raise UnknownRoleError(f"unknown role {role!r}: use one of {', '.join(ROLES)}")
    return role


def permissions(role: str) -> frozenset[Permission]:
    """The permissions of ``role`` (empty for an unknown role, so a stale row grants nothing)."""
    return ROLE_PERMISSIONS.get(role, frozenset())
