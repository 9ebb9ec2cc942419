"""The act stage: what leadgate does about a decision, outside itself (nurture, notifications, CRM).

Every outgoing action asks ``leadgate.actions.gate.check`` first: consent and do-not-contact decide
whether the lead may be contacted for the action's purpose (``leadgate.governance.consent``).

    act.py           enqueue_decided: the call the decision transaction makes (plan + enqueue)
    planning.py      plan_actions (pure): decision + assignment + routes -> Action contracts, stable keys
    destinations.py  destinations.yaml: enabled plugins (entry points / module:Class), configs, routes
    outbox.py        enqueue (in the decision's transaction), claim with a lease, retry/dead/skip, replay
    dispatcher.py    claim -> read lead/decision/rep -> deliver through a circuit breaker -> record
    worker.py        ``leadgate worker``: the dispatcher and periodic jobs, graceful stop
    ports.py         the Destination protocol, Delivery, Delivered and the delivery errors
"""

from leadgate.actions.gate import ACTION_PURPOSES, ActionBlockedError, check

__all__ = ["ACTION_PURPOSES", "ActionBlockedError", "check"]
