"""The policy's ``sla:`` section: first-touch targets per tier, and what happens when one is missed.

An SLA (service-level agreement) here is the time a rep has to make the first touch on a lead assigned
to them, counted in the rep's working time (``leadgate.sla.compute_sla_due``). When it is missed the
scheduler (``leadgate.sla.sla_pass``) escalates to the manager of the rep's team and/or, after a further
delay, re-assigns the lead, at most ``max_reassignments`` times. Format: ``docs/policy.md``.

Example::

    sla:
      max_reassignments: 2
      tiers:
        hot: {first_touch: 5m, escalate: true, reassign_after: 30m}
        warm: {first_touch: 4h, escalate: true}
      rules:                       # first match wins over the tier target
        - id: enterprise_hot
          tiers: [hot]
          segments: [enterprise]
          first_touch: 15m
          reassign_after: 1h

Durations are working minutes: an integer, or text such as ``5m``, ``90 minutes``, ``4h``, ``1h30m``.
"""

from __future__ import annotations

import re
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, model_validator
from pydantic_core import InitErrorDetails, PydanticCustomError

from leadgate.contracts.decision import ActionName, Tier

_MODEL = ConfigDict(extra="forbid", frozen=True, strict=True)
_PART = re.compile(r"(\d+)\s*(hours|hour|hrs|hr|h|minutes|minute|mins|min|m)(?![a-z])\s*", re.IGNORECASE)
MAX_WORKING_MINUTES = 60 * 24 * 30
"""The longest duration accepted (30 x 24 h of working time): anything longer is not a first-touch SLA."""

# Default numbers, used in the shipped policy and in docs/policy.md:
# * hot: 5 minutes. Oldroyd, McElheran & Elkington, "The Short Life of Online Sales Leads", Harvard
#   Business Review, March 2011: firms contacting a lead within an hour were ~7x likelier to qualify it
#   than an hour later, and the average firm took 42 hours. The InsideSales.com / MIT lead response
#   management study (Oldroyd, 2007) found the odds of contact 100x higher at 5 minutes than at 30 minutes.
# * warm: 4 hours: half a working day, so a warm lead is touched the same day it arrives.
DEFAULT_HOT_MINUTES = 5
DEFAULT_WARM_MINUTES = 4 * 60


def parse_working_minutes(value: Any) -> Any:
    """Turn ``5m``, ``90 minutes``, ``4h``, ``1h30m`` or a whole number of minutes into minutes.

    Args:
        value: the value read from the YAML.

    Returns:
        The number of minutes (int); any other value is returned unchanged for pydantic to reject.

    Raises:
        PydanticCustomError: (type ``policy``) text that is not a duration.
    """
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        return value
    if not isinstance(value, str):
        return value
    text = value.strip()
    pos, total, parts = 0, 0, 0
    while pos < len(text):
        match = _PART.match(text, pos)
        if match is None:
            break
        number, unit = int(match.group(1)), match.group(2).lower()
        total += number * (60 if unit.startswith("h") else 1)
        pos, parts = match.end(), parts + 1
    if parts == 0 or pos != len(text):
        raise PydanticCustomError(
            "policy",
            "expected a duration such as '5m', '90 minutes', '4h' or '1h30m', got {value}",
            {"value": repr(value)},
        )
    return total


WorkingMinutes = Annotated[int, BeforeValidator(parse_working_minutes), Field(gt=0, le=MAX_WORKING_MINUTES)]
"""A duration in working minutes (> 0, at most 30 days' worth), written as minutes or ``5m`` / ``4h``."""


class SlaTarget(BaseModel):
    """What a rep owes a lead of one tier, and what happens when it is missed.

    Attributes:
        first_touch: working minutes from assignment to the first touch (the SLA due time).
        escalate: when missed, notify the manager of the rep's team once (``sla_escalated`` event).
        reassign_after: working minutes after the due time at which the lead is re-assigned to another
            rep; None: never re-assigned for this SLA.
    """

    model_config = _MODEL
    first_touch: WorkingMinutes
    escalate: bool = True
    reassign_after: WorkingMinutes | None = None


class SlaRule(SlaTarget):
    """A target for some leads that replaces the tier's target (the first matching rule wins).

    Attributes:
        id: unique snake_case id, recorded with the assignment's SLA.
        tiers: the tiers it applies to.
        actions: the decision actions it applies to (empty: any action).
        segments: the lead segments it applies to (empty: any segment).
    """

    id: Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]*$", max_length=64)]
    tiers: Annotated[list[Tier], Field(min_length=1)]
    actions: list[ActionName] = Field(default_factory=list)
    segments: list[Annotated[str, Field(min_length=1, max_length=64)]] = Field(default_factory=list)


class SlaSection(BaseModel):
    """The policy's ``sla:`` section.

    Attributes:
        tiers: the target per tier; a tier without an entry gets no SLA (no due time).
        rules: targets for leads matching tiers, actions and segments, checked in order before ``tiers``.
        max_reassignments: most re-assignments of one lead (any cause) after which the scheduler only
            escalates (0: never re-assign).

    Raises:
        pydantic.ValidationError: (on validation) a duplicate rule id (located on the second ``id``).
    """

    model_config = _MODEL
    tiers: dict[Tier, SlaTarget] = Field(default_factory=dict)
    rules: list[SlaRule] = Field(default_factory=list)
    max_reassignments: int = Field(default=2, ge=0, le=20)

    @model_validator(mode="after")
    def _unique_rule_ids(self) -> SlaSection:
        seen: set[str] = set()
        errors = []
        for index, rule in enumerate(self.rules):
            if rule.id in seen:
                errors.append(
                    InitErrorDetails(
                        type=PydanticCustomError(
                            "policy", "duplicate SLA rule id {id}", {"id": repr(rule.id)}
                        ),
                        loc=("rules", index, "id"),
                        input=rule.id,
                    )
                )
            seen.add(rule.id)
        if errors:
            raise ValidationError.from_exception_data("SlaSection", errors)
        return self

    def target(
        self, tier: str, *, action: str | None = None, segment: str | None = None
    ) -> tuple[SlaTarget, str | None] | None:
        """The target for a lead: the first matching rule, else the tier's entry.

        Args:
            tier: the decision's tier (``hot``, ``warm``, ``nurture``, ``disqualified``).
            action: the decision's action, if known (rules with ``actions`` need it to match).
            segment: the lead's segment, if known (rules with ``segments`` need it to match).

        Returns:
            ``(target, rule_id)`` (``rule_id`` None for a tier entry), or None when no SLA applies.
        """
        for rule in self.rules:
            if tier not in rule.tiers:
                continue
            if rule.actions and action not in rule.actions:
                continue
            if rule.segments and segment not in rule.segments:
                continue
            return rule, rule.id
        entry = self.tiers.get(tier)  # type: ignore[call-overload]
        return (entry, None) if entry is not None else None
