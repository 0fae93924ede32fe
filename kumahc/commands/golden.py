"""``kumahc golden``: the golden-file harness for CI (spec 07 §6). Each subdirectory of DIR is a case: input
files, an optional ``args`` file (render options) and ``expected.json``, rendered like ``kumahc render``."""

from __future__ import annotations

import difflib
import os
import shlex
import sys

import click

from kumahc.commands.options import CONTEXT_SETTINGS
from kumahc.commands.output import fail, invalid_lines, stderr
from kumahc.commands.render import render
from kumahc.diagnostics import FatalInputError, InputError
from kumahc.resources.files import walk_directory


@click.group(epilog="""\b
Examples:
  kumahc golden check golden/
  kumahc golden update golden/

\b
A case is a directory DIR/CASE/ holding input files, an optional `args` file (render options on one line:
--proxy, --protocol, --strict, --endpoints) and expected.json. Exit codes: 0 every case passes, 1 otherwise.""")
def golden() -> None:
    """Golden files: each subdirectory of DIR is a case (input files, optional `args`, expected.json)."""


def _cases(directory: str) -> list[str]:
    try:
        names = sorted(os.listdir(directory))
    except OSError as exc:
        fail(f"{directory}: cannot read: {exc.strerror or exc}")
    cases = []
    for name in names:
        case = os.path.join(directory, name)
        if os.path.isdir(case) and not name.startswith(".") and any(
            f.endswith((".yaml", ".yml", ".json")) and f != "expected.json" for _, _, fs in os.walk(case) for f in fs
        ):
            cases.append(name)
    if not cases:
        fail(f"no golden cases in {directory}")
    return cases


# Options an ``args`` file may hold: those the harness applies to the render (and -o json, which changes nothing:
# expected.json is always JSON; any other -o is refused). Anything else would be ignored silently, write files
# (--output-file), or end the run before any comparison (--help exits 0): a case must never pass by not being
# rendered.
CASE_OPTIONS = ("protocol", "strict", "proxy", "endpoints", "fmt")


class _BadCase(Exception):
    """A case the harness refuses; the message names its path."""


class _NotJson(Exception):
    """An ``args`` file asks for an output format other than JSON; the message is the format."""


def _case_options(case_dir: str) -> dict:
    """The render options of a case: its ``args`` file (one line, split like a shell; spec 07 §6) read with
    ``render``'s own parser, without running any option's action. Raises :class:`_BadCase` for an option outside
    :data:`CASE_OPTIONS` (``--help``, ``--output-file``, ``--store``, …), a PATH, an ``-o`` other than ``json``, or
    anything ``render`` would refuse."""
    args_file = os.path.join(case_dir, "args")
    if not os.path.exists(args_file):
        return _parse_case_args([])
    try:
        with open(args_file, encoding="utf-8") as fh:
            text = fh.read()
    except (OSError, UnicodeDecodeError) as exc:
        raise _BadCase(f"{args_file}: cannot read: {getattr(exc, 'strerror', None) or exc}") from None
    try:
        args = shlex.split(text)
    except ValueError as exc:  # an unbalanced quote
        raise _BadCase(f"{args_file}: {exc}") from None
    try:
        # The parser only: unlike make_context it runs no callback, so --help cannot print and exit here.
        ctx = click.Context(render, info_name="render", **CONTEXT_SETTINGS)
        given, _, order = render.make_parser(ctx).parse_args(args=list(args))
    except click.UsageError as exc:
        raise _BadCase(f"{args_file}: {exc.format_message()}") from None
    if isinstance(given.get("paths"), (list, tuple)) and given["paths"]:  # not given: click's UNSET, not ()
        raise _BadCase(f"{args_file}: PATH arguments are not allowed (the case directory is the input)")
    for param in order:
        if param.name != "paths" and param.name not in CASE_OPTIONS:
            allowed = ", ".join(p.opts[-1] for p in render.params if p.name in CASE_OPTIONS)
            raise _BadCase(f"{args_file}: {'/'.join(param.opts)} is not allowed in a golden case ({allowed} are)")
    try:
        return _parse_case_args(args)
    except click.ClickException as exc:
        raise _BadCase(f"{args_file}: {exc.format_message()}") from None
    except _NotJson as exc:
        raise _BadCase(f"{args_file}: -o {exc}: a golden case is rendered as JSON (expected.json): only -o json is "
                       "allowed") from None


def _inside(path: str, root: str) -> bool:
    return os.path.commonpath([path, root]) == root


