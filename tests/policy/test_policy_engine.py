"""The engine: precedence, review rules, reasons, purity, and decide_many == decide."""

from __future__ import annotations

import copy
import pickle
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from leadgate.contracts import Lead, Score
from leadgate.policy import Policy, PolicyOutcome, Verdict, decide, decide_many, load_policy_text

POLICY = """\
policy_version: 1
name: engine-test
version: 3
tiers: {hot: 0.7, warm: 0.4, nurture: 0.1}
disqualification:
  - id: do_not_contact
    reason: asked not to be contacted by email or phone
    when:
      all:
        - {field: attributes.do_not_email, op: eq, value: true}
        - {field: attributes.do_not_call, op: eq, value: true}
  - id: test_address
    reason: test email address
    when: {field: email, op: matches, value: '@example\\.(com|org)$'}
actions: {hot: route_to_sales, warm: nurture, nurture: nurture, disqualified: discard}
overrides:
  - id: no_email_nurture
    reason: asked not to be emailed
    tiers: [warm, nurture]
    when: {field: attributes.do_not_email, op: eq, value: true}
    action: discard
  - id: students_to_review
    reason: students are reviewed by a counsellor
    tiers: [nurture]
    when: {field: attributes.occupation, op: eq, value: Student}
    action: human_review
review:
  min_confidence: 0.6
  on_fallback: true
  high_value:
    tiers: [hot, warm]
    when: {field: score.fit_score, op: gte, value: 80}
    reason: high-fit account, a senior rep confirms
"""


@pytest.fixture(scope="module")
def policy() -> Policy:
    return load_policy_text(POLICY)


def make_lead(email: str | None = None, **attributes: Any) -> Lead:
    return Lead(lead_id="L-1", email=email, attributes=attributes)


def make_score(p: float, confidence: float = 0.9, fit: float = 10.0, scorer: str = "model") -> Score:
    return Score(
        probability=p,
        confidence=confidence,
        fit_score=fit,
        scorer=scorer,
        model_name="m",
        model_version="1",
        model_hash="h",
        feature_set="fs@1",
    )


def test_outcome_carries_the_policy_ref(policy: Policy) -> None:
    out = decide(make_lead(), make_score(0.8), policy)
    assert isinstance(out, PolicyOutcome)
    assert out.policy_ref == "engine-test@3"


@pytest.mark.parametrize(
    ("p", "tier", "action", "reason"),
    [
        (1.0, "hot", "route_to_sales", "probability 1.00 >= hot threshold 0.70"),
        (0.81, "hot", "route_to_sales", "probability 0.81 >= hot threshold 0.70"),
        (0.7, "hot", "route_to_sales", "probability 0.70 >= hot threshold 0.70"),
        (0.6999, "warm", "nurture", "probability 0.70 >= warm threshold 0.40"),
        (0.4, "warm", "nurture", "probability 0.40 >= warm threshold 0.40"),
        (0.1, "nurture", "nurture", "probability 0.10 >= nurture threshold 0.10"),
        (0.0999, "disqualified", "discard", "probability 0.0999 below the nurture threshold 0.10"),
        (0.0, "disqualified", "discard", "probability 0.00 below the nurture threshold 0.10"),
    ],
)
def test_tier_by_probability_thresholds_are_inclusive(
    policy: Policy, p: float, tier: str, action: str, reason: str
) -> None:
    out = decide(make_lead(), make_score(p), policy)
    assert (out.tier, out.action, out.reasons, out.review_required) == (tier, action, [reason], False)


def test_disqualification_comes_first_and_is_final(policy: Policy) -> None:
    lead = make_lead(do_not_email="true", do_not_call=True)
    out = decide(lead, make_score(0.95, confidence=0.1, fit=99, scorer="rule_fallback"), policy)
    assert out.tier == "disqualified"
    assert out.action == "discard"
    assert out.review_required is False
    assert out.reasons == ["disqualified by rule do_not_contact: asked not to be contacted by email or phone"]


