"""The routing engine: pure (no store, no clock, no ids of its own): decided lead + reps + section -> Assignment.

    RouteInput (lead and decision facts) --Router (section, reps)--> Assignment, RoutingState updated

Steps (the policy's ``routing:`` section, ``leadgate.policy.routing_model``):

1. existing owner: the lead's owner keeps it when that rep is active and not out of office today in
   their zone (caps do not apply: an owner keeps their accounts);
2. territory rules in order: the first whose ``tiers`` and ``when`` match, and whose pool has at least
   one active rep (out of office or at a cap counts), picks the pool; else the ``otherwise`` pool;
3. smooth weighted round robin among the pool's available reps: active, not out of office, under their
   daily cap (the calendar day in the rep's zone) and their rolling 30-day cap;
4. nobody available: rule ``unassigned`` with the reason.

The round robin is nginx's *smooth weighted round-robin* (Maxim Dounin, nginx 1.3.1, 2012,
``src/http/ngx_http_upstream_round_robin.c``, ``ngx_http_upstream_get_peer``): each pick adds every
available rep's weight to its ``current`` value, picks the largest ``current`` (ties: the pool's order)
and subtracts the total weight from the chosen one. Over any run of picks with the same reps available,
each rep's share equals its weight share up to one pick, and picks are spread evenly (2:1:1 gives
a, b, a, c, ...). Reps that are unavailable for a pick are left out of that pick and keep their
``current`` value. The ``current`` values are the ``RoutingState.rr``; the store keeps them in the
``routing_rr`` table so every process shares one rotation.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pycountry

from leadgate.contracts.action import Assignment, AssignmentRule
from leadgate.errors import LeadgateError
from leadgate.policy.conditions import Predicate, ScoreTuple, compile_condition
from leadgate.policy.routing_model import RoutingSection, Target
from leadgate.policy.sla_model import SlaSection
from leadgate.reps import Rep, RepDirectory
from leadgate.reps.model import zone

ROLLING_WINDOW = timedelta(days=30)
"""The window of ``Rep.monthly_cap``: any 30 x 24 hours (``leadgate.reps.model.Rep``)."""

OTHERWISE = "otherwise"
"""Pool key of the section's ``otherwise`` pool."""


class RoutingConfigError(LeadgateError, ValueError):
    """A routing section names reps or teams the reps file does not have."""


class UnknownRepError(LeadgateError, ValueError):
    """A re-assignment names a rep the reps file does not have, or one who is inactive."""


@dataclass(frozen=True)
class RouteInput:
    """What routing reads of one decided lead.

    Attributes:
        lead_id, decision_id: the lead and its decision.
        tier, action: the decision's tier and action.
        attributes: the lead's attributes (``Lead.attributes``).
        fields: the lead's top-level fields (``country``, ``company`` ...) as the policy conditions read
            them; personal fields may be left out (no routing rule should read them).
        score: ``(probability, confidence, fit_score, scorer)``.
        owner: the lead's owner (``leads.owner``), or None.
    """

    lead_id: str
    decision_id: str
    tier: str
    action: str
    attributes: Mapping[str, Any] = field(default_factory=dict)
    fields: Mapping[str, Any] = field(default_factory=dict)
    score: ScoreTuple = (None, None, None, None)
    owner: str | None = None


@dataclass
class RepLoad:
    """A rep's new leads: today (the calendar day in the rep's zone) and in the rolling 30 days."""

    today: int = 0
    rolling: int = 0


@dataclass
class RoutingState:
    """What routing needs besides the section and reps: per-rep loads and the round-robin values.

    Attributes:
        loads: rep id -> ``RepLoad`` at the routing time (missing: 0, 0).
        rr: pool key -> rep id -> the smooth weighted round-robin ``current`` value (missing: 0).
        touched: pool keys whose ``rr`` values changed (the store writes these back).
    """

    loads: dict[str, RepLoad] = field(default_factory=dict)
    rr: dict[str, dict[str, float]] = field(default_factory=dict)
    touched: set[str] = field(default_factory=set)

    def copy(self) -> RoutingState:
        """A deep copy (loads and round-robin values)."""
        return RoutingState(
            {k: RepLoad(v.today, v.rolling) for k, v in self.loads.items()},
            {k: dict(v) for k, v in self.rr.items()},
            set(self.touched),
        )

    def count(self, rep_id: str) -> None:
        """Add one new lead to ``rep_id``'s loads."""
        load = self.loads.setdefault(rep_id, RepLoad())
        load.today += 1
        load.rolling += 1