def _golden_cases(directory: str, writing: bool) -> list[tuple[str, dict]]:
    """(name, render options) of every case in DIR, checked before any case is rendered: a refused ``args``
    file, or for ``update`` (``writing``) a case directory or expected.json whose real path leaves DIR (a
    symbolic link out of it: update would overwrite what it points to), prints one error line per case and
    exits 1 with nothing rendered or written."""
    root = os.path.realpath(directory)
    cases: list[tuple[str, dict]] = []
    problems: list[str] = []
    for name in _cases(directory):
        case_dir = os.path.join(directory, name)
        try:
            if writing:
                for path in (case_dir, os.path.join(case_dir, "expected.json")):
                    real = os.path.realpath(path)
                    if not _inside(real, root):
                        raise _BadCase(f"{path}: resolves to {real}, outside {directory}: not written")
            cases.append((name, _case_options(case_dir)))
        except _BadCase as exc:
            problems.append(str(exc))
    if problems:
        stderr([f"error: {p}" for p in problems])
        sys.exit(1)
    return cases


def _render_case(case_dir: str, opts: dict) -> tuple[str | None, list[str]]:
    """Render one case like ``kumahc render <case> <args>``: (JSON text, []) or (None, error lines)."""
    from kumahc.pipeline import Options, run
    from kumahc.render import NoProxyMatch, document, to_json

    paths = [os.path.join(case_dir, f) for f in _case_inputs(case_dir)]
    try:
        result = run(paths, Options(protocol=opts["protocol"], strict=opts["strict"]))
        return to_json(document(result, opts["proxy"], endpoints=opts["endpoints"])), []
    except InputError as exc:
        return None, invalid_lines(exc)
    except FatalInputError as exc:
        return None, [f"error: {exc}"]
    except NoProxyMatch as exc:
        return None, [f"error: {exc}"]


def _case_inputs(case_dir: str) -> list[str]:
    """The case read as a directory (01 §1), without ``expected.json``."""
    return [rel for rel in walk_directory(case_dir) if rel != "expected.json"]


def _parse_case_args(args: list[str]) -> dict:
    # The same help option names as under ``kumahc``: click keeps the first help option it builds for a command,
    # so a context with other names would change ``render``'s own -h for the rest of the process.
    ctx = render.make_context("render", [*args, "."], resilient_parsing=False, **CONTEXT_SETTINGS)
    if ctx.params["fmt"] != "json":
        raise _NotJson(ctx.params["fmt"])
    return {"protocol": ctx.params["protocol"], "strict": ctx.params["strict"], "proxy": ctx.params["proxy"],
            "endpoints": ctx.params["endpoints"]}


@golden.command("check", epilog="""\b
Examples:
  kumahc golden check golden/
  kumahc golden check golden/ | tail -1

\b
Prints a unified diff (expected.json against the render) for each case that differs, then the summary
"golden: P passed, F failed". Exit codes: 0 every case matches, 1 a difference, a case that does not render,
or a refused args file (nothing is rendered then).""")
@click.argument("directory", metavar="DIR", type=click.Path())
def golden_check(directory: str) -> None:
    """Render every case and diff it against its expected.json; exit 1 on any difference."""
    passed = failed = 0
    for name, opts in _golden_cases(directory, writing=False):
        case_dir = os.path.join(directory, name)
        expected_path = os.path.join(case_dir, "expected.json")
        actual, errors = _render_case(case_dir, opts)
        if actual is None:
            click.echo("\n".join(errors))
            failed += 1
            continue
        if not os.path.exists(expected_path):
            click.echo(f"{name}: missing expected.json")
            failed += 1
            continue
        with open(expected_path, encoding="utf-8") as fh:
            expected = fh.read()
        if expected == actual:
            passed += 1
            continue
        failed += 1
        diff = difflib.unified_diff(expected.splitlines(keepends=True), actual.splitlines(keepends=True),
                                    f"{name}/expected.json", f"{name}/actual", n=3)
        sys.stdout.write("".join(diff))
    click.echo(f"golden: {passed} passed, {failed} failed")
    sys.exit(1 if failed else 0)


@golden.command("update", epilog="""\b
Examples:
  kumahc golden update golden/
  kumahc golden update golden/ && git diff --stat golden/

\b
Writes only the expected.json files whose bytes change (atomically, only inside DIR) and prints "updated CASE"
for each, then "golden: N cases, U updated". Review the changes before committing them. Exit codes: 0 every
case rendered, 1 a case that does not render or a refused args file (nothing is written then).""")
@click.argument("directory", metavar="DIR", type=click.Path())
def golden_update(directory: str) -> None:
    """Write expected.json for every case that renders; print the cases whose bytes changed."""
    cases = _golden_cases(directory, writing=True)
    updated = 0
    broken = False
    for name, opts in cases:
        case_dir = os.path.join(directory, name)
        expected_path = os.path.join(case_dir, "expected.json")
        actual, errors = _render_case(case_dir, opts)
        if actual is None:
            click.echo("\n".join(errors))
            broken = True
            continue
        old = None
        if os.path.exists(expected_path):
            with open(expected_path, encoding="utf-8") as fh:
                old = fh.read()
        if old != actual:
            from kumahc.render import write_atomic

            write_atomic(expected_path, actual)
            click.echo(f"updated {name}")
            updated += 1
    click.echo(f"golden: {len(cases)} cases, {updated} updated")
    sys.exit(1 if broken else 0)