def test_every_disqualification_rule_that_fires_is_listed_in_order(policy: Policy) -> None:
    lead = make_lead(email="qa@example.org", do_not_email=True, do_not_call="yes")
    out = decide(lead, make_score(0.9), policy)
    assert out.reasons == [
        "disqualified by rule do_not_contact: asked not to be contacted by email or phone",
        "disqualified by rule test_address: test email address",
    ]


def test_one_opt_out_is_not_a_disqualification(policy: Policy) -> None:
    out = decide(make_lead(do_not_email=False, do_not_call=True), make_score(0.9), policy)
    assert (out.tier, out.action) == ("hot", "route_to_sales")


def test_override_replaces_the_action_and_keeps_the_tier(policy: Policy) -> None:
    out = decide(make_lead(do_not_email="true"), make_score(0.5), policy)
    assert (out.tier, out.action, out.review_required) == ("warm", "discard", False)
    assert out.reasons[-1] == "rule no_email_nurture: asked not to be emailed (discard instead of nurture)"


def test_override_applies_only_to_its_tiers(policy: Policy) -> None:
    out = decide(make_lead(do_not_email="true"), make_score(0.9), policy)
    assert (out.tier, out.action) == ("hot", "route_to_sales")


def test_first_matching_override_wins(policy: Policy) -> None:
    out = decide(make_lead(do_not_email=True, occupation="Student"), make_score(0.2), policy)
    assert out.action == "discard"
    assert len(out.reasons) == 2
    out = decide(make_lead(occupation="Student"), make_score(0.2), policy)
    assert (out.action, out.review_required) == ("human_review", True)


def test_low_confidence_goes_to_human_review_keeping_the_tier(policy: Policy) -> None:
    out = decide(make_lead(), make_score(0.81, confidence=0.42), policy)
    assert (out.tier, out.action, out.review_required) == ("hot", "human_review", True)
    assert out.reasons == [
        "probability 0.81 >= hot threshold 0.70",
        "confidence 0.42 below 0.60: human review",
    ]


def test_confidence_exactly_at_the_minimum_is_enough(policy: Policy) -> None:
    assert decide(make_lead(), make_score(0.81, confidence=0.6), policy).action == "route_to_sales"


def test_confidence_just_below_shows_enough_digits(policy: Policy) -> None:
    out = decide(make_lead(), make_score(0.81, confidence=0.5999), policy)
    assert out.reasons[-1] == "confidence 0.5999 below 0.60: human review"


def test_fallback_scores_go_to_review(policy: Policy) -> None:
    out = decide(make_lead(), make_score(0.05, scorer="rule_fallback"), policy)
    assert (out.tier, out.action, out.review_required) == ("disqualified", "human_review", True)
    assert out.reasons[-1] == "scored by the rule fallback, not the model: human review"


def test_fallback_and_low_confidence_are_both_named(policy: Policy) -> None:
    out = decide(make_lead(), make_score(0.5, confidence=0.3, scorer="rule_fallback"), policy)
    assert out.action == "human_review"
    assert out.reasons[1:] == [
        "scored by the rule fallback, not the model: human review",
        "confidence 0.30 below 0.60: human review",
    ]


def test_review_overrides_an_override(policy: Policy) -> None:
    out = decide(make_lead(do_not_email=True), make_score(0.5, confidence=0.1), policy)
    assert out.action == "human_review"
    assert out.reasons[1].startswith("rule no_email_nurture")


def test_high_value_keeps_the_action_and_sets_the_flag(policy: Policy) -> None:
    out = decide(make_lead(), make_score(0.9, fit=85), policy)
    assert (out.tier, out.action, out.review_required) == ("hot", "route_to_sales", True)
    assert out.reasons[-1] == "review required: high-fit account, a senior rep confirms"


def test_high_value_only_in_its_tiers_and_not_on_top_of_human_review(policy: Policy) -> None:
    assert decide(make_lead(), make_score(0.2, fit=95), policy).review_required is False
    assert decide(make_lead(), make_score(0.9, fit=79.9), policy).review_required is False
    out = decide(make_lead(), make_score(0.9, fit=95, confidence=0.2), policy)
    assert out.action == "human_review"
    assert not any(r.startswith("review required") for r in out.reasons)


