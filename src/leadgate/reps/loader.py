"""Read a reps file and report every problem with the line and column it is on (``leadgate.yamlcheck``)."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from leadgate.reps.model import RepDirectory
from leadgate.yamlcheck import YamlError, YamlIssue, check_yaml

DEFAULT_REPS_RESOURCE = "defaults/reps.yaml"
"""The example reps shipped in the package (``leadgate/defaults/reps.yaml``)."""


class RepsError(YamlError):
    """A reps file is not valid; ``str()`` lists one ``file:line:col: path: message`` line per issue."""


def check_reps_text(text: str) -> tuple[RepDirectory | None, list[YamlIssue]]:
    """Validate reps YAML given as text: ``(reps, [])`` when valid, else ``(None, issues)``."""
    return check_yaml(text, RepDirectory, "reps file")


def load_reps_text(text: str, source: str = "<reps>") -> RepDirectory:
    """Load reps from YAML text.

    Raises:
        RepsError: listing every issue as ``source:line:col: path: message``.
    """
    reps, issues = check_reps_text(text)
    if reps is None:
        raise RepsError(source, issues)
    return reps


def default_reps_path() -> Path:
    """Path of the shipped example reps file."""
    return Path(str(resources.files("leadgate").joinpath(DEFAULT_REPS_RESOURCE)))


def load_reps(path: Path | None = None) -> RepDirectory:
    """Load a reps file (default: the shipped example).

    Raises:
        RepsError: the file is not valid (every issue with its line).
        FileNotFoundError: ``path`` does not exist.
    """
    target = path or default_reps_path()
    return load_reps_text(target.read_text(encoding="utf-8"), str(target))
