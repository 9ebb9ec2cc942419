"""The policy file, schema ``policy_version: 1``, as frozen pydantic models.

A policy is data: a change to it is a new ``version``, and every decision records ``name@version``
(``Policy.ref``). The file format, the precedence of its sections and the review rules are described in
``docs/policy.md``; ``leadgate.policy.loader`` reads the YAML and reports errors with line numbers.
"""

from __future__ import annotations

import hashlib
from typing import Annotated, Any

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_core import InitErrorDetails, PydanticCustomError

from leadgate.contracts.decision import ActionName, Probability, Tier
from leadgate.policy.conditions import Condition, fields_read
from leadgate.policy.engine import CompiledPolicy
from leadgate.policy.routing_model import RoutingSection
from leadgate.policy.sla_model import SlaSection
from leadgate.yamlcheck import check_ref_name, check_ref_version

POLICY_SCHEMA_VERSION = 1
"""The only ``policy_version`` this code reads."""

_MODEL = ConfigDict(extra="forbid", frozen=True, strict=True)

RuleId = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]*$", max_length=64)]
"""A rule id: snake_case, at most 64 characters, unique within the policy."""

Reason = Annotated[str, Field(min_length=1, max_length=300)]
"""A plain-words reason shown to people and stored on the decision."""


def _error(loc: tuple[str | int, ...], message: str, value: Any) -> InitErrorDetails:
    return InitErrorDetails(
        type=PydanticCustomError("policy", "{message}", {"message": message}),
        loc=loc,
        input=value,
    )


class Tiers(BaseModel):
    """Probability thresholds: a lead is in the highest tier whose threshold its probability reaches.

    ``probability >= hot`` is hot, else ``>= warm`` is warm, else ``>= nurture`` is nurture, else the lead
    is disqualified. Thresholds are calibrated probabilities in [0, 1], strictly ordered
    ``hot > warm > nurture``; where a policy's numbers come from is written next to them in its file.

    Raises:
        pydantic.ValidationError: (on validation) for a threshold outside [0, 1] or out of order; the
            error is located on the threshold that breaks the order (``tiers.warm`` or ``tiers.nurture``).

    """

    model_config = _MODEL
    hot: Probability
    warm: Probability
    nurture: Probability

    @model_validator(mode="after")
    def _ordered(self) -> Tiers:
        errors = []
        if not self.warm < self.hot:
            errors.append(
                _error(
                    ("warm",),
                    f"warm threshold {self.warm} must be below the hot threshold {self.hot}",
                    self.warm,
                )
            )
        if not self.nurture < self.warm:
            errors.append(
                _error(
                    ("nurture",),
                    f"nurture threshold {self.nurture} must be below the warm threshold {self.warm}",
                    self.nurture,
                )
            )
        if errors:
            raise ValidationError.from_exception_data("Tiers", errors)
        return self


class Actions(BaseModel):
    """The action for each tier (every tier must be given one)."""

    model_config = _MODEL
    hot: ActionName
    warm: ActionName
    nurture: ActionName
    disqualified: ActionName


class DisqualificationRule(BaseModel):
    """A rule that disqualifies a lead whatever its score.

    Attributes:
        id: unique snake_case id, recorded in the reasons.
        reason: why, in plain words ("asked not to be contacted by email or phone").
        when: the condition (see ``leadgate.policy.conditions``).

    """

    model_config = _MODEL
    id: RuleId
    reason: Reason
    when: Condition


class ActionOverride(BaseModel):
    """Replace the tier's action for leads that match a condition (the tier itself is kept).

    Attributes:
        id: unique snake_case id, recorded in the reasons.
        reason: why, in plain words ("asked not to be emailed: no email nurture").
        tiers: the score tiers it applies to.
        when: the condition.
        action: the action used instead of ``actions[tier]``.

    """

    model_config = _MODEL
    id: RuleId
    reason: Reason
    tiers: Annotated[list[Tier], Field(min_length=1)]
    when: Condition
    action: ActionName


def _hot_only() -> list[Tier]:
    return ["hot"]


class HighValue(BaseModel):
    """Flag leads for a person to confirm without changing their action.

    Attributes:
        tiers: the tiers it applies to (default ``[hot]``).
        when: the condition, usually on ``score.fit_score`` (e.g. ``{field: score.fit_score, op: gte,
            value: 80}``).
        reason: why, in plain words ("high-value account: a senior rep confirms the hand-off").

    """

    model_config = _MODEL
    tiers: Annotated[list[Tier], Field(min_length=1)] = Field(default_factory=_hot_only)
    when: Condition
    reason: Reason


class ReviewRules(BaseModel):
    """When a person must look at a decision.

    Attributes:
        min_confidence: a score whose ``confidence`` is below this goes to ``human_review`` (0 disables).
        on_fallback: when True, scores made by the rule fallback (``scorer == "rule_fallback"``) go to
            ``human_review``.
        high_value: optional; matching leads keep their action but get ``review_required = True``.

    """

    model_config = _MODEL
    min_confidence: Probability = 0.0
    on_fallback: bool = True
    high_value: HighValue | None = None


