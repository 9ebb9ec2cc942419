"""The act stage: what leadgate does about a decision, outside itself (nurture, notifications, CRM).

Every outgoing action asks ``leadgate.actions.gate.check`` first: consent and do-not-contact decide
whether the lead may be contacted for the action's purpose (``leadgate.governance.consent``).
"""

from leadgate.actions.gate import ACTION_PURPOSES, ActionBlockedError, check

__all__ = ["ACTION_PURPOSES", "ActionBlockedError", "check"]
