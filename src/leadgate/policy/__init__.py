"""Qualification policies: versioned YAML (tiers, disqualification, actions, review) and a pure engine.

Public interface:

* ``load_policy(path) -> Policy``, ``load_policy_text(text, source) -> Policy``,
  ``load_default_policy() -> Policy``: read and validate a policy (raise ``PolicyError``).
* ``check_policy_file(path)``, ``check_policy_text(text) -> list[PolicyIssue]``: every problem with its
  line and column, for ``leadgate policy check``.
* ``decide(lead, score, policy) -> PolicyOutcome``: the pure engine for one lead.
* ``decide_many(attributes, probabilities, confidences, fit_scores, scorers, policy) -> list[Verdict]``:
  the same decisions for a batch, without per-lead pydantic objects.

The format and the precedence of the rules are described in ``docs/policy.md``.
"""

from leadgate.policy.engine import CompiledPolicy, decide, decide_many
from leadgate.policy.loader import (
    PolicyError,
    PolicyIssue,
    check_policy_file,
    check_policy_text,
    default_policy_text,
    load_default_policy,
    load_policy,
    load_policy_text,
)
from leadgate.policy.model import (
    ActionOverride,
    Actions,
    DisqualificationRule,
    HighValue,
    Policy,
    ReviewRules,
    Tiers,
)
from leadgate.policy.outcome import PolicyOutcome, Verdict

__all__ = [
    "ActionOverride",
    "Actions",
    "CompiledPolicy",
    "DisqualificationRule",
    "HighValue",
    "Policy",
    "PolicyError",
    "PolicyIssue",
    "PolicyOutcome",
    "ReviewRules",
    "Tiers",
    "Verdict",
    "check_policy_file",
    "check_policy_text",
    "decide",
    "decide_many",
    "default_policy_text",
    "load_default_policy",
    "load_policy",
    "load_policy_text",
]
