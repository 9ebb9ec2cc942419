"""Running the ``leadgate`` command line in-process (typer's CliRunner), shared by the CLI tests."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from leadgate import cli


@pytest.fixture
def wide_console(monkeypatch: pytest.MonkeyPatch) -> None:
    """Rich wraps at 80 columns when not on a terminal; tables and paths must stay on one line.

    Patches the private ``_width`` (None: measured each time): patching ``width`` would restore a
    measured width as a fixed one, and a later test's ``COLUMNS`` would no longer count.
    """
    monkeypatch.setattr(cli.console, "_width", 400)
    monkeypatch.setattr(cli.err_console, "_width", 400)


def run(*args: str, code: int = 0) -> str:
    """Run ``leadgate ARGS``; assert its exit code (a failure must be a one-line error, not a traceback)."""
    result = CliRunner().invoke(cli.app, list(args))
    assert result.exit_code == code, (args, result.output, result.exception)
    if code:
        assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
        assert "Traceback" not in result.output
    return result.output