def day_start(rep: Rep, now: datetime) -> datetime:
    """Midnight (UTC) that starts ``now``'s calendar day in the rep's zone (the daily cap's day)."""
    local = now.astimezone(zone(rep.timezone))
    return local.replace(hour=0, minute=0, second=0, microsecond=0).astimezone(UTC)


@functools.lru_cache(maxsize=4096)
def country_code(value: str | None) -> str | None:
    """ISO 3166-1 alpha-2 code of a country name or code ("India", "IN", "IND" -> "IN"); None if unknown.

    Uses the ISO 3166 data of ``pycountry`` (names, official and common names, alpha-2/3 codes).
    """
    if value is None or not str(value).strip():
        return None
    try:
        return str(pycountry.countries.lookup(str(value).strip()).alpha_2)
    except LookupError:
        return None


def _utc(now: datetime) -> datetime:
    if now.tzinfo is None:
        raise ValueError("routing needs a timezone-aware now")
    return now.astimezone(UTC)


class Router:
    """A routing section compiled against a reps file, with the policy it came from.

    Args:
        section: the policy's routing section.
        directory: the reps file.
        policy_ref: ``name@version`` of the policy (stored on every assignment).
        sla: the policy's ``sla`` section: each new assignment gets its first-touch deadline
            (``leadgate.sla.with_sla_due``); None: no deadlines.

    Raises:
        RoutingConfigError: a target names a rep or team that the reps file does not have.
    """

    def __init__(
        self,
        section: RoutingSection,
        directory: RepDirectory,
        policy_ref: str,
        sla: SlaSection | None = None,
    ) -> None:
        self.section = section
        self.directory = directory
        self.policy_ref = policy_ref
        self.sla = sla
        problems = []
        teams = {t.id for t in directory.teams}
        targets = [(f"territories.{r.id}", r.to) for r in section.territories]
        if section.otherwise is not None:
            targets.append((OTHERWISE, section.otherwise))
        for where, target in targets:
            for rep_id in target.reps or []:
                if directory.get(rep_id) is None:
                    problems.append(f"{where}: rep {rep_id!r} is not in reps file {directory.ref}")
            if target.team is not None and target.team not in teams:
                problems.append(f"{where}: team {target.team!r} is not in reps file {directory.ref}")
        if problems:
            raise RoutingConfigError(f"routing section of policy {policy_ref}: " + "; ".join(problems))
        self._rules: list[tuple[str, frozenset[str] | None, Predicate | None, Target, str | None]] = [
            (
                r.id,
                frozenset(r.tiers) if r.tiers else None,
                compile_condition(r.when) if r.when is not None else None,
                r.to,
                r.reason,
            )
            for r in section.territories
        ]

    def routes(self, tier: str, action: str) -> bool:
        """True when a decision with this tier and action gets a rep."""
        return self.section.routes(tier, action)

    def rep_ids(self) -> list[str]:
        """Every rep id of the reps file, sorted (the store locks their rows in this order)."""
        return sorted(r.id for r in self.directory.reps)

    def pool(self, target: Target, item: RouteInput) -> tuple[str, list[Rep]]:
        """``(pool key suffix, reps)`` of a target for a lead, in the pool's order."""
        reps = self.directory.reps
        if target.reps is not None:
            return "", [r for i in target.reps if (r := self.directory.get(i)) is not None]
        if target.team is not None:
            return "", [r for r in reps if r.team == target.team]
        if target.territory == "country":
            raw = item.fields.get("country")
            code = country_code(raw)
            wanted = {code} if code else set()
            if raw is not None and str(raw).strip():
                wanted.add(str(raw).strip().upper())
            return f":{code or str(raw or '').strip().lower()}", [
                r for r in reps if wanted & {t.upper() for t in r.territories}
            ]
        if target.territory == "region":
            region = str(item.attributes.get("region") or "").strip().casefold()
            return f":{region}", [
                r for r in reps if region and region in {t.casefold() for t in r.territories}
            ]
        return "", list(reps)

    def choose_pool(self, item: RouteInput) -> tuple[str | None, str, list[Rep], str]:
        """The territory step: ``(rule id or None, pool key, reps, plain-words why)``; reps empty: no pool."""
        for rule_id, tiers, pred, target, reason in self._rules:
            if tiers is not None and item.tier not in tiers:
                continue
            if pred is not None and not pred(item.attributes, item.fields, item.score):
                continue
            suffix, reps = self.pool(target, item)
            if not any(r.active for r in reps):
                continue  # no active rep covers this lead (e.g. nobody lists its country): the rule does not apply
            why = f"territory rule {rule_id}" + (f" ({reason})" if reason else "")
            return rule_id, rule_id + suffix, reps, f"{why}: pool {target.describe()}"
        if self.section.otherwise is None:
            return None, OTHERWISE, [], "no territory rule matched and the section has no otherwise pool"
        target = self.section.otherwise
        suffix, reps = self.pool(target, item)
        lead_in = "no territory rule matched" if self._rules else "no territory rules"
        return None, OTHERWISE + suffix, reps, f"{lead_in}: pool {target.describe()}"


