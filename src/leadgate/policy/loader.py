"""Read policy YAML and report every problem with the line and column it is on.

The parsing, duplicate-key detection and the mapping of pydantic error locations to YAML nodes are
``leadgate.yamlcheck``'s, shared with the calendars and flow loaders; this module adds the policy model,
its messages and the shipped default.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from leadgate.policy.model import Policy
from leadgate.yamlcheck import YamlError, YamlIssue, check_yaml

DEFAULT_POLICY_RESOURCE = "defaults/policy.yaml"
"""The default policy shipped in the package (a copy of ``examples/xeducation/policy.yaml``)."""

PolicyIssue = YamlIssue
"""One problem in a policy file: ``line``, ``column`` (1-based), dotted ``path``, ``message``."""


class PolicyError(YamlError):
    """A policy file is not valid.

    ``str()`` lists one ``file:line:col: path: message`` line per issue.

    Attributes:
        source: the file name (or the label given to ``load_policy_text``).
        issues: every issue found, ordered by position.

    """


def _check_text(text: str) -> tuple[Policy | None, list[PolicyIssue]]:
    return check_yaml(text, Policy, "policy file")


def check_policy_text(text: str) -> list[PolicyIssue]:
    """Check policy YAML given as text.

    Returns:
        Every issue found, ordered by line and column; an empty list when the policy is valid.

    """
    return _check_text(text)[1]


def check_policy_file(path: str | Path) -> list[PolicyIssue]:
    """Check a policy file and list its problems (for ``leadgate policy check`` and editors).

    Returns:
        Every issue found (YAML syntax, duplicate keys, unknown keys, wrong types, unordered thresholds,
        unknown actions or ops, duplicate rule ids...), ordered by line and column; empty when valid.

    Raises:
        FileNotFoundError: if the file does not exist.

    """
    return check_policy_text(Path(path).read_text(encoding="utf-8"))


def load_policy_text(text: str, source: str = "<policy>") -> Policy:
    """Load a policy from YAML text (e.g. a policy version stored in the registry).

    Args:
        text: the YAML.
        source: the name used in error messages.

    Raises:
        PolicyError: listing every issue as ``source:line:col: path: message``.

    """
    policy, issues = _check_text(text)
    if policy is None:
        raise PolicyError(source, issues)
    return policy


def load_policy(path: str | Path) -> Policy:
    """Load and validate a policy file; its engine is compiled once here.

    Raises:
        FileNotFoundError: if the file does not exist.
        PolicyError: listing every issue as ``file:line:col: path: message``.

    """
    path = Path(path)
    return load_policy_text(path.read_text(encoding="utf-8"), source=str(path))


def default_policy_text() -> str:
    """Return the YAML of the default policy shipped in the package (``leadgate/defaults/policy.yaml``)."""
    return resources.files("leadgate").joinpath(DEFAULT_POLICY_RESOURCE).read_text(encoding="utf-8")


def load_default_policy() -> Policy:
    """Load the default policy shipped in the package.

    Raises:
        PolicyError: if the shipped file is broken (a packaging bug).

    """
    return load_policy_text(default_policy_text(), source=f"leadgate/{DEFAULT_POLICY_RESOURCE}")
