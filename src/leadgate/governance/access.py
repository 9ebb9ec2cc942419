"""Object-level access: which leads, decisions, conversations and handoffs a caller sees, and masking.

The role table (``leadgate.governance.roles``) says which *routes* a role may call; its ``view`` column
says which *objects* it then sees. This module applies the view, without FastAPI or a database, so every
route (and the staff pages) decides the same way:

* ``Scope.sees(owner)``: may the caller see an object with this ``owner`` (a rep id or None)? A ``own``
  caller (``sales_rep``) sees only objects whose owner is its ``rep_id``; the route answers **404** for
  any other, the same answer as for an id that does not exist, so object ids cannot be probed (OWASP API
  Security Top 10 2023, API1 Broken Object Level Authorization; GitHub answers 404 for private
  repositories one may not see). ``Scope.owner_filter`` is the same rule for lists (the handoff queue).
* ``mask_lead``: what a ``masked`` caller (``analyst``) gets of a lead. Personal fields are
  ``MASKED_LEAD_FIELDS`` plus any attribute named in ``pii_attributes`` (the mapping's ``pii: true``
  columns, once mappings declare them). An email keeps only its domain (``***@example.com``: the
  company domain is what analysis of B2B leads uses, the mailbox is the person); every other personal
  field becomes null (a partial name or number adds re-identification risk and no analytic value).
  Pseudonymisation in the sense of GDPR article 4(5): the data stay personal data, so masked reads are
  still logged (``read_masked``). A decision holds no contact field (its features come from
  pre-decision attributes), so an analyst reads decisions as they are; once mappings declare ``pii:
  true`` columns, the features read from them are to be masked the same way.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any, Final

from leadgate.governance.roles import View, view

MASKED_LEAD_FIELDS: Final[tuple[str, ...]] = ("email", "first_name", "last_name", "phone")
"""Top-level ``lead/v1`` fields a ``masked`` view never gets in clear."""

MASK: Final[str] = "***"
"""What replaces the mailbox of a masked email."""


@dataclass(frozen=True)
class Scope:
    """What one caller sees.

    Attributes:
        view: ``all``, ``own`` or ``masked`` (``leadgate.governance.roles.ROLE_VIEWS``).
        rep_id: the caller's rep id (``own`` sees objects owned by it), or None.
    """

    view: View
    rep_id: str | None = None

    def sees(self, owner: str | None) -> bool:
        """True when the caller may see an object whose ``owner`` is this rep id (None: unassigned)."""
        if self.view != "own":
            return True
        return self.rep_id is not None and owner == self.rep_id

    @property
    def restricted(self) -> bool:
        """True when lists must be filtered by owner (``owner_filter``)."""
        return self.view == "own"

    @property
    def owner_filter(self) -> str | None:
        """The owner every listed object must have when ``restricted`` (None then: nothing is listed)."""
        return self.rep_id if self.view == "own" else None

    @property
    def masked(self) -> bool:
        """True when personal fields are masked (``mask_lead``)."""
        return self.view == "masked"


ALL: Final[Scope] = Scope("all")
"""The scope of a caller that sees every object in clear (CLI, workers, ``admin``)."""


def scope_of(role: str | None, rep_id: str | None = None) -> Scope:
    """The scope of a caller with ``role`` (None: the shared staff token, which sees all) and ``rep_id``."""
    return Scope(view(role), rep_id)


def mask_email(email: str | None) -> str | None:
    """``anna.k@example.com`` -> ``***@example.com``; None stays None; text without ``@`` -> ``***``."""
    if email is None:
        return None
    _, at, domain = email.rpartition("@")
    return f"{MASK}@{domain}" if at and domain else MASK


def mask_lead(data: Mapping[str, Any], pii_attributes: Collection[str] = ()) -> dict[str, Any]:
    """A ``lead/v1`` dict with its personal fields masked (see the module docstring).

    Args:
        data: the lead as a dict (``store.get_lead`` or ``Lead.model_dump``); not changed.
        pii_attributes: attribute names declared personal; their values in ``attributes`` and
            ``post_decision`` become None.

    Returns:
        A new dict: ``email`` as ``***@<domain>``, the other ``MASKED_LEAD_FIELDS`` and the personal
        attributes None.
    """
    out = dict(data)
    for name in MASKED_LEAD_FIELDS:
        if out.get(name) is not None:
            out[name] = mask_email(out[name]) if name == "email" else None
    for section in ("attributes", "post_decision"):
        values = out.get(section)
        if isinstance(values, Mapping) and pii_attributes:
            out[section] = {k: (None if k in pii_attributes else v) for k, v in values.items()}
    return out
