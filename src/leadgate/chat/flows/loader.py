"""Read flow YAML and report every problem with the line and column it is on.

The YAML parsing, duplicate-key detection and the mapping of pydantic errors to YAML nodes are
``leadgate.yamlcheck``'s, shared with the policy and calendars loaders; this module only adds the flow's
model and messages.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from leadgate.chat.flows.model import Flow
from leadgate.yamlcheck import YamlError, YamlIssue, check_yaml

FlowIssue = YamlIssue
"""One problem in a flow file: ``line``, ``column`` (1-based), dotted ``path``, ``message``."""

DEFAULT_FLOW_RESOURCE = "data/flow.yml"
"""The flow shipped in the package (``leadgate/chat/data/flow.yml``, ``website_qualification@1``)."""

__all__ = [
    "DEFAULT_FLOW_RESOURCE",
    "FlowError",
    "FlowIssue",
    "check_flow_file",
    "check_flow_text",
    "default_flow_text",
    "load_default_flow",
    "load_flow",
    "load_flow_text",
]


class FlowError(YamlError):
    """A flow file is not valid.

    ``str()`` lists one ``file:line:col: path: message`` line per issue.

    Attributes:
        source: the file name (or the label given to :func:`load_flow_text`).
        issues: every issue found, ordered by position.
    """


def _check_text(text: str) -> tuple[Flow | None, list[FlowIssue]]:
    return check_yaml(text, Flow, "flow file")


def check_flow_text(text: str) -> list[FlowIssue]:
    """Check flow YAML given as text.

    Returns:
        Every issue found (YAML syntax, duplicate keys, unknown keys, wrong types, unknown sources or
        placeholders, missing person/email/consent slots...), ordered by line and column; empty when valid.
    """
    return _check_text(text)[1]


def check_flow_file(path: str | Path) -> list[FlowIssue]:
    """Check a flow file; see :func:`check_flow_text`.

    Raises:
        FileNotFoundError: if the file does not exist.
    """
    return check_flow_text(Path(path).read_text(encoding="utf-8"))


def load_flow_text(text: str, source: str = "<flow>") -> Flow:
    """Load a flow from YAML text.

    Args:
        text: the YAML.
        source: the name used in error messages.

    Raises:
        FlowError: listing every issue as ``source:line:col: path: message``.
    """
    flow, issues = _check_text(text)
    if flow is None:
        raise FlowError(source, issues)
    return flow


def load_flow(path: str | Path) -> Flow:
    """Load and validate a flow file (``LEADGATE_FLOW_FILE``).

    Raises:
        FileNotFoundError: if the file does not exist.
        FlowError: listing every issue as ``file:line:col: path: message``.
    """
    path = Path(path)
    return load_flow_text(path.read_text(encoding="utf-8"), source=str(path))


def default_flow_text() -> str:
    """Return the YAML of the flow shipped in the package."""
    return resources.files("leadgate.chat").joinpath(DEFAULT_FLOW_RESOURCE).read_text(encoding="utf-8")


def load_default_flow() -> Flow:
    """Load the shipped flow ``website_qualification@1``.

    Raises:
        FlowError: if the shipped file is broken (a packaging bug).
    """
    return load_flow_text(default_flow_text(), source=f"leadgate/chat/{DEFAULT_FLOW_RESOURCE}")
