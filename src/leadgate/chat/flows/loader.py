"""Read flow YAML and report every problem with the line and column it is on.

The YAML parsing, duplicate-key detection and the mapping of pydantic errors to YAML nodes are
``leadgate.yamlcheck``'s, shared with the policy and calendars loaders; this module only adds the flow's
model and messages.

Every loaded flow is branded (``leadgate.chat.flows.branding.apply_branding``): its brand placeholders
(``{company}``, ``{assistant}``...) are rendered once, here, from the branding passed in (read from
``LEADGATE_BRANDING_FILE``), else the flow's own ``branding:`` section, else the shipped Lumenly default.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from pydantic import ValidationError
from pydantic_core import InitErrorDetails, PydanticCustomError

from leadgate.chat.flows.branding import (
    DEFAULT_BRANDING,
    Branding,
    BrandingError,
    apply_branding,
    load_branding_text,
)
from leadgate.chat.flows.model import Flow
from leadgate.yamlcheck import YamlError, YamlIssue, check_yaml, issues_from_validation, parse_yaml

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
    flow, issues = check_yaml(text, Flow, "flow file")
    if flow is not None:
        try:
            apply_branding(flow, flow.branding or DEFAULT_BRANDING)
        except ValidationError as exc:
            return None, _issues(exc, text)
    return flow, issues


def _issues(exc: ValidationError, text: str) -> list[FlowIssue]:
    """The errors of ``apply_branding`` at the lines of ``text`` they name."""
    root = parse_yaml(text, "file")[1]
    if root is None:  # pragma: no cover - the text was parsed once already
        return [YamlIssue(1, 1, "<root>", str(exc))]
    return sorted(issues_from_validation(exc, root))


def _branded(
    flow: Flow,
    text: str,
    source: str,
    branding: Branding | None,
    branding_text: str | None,
    branding_source: str,
) -> Flow:
    """``apply_branding`` with its errors located in the flow file, or in the branding file they come from."""
    try:
        return apply_branding(flow, branding or flow.branding or DEFAULT_BRANDING)
    except ValidationError as exc:
        if branding is not None and branding_text is not None:
            moved = [
                InitErrorDetails(
                    type=PydanticCustomError("branding", "{message}", {"message": e["msg"]}),
                    loc=tuple(e["loc"][1:]),
                    input=e["input"],
                )
                for e in exc.errors()
                if e["loc"][:1] == ("branding",)
            ]
            if moved:
                located = ValidationError.from_exception_data("Branding", moved)
                raise BrandingError(branding_source, _issues(located, branding_text)) from None
        raise FlowError(source, _issues(exc, text)) from None


def check_flow_text(text: str) -> list[FlowIssue]:
    """Check flow YAML given as text.

    Returns:
        Every issue found (YAML syntax, duplicate keys, unknown keys, wrong types, unknown sources or
        placeholders, missing person/email/consent slots, a link placeholder its branding does not set...),
        ordered by line and column; empty when valid.
    """
    return _check_text(text)[1]


def check_flow_file(path: str | Path) -> list[FlowIssue]:
    """Check a flow file; see :func:`check_flow_text`.

    Raises:
        FileNotFoundError: if the file does not exist.
    """
    return check_flow_text(Path(path).read_text(encoding="utf-8"))


def load_flow_text(
    text: str,
    source: str = "<flow>",
    *,
    branding: Branding | None = None,
    branding_text: str | None = None,
    branding_source: str = "<branding>",
) -> Flow:
    """Load a flow from YAML text, branded.

    Args:
        text: the YAML.
        source: the name used in error messages.
        branding: replaces the flow's ``branding:`` section (``LEADGATE_BRANDING_FILE``); None: that
            section, or the shipped Lumenly default (``branding.DEFAULT_BRANDING``).
        branding_text: the branding's YAML, to locate a problem that only shows with this flow (a
            ``prompts.slots`` override of a slot the flow lacks) in the branding file.
        branding_source: the branding file's name in such messages.

    Raises:
        FlowError: listing every issue as ``source:line:col: path: message`` (a text that uses a link the
            branding does not set is reported at the text).
        BrandingError: an override in ``branding_text`` does not fit the flow.
    """
    flow, issues = check_yaml(text, Flow, "flow file")
    if flow is None:
        raise FlowError(source, issues)
    return _branded(flow, text, source, branding, branding_text, branding_source)


def load_flow(path: str | Path, branding_file: str | Path | None = None) -> Flow:
    """Load and validate a flow file (``LEADGATE_FLOW_FILE``), branded.

    Args:
        path: the flow file.
        branding_file: a branding file (``LEADGATE_BRANDING_FILE``) that replaces the flow's ``branding:``
            section; None: that section, or the shipped Lumenly default.

    Raises:
        FileNotFoundError: if a file does not exist.
        FlowError: listing every issue as ``file:line:col: path: message``.
        BrandingError: the branding file is invalid, or does not fit the flow.
    """
    path = Path(path)
    return _load(path.read_text(encoding="utf-8"), str(path), branding_file)


def _load(text: str, source: str, branding_file: str | Path | None) -> Flow:
    if branding_file is None:
        return load_flow_text(text, source=source)
    branding_path = Path(branding_file)
    branding_text = branding_path.read_text(encoding="utf-8")
    return load_flow_text(
        text,
        source=source,
        branding=load_branding_text(branding_text, str(branding_path)),
        branding_text=branding_text,
        branding_source=str(branding_path),
    )


def default_flow_text() -> str:
    """Return the YAML of the flow shipped in the package."""
    return resources.files("leadgate.chat").joinpath(DEFAULT_FLOW_RESOURCE).read_text(encoding="utf-8")


def load_default_flow(branding_file: str | Path | None = None) -> Flow:
    """Load the shipped flow ``website_qualification@1``, branded (see :func:`load_flow`).

    Raises:
        FlowError: if the shipped file is broken (a packaging bug).
        BrandingError: the branding file is invalid, or does not fit the flow.
    """
    return _load(default_flow_text(), f"leadgate/chat/{DEFAULT_FLOW_RESOURCE}", branding_file)
