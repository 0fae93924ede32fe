"""``kumahc golden`` (issue 23, item 7): ``golden check`` and ``golden update`` show examples in ``--help``, whose
files exist, and a case's ``args`` file speaks the new output flag: ``-o json`` is accepted (expected.json is
JSON), any other format is refused with the case named."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner
from helpers import REPO, Workspace, run

from kumahc.cli import main

CASE = "complete-example"


def _help(*args: str) -> str:
    result = CliRunner().invoke(main, [*args, "--help"], terminal_width=120)
    assert (result.exit_code, result.stderr) == (0, "")
    return result.stdout


def test_golden_check_help_has_examples() -> None:
    assert _help("golden", "check").split("Options:")[1] == (
        "\n"
        "  -h, --help  Show this message and exit.\n"
        "\n"
        "  Examples:\n"
        "    kumahc golden check golden/\n"
        "    kumahc golden check golden/ | tail -1\n"
        "\n"
        "  Prints a unified diff (expected.json against the render) for each case that differs, then the summary\n"
        "  \"golden: P passed, F failed\". Exit codes: 0 every case matches, 1 a difference, a case that does not "
        "render,\n"
        "  or a refused args file (nothing is rendered then).\n")


def test_golden_update_help_has_examples() -> None:
    assert _help("golden", "update").split("Options:")[1] == (
        "\n"
        "  -h, --help  Show this message and exit.\n"
        "\n"
        "  Examples:\n"
        "    kumahc golden update golden/\n"
        "    kumahc golden update golden/ && git diff --stat golden/\n"
        "\n"
        "  Writes only the expected.json files whose bytes change (atomically, only inside DIR) and prints "
        "\"updated CASE\"\n"
        "  for each, then \"golden: N cases, U updated\". Review the changes before committing them. Exit codes: 0 "
        "every\n"
        "  case rendered, 1 a case that does not render or a refused args file (nothing is written then).\n")


def test_golden_group_help_describes_a_case() -> None:
    text = _help("golden")
    assert ("A case is a directory DIR/CASE/ holding input files, an optional `args` file (render options on one "
            "line:\n  --proxy, --protocol, --strict, --endpoints) and expected.json. Exit codes: 0 every case passes, "
            "1 otherwise.\n") in text


@pytest.fixture
def golden(ws: Workspace) -> Path:
    shutil.copytree(REPO / "golden" / CASE, ws.root / "g" / CASE)
    return ws.root / "g" / CASE


@pytest.mark.parametrize("args", ["-o json", "--output json", "--output=json --proxy web-01"])
def test_args_may_ask_for_json(golden: Path, args: str) -> None:
    before = (golden / "args").read_text() if (golden / "args").exists() else ""
    (golden / "args").write_text(f"{before.strip()} {args}\n")
    r = run("golden", "check", "g")
    assert (r.code, r.out, r.err) == (0, "golden: 1 passed, 0 failed\n", "")


@pytest.mark.parametrize("fmt", ["yaml", "table", "wide", "name"])
@pytest.mark.parametrize("command", ["check", "update"])
def test_args_may_not_ask_for_another_format(golden: Path, fmt: str, command: str) -> None:
    (golden / "args").write_text(f"-o {fmt}\n")
    expected = (golden / "expected.json").read_bytes()
    r = run("golden", command, "g")
    assert (r.code, r.out) == (1, "")
    assert r.lines == [f"error: g/{CASE}/args: -o {fmt}: a golden case is rendered as JSON (expected.json): only "
                       "-o json is allowed"]
    assert (golden / "expected.json").read_bytes() == expected
