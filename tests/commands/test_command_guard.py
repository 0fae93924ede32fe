"""The one error guard (``kumahc.commands.guard``, applied once by the ``kumahc`` group): an unexpected exception
in any command is one line ``error: internal: <Type>: <message>`` and exit 1, a store failure is its own
``error:`` line and exit 1 (07 §1: never a traceback). Every command of ``kumahc --help`` is driven for real, with
the failure raised at the first thing it calls below the command line."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import click
import pytest
from click.testing import CliRunner

import kumahc.commands.completion
import kumahc.commands.version
import kumahc.pipeline
import kumahc.sources.store.check
import kumahc.sources.store.connection
import kumahc.xds.app
from kumahc.cli import main
from kumahc.sources.store.errors import StoreError

STORE = "postgresql://kumahc@127.0.0.1:1/kumahc"  # never connected to: the session is replaced below
MESH = "type: Mesh\nname: default\n"

# Each command, with the call it reaches first below the command line (module, attribute) and its arguments.
PIPELINE = (kumahc.pipeline, "load")
SERVE = (kumahc.xds.app, "serve")
SESSION = (kumahc.sources.store.connection, "session")
COMMANDS: dict[str, tuple[tuple[Any, str], list[str]]] = {
    "render": (PIPELINE, ["render", "in/a.yaml"]),
    "validate": (PIPELINE, ["validate", "in/a.yaml"]),
    "migrate": (PIPELINE, ["migrate", "in/a.yaml"]),
    "inspect": (PIPELINE, ["inspect", "in/a.yaml", "--proxy", "web"]),
    "diff": (PIPELINE, ["diff", "in/a.yaml", "in/a.yaml"]),
    "golden check": (PIPELINE, ["golden", "check", "cases"]),
    "golden update": (PIPELINE, ["golden", "update", "cases"]),
    "serve": (SERVE, ["serve", "in/a.yaml", "--xds-address", "127.0.0.1:0", "--admin-address", "127.0.0.1:0"]),
    "apply": (SESSION, ["apply", "-f", "in/a.yaml", "--store", STORE]),
    "get": (SESSION, ["get", "meshes", "--store", STORE]),
    "delete": (SESSION, ["delete", "mesh", "default", "--store", STORE]),
    "store migrate": (SESSION, ["store", "migrate", "--store", STORE]),
    "store check": ((kumahc.sources.store.check, "run"), ["store", "check", "--store", STORE]),
    "store writer": (SESSION, ["store", "writer", "--store", STORE]),
    "completion": ((kumahc.commands.completion, "get_completion_class"), ["completion", "bash"]),
    "version": ((kumahc.commands.version, "versions"), ["version"]),
}


def _leaves(group: click.Group, prefix: str = "") -> list[str]:
    out = []
    for name, cmd in group.commands.items():
        out += _leaves(cmd, f"{prefix}{name} ") if isinstance(cmd, click.Group) else [f"{prefix}{name}"]
    return out


def _inputs(root: Path) -> None:
    (root / "in").mkdir()
    (root / "in" / "a.yaml").write_text(MESH)
    (root / "cases" / "one").mkdir(parents=True)
    (root / "cases" / "one" / "a.yaml").write_text(MESH)


def _invoke(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, command: str,
            failure: Callable[..., Any]) -> tuple[int, str, str]:
    monkeypatch.chdir(tmp_path)
    _inputs(tmp_path)
    (module, attribute), args = COMMANDS[command]
    monkeypatch.setattr(module, attribute, failure)
    result = CliRunner().invoke(main, args, catch_exceptions=True)
    # Anything but a SystemExit escaping the group is a traceback in a real run.
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    return result.exit_code, result.stdout, result.stderr


def test_every_command_is_covered() -> None:
    assert sorted(_leaves(main)) == sorted(COMMANDS)


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_unexpected_exception_is_one_internal_line(monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                                                   command: str) -> None:
    def boom(*_: Any, **__: Any) -> None:
        raise RuntimeError("boom")

    assert _invoke(monkeypatch, tmp_path, command, boom) == (1, "", "error: internal: RuntimeError: boom\n")


@pytest.mark.parametrize("command", sorted(c for c in COMMANDS if COMMANDS[c][0] == SESSION))
def test_store_failure_is_its_own_line(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, command: str) -> None:
    def unreachable(*_: Any, **__: Any) -> None:
        raise StoreError("store postgresql://kumahc@127.0.0.1:1/kumahc: connection refused")

    assert _invoke(monkeypatch, tmp_path, command, unreachable) == (
        1, "", "error: store postgresql://kumahc@127.0.0.1:1/kumahc: connection refused\n")


def test_usage_errors_pass_through_the_guard(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    # Raised inside the guarded command, after parsing: still click's usage error, exit 2.
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(main, ["inspect", "x.yaml"])
    assert (result.exit_code, result.stdout) == (2, "")
    assert result.stderr.endswith("Error: give exactly one of --proxy and --policy\n")
