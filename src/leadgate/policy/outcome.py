"""What the policy decided for one lead: ``PolicyOutcome`` (pydantic) and ``Verdict`` (a plain tuple)."""

from __future__ import annotations

from typing import NamedTuple

from pydantic import BaseModel, ConfigDict, Field

from leadgate.contracts.decision import ActionName, Tier


class Verdict(NamedTuple):
    """The batch form of a ``PolicyOutcome``: a plain tuple, cheap to build (no validation).

    Attributes:
        tier: ``hot`` / ``warm`` / ``nurture`` / ``disqualified``.
        action: ``route_to_sales`` / ``nurture`` / ``human_review`` / ``discard``.
        reasons: the rules that fired, in plain words, in the order they were applied.
        review_required: True when a person must confirm the action.
        policy_ref: ``name@version`` of the policy.

    """

    tier: Tier
    action: ActionName
    reasons: tuple[str, ...]
    review_required: bool
    policy_ref: str


class PolicyOutcome(BaseModel):
    """The policy's decision for one lead (the policy part of ``Decision`` v1).

    Attributes:
        tier: ``hot`` / ``warm`` / ``nurture`` / ``disqualified``.
        action: ``route_to_sales`` / ``nurture`` / ``human_review`` / ``discard``.
        reasons: the rules that fired, in plain words, in the order they were applied
            (e.g. "probability 0.81 >= hot threshold 0.70", "confidence 0.42 below 0.60: human review").
        review_required: True when a person must confirm the action (always True for ``human_review``).
        policy_ref: ``name@version`` of the policy applied.

    """

    model_config = ConfigDict(frozen=True, extra="forbid")
    tier: Tier
    action: ActionName
    reasons: list[str] = Field(default_factory=list)
    review_required: bool = False
    policy_ref: str

    @classmethod
    def from_verdict(cls, verdict: Verdict) -> PolicyOutcome:
        """Build (and validate) an outcome from a ``Verdict``."""
        return cls(
            tier=verdict.tier,
            action=verdict.action,
            reasons=list(verdict.reasons),
            review_required=verdict.review_required,
            policy_ref=verdict.policy_ref,
        )

    def to_verdict(self) -> Verdict:
        """Return the same outcome as a ``Verdict`` tuple."""
        return Verdict(self.tier, self.action, tuple(self.reasons), self.review_required, self.policy_ref)
