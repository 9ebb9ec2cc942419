"""The pure routing engine: each step of the routing order, availability, caps, batch == single, fairness."""

from __future__ import annotations

import bisect
import random
from datetime import UTC, datetime, timedelta

import pytest
from tests.routing.support import SECTION_YAML, lead, reps, router, section

from leadgate.routing import RepLoad, RoutingConfigError, RoutingState, route, route_many
from leadgate.routing.engine import day_start

# A Tuesday, 10:00 in Berlin.
NOW = datetime(2026, 6, 16, 8, 0, tzinfo=UTC)


def test_existing_owner_keeps_the_lead_when_active_and_in_office() -> None:
    state = RoutingState()
    a = route(lead(1, "India", owner="maria"), router(), state, NOW, "as-1")
    assert (a.rep_id, a.rule, a.rule_id) == ("maria", "existing_owner", None)
    assert "existing owner maria is active and in office" in a.reason
    assert a.policy_version == "acme@7" and a.assigned_at == NOW and a.sla_due_at is None
    assert state.loads["maria"] == RepLoad(1, 1)


@pytest.mark.parametrize(
    ("owner", "why"),
    [
        ("tom", "existing owner tom is inactive"),
        ("claire", "existing owner claire is out of office"),
        ("ghost", "existing owner ghost is not in the reps file"),
    ],
)
def test_unavailable_owner_falls_through_to_the_territory_rules(owner: str, why: str) -> None:
    at = datetime(2026, 8, 10, 9, 0, tzinfo=UTC)  # claire's summer holiday
    a = route(lead(2, "India", owner=owner), router(), RoutingState(), at, "as-2")
    assert (a.rep_id, a.rule, a.rule_id) == ("dev", "territory", "by_country")
    assert a.reason.startswith(why + "; territory rule by_country")


def test_existing_owner_step_can_be_switched_off() -> None:
    text = SECTION_YAML.replace("existing_owner: true", "existing_owner: false")
    a = route(lead(3, "India", owner="maria"), router(text), RoutingState(), NOW, "as-3")
    assert (a.rep_id, a.rule) == ("dev", "territory")


def test_territory_rules_apply_in_order_first_match_wins() -> None:
    r = router()
    # matches both `strategic` and `by_country`: the first one wins
    big = route(lead(4, "Germany", employees=5000), r, RoutingState(), NOW, "as-4")
    assert (big.rep_id, big.rule_id) == ("jonas", "strategic")
    assert "enterprise accounts go to the senior EMEA rep" in big.reason
    # `strategic` is for hot leads only: a warm one of the same company goes by country
    warm = route(lead(5, "Austria", tier="warm", employees=5000), r, RoutingState(), NOW, "as-5")
    assert (warm.rep_id, warm.rule_id) == ("jonas", "by_country")
    # small German company: by country (also jonas); a French one: claire
    fr = route(lead(6, "France", employees=12), r, RoutingState(), NOW, "as-6")
    assert (fr.rep_id, fr.rule, fr.rule_id) == ("claire", "territory", "by_country")


def test_country_names_and_codes_match_rep_territories() -> None:
    r = router()
    for n, country, rep in [
        (7, "United States", "maria"),
        (8, "US", "maria"),
        (9, "Singapore", "dev"),
        (10, "United Arab Emirates", "dev"),
        (11, "ind", "dev"),
        (12, "Mexico", "maria"),
    ]:
        assert route(lead(n, country), r, RoutingState(), NOW, f"as-{n}").rep_id == rep, country


def test_region_target_reads_the_region_attribute() -> None:
    a = route(lead(13, "Netherlands", region="Benelux"), router(), RoutingState(), NOW, "as-13")
    assert (a.rep_id, a.rule_id) == ("claire", "benelux")


def test_team_target_and_a_rule_with_an_empty_pool_does_not_apply() -> None:
    r = router()
    # nobody lists Brazil: `by_country` has an empty pool and is passed over; `americas_overflow` matches,
    # and the americas team's only active rep is maria (tom is inactive)
    a = route(lead(14, "Brazil"), r, RoutingState(), NOW, "as-14")
    assert (a.rep_id, a.rule_id) == ("maria", "americas_overflow")
    assert "skipped tom inactive" in a.reason