class Policy(BaseModel):
    """A qualification policy, schema ``policy_version: 1``.

    Attributes:
        policy_version: schema version of the file format (1).
        name: policy name (``xeducation``); letters, digits, ``.``, ``_``, ``-``.
        version: the policy's own version, a string or a whole number; bump it on any change.
        description: optional free text.
        tiers: probability thresholds (``Tiers``).
        disqualification: rules that disqualify a lead whatever its score, in order.
        actions: the action per tier.
        overrides: rules that replace a tier's action for matching leads; the first match wins.
        review: the human review rules.
        routing: who works a routed lead (``leadgate.policy.routing_model.RoutingSection``), or None
            when the policy routes nobody (decisions are stored without an assignment).
        sla: first-touch SLAs per tier and what happens when one is missed (``SlaSection``), or None for
            no SLAs.

    The engine is compiled into closures when the policy is validated; ``decide`` reuses it.

    Raises:
        pydantic.ValidationError: (on validation) for any broken rule, including duplicate rule ids
            (located on the second ``id``).

    """

    model_config = _MODEL
    policy_version: int
    name: Annotated[str, Field(min_length=1, max_length=64)]
    version: Any
    description: str | None = None
    tiers: Tiers
    disqualification: list[DisqualificationRule] = Field(default_factory=list)
    actions: Actions
    overrides: list[ActionOverride] = Field(default_factory=list)
    review: ReviewRules = Field(default_factory=ReviewRules)
    routing: RoutingSection | None = None
    sla: SlaSection | None = None
    _engine: CompiledPolicy | None = PrivateAttr(default=None)

    @field_validator("policy_version")
    @classmethod
    def _schema(cls, value: int) -> int:
        if value != POLICY_SCHEMA_VERSION:
            raise PydanticCustomError(
                "policy",
                f"unsupported policy_version {value}; "
                f"this leadgate reads policy_version {POLICY_SCHEMA_VERSION}",
            )
        return value

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        return check_ref_name(value, "policy")

    @field_validator("version")
    @classmethod
    def _version(cls, value: Any) -> str | int:
        return check_ref_version(value, "policy")

    @model_validator(mode="after")
    def _unique_ids_and_compile(self) -> Policy:
        seen: set[str] = set()
        errors = []
        rules: list[tuple[str, int, str]] = [
            ("disqualification", i, r.id) for i, r in enumerate(self.disqualification)
        ]
        rules += [("overrides", i, r.id) for i, r in enumerate(self.overrides)]
        for section, index, rule_id in rules:
            if rule_id in seen:
                errors.append(_error((section, index, "id"), f"duplicate rule id {rule_id!r}", rule_id))
            seen.add(rule_id)
        if errors:
            raise ValidationError.from_exception_data("Policy", errors)
        self._engine = CompiledPolicy(self)
        return self

    def __eq__(self, other: object) -> bool:
        """Equal when every field is equal (the compiled engine, a cache, is not compared)."""
        if not isinstance(other, Policy):
            return NotImplemented
        return type(self) is type(other) and self.__dict__ == other.__dict__

    @property
    def ref(self) -> str:
        """``name@version``, the identifier stored on every decision."""
        return f"{self.name}@{self.version}"

    def compiled(self) -> CompiledPolicy:
        """Return the compiled engine (built at validation; rebuilt after a copy or unpickling)."""
        # Read the private slot directly: pydantic's private-attribute __getattr__ costs ~1.5 µs per call.
        private = self.__pydantic_private__
        engine = private.get("_engine") if private is not None else None
        if engine is None or engine.owner_id != id(self):
            engine = CompiledPolicy(self)
            self._engine = engine
        return engine

    def content_hash(self) -> str:
        """sha256 (hex) of the canonical JSON of this policy; equal policies have equal hashes."""
        return hashlib.sha256(self.model_dump_json(by_alias=True).encode()).hexdigest()

    def fields_read(self) -> set[str]:
        """Every field path the decision rules read (``attributes.do_not_call``, ``score.fit_score``).

        The ``routing:`` section's conditions are listed by ``routing_fields_read``.
        """
        conditions = [r.when for r in self.disqualification] + [o.when for o in self.overrides]
        if self.review.high_value is not None:
            conditions.append(self.review.high_value.when)
        out: set[str] = set()
        for cond in conditions:
            out |= fields_read(cond)
        return out

    def routing_fields_read(self) -> set[str]:
        """Every field path the ``routing:`` section's conditions read (the decision engine does not read them)."""
        out: set[str] = set()
        for cond in self.routing.conditions() if self.routing is not None else []:
            out |= fields_read(cond)
        return out

    def attribute_names(self) -> set[str]:
        """List the lead attributes the policy reads (``do_not_call``; routing rules' too).

        Checked against a column mapping (``qualifier.check_policy_fields``).
        """
        read = self.fields_read() | self.routing_fields_read()
        return {f.removeprefix("attributes.") for f in read if f.startswith("attributes.")}