def _unavailable(rep: Rep, state: RoutingState, now: datetime, exclude: frozenset[str]) -> str | None:
    """Why a rep cannot take a new lead now, or None when they can."""
    if rep.id in exclude:
        return "the current rep"
    if not rep.active:
        return "inactive"
    if rep.absent_on(now):
        return "out of office"
    load = state.loads.get(rep.id) or RepLoad()
    if rep.daily_cap is not None and load.today >= rep.daily_cap:
        return f"daily cap {rep.daily_cap} reached"
    if rep.monthly_cap is not None and load.rolling >= rep.monthly_cap:
        return f"30-day cap {rep.monthly_cap} reached"
    return None


def _weight(w: float) -> str:
    return f"{w:g}"


def _round_robin(
    reps: Sequence[Rep], key: str, state: RoutingState, now: datetime, exclude: frozenset[str]
) -> tuple[Rep | None, str]:
    """Smooth weighted round robin among the available reps of a pool: ``(rep or None, why)``."""
    available: list[Rep] = []
    skipped: list[str] = []
    for rep in reps:
        why = _unavailable(rep, state, now, exclude)
        if why is None:
            available.append(rep)
        else:
            skipped.append(f"{rep.id} {why}")
    skipped_text = f"; skipped {', '.join(skipped)}" if skipped else ""
    if not available:
        if not reps:
            return None, "no rep in the pool"
        return None, "no rep available" + skipped_text
    current = state.rr.setdefault(key, {})
    total = 0.0
    best: Rep | None = None
    for rep in available:
        value = current.get(rep.id, 0.0) + rep.weight
        current[rep.id] = value
        total += rep.weight
        if best is None or value > current[best.id]:
            best = rep
    assert best is not None
    current[best.id] -= total
    state.touched.add(key)
    weights = ", ".join(f"{r.id} {_weight(r.weight)}" for r in available)
    count = f"{len(available)} available rep{'s' if len(available) != 1 else ''}"
    return best, f"weighted round robin among {count} (weights {weights}){skipped_text}"


