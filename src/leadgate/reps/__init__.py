"""Reps and teams: one model shared by routing, SLAs, the rep inbox, notifications and demo booking.

    reps.yaml --load_reps--> RepDirectory (teams, reps: time zone, working hours, weight, caps, out of office)

Format: ``docs/reps.md``. The shipped example is ``leadgate/defaults/reps.yaml``; point leadgate at your
own with ``LEADGATE_REPS_FILE`` (or ``reps:`` in a project's ``leadgate.yaml``).
"""

from leadgate.reps.loader import RepsError, check_reps_text, default_reps_path, load_reps, load_reps_text
from leadgate.reps.model import Absence, Rep, RepDirectory, Team

__all__ = [
    "Absence",
    "Rep",
    "RepDirectory",
    "RepsError",
    "Team",
    "check_reps_text",
    "default_reps_path",
    "load_reps",
    "load_reps_text",
]
