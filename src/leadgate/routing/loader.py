"""Build the ``Router`` of a process from its policy and reps file (the composition roots call this)."""

from __future__ import annotations

from pathlib import Path

from leadgate.policy import Policy
from leadgate.reps import load_reps
from leadgate.routing.engine import Router


def load_router(policy: Policy, reps_file: Path | None = None) -> Router | None:
    """The router of ``policy``'s routing section over the reps of ``reps_file`` (``Settings.reps_file``).

    Args:
        policy: the qualification policy (its ``routing:`` section and ``name@version``).
        reps_file: the reps YAML; None: the shipped example (``leadgate/defaults/reps.yaml``).

    Returns:
        The router, or None when the policy has no ``routing:`` section (nothing is routed).

    Raises:
        leadgate.reps.RepsError: the reps file is not valid.
        RoutingConfigError: the section names reps or teams the reps file does not have.
        FileNotFoundError: ``reps_file`` does not exist.
    """
    if policy.routing is None:
        return None
    return Router(policy.routing, load_reps(reps_file), policy.ref, policy.sla)