def route(
    item: RouteInput,
    router: Router,
    state: RoutingState,
    now: datetime,
    assignment_id: str,
    *,
    exclude: frozenset[str] = frozenset(),
    actor: str = "leadgate",
) -> Assignment:
    """Route one decided lead: existing owner, territory rules, weighted round robin, else unassigned.

    Args:
        item: the lead and decision facts (``RouteInput``).
        router: the compiled section and reps.
        state: loads and round-robin values at ``now``; updated in place with the pick (the chosen rep's
            loads + 1, the pool's round-robin values).
        now: the routing time (timezone-aware; stored in UTC as ``assigned_at``).
        assignment_id: the id of the new assignment.
        exclude: rep ids not to choose (a re-assignment away from the current rep). When the territory
            pool has nobody else available, the ``otherwise`` pool is tried before ``unassigned``.
        actor: stored on the assignment.

    Returns:
        The assignment (``rep_id`` None with rule ``unassigned`` when nobody is available);
        ``sla_due_at`` is left None (the SLA step sets it).

    Raises:
        ValueError: ``now`` is naive.
    """
    now = _utc(now)
    prefix = ""

    def made(rep_id: str | None, rule: AssignmentRule, rule_id: str | None, reason: str) -> Assignment:
        if rep_id is not None:
            state.count(rep_id)
        return Assignment(
            assignment_id=assignment_id,
            lead_id=item.lead_id,
            decision_id=item.decision_id,
            rep_id=rep_id,
            rule=rule,
            rule_id=rule_id,
            reason=(prefix + reason)[:2000],
            policy_version=router.policy_ref,
            assigned_at=now,
            actor=actor,
        )

    if router.section.existing_owner and item.owner:
        owner = router.directory.get(item.owner)
        if owner is None:
            prefix = f"existing owner {item.owner} is not in the reps file; "
        elif owner.id in exclude:
            prefix = f"moved away from {owner.id}; "
        elif not owner.active:
            prefix = f"existing owner {owner.id} is inactive; "
        elif owner.absent_on(now):
            prefix = f"existing owner {owner.id} is out of office; "
        else:
            return made(
                owner.id, "existing_owner", None, f"existing owner {owner.id} is active and in office"
            )
    elif exclude:
        prefix = f"moved away from {', '.join(sorted(exclude))}; "
    rule_id, key, reps, why = router.choose_pool(item)
    rep, rr_why = _round_robin(reps, key, state, now, exclude)
    otherwise = router.section.otherwise
    if rep is None and exclude and rule_id is not None and otherwise is not None:
        # a re-assignment away from the only rep of a territory: the otherwise pool takes it (a missed SLA
        # must reach someone; on first routing a full territory stays unassigned, for a manager)
        suffix, others = router.pool(otherwise, item)
        other, other_why = _round_robin(others, OTHERWISE + suffix, state, now, exclude)
        if other is not None:
            reason = f"{why}; {rr_why}; so the otherwise pool {otherwise.describe()}: {other_why}: chose {other.id}"
            return made(other.id, "round_robin", None, reason)
    if rep is None:
        return made(None, "unassigned", rule_id, f"{why}; {rr_why}: unassigned, for a manager to assign")
    rule: AssignmentRule = "territory" if rule_id is not None else "round_robin"
    return made(rep.id, rule, rule_id, f"{why}; {rr_why}: chose {rep.id}")


def route_many(
    items: Sequence[RouteInput | None],
    router: Router,
    state: RoutingState,
    now: datetime,
    assignment_ids: Sequence[str],
    *,
    actor: str = "leadgate",
) -> list[Assignment | None]:
    """Route a batch in order; the same assignments as ``route`` called on each item in turn.

    Items that are None, or whose tier and action the section does not route, get None.

    Args:
        items: one per decision, None for a decision without a lead to route.
        router: the compiled section and reps.
        state: as ``route``; updated by every pick.
        now: the routing time (timezone-aware).
        actor: stored on the assignments.
        assignment_ids: one id per item (ids of items not routed are unused).

    Raises:
        ValueError: ``now`` is naive, or ``assignment_ids`` is shorter than ``items``.
    """
    if len(assignment_ids) < len(items):
        raise ValueError(f"{len(items)} items need as many assignment ids, got {len(assignment_ids)}")
    out: list[Assignment | None] = []
    for item, assignment_id in zip(items, assignment_ids, strict=False):
        if item is None or not router.routes(item.tier, item.action):
            out.append(None)
            continue
        out.append(route(item, router, state, now, assignment_id, actor=actor))
    return out


def booking_assignment(
    *,
    lead_id: str,
    decision_id: str,
    rep_id: str,
    booking_id: str,
    start: datetime,
    policy_ref: str,
    now: datetime,
    assignment_id: str,
) -> Assignment:
    """The assignment of a lead whose demo is booked in a rep's calendar (rule ``booking``).

    Caps and round robin do not apply: the visitor chose a slot in this rep's calendar.

    Raises:
        ValueError: ``now`` or ``start`` is naive.
    """
    when = _utc(start).strftime("%Y-%m-%d %H:%M UTC")
    return Assignment(
        assignment_id=assignment_id,
        lead_id=lead_id,
        decision_id=decision_id,
        rep_id=rep_id,
        rule="booking",
        rule_id=None,
        reason=f"demo booked in {rep_id}'s calendar for {when} (booking {booking_id})",
        policy_version=policy_ref,
        assigned_at=_utc(now),
    )
