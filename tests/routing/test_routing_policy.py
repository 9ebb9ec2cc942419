"""The policy's routing section: validated line-precisely by the policy loader, reported by `leadgate policy check`,
and the shipped X Education section routes the example reps sensibly."""

from __future__ import annotations

import csv
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

from tests.cli_support import run
from tests.conftest import EXAMPLES, LEADS_CSV

from leadgate.policy import check_policy_text, default_policy_text, load_default_policy, load_policy_text
from leadgate.reps import load_reps
from leadgate.routing import RouteInput, RoutingState, load_router, route

BASE = """policy_version: 1
name: acme
version: 4
tiers: {hot: 0.7, warm: 0.4, nurture: 0.1}
actions: {hot: route_to_sales, warm: route_to_sales, nurture: nurture, disqualified: discard}
"""


def issues(routing: str) -> list[tuple[int, int, str, str]]:
    return [(i.line, i.column, i.path, i.message) for i in check_policy_text(BASE + routing)]


def test_a_valid_section_has_no_issues() -> None:
    text = """routing:
  route: {actions: [route_to_sales], tiers: [hot]}
  territories:
    - id: india
      when: {field: country, op: eq, value: India}
      to: {reps: [priya]}
    - id: emea
      tiers: [hot, warm]
      to: {team: emea}
  otherwise: null
"""
    assert issues(text) == []


def test_errors_are_located_on_their_line() -> None:
    text = """routing:
  route: {actions: [route_to_salez]}
  territories:
    - id: india
      when: {field: contry, op: eq, value: India}
      to: {reps: [priya]}
    - id: Bad-Id
      to: {territory: city}
    - id: both
      to: {team: emea, reps: [anna]}
  otherwise: {}
  fallback: everyone
"""
    got = issues(text)
    paths = {(line, path) for line, _, path, _ in got}
    assert (7, "routing.route.actions.0") in paths
    assert (10, "routing.territories.0.when.field") in paths
    assert (12, "routing.territories.1.id") in paths
    assert (13, "routing.territories.1.to.territory") in paths
    assert (15, "routing.territories.2.to") in paths
    assert (16, "routing.otherwise") in paths
    assert (17, "routing.fallback") in paths
    messages = {path: message for _, _, path, message in got}
    assert (
        "exactly one of reps, team, territory, everyone; got reps, team"
        in messages["routing.territories.2.to"]
    )
    assert "got none" in messages["routing.otherwise"]
    assert "unknown field 'contry'" in messages["routing.territories.0.when.field"]


def test_duplicate_rule_ids_are_located_on_the_second_id() -> None:
    text = """routing:
  territories:
    - id: india
      to: {reps: [priya]}
    - id: india
      to: {everyone: true}
"""
    assert [(line, path) for line, _, path, _ in issues(text)] == [(10, "routing.territories.1.id")]
    assert "duplicate rule id 'india'" in issues(text)[0][3]


def test_policy_check_reports_routing_errors(tmp_path: Path) -> None:
    broken = tmp_path / "policy.yaml"
    broken.write_text(BASE + "routing:\n  otherwise: {territory: planet}\n", encoding="utf-8")
    output = run("policy", "check", str(broken), code=1)
    assert f"{broken}:7:26: routing.otherwise.territory:" in output


def test_the_policy_lists_the_attributes_its_routing_reads() -> None:
    text = BASE + (
        "routing:\n  territories:\n    - id: big\n"
        "      when: {field: attributes.employees, op: gte, value: 500}\n      to: {everyone: true}\n"
    )

    assert "employees" in load_policy_text(text).attribute_names()


def test_shipped_section_routes_the_x_education_countries_to_the_example_reps() -> None:
    assert default_policy_text() == (EXAMPLES / "policy.yaml").read_text(encoding="utf-8")
    router = load_router(load_default_policy())
    assert router is not None and router.directory.ref == load_reps().ref
    with LEADS_CSV.open(encoding="utf-8") as fh:
        countries = Counter(row["Country"] for row in csv.DictReader(fh))
    now = datetime(2026, 6, 16, 8, 0, tzinfo=UTC)
    where: dict[str, tuple[str | None, str | None]] = {}
    for n, country in enumerate(countries):
        item = RouteInput(f"x{n}", f"d{n}", "hot", "route_to_sales", fields={"country": country or None})
        a = route(item, router, RoutingState(), now, f"a{n}")
        where[country] = (a.rep_id, a.rule_id)
    assert where["India"] == ("priya", "by_country")  # 6,492 of the 9,240 leads
    assert where["United States"] == ("marcus", "by_country")
    assert where["United Kingdom"] == ("anna", "by_country")
    assert where["Saudi Arabia"] == ("priya", "gulf")
    assert where[""] == ("anna", None)  # no country: round robin among everyone, anna (weight 2) first
    assert where["Nigeria"][1] is None  # nobody covers Nigeria
    assert all(rep != "sofia" for rep, _ in where.values())  # the manager takes no leads