def test_no_rule_matches_round_robin_among_everyone_active() -> None:
    state = RoutingState()
    got = [route(lead(20 + i, "Japan"), router(), state, NOW, f"as-{i}") for i in range(10)]
    assert {a.rule for a in got} == {"round_robin"}
    assert {a.rule_id for a in got} == {None}
    counts = {rep: sum(a.rep_id == rep for a in got) for rep in ("jonas", "claire", "dev", "maria")}
    # weights jonas 2, claire 1, dev 1, maria 1: over 10 picks, 4 : 2 : 2 : 2
    assert counts == {"jonas": 4, "claire": 2, "dev": 2, "maria": 2}
    assert (
        "weighted round robin among 4 available reps (weights jonas 2, claire 1, dev 1, maria 1)"
        in got[0].reason
    )
    assert "skipped tom inactive, lena inactive" in got[0].reason


def test_smooth_weighted_round_robin_sequence_matches_nginx() -> None:
    # nginx's documented example (ngx_http_upstream_round_robin.c, weights a=5 b=1 c=1): a a b a c a a
    text = """
name: nginx-example
version: 1
reps:
  - {id: a, name: A, email: a@example.com, timezone: UTC, working_hours: {mon: ["09:00-17:00"]}, weight: 5}
  - {id: b, name: B, email: b@example.com, timezone: UTC, working_hours: {mon: ["09:00-17:00"]}, weight: 1}
  - {id: c, name: C, email: c@example.com, timezone: UTC, working_hours: {mon: ["09:00-17:00"]}, weight: 1}
"""
    r = router("territories: []\n", reps(text))
    state = RoutingState()
    picks = [route(lead(i, None), r, state, NOW, f"x{i}").rep_id for i in range(14)]
    assert "".join(p or "-" for p in picks) == "aabacaa" * 2


def test_out_of_office_and_inactive_reps_are_skipped() -> None:
    at = datetime(2026, 8, 10, 9, 0, tzinfo=UTC)
    a = route(lead(30, "France"), router(), RoutingState(), at, "as-30")
    # claire (FR) is on holiday: her pool has nobody available -> unassigned, with the reason
    assert (a.rep_id, a.rule, a.rule_id) == (None, "unassigned", "by_country")
    assert "skipped claire out of office" in a.reason and "unassigned" in a.reason


def test_out_of_office_is_read_in_the_reps_zone() -> None:
    # 2026-08-02 23:30 UTC is already 2026-08-03 (first holiday day) in Paris
    before = datetime(2026, 8, 2, 21, 30, tzinfo=UTC)
    during = datetime(2026, 8, 2, 23, 30, tzinfo=UTC)
    assert route(lead(31, "France"), router(), RoutingState(), before, "b").rep_id == "claire"
    assert route(lead(31, "France"), router(), RoutingState(), during, "d").rep_id is None


def test_daily_and_rolling_caps() -> None:
    r = router()
    state = RoutingState(loads={"dev": RepLoad(today=59, rolling=100)})
    first = route(lead(40, "India"), r, state, NOW, "c1")
    second = route(lead(41, "India"), r, state, NOW, "c2")
    assert first.rep_id == "dev" and second.rep_id is None
    assert "dev daily cap 60 reached" in second.reason
    full = RoutingState(loads={"dev": RepLoad(today=0, rolling=900)})
    third = route(lead(42, "India"), r, full, NOW, "c3")
    assert third.rep_id is None and "dev 30-day cap 900 reached" in third.reason


def test_caps_do_not_hold_back_an_existing_owner() -> None:
    state = RoutingState(loads={"dev": RepLoad(today=60, rolling=900)})
    a = route(lead(43, "India", owner="dev"), router(), state, NOW, "o1")
    assert (a.rep_id, a.rule) == ("dev", "existing_owner")


def test_without_an_otherwise_pool_unmatched_leads_stay_unassigned() -> None:
    text = SECTION_YAML.replace("otherwise: {everyone: true}", "otherwise: null")
    a = route(lead(44, "Japan"), router(text), RoutingState(), NOW, "u1")
    assert (a.rep_id, a.rule, a.rule_id) == (None, "unassigned", None)
    assert "no territory rule matched and the section has no otherwise pool" in a.reason


