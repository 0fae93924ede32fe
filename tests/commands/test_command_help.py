"""Help texts that list the policy kinds take them from the registry (issue 19): the top-level help names every
registered kind (it used to omit the circuit-breaker kinds) and diff's exit code 3, and docs/cli.md says the same.
Every other help text is unchanged (tests/test_docs.py checks their examples)."""

from __future__ import annotations

import re
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from kumahc.cli import main
from kumahc.policies.registry import KINDS

DOCS = Path(__file__).resolve().parent.parent.parent / "docs" / "cli.md"


def _help(*args: str) -> str:
    result = CliRunner().invoke(main, [*args, "--help"], terminal_width=80)
    assert (result.exit_code, result.stderr) == (0, "")
    return result.stdout


def _words(text: str) -> str:
    """``text`` with click's line wrapping undone."""
    return " ".join(text.split())


def test_top_level_help_names_every_kind_and_exit_code() -> None:
    text = _help()
    assert text.split("Options:")[0] == (
        "Usage: main [OPTIONS] COMMAND [ARGS]...\n"
        "\n"
        "  kumahc: health-check and circuit-breaker policies (MeshHealthCheck,\n"
        "  KongUpstreamPolicy, HealthCheck, MeshCircuitBreaker, CircuitBreaker) to Envoy\n"
        "  clusters.\n"
        "\n"
        "  Each PATH is a YAML/JSON file, a directory (read recursively: *.yaml, *.yml, *.json), or - for a document\n"
        "  stream on standard input (named <stdin> in messages).\n"
        "  Exit codes: 0 ok (warnings allowed), 1 invalid input, 2 usage error, 3 (diff only) some cluster changes.\n"
        "\n")
    assert f"policies ({', '.join(KINDS)}) to Envoy clusters." in _words(text)


def test_inspect_policy_help_lists_the_registered_kinds() -> None:
    assert ("(KIND: MeshHealthCheck, KongUpstreamPolicy, HealthCheck, MeshCircuitBreaker or CircuitBreaker; e.g. "
            "MeshHealthCheck/web," in _words(_help("inspect")))
    assert f"(KIND: {', '.join(KINDS[:-1])} or {KINDS[-1]};" in _words(_help("inspect"))


def test_docs_name_the_kinds_of_the_help() -> None:
    sentence = re.search(r"the policy kinds kumahc reads \(([^)]*)\)", _words(DOCS.read_text(encoding="utf-8")))
    assert sentence is not None
    assert sentence.group(1) == f"{', '.join(KINDS)} — the order of `inspect`'s lines"


def _commands(cmd: click.Command, path: tuple[str, ...] = ()) -> list[tuple[str, click.Command]]:
    if isinstance(cmd, click.Group):
        return [found for name, sub in sorted(cmd.commands.items()) for found in _commands(sub, (*path, name))]
    return [(" ".join(path), cmd)]


@pytest.mark.parametrize("name,command", _commands(main), ids=[n for n, _ in _commands(main)])
def test_docs_cli_names_every_option_and_command(name: str, command: click.Command) -> None:
    """docs/cli.md matches --help: every command has a line there, and every long option of it is named there."""
    text = DOCS.read_text(encoding="utf-8")
    assert f"`{name}" in text or f"kumahc {name}" in text
    options = {o for p in command.params if isinstance(p, click.Option) and not p.hidden
               for o in (*p.opts, *p.secondary_opts) if o.startswith("--") and o != "--help"}
    assert sorted(o for o in options if o not in text) == []
