"""The pure review rules: queue reasons, reason checks, what each override changes, deadline words."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from leadgate.review.rules import (
    ReviewCriteria,
    ReviewError,
    check_reason,
    due_text,
    plan_override,
    queue_reasons,
)

ACTIONS = {"hot": "route_to_sales", "warm": "route_to_sales", "nurture": "nurture", "disqualified": "discard"}
NOW = datetime(2026, 12, 2, 14, 0, tzinfo=UTC)


def test_queue_reasons_name_each_rule_that_holds() -> None:
    rules = ReviewCriteria(min_confidence=0.6, high_value_probability=0.9)
    assert (
        queue_reasons(review_required=False, confidence=0.8, tier="hot", probability=0.85, criteria=rules)
        == []
    )
    assert queue_reasons(
        review_required=True, confidence=0.2, tier="hot", probability=0.93, criteria=rules
    ) == [
        "flagged by the policy",
        "confidence 0.20 below 0.60",
        "high value: hot, probability 0.93 >= 0.90",
    ]
    # a warm lead is never high value, whatever its probability; None disables the rule
    assert (
        queue_reasons(review_required=False, confidence=0.9, tier="warm", probability=0.95, criteria=rules)
        == []
    )
    off = ReviewCriteria(high_value_probability=None)
    assert (
        queue_reasons(review_required=False, confidence=0.9, tier="hot", probability=1.0, criteria=off) == []
    )


@pytest.mark.parametrize("reason", [None, "", "   \n ", "ok", "x" * 1001, "fine\x00 really"])
def test_a_missing_or_unusable_reason_is_refused(reason: str | None) -> None:
    with pytest.raises(ReviewError):
        check_reason(reason)


def test_a_reason_is_trimmed() -> None:
    assert check_reason("  Existing customer, renewal talk already booked \n") == (
        "Existing customer, renewal talk already booked"
    )


def test_approving_a_held_back_decision_releases_the_tier_action() -> None:
    plan = plan_override(
        "approve",
        tier="hot",
        action="human_review",
        rep_id=None,
        actions=ACTIONS,
        reason="checked the company",
    )
    assert plan.before == {"tier": "hot", "action": "human_review", "rep_id": None}
    assert plan.after == {"tier": "hot", "action": "route_to_sales", "rep_id": None}
    kept = plan_override(
        "approve", tier="warm", action="nurture", rep_id="anna", actions=ACTIONS, reason="fine as is"
    )
    assert kept.after == kept.before


def test_a_new_tier_takes_the_policy_action_of_that_tier() -> None:
    plan = plan_override(
        "tier",
        tier="hot",
        action="human_review",
        rep_id="anna",
        actions=ACTIONS,
        reason="student",
        new_tier="nurture",
    )
    assert plan.after == {"tier": "nurture", "action": "nurture", "rep_id": "anna"}
    with pytest.raises(ReviewError, match="already hot"):
        plan_override(
            "tier", tier="hot", action="x", rep_id=None, actions=ACTIONS, reason="why not", new_tier="hot"
        )
    with pytest.raises(ReviewError, match="Choose a tier"):
        plan_override(
            "tier",
            tier="hot",
            action="x",
            rep_id=None,
            actions=ACTIONS,
            reason="why not",
            new_tier="lukewarm",
        )


def test_a_reassignment_needs_a_known_other_rep() -> None:
    reps = frozenset({"anna", "marcus"})
    plan = plan_override(
        "reassign",
        tier="hot",
        action="route_to_sales",
        rep_id="anna",
        actions=ACTIONS,
        reason="speaks Portuguese",
        new_rep="marcus",
        known_reps=reps,
    )
    assert plan.after["rep_id"] == "marcus" and plan.after["tier"] == "hot"
    for rep, message in (("anna", "already assigned"), ("zoe", "Choose a rep"), ("", "Choose a rep")):
        with pytest.raises(ReviewError, match=message):
            plan_override(
                "reassign",
                tier="hot",
                action="a",
                rep_id="anna",
                actions=ACTIONS,
                reason="because",
                new_rep=rep,
                known_reps=reps,
            )


def test_due_words() -> None:
    assert due_text(None, NOW) == "no SLA"
    assert due_text(NOW + timedelta(minutes=4, seconds=30), NOW) == "due in 4 min"
    assert due_text(NOW - timedelta(hours=2, minutes=10), NOW) == "overdue by 2 h"
    assert due_text(NOW + timedelta(seconds=20), NOW) == "due now"
    assert due_text(NOW + timedelta(days=3, hours=1), NOW) == "due in 3 d"
    assert due_text(NOW - timedelta(minutes=59), NOW) == "overdue by 59 min"