def test_exclude_moves_the_lead_away_from_the_current_rep() -> None:
    a = route(lead(45, "India", owner="dev"), router(), RoutingState(), NOW, "m1", exclude=frozenset({"dev"}))
    # dev is the owner and the only India rep: excluded, so the otherwise pool (everyone) takes the lead
    assert a.rep_id not in (None, "dev") and a.rule == "round_robin" and a.rule_id is None
    assert a.reason.startswith("moved away from dev;") and "so the otherwise pool" in a.reason
    text = SECTION_YAML.replace("otherwise: {everyone: true}", "otherwise: null")
    alone = route(lead(47, "India"), router(text), RoutingState(), NOW, "m3", exclude=frozenset({"dev"}))
    assert (alone.rep_id, alone.rule) == (None, "unassigned")  # no otherwise pool: a manager assigns it
    b = route(lead(46, "Japan"), router(), RoutingState(), NOW, "m2", exclude=frozenset({"jonas"}))
    assert b.rep_id in {"claire", "dev", "maria"}


def test_which_decisions_are_routed() -> None:
    r = router()
    items = [
        lead(50, "India"),
        lead(51, "India", tier="warm", action="nurture"),
        lead(52, "India", tier="hot", action="human_review"),  # routed: tiers [hot]
        None,
    ]
    out = route_many(items, r, RoutingState(), NOW, ["a", "b", "c", "d"])
    assert [a.rep_id if a else None for a in out] == ["dev", None, "dev", None]


def test_batch_equals_single() -> None:
    rng = random.Random(20260616)
    countries = ["India", "Germany", "France", "United States", "Brazil", "Japan", None, "Singapore", "Chile"]
    items = [
        lead(
            i,
            rng.choice(countries),
            tier=rng.choice(["hot", "warm", "nurture"]),
            action=rng.choice(["route_to_sales", "route_to_sales", "nurture"]),
            owner=rng.choice([None, None, None, "maria", "tom", "claire"]),
            employees=rng.choice([10, 200, 5000]),
            region=rng.choice(["Benelux", "DACH", ""]),
        )
        for i in range(600)
    ]
    ids = [f"as-{i}" for i in range(600)]
    start = RoutingState(
        loads={"dev": RepLoad(today=20, rolling=850), "maria": RepLoad(today=30, rolling=30)}
    )
    batch_state = start.copy()
    batch = route_many(items, router(), batch_state, NOW, ids)
    single_state = start.copy()
    r = router()
    single = [
        route(item, r, single_state, NOW, aid) if r.routes(item.tier, item.action) else None
        for item, aid in zip(items, ids, strict=True)
    ]
    assert batch == single
    assert batch_state.loads == single_state.loads and batch_state.rr == single_state.rr
    assert sum(a is not None and a.rep_id is None for a in batch) > 0  # caps bound along the way


def test_router_refuses_unknown_reps_and_teams() -> None:
    bad = SECTION_YAML.replace("to: {reps: [jonas]}", "to: {reps: [jonas, jonsa]}").replace(
        "to: {team: americas}", "to: {team: latam}"
    )
    with pytest.raises(RoutingConfigError) as err:
        router(bad)
    assert "territories.strategic: rep 'jonsa' is not in reps file acme-sales@3" in str(err.value)
    assert "territories.americas_overflow: team 'latam' is not in reps file acme-sales@3" in str(err.value)


def test_naive_now_is_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        route(lead(60, "India"), router(), RoutingState(), datetime(2026, 6, 16, 8, 0), "n")


# ------------------------------------------------------------------------------------------ fairness

FAIR_REPS = """
name: fairness
version: 1
reps:
  - {id: ana, name: Ana, email: ana@example.com, timezone: Europe/Berlin, working_hours: {mon: ["09:00-17:00"]},
     weight: 2, daily_cap: DA, monthly_cap: MA}
  - {id: ben, name: Ben, email: ben@example.com, timezone: America/New_York, working_hours: {mon: ["09:00-17:00"]},
     weight: 1, daily_cap: DB, monthly_cap: MB}
  - {id: raj, name: Raj, email: raj@example.com, timezone: Asia/Kolkata, working_hours: {mon: ["09:00-17:00"]},
     weight: 1, daily_cap: DC, monthly_cap: MC}
"""


