"""``leadgate chat``: check the chat assistant's configuration files (line-precise, like ``policy check``).

``leadgate.cli`` registers ``chat_app``. The branding format is ``docs/branding.md``; the flow format
``docs/chat-flows.md``. Both are read by the one YAML checker (``leadgate.yamlcheck``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from leadgate.cli_common import console, err_console

chat_app = typer.Typer(help="The chat assistant: check its branding and flow files.", no_args_is_help=True)


@chat_app.command("check-branding")
def check_branding(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="Branding YAML.")],
    flow: Annotated[
        Path | None,
        typer.Option(
            "--flow",
            exists=True,
            dir_okay=False,
            help="The flow file it brands (LEADGATE_FLOW_FILE); default: the shipped flow.",
        ),
    ] = None,
) -> None:
    """Validate a branding file, then brand the flow with it.

    Prints ``file:line:column: path: message`` for each problem (in the branding file, or in the flow file
    for a flow text that uses a link the branding does not set) and exits 1; otherwise prints the branded
    greeting.
    """
    from leadgate.chat.flows import FlowError, load_default_flow, load_flow
    from leadgate.chat.flows.branding import BrandingError, check_branding_text

    branding, issues = check_branding_text(file.read_text(encoding="utf-8"))
    if branding is None:
        for issue in issues:
            err_console.print(f"{file}:{issue}", highlight=False)
        raise typer.Exit(1)
    try:
        branded = load_flow(flow, file) if flow is not None else load_default_flow(file)
    except (BrandingError, FlowError) as exc:
        err_console.print(str(exc), highlight=False)
        raise typer.Exit(1) from None
    tone = branding.tone or "the flow's own wording"
    console.print(
        f"{file}: ok ({branding.assistant_name} for {branding.company}, tone: {tone}; flow {branded.ref})",
        highlight=False,
    )
    console.print(f"greeting: {branded.texts.greeting}", highlight=False)
