"""The pure half of human review: which decisions need a person, what an override changes, due-time words.

No clock, database or network here (DESIGN rule 1): the caller passes ``now`` and the stored facts.

Which leads are in the review queue (``ReviewCriteria``), for a lead's latest decision:

* ``review_required`` is True: the policy flagged it (``human_review`` by an override, the rule fallback,
  low confidence, or ``review.high_value``; ``leadgate.policy.engine``);
* its ``confidence`` is below the served policy's ``review.min_confidence`` (also decisions made under an
  earlier policy with a lower bar);
* high value: tier ``hot`` with ``probability >= Settings.review_high_value_probability`` (default 0.9:
  a lead that likely converts is worth a person's look before it is routed; the X Education data show
  leads at or above 0.9 are a small share of the hot tier, so the queue stays workable);

and no reviewer has acted on that decision yet (an ``override`` work event names it).

An override (``plan_override``) is one of:

* ``approve``: the decision stands. A ``human_review`` action becomes the tier's own action from the
  policy's ``actions`` mapping (the person confirmed what the policy held back); any other action is kept.
* ``tier``: a new tier, and so the new action ``policy.actions[tier]``.
* ``reassign``: another rep; tier and action are kept.

Every override needs a reason in words (``check_reason``): at least ``MIN_REASON_CHARS`` characters that
are not only spaces, at most ``MAX_REASON_CHARS``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final, Literal, get_args

from leadgate.contracts.decision import ActionName, Tier
from leadgate.errors import LeadgateError

OverrideKind = Literal["approve", "tier", "reassign"]
"""What a reviewer did with a decision."""

TIERS: Final[tuple[Tier, ...]] = get_args(Tier)
"""The tiers a reviewer may choose, best first."""

MIN_REASON_CHARS: Final[int] = 3
"""Shortest reason accepted ("ok" is not a reason; "dup", "VIP" are)."""
MAX_REASON_CHARS: Final[int] = 1000
"""Longest reason accepted (a paragraph; the work-event chain stores it in full)."""


class ReviewError(LeadgateError, ValueError):
    """A review action that cannot be applied (no reason, an unknown tier or rep, nothing would change).

    ``str()`` is the message shown to the reviewer next to the form.
    """


@dataclass(frozen=True)
class ReviewCriteria:
    """What puts a decided lead in the review queue (see the module docstring).

    Attributes:
        min_confidence: confidence below this needs review (the served policy's
            ``review.min_confidence``; 0 disables it).
        high_value_probability: a ``hot`` lead with at least this probability needs review; None
            disables it (``Settings.review_high_value_probability``).
    """

    min_confidence: float = 0.0
    high_value_probability: float | None = 0.9


def queue_reasons(
    *, review_required: bool, confidence: float, tier: str, probability: float, criteria: ReviewCriteria
) -> list[str]:
    """Why a decision is in the review queue, in words; empty when it is not.

    Args:
        review_required: the decision's flag.
        confidence: the score's confidence, in [0, 1].
        tier: the decision's tier.
        probability: the calibrated probability, in [0, 1].
        criteria: the queue's rules.

    Returns:
        Zero to three short sentences ("flagged by the policy", "confidence 0.20 below 0.60", "high value:
        hot, probability 0.93 >= 0.90").
    """
    out = []
    if review_required:
        out.append("flagged by the policy")
    if confidence < criteria.min_confidence:
        out.append(f"confidence {confidence:.2f} below {criteria.min_confidence:.2f}")
    hv = criteria.high_value_probability
    if hv is not None and tier == "hot" and probability >= hv:
        out.append(f"high value: hot, probability {probability:.2f} >= {hv:.2f}")
    return out


def check_reason(reason: str | None) -> str:
    """The reviewer's reason, trimmed.

    Raises:
        ReviewError: missing, blank, shorter than ``MIN_REASON_CHARS`` or longer than ``MAX_REASON_CHARS``
            characters, or holding a NUL or other control character (except tab and newline).
    """
    text = (reason or "").strip()
    if not text:
        raise ReviewError("Give a reason: every override is recorded with the reviewer and why.")
    if len(text) < MIN_REASON_CHARS:
        raise ReviewError(f"The reason is too short: write at least {MIN_REASON_CHARS} characters.")
    if len(text) > MAX_REASON_CHARS:
        raise ReviewError(f"The reason has {len(text)} characters; the limit is {MAX_REASON_CHARS}.")
    if any(ord(c) < 0x20 and c not in "\t\n\r" for c in text):
        raise ReviewError("The reason holds control characters: write plain text.")
    return text


@dataclass(frozen=True)
class OverridePlan:
    """What an override changes: ``before`` and ``after`` facts, as stored in the ``override`` work event.

    Attributes:
        kind: ``OverrideKind``.
        before: ``{"tier", "action", "rep_id"}`` as in force before the override.
        after: the same keys after it.
        reason: the checked reason.
    """

    kind: OverrideKind
    before: dict[str, Any]
    after: dict[str, Any]
    reason: str


def plan_override(
    kind: str,
    *,
    tier: str,
    action: str,
    rep_id: str | None,
    actions: dict[str, ActionName],
    reason: str | None,
    new_tier: str | None = None,
    new_rep: str | None = None,
    known_reps: frozenset[str] = frozenset(),
) -> OverridePlan:
    """The before/after of one override (pure; see the module docstring for each kind).

    Args:
        kind: ``approve``, ``tier`` or ``reassign``.
        tier: the tier in force (the decision's, or the latest override's).
        action: the action in force.
        rep_id: the rep currently assigned, or None.
        actions: the policy's ``actions`` mapping (tier -> action) of the decision's policy.
        reason: the reviewer's reason (checked by ``check_reason``).
        new_tier: for ``tier``: one of ``TIERS``, different from ``tier``.
        new_rep: for ``reassign``: a rep id in ``known_reps``, different from ``rep_id``.
        known_reps: the rep ids of the reps file that take leads.

    Returns:
        The ``OverridePlan``.

    Raises:
        ReviewError: unknown kind, no reason, an unknown or unchanged tier or rep.
    """
    text = check_reason(reason)
    before = {"tier": tier, "action": action, "rep_id": rep_id}
    if kind == "approve":
        after_action = actions.get(tier, action) if action == "human_review" else action
        return OverridePlan("approve", before, {**before, "action": after_action}, text)
    if kind == "tier":
        if new_tier not in TIERS:
            raise ReviewError(f"Choose a tier: one of {', '.join(TIERS)}.")
        if new_tier == tier:
            raise ReviewError(f"The tier is already {tier}: choose another one, or approve.")
        return OverridePlan("tier", before, {**before, "tier": new_tier, "action": actions[new_tier]}, text)
    if kind == "reassign":
        if not new_rep or new_rep not in known_reps:
            raise ReviewError("Choose a rep from the list.")
        if new_rep == rep_id:
            raise ReviewError(f"The lead is already assigned to {new_rep}: choose another rep.")
        return OverridePlan("reassign", before, {**before, "rep_id": new_rep}, text)
    raise ReviewError(f"unknown review action {kind!r}: use approve, tier or reassign")


def due_text(due: datetime | None, now: datetime) -> str:
    """The SLA deadline relative to ``now``: ``due in 4 min``, ``overdue by 2 h``, ``no SLA``.

    Minutes under an hour, hours (rounded down) under two days, then days; ``due now`` within the same
    minute. Both times must be timezone-aware.
    """
    if due is None:
        return "no SLA"
    seconds = (due - now).total_seconds()
    amount = _span(abs(seconds))
    if amount is None:
        return "due now"
    return f"due in {amount}" if seconds > 0 else f"overdue by {amount}"


def _span(seconds: float) -> str | None:
    minutes = int(seconds // 60)
    if minutes < 1:
        return None
    if minutes < 60:
        return f"{minutes} min"
    hours = minutes // 60
    if hours < 48:
        return f"{hours} h"
    return f"{hours // 24} d"