def _simulate(
    caps: dict[str, int], per_day: int, n: int = 10_000
) -> tuple[list[str | None], dict[str, list[datetime]]]:
    """Route ``n`` leads arriving evenly over days; loads are recounted from the history before each lead."""
    text = FAIR_REPS
    for key, value in caps.items():
        text = text.replace(key, str(value))
    directory = reps(text)
    r = router("territories: []\n", directory)
    state = RoutingState()
    history: dict[str, list[datetime]] = {rep.id: [] for rep in directory.reps}
    picks: list[str | None] = []
    start = datetime(2026, 3, 2, 0, 0, tzinfo=UTC)
    step = timedelta(days=1) / per_day
    for i in range(n):
        at = start + i * step
        for rep in directory.reps:
            times = history[rep.id]
            today = len(times) - bisect.bisect_left(times, day_start(rep, at))
            rolling = len(times) - bisect.bisect_left(times, at - timedelta(days=30))
            state.loads[rep.id] = RepLoad(today, rolling)
        a = route(lead(i, None), r, state, at, f"f{i}")
        picks.append(a.rep_id)
        if a.rep_id is not None:
            history[a.rep_id].append(at)
    return picks, history


def _assert_caps_held(
    history: dict[str, list[datetime]], daily: dict[str, int], monthly: dict[str, int]
) -> None:
    zones = {"ana": "Europe/Berlin", "ben": "America/New_York", "raj": "Asia/Kolkata"}
    from zoneinfo import ZoneInfo

    for rep, times in history.items():
        per_day: dict[object, int] = {}
        for t in times:
            day = t.astimezone(ZoneInfo(zones[rep])).date()
            per_day[day] = per_day.get(day, 0) + 1
        assert max(per_day.values()) <= daily[rep], rep
        for i, t in enumerate(times):  # the 30 days ending at each assignment
            j = bisect.bisect_right(times, t - timedelta(days=30))
            assert i - j + 1 <= monthly[rep], rep


def test_fairness_over_10000_leads_follows_the_weights_and_no_cap_is_exceeded() -> None:
    caps = {"DA": 130, "DB": 70, "DC": 70, "MA": 3300, "MB": 1700, "MC": 1700}
    picks, history = _simulate(caps, per_day=200)
    assert None not in picks
    shares = {rep: picks.count(rep) / len(picks) for rep in ("ana", "ben", "raj")}
    expected = {"ana": 0.5, "ben": 0.25, "raj": 0.25}
    for rep, share in shares.items():
        assert abs(share - expected[rep]) <= 0.02, (rep, share)
    _assert_caps_held(history, {"ana": 130, "ben": 70, "raj": 70}, {"ana": 3300, "ben": 1700, "raj": 1700})


def test_binding_caps_are_never_exceeded_over_10000_leads() -> None:
    caps = {"DA": 90, "DB": 40, "DC": 55, "MA": 2200, "MB": 1100, "MC": 1300}
    picks, history = _simulate(caps, per_day=300)
    _assert_caps_held(history, {"ana": 90, "ben": 40, "raj": 55}, {"ana": 2200, "ben": 1100, "raj": 1300})
    assert picks.count(None) > 3000  # demand (300 a day) is well over capacity (185 a day)
    # the caps bind: each rep reaches their 30-day cap at some point
    for rep, cap in {"ana": 2200, "ben": 1100, "raj": 1300}.items():
        times = history[rep]
        assert any(
            i - bisect.bisect_right(times, t - timedelta(days=30)) + 1 == cap for i, t in enumerate(times)
        ), rep


def test_section_parses_from_the_documented_example() -> None:
    s = section()
    assert [r.id for r in s.territories] == ["strategic", "benelux", "by_country", "americas_overflow"]
    assert (
        s.routes("hot", "nurture") and s.routes("warm", "route_to_sales") and not s.routes("warm", "nurture")
    )
