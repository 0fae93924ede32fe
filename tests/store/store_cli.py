"""Running kumahc's store commands in-process for the store tests: exit code, stdout and stderr, never a
traceback."""

from __future__ import annotations

from click.testing import CliRunner
from helpers import Run

from kumahc.cli import main


def kumahc(*args: str, stdin: str | None = None, env: dict[str, str] | None = None) -> Run:
    """``kumahc ARGS`` in-process, with KUMAHC_STORE unset unless ``env`` sets it; never a traceback."""
    result = CliRunner().invoke(main, list(args), input=stdin, env={"KUMAHC_STORE": None, **(env or {})},
                                catch_exceptions=True)
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    assert "Traceback" not in result.stderr
    assert "error: internal" not in result.stderr
    return Run(result.exit_code, result.stdout, result.stderr)