def test_review_rules_can_be_switched_off() -> None:
    policy = load_policy_text(
        POLICY.replace("min_confidence: 0.6", "min_confidence: 0.0").replace(
            "on_fallback: true", "on_fallback: false"
        )
    )
    out = decide(make_lead(), make_score(0.9, confidence=0.0, scorer="rule_fallback"), policy)
    assert (out.action, out.review_required) == ("route_to_sales", False)


def test_human_review_as_a_tier_action_sets_review_required() -> None:
    policy = load_policy_text(
        POLICY.replace("warm: nurture, nurture: nurture", "warm: human_review, nurture: nurture")
    )
    out = decide(make_lead(), make_score(0.5), policy)
    assert (out.action, out.review_required) == ("human_review", True)
    policy = load_policy_text(POLICY.replace("disqualified: discard", "disqualified: human_review"))
    out = decide(make_lead(do_not_email=1, do_not_call=1), make_score(0.9), policy)
    assert (out.tier, out.action, out.review_required) == ("disqualified", "human_review", True)


def test_decide_is_pure(policy: Policy) -> None:
    lead = make_lead(email="a@b.io", do_not_email="true", occupation="Student", visits=3)
    score = make_score(0.2, confidence=0.7, fit=50)
    lead_before, score_before = lead.model_dump(), score.model_dump()
    attrs_before = copy.deepcopy(lead.attributes)
    policy_before = policy.model_dump()
    first = decide(lead, score, policy)
    second = decide(lead, score, policy)
    assert first == second
    assert first.reasons is not second.reasons
    assert lead.model_dump() == lead_before
    assert lead.attributes == attrs_before
    assert score.model_dump() == score_before
    assert policy.model_dump() == policy_before
    # the same policy loaded again, copied or pickled decides the same
    for other in (load_policy_text(POLICY), copy.deepcopy(policy), pickle.loads(pickle.dumps(policy))):
        assert other == policy
        assert decide(lead, score, other) == first


def test_outcome_list_cannot_leak_into_the_next_decision(policy: Policy) -> None:
    first = decide(make_lead(), make_score(0.9), policy)
    first.reasons.append("tampered")
    assert decide(make_lead(), make_score(0.9), policy).reasons == ["probability 0.90 >= hot threshold 0.70"]


def test_copy_with_update_recompiles(policy: Policy) -> None:
    stricter = policy.model_copy(update={"tiers": policy.tiers.model_copy(update={"hot": 0.95})})
    assert decide(make_lead(), make_score(0.9), stricter).tier == "warm"
    assert decide(make_lead(), make_score(0.9), policy).tier == "hot"


def test_outcome_round_trips_through_verdict(policy: Policy) -> None:
    out = decide(make_lead(occupation="Student"), make_score(0.2), policy)
    assert PolicyOutcome.from_verdict(out.to_verdict()) == out
    assert PolicyOutcome.model_validate(out.model_dump()) == out


# ------------------------------------------------------------------------------------------------ batch

_ATTR_VALUES = st.one_of(
    st.none(),
    st.booleans(),
    st.sampled_from(["true", "false", "yes", "no", "1", "0", "", "Student", "Working Professional", "maybe"]),
    st.integers(-2, 3),
)
_LEADS = st.fixed_dictionaries(
    {
        "email": st.sampled_from([None, "a@example.com", "b@example.org", "c@corp.io", "d@example.net"]),
        "attrs": st.fixed_dictionaries(
            {},
            optional={
                "do_not_email": _ATTR_VALUES,
                "do_not_call": _ATTR_VALUES,
                "occupation": _ATTR_VALUES,
            },
        ),
        "p": st.floats(0.0, 1.0) | st.sampled_from([0.0, 0.0999, 0.1, 0.4, 0.6999, 0.7, 1.0]),
        "c": st.floats(0.0, 1.0) | st.sampled_from([0.0, 0.5999, 0.6, 1.0]),
        "fit": st.floats(0.0, 100.0) | st.sampled_from([0.0, 79.99, 80.0, 100.0]),
        "scorer": st.sampled_from(["model", "rule_fallback"]),
    }
)


