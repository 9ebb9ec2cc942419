"""SLAs: first-touch due times in the rep's working hours, and the scheduler that acts when one is missed.

    policy sla section + tier + rep + assigned_at --compute_sla_due--> due (pure, ``leadgate.sla.due``)
    assignments overdue --sla_pass--> escalation (event + notify_manager action), re-assignment
    rep marks first touch --mark_first_touch--> touched + first_touch event (``leadgate.sla.touch``)

The ``sla:`` section is described in ``docs/policy.md``; ``leadgate worker`` runs ``sla_pass``.
"""

from leadgate.sla.due import (
    add_working_minutes,
    compute_reassign_at,
    compute_sla_due,
    with_sla_due,
    working_intervals,
)
from leadgate.sla.scheduler import (
    Escalation,
    Reassign,
    Reassignment,
    SlaError,
    SlaReport,
    escalation_action,
    escalation_key,
    sla_pass,
)
from leadgate.sla.touch import mark_first_touch

__all__ = [
    "Escalation",
    "Reassign",
    "Reassignment",
    "SlaError",
    "SlaReport",
    "add_working_minutes",
    "compute_reassign_at",
    "compute_sla_due",
    "escalation_action",
    "escalation_key",
    "mark_first_touch",
    "sla_pass",
    "with_sla_due",
    "working_intervals",
]
