"""Read a rep calendars file and report every problem with the line and column it is on.

The YAML parsing, duplicate-key detection and the mapping of pydantic error locations to YAML nodes are
``leadgate.yamlcheck``'s: an issue has the same shape (``file:line:col: path: message``) for policies,
calendars and flows. A calendars file names reps of the reps file (``leadgate.reps``) by id: it is
validated with that ``RepDirectory`` (None: the shipped example reps), and an unknown id is an issue on
its line.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from pydantic import ValidationError

from leadgate.chat.booking.model import CalendarSet
from leadgate.reps import RepDirectory, load_reps
from leadgate.yamlcheck import ROOT, YamlError, YamlIssue, issues_from_validation, mark, parse_yaml

KIND = "calendars file"

CalendarIssue = YamlIssue
"""One problem in a calendars file: ``line``, ``column`` (1-based), dotted ``path``, ``message``."""

DEFAULT_CALENDARS_RESOURCE = "data/calendars.yaml"
"""The example calendars shipped in the package (``leadgate/chat/data/calendars.yaml``)."""


class CalendarError(YamlError):
    """A calendars file is not valid.

    ``str()`` lists one ``file:line:col: path: message`` line per issue.

    Attributes:
        source: the file name (or the label given to ``load_calendars_text``).
        issues: every issue found, ordered by position.
    """


def check_calendars_text(
    text: str, reps: RepDirectory | None = None
) -> tuple[CalendarSet | None, list[CalendarIssue]]:
    """Validate calendars YAML given as text against a reps file.

    Args:
        text: the YAML (format: ``docs/booking.md``).
        reps: the reps its ids refer to; None: the shipped example (``leadgate.reps.load_reps()``).

    Returns:
        ``(calendars, [])`` when valid; ``(None, issues)`` otherwise, issues ordered by line and column
        (YAML syntax, duplicate keys, unknown keys, wrong types, unknown time zones, ranges that end
        before they start or overlap, busy blocks without offset, duplicate or unknown rep ids, keys that
        belong in the reps file...).
    """
    directory = load_reps() if reps is None else reps
    data, root, issues = parse_yaml(text, KIND)
    if root is None:
        return None, issues
    if not isinstance(data, dict):
        line, column = mark(root)
        return None, [*issues, YamlIssue(line, column, ROOT, f"a {KIND} must be a YAML mapping")]
    calendars: CalendarSet | None = None
    try:
        calendars = CalendarSet.model_validate(data, context={"reps": directory})
    except ValidationError as exc:
        issues.extend(issues_from_validation(exc, root))
    issues.sort()
    return (calendars if not issues else None), issues


def load_calendars_text(
    text: str, source: str = "<calendars>", reps: RepDirectory | None = None
) -> CalendarSet:
    """Load calendars from YAML text.

    Args:
        text: the YAML (format: ``docs/booking.md``).
        source: the name used in error messages.
        reps: the reps file its ids refer to; None: the shipped example reps.

    Raises:
        CalendarError: listing every issue as ``source:line:col: path: message``.
    """
    calendars, issues = check_calendars_text(text, reps)
    if calendars is None:
        raise CalendarError(source, issues)
    return calendars


def default_calendars_path() -> Path:
    """Path of the example calendars shipped in the package."""
    return Path(str(resources.files("leadgate.chat").joinpath(DEFAULT_CALENDARS_RESOURCE)))


def load_calendars(path: str | Path | None = None, reps: RepDirectory | None = None) -> CalendarSet:
    """Load and validate a calendars file.

    Args:
        path: the YAML file (``Settings.calendars_file``); None means the shipped example
            (``leadgate/chat/data/calendars.yaml``).
        reps: the reps file its ids refer to (``load_reps(Settings.reps_file)``); None: the shipped
            example reps.

    Raises:
        FileNotFoundError: if the file does not exist.
        CalendarError: listing every issue as ``file:line:col: path: message``.
    """
    path = default_calendars_path() if path is None else Path(path)
    return load_calendars_text(path.read_text(encoding="utf-8"), source=str(path), reps=reps)
