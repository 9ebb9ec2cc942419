"""Routing: who works a decided lead (existing owner, territory rules, weighted round robin with caps).

    Decision + lead --policy routing section, reps--> Assignment --store_assignment--> assignments + work event

Public interface:

* ``load_router(policy, reps_file) -> Router | None``: the policy's ``routing:`` section over a reps file.
* ``route(item, router, state, now, assignment_id) -> Assignment`` and ``route_many``: the pure engine.
* ``route_decisions(conn, router, records, decisions, now)``: route and store a batch of decisions in the
  decision transaction (``batches.qualify_leads_routed`` calls it).
* ``reassign(conn, lead_id, to_rep=..., actor=, reason=, now=, directory=, section=)``: move a lead to
  another rep (or by round robin away from the current one).
* ``assign_booking(conn, lead_id=, rep_id=, booking_id=, ...)``: a booked demo goes to the calendar's rep.
* ``store_assignment``, ``current_assignment``: the one writer of assignment rows, and the reader.

Format of the section: ``docs/routing.md``.
"""

from leadgate.routing.engine import (
    RepLoad,
    RouteInput,
    Router,
    RoutingConfigError,
    RoutingState,
    UnknownRepError,
    country_code,
    route,
    route_many,
)
from leadgate.routing.loader import load_router
from leadgate.routing.records import current_assignment, store_assignment
from leadgate.routing.store import (
    LeadNotFoundError,
    assign_booking,
    reassign,
    route_decisions,
)

__all__ = [
    "LeadNotFoundError",
    "RepLoad",
    "RouteInput",
    "Router",
    "RoutingConfigError",
    "RoutingState",
    "UnknownRepError",
    "assign_booking",
    "country_code",
    "current_assignment",
    "load_router",
    "reassign",
    "route",
    "route_decisions",
    "route_many",
    "store_assignment",
]
