"""The policy's ``routing:`` section: which decided leads get a rep, and how the rep is chosen.

The section is part of the policy file, so it is versioned with it: every assignment records the
policy's ``name@version`` (``Assignment.policy_version``). The steps, in order (``docs/routing.md``):

1. ``existing_owner``: the lead's owner (``leads.owner``, set by the sender or by an earlier assignment)
   keeps it when that rep is active and not out of office;
2. ``territories``: the first rule whose ``tiers`` and ``when`` match picks the pool of reps (a rule
   whose pool has no active rep, e.g. nobody lists the lead's country, does not match; a pool whose
   reps are all out of office or at their caps does: the lead is then unassigned);
   no rule matching: the ``otherwise`` pool (null: the lead stays unassigned);
3. weighted round robin among the pool's available reps (active, not out of office, under their daily
   and rolling 30-day caps);
4. nobody available: the lead is stored unassigned, with the reason, for a manager to see.

Example::

    routing:
      route: {actions: [route_to_sales]}
      existing_owner: true
      territories:
        - id: india
          reason: Indian enquiries go to the India desk
          when: {field: country, op: in, value: [India, IN]}
          to: {reps: [priya]}
        - id: by_country
          to: {territory: country}
      otherwise: {everyone: true}

Rep and team ids are checked against the reps file when the router is built
(``leadgate.routing.load_router``), not here: the policy and the reps file change independently.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator
from pydantic_core import InitErrorDetails, PydanticCustomError

from leadgate.contracts.decision import ActionName, Tier
from leadgate.policy.conditions import Condition

_MODEL = ConfigDict(extra="forbid", frozen=True, strict=True)

RoutingRuleId = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]*$", max_length=64)]
"""A territory rule id: snake_case, unique within the section (stored as ``Assignment.rule_id``)."""

RepRef = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_.-]{0,63}$")]
"""A rep or team id of the reps file."""


def _issue(loc: tuple[str | int, ...], message: str, value: object) -> InitErrorDetails:
    return InitErrorDetails(
        type=PydanticCustomError("policy_routing", "{message}", {"message": message}),
        loc=loc,
        input=value,
    )


def _route_to_sales() -> list[ActionName]:
    return ["route_to_sales"]


class RouteWhen(BaseModel):
    """Which decisions are routed to a rep.

    Attributes:
        actions: decisions with one of these actions are routed (default ``[route_to_sales]``).
        tiers: decisions in one of these tiers are routed too, whatever their action (default: none).
    """

    model_config = _MODEL
    actions: list[ActionName] = Field(default_factory=_route_to_sales)
    tiers: list[Tier] = Field(default_factory=list)


class Target(BaseModel):
    """A pool of reps; give exactly one of the keys.

    Attributes:
        reps: these rep ids, in this order (the order breaks round-robin ties).
        team: every rep of this team (reps file order).
        territory: reps whose ``territories`` contain the lead's ``country`` (a country name or ISO
            3166-1 code, read as its alpha-2 code) or, for ``region``, the lead's ``attributes.region``.
        everyone: every rep of the reps file (``true``).

    Raises:
        pydantic.ValidationError: (on validation) none or more than one key given.
    """

    model_config = _MODEL
    reps: Annotated[list[RepRef], Field(min_length=1)] | None = None
    team: RepRef | None = None
    territory: Literal["country", "region"] | None = None
    everyone: Literal[True] | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> Target:
        given = [k for k in ("reps", "team", "territory", "everyone") if getattr(self, k) is not None]
        if len(given) != 1:
            raise PydanticCustomError(
                "policy_routing",
                "a target names exactly one of reps, team, territory, everyone; got {given}",
                {"given": ", ".join(given) or "none"},
            )
        if self.reps is not None and len(set(self.reps)) != len(self.reps):
            raise PydanticCustomError("policy_routing", "a rep is listed twice in reps", {})
        return self

    def describe(self) -> str:
        """The pool in plain words ("reps priya, anna", "team emea", "reps covering the lead's country")."""
        if self.reps is not None:
            return "reps " + ", ".join(self.reps)
        if self.team is not None:
            return f"team {self.team}"
        if self.territory is not None:
            return f"reps covering the lead's {self.territory}"
        return "every rep"


class TerritoryRule(BaseModel):
    """A territory rule: the first one whose ``tiers`` and ``when`` match picks the pool.

    Attributes:
        id: unique snake_case id, stored on the assignment (``rule_id``).
        reason: plain words for the assignment's reason (default: the rule id and its pool).
        tiers: the tiers it applies to (default: every tier).
        when: the condition (``leadgate.policy.conditions``: country, ``attributes.region``,
            ``attributes.segment``, ``attributes.employees``, ``score.*`` ...); absent: always.
        to: the pool (``Target``).
    """

    model_config = _MODEL
    id: RoutingRuleId
    reason: Annotated[str, Field(min_length=1, max_length=300)] | None = None
    tiers: Annotated[list[Tier], Field(min_length=1)] | None = None
    when: Condition | None = None
    to: Target


def _everyone() -> Target:
    return Target(everyone=True)


class RoutingSection(BaseModel):
    """The policy's ``routing:`` section (see the module docstring for the order of the steps).

    Attributes:
        route: which decisions get a rep (``RouteWhen``).
        existing_owner: when True (default), the lead's current owner keeps it if active and in office.
        territories: the territory rules, in order.
        otherwise: the pool when no territory rule matches (default every rep); null: unassigned.

    Raises:
        pydantic.ValidationError: (on validation) duplicate rule ids (located on the second ``id``).
    """

    model_config = _MODEL
    route: RouteWhen = Field(default_factory=RouteWhen)
    existing_owner: bool = True
    territories: list[TerritoryRule] = Field(default_factory=list)
    otherwise: Target | None = Field(default_factory=_everyone)

    @model_validator(mode="after")
    def _unique_ids(self) -> RoutingSection:
        seen: set[str] = set()
        errors = []
        for i, rule in enumerate(self.territories):
            if rule.id in seen:
                errors.append(_issue(("territories", i, "id"), f"duplicate rule id {rule.id!r}", rule.id))
            seen.add(rule.id)
        if errors:
            raise ValidationError.from_exception_data("RoutingSection", errors)
        return self

    def routes(self, tier: str, action: str) -> bool:
        """True when a decision with this tier and action is routed to a rep."""
        return action in self.route.actions or tier in self.route.tiers

    def conditions(self) -> list[Condition]:
        """Every ``when`` of the section (to list the fields the policy reads)."""
        return [r.when for r in self.territories if r.when is not None]
