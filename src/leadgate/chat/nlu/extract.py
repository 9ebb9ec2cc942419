"""Run every entity extractor on a message and keep a non-overlapping, ordered result."""

from __future__ import annotations

from datetime import datetime

from leadgate.chat.nlu.contact import extract_emails, extract_phones
from leadgate.chat.nlu.data import RoleLexicon
from leadgate.chat.nlu.entity import Entity
from leadgate.chat.nlu.money import extract_money
from leadgate.chat.nlu.names import extract_names
from leadgate.chat.nlu.role import RoleExtractor
from leadgate.chat.nlu.size import extract_company_size
from leadgate.chat.nlu.timeline import extract_timeline

PRIORITY: tuple[str, ...] = (
    "email",
    "phone",
    "money",
    "company_size",
    "timeline",
    "role",
    "authority",
    "person",
    "company",
)
"""When two entities overlap, the one whose type comes first here is kept."""

MDY_REGIONS = frozenset({"US", "CA", "PH", "FM", "MH", "PW"})
"""Regions that write numeric dates month first (``9/1/2026`` = September 1); others are read day first."""


class EntityExtractor:
    """Extract all entity types from a message (pure: no I/O, no global state after construction).

    Args:
        lexicon: the role lexicon from the training data.

    """

    def __init__(self, lexicon: RoleLexicon) -> None:
        self.roles = RoleExtractor(lexicon)

    def extract(
        self, text: str, now: datetime, region: str = "US", expecting: str | None = None
    ) -> list[Entity]:
        """Find entities.

        Args:
            text: the message.
            now: reference time for timelines.
            region: ISO 3166-1 alpha-2 region for phone numbers without a country code and for the
                order of numeric dates (month first in :data:`MDY_REGIONS`, else day first).
            expecting: the entity type the pending question asks for (``"company"``, ``"person"``,
                ``"role"``, ``"company_size"``, ``"timeline"``, ``"money"``...), or None. That type wins an
                overlap with any other (``"around 3k"`` answering "how many people?" is a size, not money),
                and the name, role and size extractors read a short answer as that type (see
                :func:`~leadgate.chat.nlu.names.extract_names`, :meth:`RoleExtractor.extract`,
                :func:`~leadgate.chat.nlu.size.extract_company_size`).

        Returns:
            Entities ordered by ``start``; no two overlap (see :data:`PRIORITY`, with ``expecting``
            first), except that an
            ``authority`` statement may contain a ``role`` title.

        Raises:
            ValueError: if ``region`` is unknown to phonenumbers.

        """
        emails = extract_emails(text)
        phones = extract_phones(text, region)
        money = extract_money(text)
        sizes = extract_company_size(text, expecting=expecting)
        date_order = "MDY" if region.upper() in MDY_REGIONS else "DMY"
        timelines = extract_timeline(text, now, date_order=date_order)
        role_like = self.roles.extract(text, expecting=expecting)
        roles = [e for e in role_like if e.entity == "role"]
        authority = [e for e in role_like if e.entity == "authority"]
        names = extract_names(text, roles=roles, emails=emails, expecting=expecting)
        order = (
            PRIORITY if expecting not in PRIORITY else (expecting, *(p for p in PRIORITY if p != expecting))
        )
        ranked = {name: i for i, name in enumerate(order)}
        candidates = emails + phones + money + sizes + timelines + roles + names
        candidates.sort(key=lambda e: (ranked[e.entity], e.start))
        kept: list[Entity] = []
        for e in candidates:
            if all(not e.overlaps(k) for k in kept):
                kept.append(e)
        kept.extend(a for a in authority if all(not a.overlaps(k) or k.entity == "role" for k in kept))
        kept.sort(key=lambda e: (e.start, ranked[e.entity]))
        return kept
