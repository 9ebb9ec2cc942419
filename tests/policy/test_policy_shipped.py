"""The shipped policies: the X Education example and the package default, which must be the same file."""

from __future__ import annotations

from pathlib import Path

import yaml

from leadgate.contracts import Lead, Score
from leadgate.policy import (
    check_policy_file,
    decide,
    decide_many,
    default_policy_text,
    load_default_policy,
    load_policy,
)

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "xeducation" / "policy.yaml"
DEFAULT = ROOT / "src" / "leadgate" / "defaults" / "policy.yaml"
MAPPING = ROOT / "examples" / "xeducation" / "mapping.yaml"


def score(p: float, confidence: float = 0.9, scorer: str = "model") -> Score:
    return Score(
        probability=p,
        confidence=confidence,
        scorer=scorer,
        model_name="m",
        model_version="1",
        model_hash="h",
        feature_set="xeducation_leads@1",
    )


def test_example_and_default_are_identical() -> None:
    assert EXAMPLE.read_bytes() == DEFAULT.read_bytes()
    assert default_policy_text() == EXAMPLE.read_text(encoding="utf-8")
    assert load_default_policy() == load_policy(EXAMPLE)


def test_shipped_policy_has_no_issues() -> None:
    assert check_policy_file(EXAMPLE) == []
    assert check_policy_file(DEFAULT) == []


def test_shipped_thresholds_and_actions() -> None:
    policy = load_default_policy()
    assert policy.ref == "xeducation@2"
    assert (policy.tiers.hot, policy.tiers.warm, policy.tiers.nurture) == (0.70, 0.40, 0.10)
    assert policy.actions.model_dump() == {
        "hot": "route_to_sales",
        "warm": "route_to_sales",
        "nurture": "nurture",
        "disqualified": "discard",
    }
    assert policy.review.min_confidence == 0.60
    assert policy.review.on_fallback is True


def test_shipped_policy_reads_only_declared_pre_decision_attributes() -> None:
    mapping = yaml.safe_load(MAPPING.read_text(encoding="utf-8"))
    stages = {col["field"]: col["stage"] for col in mapping["columns"].values()}
    policy = load_default_policy()
    assert policy.attribute_names()
    for name in policy.attribute_names():
        assert stages.get(name) == "pre_decision", name
    # the batch path needs no lead fields for the shipped policy
    assert not policy.compiled().needs_lead_fields


def test_shipped_policy_decisions() -> None:
    policy = load_default_policy()

    def outcome(p: float, **attributes: object) -> tuple[str, str]:
        out = decide(Lead(lead_id="p-1", attributes=attributes), score(p), policy)
        return out.tier, out.action

    assert outcome(0.95, do_not_email=True, do_not_call=True) == ("disqualified", "discard")
    assert outcome(0.95, do_not_email=True, do_not_call=False) == ("hot", "route_to_sales")
    assert outcome(0.55, do_not_email=True) == ("warm", "route_to_sales")
    assert outcome(0.25, do_not_email=True) == ("nurture", "discard")
    assert outcome(0.25, do_not_email=False, occupation="Student") == ("nurture", "nurture")
    assert outcome(0.05) == ("disqualified", "discard")
    low = decide(Lead(lead_id="p-2"), score(0.95, confidence=0.3), policy)
    assert (low.action, low.review_required) == ("human_review", True)
    fallback = decide(Lead(lead_id="p-3"), score(0.95, scorer="rule_fallback"), policy)
    assert (fallback.action, fallback.review_required) == ("human_review", True)


def test_shipped_policy_batch_without_lead_fields() -> None:
    policy = load_default_policy()
    got = decide_many(
        [{"do_not_email": "true", "do_not_call": "true"}, {"do_not_email": "false"}],
        [0.9, 0.9],
        [1.0, 1.0],
        [0.0, 0.0],
        ["model", "model"],
        policy,
    )
    assert [(v.tier, v.action) for v in got] == [("disqualified", "discard"), ("hot", "route_to_sales")]