@settings(max_examples=60, deadline=None)
@given(st.lists(_LEADS, min_size=1, max_size=12))
def test_decide_many_matches_decide(rows: list[dict[str, Any]]) -> None:
    policy = load_policy_text(POLICY)
    leads = [Lead(lead_id=f"L-{i}", email=r["email"], attributes=r["attrs"]) for i, r in enumerate(rows)]
    scores = [make_score(r["p"], r["c"], r["fit"], r["scorer"]) for r in rows]
    expected = [decide(lead, score, policy).to_verdict() for lead, score in zip(leads, scores, strict=True)]
    got = decide_many(
        [lead.attributes for lead in leads],
        [r["p"] for r in rows],
        [r["c"] for r in rows],
        [r["fit"] for r in rows],
        [r["scorer"] for r in rows],
        policy,
        lead_fields=[{"email": lead.email} for lead in leads],
    )
    assert got == expected
    assert all(isinstance(v, Verdict) for v in got)


def test_decide_many_covers_every_outcome_kind(policy: Policy) -> None:
    rng = np.random.default_rng(7)
    n = 400
    occupations = np.array(["Student", "Unemployed", None], dtype=object)
    flags = np.array([True, False, "true", "no", None], dtype=object)
    attrs = [
        {
            "do_not_email": rng.choice(flags),
            "do_not_call": rng.choice(flags),
            "occupation": rng.choice(occupations),
        }
        for _ in range(n)
    ]
    emails = rng.choice(np.array([None, "x@example.com", "y@corp.io"], dtype=object), n)
    ps, cs, fits = rng.random(n), rng.random(n), rng.random(n) * 100
    kinds = rng.choice(["model", "rule_fallback"], n, p=[0.8, 0.2])
    got = decide_many(attrs, ps, cs, fits, kinds, policy, lead_fields=[{"email": e} for e in emails])
    expected = [
        decide(
            Lead(lead_id=f"L-{i}", email=emails[i], attributes=attrs[i]),
            make_score(float(ps[i]), float(cs[i]), float(fits[i]), str(kinds[i])),
            policy,
        ).to_verdict()
        for i in range(n)
    ]
    assert got == expected
    assert {v.tier for v in got} == {"hot", "warm", "nurture", "disqualified"}
    assert {v.action for v in got} == {"route_to_sales", "nurture", "human_review", "discard"}


def test_decide_many_without_lead_fields_when_the_policy_reads_none() -> None:
    policy = load_policy_text(
        POLICY.replace("field: email, op: matches", "field: attributes.email, op: matches")
    )
    got = decide_many(
        [{}, {"email": "a@example.com"}], [0.9, 0.9], [1.0, 1.0], [0.0, 0.0], ["model"] * 2, policy
    )
    assert [v.tier for v in got] == ["hot", "disqualified"]


def test_decide_many_refuses_bad_input(policy: Policy) -> None:
    fields = [{"email": None}]
    with pytest.raises(ValueError, match="reads top-level lead fields"):
        decide_many([{}], [0.5], [1.0], [0.0], ["model"], policy)
    with pytest.raises(ValueError, match="probabilities has 2 values, expected 1"):
        decide_many([{}], [0.5, 0.5], [1.0], [0.0], ["model"], policy, lead_fields=fields)
    with pytest.raises(ValueError, match=r"probabilities\[0\] = nan"):
        decide_many([{}], [float("nan")], [1.0], [0.0], ["model"], policy, lead_fields=fields)
    with pytest.raises(ValueError, match=r"confidences\[0\] = 1.5"):
        decide_many([{}], [0.5], [1.5], [0.0], ["model"], policy, lead_fields=fields)
    with pytest.raises(ValueError, match=r"fit_scores\[0\] = 101"):
        decide_many([{}], [0.5], [1.0], [101], ["model"], policy, lead_fields=fields)
    with pytest.raises(ValueError, match="unknown scorer"):
        decide_many([{}], [0.5], [1.0], [0.0], ["rules"], policy, lead_fields=fields)
    with pytest.raises(ValueError, match="lead_fields has 0 values"):
        decide_many([{}], [0.5], [1.0], [0.0], ["model"], policy, lead_fields=[])


def test_decide_many_on_an_empty_batch(policy: Policy) -> None:
    assert decide_many([], [], [], [], [], policy, lead_fields=[]) == []
