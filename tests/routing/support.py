"""Shared test data of the routing tests: a reps file and routing sections written as a sales ops team would."""

from __future__ import annotations

from typing import Any

import yaml

from leadgate.policy.routing_model import RoutingSection
from leadgate.reps import RepDirectory, load_reps_text
from leadgate.routing import RouteInput, Router

REPS_YAML = """
name: acme-sales
version: 3
teams:
  - {id: emea, name: EMEA, manager: lena}
  - {id: americas, name: Americas, manager: lena}
  - {id: apac, name: APAC, manager: lena}
reps:
  - id: jonas
    name: Jonas Weber
    email: jonas.weber@acme.example
    timezone: Europe/Berlin
    team: emea
    weight: 2
    daily_cap: 40
    monthly_cap: 600
    territories: [DE, AT, CH]
    working_hours: {mon: ["09:00-17:00"], tue: ["09:00-17:00"], wed: ["09:00-17:00"],
                    thu: ["09:00-17:00"], fri: ["09:00-15:00"]}
  - id: claire
    name: Claire Martin
    email: claire.martin@acme.example
    timezone: Europe/Paris
    team: emea
    daily_cap: 30
    territories: [FR, BE, "Benelux"]
    working_hours: {mon: ["09:00-18:00"], tue: ["09:00-18:00"], wed: ["09:00-18:00"],
                    thu: ["09:00-18:00"], fri: ["09:00-18:00"]}
    out_of_office:
      - {start: 2026-08-03, end: 2026-08-21, reason: summer holiday}
  - id: dev
    name: Dev Malhotra
    email: dev.malhotra@acme.example
    timezone: Asia/Kolkata
    team: apac
    daily_cap: 60
    monthly_cap: 900
    territories: [IN, SG, AE]
    working_hours: {mon: ["09:30-18:30"], tue: ["09:30-18:30"], wed: ["09:30-18:30"],
                    thu: ["09:30-18:30"], fri: ["09:30-18:30"]}
  - id: maria
    name: Maria Lopez
    email: maria.lopez@acme.example
    timezone: America/New_York
    team: americas
    daily_cap: 35
    territories: [US, CA, MX]
    working_hours: {mon: ["08:30-17:30"], tue: ["08:30-17:30"], wed: ["08:30-17:30"],
                    thu: ["08:30-17:30"], fri: ["08:30-16:00"]}
  - id: tom
    name: Tom Baker
    email: tom.baker@acme.example
    timezone: America/Chicago
    team: americas
    active: false
    territories: [US]
    working_hours: {mon: ["08:00-16:00"]}
  - id: lena
    name: Lena Fischer
    email: lena.fischer@acme.example
    timezone: Europe/Berlin
    active: false
    working_hours: {mon: ["08:00-17:00"]}
"""

SECTION_YAML = """
route: {actions: [route_to_sales], tiers: [hot]}
existing_owner: true
territories:
  - id: strategic
    reason: enterprise accounts go to the senior EMEA rep
    tiers: [hot]
    when:
      all:
        - {field: attributes.employees, op: gte, value: 1000}
        - {field: country, op: in, value: [Germany, Austria, Switzerland, DE, AT, CH]}
    to: {reps: [jonas]}
  - id: benelux
    when: {field: attributes.region, op: eq, value: Benelux}
    to: {territory: region}
  - id: by_country
    reason: the rep whose territory lists the lead's country
    to: {territory: country}
  - id: americas_overflow
    when: {field: country, op: in, value: [Brazil, Argentina, Chile]}
    to: {team: americas}
otherwise: {everyone: true}
"""


def reps(text: str = REPS_YAML) -> RepDirectory:
    return load_reps_text(text, "acme-reps.yaml")


def section(text: str = SECTION_YAML) -> RoutingSection:
    return RoutingSection.model_validate(yaml.safe_load(text), strict=False)


def router(text: str = SECTION_YAML, directory: RepDirectory | None = None) -> Router:
    return Router(section(text), directory or reps(), "acme@7")


def lead(
    n: int,
    country: str | None,
    *,
    tier: str = "hot",
    action: str = "route_to_sales",
    owner: str | None = None,
    **attributes: Any,
) -> RouteInput:
    return RouteInput(
        lead_id=f"web-{n:05d}",
        decision_id=f"dec-{n:05d}",
        tier=tier,
        action=action,
        attributes=attributes,
        fields={"country": country},
        score=(0.81, 0.9, 72.0, "model"),
        owner=owner,
    )
