"""The SLA scheduler as a ``leadgate worker`` job: the composition of ``sla_pass`` with routing and the outbox.

    every 30 s:  sla_pass(now)  --missed, escalate-->  sla_escalated event + notify_manager actions (outbox)
                                --missed longer, reassign-->  leadgate.routing.reassign (new rep, new deadline)

The policy is the served one (``project.served_policy_path``), the reps ``Settings.reps_file`` and the
manager notifications go where the destinations file routes ``notify_manager`` (none: the escalation is
recorded in the work-event chain and shown to managers, nobody is notified).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from datetime import datetime

from sqlalchemy import Connection, Engine

from leadgate.actions.destinations import destinations_path, load_routes
from leadgate.actions.outbox import enqueue
from leadgate.actions.worker import PeriodicJob
from leadgate.contracts.action import Action, Assignment
from leadgate.db import store
from leadgate.policy import Policy, load_policy
from leadgate.policy.sla_model import SlaSection
from leadgate.project import served_policy_path
from leadgate.reps import RepDirectory, load_reps
from leadgate.routing import RoutingConfigError, reassign
from leadgate.sla.scheduler import Reassign, SlaReport, sla_pass

log = logging.getLogger(__name__)

SLA_JOB_SECONDS = 30.0
"""How often the worker looks for missed SLAs: a 5-minute first-touch target is escalated at most 30 s late."""


def routing_reassign(policy: Policy) -> Reassign:
    """The ``Reassign`` of ``sla_pass`` over ``leadgate.routing.reassign`` with ``policy``'s routing section.

    Raises (when called):
        RoutingConfigError: the policy has no routing section (nobody to re-assign to).
    """

    def run(
        conn: Connection,
        lead_id: str,
        *,
        to_rep: str | None = None,
        actor: str = "leadgate",
        reason: str,
        now: datetime,
        directory: RepDirectory,
        section: SlaSection | None,
    ) -> Assignment:
        if policy.routing is None:
            raise RoutingConfigError(
                f"policy {policy.ref} has no routing section: a missed SLA cannot re-assign"
            )
        return reassign(
            conn,
            lead_id,
            to_rep=to_rep,
            actor=actor,
            reason=reason,
            now=now,
            directory=directory,
            section=policy.routing,
            policy_ref=policy.ref,
            sla=section,
        )

    return run


def fan_out(targets: Sequence[str]) -> Callable[[Connection, Action], None]:
    """The ``enqueue`` of ``sla_pass``: one copy of each planned action per destination in ``targets``."""

    def run(conn: Connection, action: Action) -> None:
        enqueue(
            conn,
            [
                action.model_copy(update={"destination": name, "action_id": store.new_id()})
                for name in targets
            ],
        )

    return run


def sla_job(settings: object, *, every_seconds: float = SLA_JOB_SECONDS) -> PeriodicJob:
    """The periodic SLA job of ``leadgate worker`` (files read once, when the worker starts).

    Raises:
        PolicyError, RepsError, DestinationsError: a configured file is invalid.
    """
    policy = load_policy(served_policy_path(settings))
    directory = load_reps(getattr(settings, "reps_file", None))
    targets = tuple(load_routes(destinations_path(settings)).get("notify_manager", ()))
    do_reassign = routing_reassign(policy)
    do_enqueue = fan_out(targets)

    def run(engine: Engine, now: datetime) -> SlaReport | None:
        if policy.sla is None:
            return None
        report = sla_pass(
            engine,
            now=now,
            directory=directory,
            policy=policy,
            reassign=do_reassign,
            destination=targets[0] if targets else "none",
            enqueue=do_enqueue if targets else None,
        )
        if report.escalations or report.reassignments or report.errors:
            log.info(
                "sla pass",
                extra={
                    "escalated": len(report.escalations),
                    "reassigned": len(report.reassignments),
                    "errors": len(report.errors),
                },
            )
        return report

    return PeriodicJob("sla", every_seconds, run)
