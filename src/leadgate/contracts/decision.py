"""Scoring and decision contracts: ``Factor``, ``Score`` (v1) and ``Decision`` (v1)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from leadgate.contracts.lead import Scalar

_FROZEN = ConfigDict(frozen=True, extra="forbid", protected_namespaces=())

Probability = Annotated[float, Field(ge=0.0, le=1.0)]
Tier = Literal["hot", "warm", "nurture", "disqualified"]
ActionName = Literal["route_to_sales", "nurture", "human_review", "discard"]
ScorerKind = Literal["model", "rule_fallback"]


class Factor(BaseModel):
    """One driver of a score.

    Attributes:
        feature: feature name (``total_time_on_site``).
        value: the lead's value of it (as seen by the model, before encoding).
        contribution: signed effect in log-odds of the raw model (TreeSHAP), or rule points for rule scorers.
        text: the plain-words sentence shown to people ("Spent 25 min on the website (raises the score)").
    """

    model_config = _FROZEN
    feature: str
    value: Scalar
    contribution: float
    text: str


class Explanation(BaseModel):
    """Top factors of one score: up to 3 that raised it and up to 3 that lowered it, strongest first.

    ``method`` is ``treeshap`` (LightGBM ``pred_contrib``), ``linear`` (the exact per-feature log-odds
    contributions of the logistic model), ``blend`` (the blend's weighted average of both) or ``rules``
    (rule-based points).
    """

    model_config = _FROZEN
    method: Literal["treeshap", "linear", "blend", "rules"]
    base_value: float = 0.0
    positive: list[Factor] = Field(default_factory=list, max_length=3)
    negative: list[Factor] = Field(default_factory=list, max_length=3)


class Score(BaseModel):
    """Contract ``score/v1``: the output of a scorer for one lead.

    Attributes:
        probability: calibrated probability of conversion, in [0, 1].
        confidence: how far the scorer trusts this probability, in [0, 1] (1 = fully trusted);
            the policy sends low-confidence scores to human review.
        fit_score: rule-based ICP fit, 0-100 points.
        scorer: ``model`` or ``rule_fallback`` (no registered model, or required features missing).
        fallback_reason: why the fallback was used, else None.
        model_name, model_version, model_hash: registry identity of the model (hash = sha256 of the artifact).
        feature_set: ``name@version`` of the feature set used.
        explanation: the top factors, or None when not (yet) computed.
    """

    model_config = _FROZEN
    schema_version: Literal["score/v1"] = "score/v1"
    probability: Probability
    confidence: Probability = 1.0
    fit_score: Annotated[float, Field(ge=0.0, le=100.0)] = 0.0
    scorer: ScorerKind = "model"
    fallback_reason: str | None = None
    model_name: str
    model_version: str
    model_hash: str
    feature_set: str
    explanation: Explanation | None = None


class Decision(BaseModel):
    """Contract ``decision/v1``: what leadgate decided for one lead, with everything needed to reproduce it.

    Attributes:
        decision_id: unique id of this decision.
        lead_id: the lead decided on.
        decided_at: time of the decision (UTC).
        input_hash: sha256 of the canonical JSON of the lead's pre-decision input.
        features: feature values as the model saw them (name -> value).
        score: the ``Score`` (probability, scorer and model identity, explanation).
        policy_version: ``name@version`` of the policy applied.
        tier, action: the policy's outcome.
        reasons: policy rules that fired, in plain words (e.g. disqualification reasons).
        review_required: True when a person must confirm the action.
        actor: who decided (``leadgate`` for automatic decisions).
    """

    model_config = _FROZEN
    schema_version: Literal["decision/v1"] = "decision/v1"
    decision_id: str
    lead_id: str
    decided_at: datetime
    input_hash: str
    features: dict[str, Scalar]
    score: Score
    policy_version: str
    tier: Tier
    action: ActionName
    reasons: list[str] = Field(default_factory=list)
    review_required: bool = False
    actor: str = "leadgate"
