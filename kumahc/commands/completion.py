"""``kumahc completion bash|zsh|fish`` and the completers behind it (issue 23).

The script is click's (:mod:`click.shell_completion`): the shell runs ``kumahc`` again with ``_KUMAHC_COMPLETE``
set for every TAB, and click answers from the command tree. Besides command names and options, kumahc completes:

* KIND arguments of ``get`` and ``delete``: every spelling ``get`` accepts (kind names in any case, plurals);
* ``--proxy`` values of ``render``, ``inspect`` and ``diff``: the proxy names of the inputs already on the command
  line (PATH arguments, BEFORE/AFTER, or ``--store``/``$KUMAHC_STORE`` when no PATH is given), as ``--proxy``
  matches them (NAME, or MESH/NAME once a ``/`` is typed);
* ``inspect --policy`` values: KIND/NAME of every valid policy of the inputs;
* ``get KIND NAME`` and ``delete KIND NAME``: the names the store holds for KIND (narrowed by ``--mesh``, ``-n``).

A completer never prints and never fails: unreadable, invalid or too large inputs (over :data:`MAX_FILES` files,
:data:`MAX_FILE_BYTES` per file, :data:`MAX_TOTAL_BYTES` in all, :data:`MAX_DOCUMENTS` documents, or a directory
tree over :data:`MAX_ENTRIES` entries; a store over :data:`MAX_DOCUMENTS` resources) give no candidates, and so
does any error (:class:`CompletingGroup` is the last guard)."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator
from typing import Any

import click
from click.shell_completion import CompletionItem, get_completion_class

from kumahc.commands.guard import GuardedGroup

PROG_NAME = "kumahc"
COMPLETE_VAR = "_KUMAHC_COMPLETE"
SHELLS = ("bash", "zsh", "fish")
MAX_FILES = 500
MAX_FILE_BYTES = 4 * 1024 * 1024
MAX_TOTAL_BYTES = 16 * 1024 * 1024
MAX_DOCUMENTS = 10_000
MAX_ENTRIES = 5_000  # directory entries looked at while finding the input files
SUFFIXES = (".yaml", ".yml", ".json")  # what a directory PATH contributes (docs/inputs.md)

Completer = Callable[[click.Context, click.Parameter, str], list[CompletionItem]]


class CompletingGroup(GuardedGroup):
    """The ``kumahc`` group: :class:`GuardedGroup`, and a TAB that can never print an error or a traceback (any
    exception while completing gives no candidates, exit 0)."""

    def _main_shell_completion(self, ctx_args: Any, prog_name: str, complete_var: str | None = None) -> None:
        try:
            super()._main_shell_completion(ctx_args, prog_name, complete_var)
        except SystemExit:
            raise
        except KeyboardInterrupt:  # Ctrl-C during a TAB: no traceback either
            sys.exit(130)
        except BaseException:  # noqa: BLE001 - the shell shows whatever we print: show nothing
            sys.exit(0)


def guarded(fn: Completer) -> Completer:
    """``fn`` with every error turned into no candidates."""

    def complete(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[CompletionItem]:
        try:
            return fn(ctx, param, incomplete)
        except Exception:  # noqa: BLE001 - bad inputs give no candidates, never a message
            return []

    complete.__doc__ = fn.__doc__
    return complete


def _input_files(paths: list[str]) -> list[str] | None:
    """The files ``paths`` name (a directory: its *.yaml, *.yml and *.json files, recursively), or None when they
    are over the limits, include standard input (``-``: a TAB cannot wait for it) or cannot be listed."""
    found: list[str] = []
    total = 0
    entries = 0

    def walk(directory: str) -> Iterator[str]:
        nonlocal entries
        with os.scandir(directory) as it:
            for entry in it:
                entries += 1
                if entries > MAX_ENTRIES:
                    raise OverflowError
                if entry.is_dir(follow_symlinks=True):
                    yield from walk(entry.path)
                elif entry.name.endswith(SUFFIXES) and not entry.name.startswith("."):
                    yield entry.path

    try:
        for path in paths:
            if path == "-":
                return None
            for name in walk(path) if os.path.isdir(path) else iter([path]):
                size = os.stat(name).st_size
                total += size
                found.append(name)
                if len(found) > MAX_FILES or size > MAX_FILE_BYTES or total > MAX_TOTAL_BYTES:
                    return None
    except (OSError, OverflowError, RecursionError):
        return None
    return found


def _store_small(url: str) -> bool:
    """True when the store at ``url`` holds at most :data:`MAX_DOCUMENTS` resources (False when unreachable)."""
    from kumahc.sources.store import connection

    with connection.session(url) as conn:
        (count,) = conn.execute("SELECT count(*) FROM kumahc_resources").fetchone()
    return count <= MAX_DOCUMENTS


def _params(ctx: click.Context) -> dict[str, Any]:
    """The command line's values as the command would get them. While the word being completed is an option's
    value (``--proxy <TAB>``), click's resilient parsing stops at that option and leaves the positional arguments
    unassigned in ``ctx.args``: they are assigned here by parsing them again on their own."""
    params = dict(ctx.params)
    if ctx.args:
        with ctx.command.make_context(ctx.info_name, list(ctx.args), parent=ctx.parent,
                                      resilient_parsing=True) as sub:
            params.update({p.name: sub.params.get(p.name) for p in ctx.command.params
                           if isinstance(p, click.Argument) and p.name})
    return params


def _result(ctx: click.Context) -> list[Any]:
    """Pipeline results of the inputs on the command line (one per side for ``diff``); [] when there are none
    usable."""
    from kumahc.pipeline import Options, run
    from kumahc.resources.files import Limits

    params = _params(ctx)
    sides = [list(params.get("paths") or ())]
    if ctx.command.name == "diff":
        # BEFORE and AFTER are read on their own; with --store, the store's names are the candidates.
        sides = [[]] if isinstance(params.get("store"), str) else [[p] for p in sides[0] if isinstance(p, str)]
    options = Options(limits=Limits(MAX_FILE_BYTES, MAX_DOCUMENTS))
    results = []
    for side in sides:
        if side:
            files = _input_files(side)
            if files is None:
                return []
            results.append(run(side, options))
        elif isinstance(params.get("store"), str):
            url = params["store"]
            if not _store_small(url):
                return []
            from kumahc.sources.store.source import snapshot

            results.append(run(snapshot(url).loader(), options))
    return results


def _items(names: set[str], incomplete: str) -> list[CompletionItem]:
    return [CompletionItem(n) for n in sorted(names) if n.startswith(incomplete)]


@guarded
def proxy_names(ctx: click.Context, _param: click.Parameter, incomplete: str) -> list[CompletionItem]:
    """``--proxy``: NAME of every proxy of the inputs, or MESH/NAME once the value holds a ``/``."""
    names = set()
    for result in _result(ctx):
        for p in result.view.proxies:
            names.add(f"{p.mesh}/{p.name}" if "/" in incomplete else p.name)
    return _items(names, incomplete)


@guarded
def policy_names(ctx: click.Context, _param: click.Parameter, incomplete: str) -> list[CompletionItem]:
    """``inspect --policy``: KIND/NAME of every valid policy of the inputs (NAME as messages show it)."""
    names = {f"{r.kind}/{r.display_name}" for result in _result(ctx) for fam in result.families for r in fam.held()}
    return _items(names, incomplete)


@guarded
def kind_names(_ctx: click.Context, _param: click.Parameter, incomplete: str) -> list[CompletionItem]:
    """KIND: lower-case plurals (kubectl's habit) when nothing is typed; otherwise every spelling ``get`` accepts
    (the kind, in lower case, its plural) that starts with what is typed, in its case or else in any case."""
    from kumahc.resources.model import KINDS
    from kumahc.sources.store.records import parse_kind, plural

    if not incomplete:
        return _items({plural(k) for k in KINDS}, "")
    spellings = {s for k in KINDS for s in (k, k.lower(), plural(k)) if parse_kind(s) == k}
    found = _items(spellings, incomplete)
    if found:
        return found
    return _items({s for s in spellings if s.islower()}, incomplete.lower())


@guarded
def stored_names(ctx: click.Context, _param: click.Parameter, incomplete: str) -> list[CompletionItem]:
    """``get``/``delete`` NAME: names of KIND in the store (``--store``/``$KUMAHC_STORE``), narrowed by ``--mesh`` and
    ``-n``; none when the store holds more than :data:`MAX_DOCUMENTS` of them."""
    from kumahc.sources.store import connection
    from kumahc.sources.store.records import parse_kind

    params = _params(ctx)
    kind = parse_kind(params.get("kind") or "")
    url = params.get("store")
    if kind is None or not isinstance(url, str):
        return []
    query = "SELECT DISTINCT name FROM kumahc_resources WHERE kind = %s AND name LIKE %s"
    args: list[Any] = [kind, incomplete.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"]
    for column in ("mesh", "namespace"):
        if isinstance(params.get(column), str):
            query += f" AND {column} = %s"
            args.append(params[column])
    with connection.session(url) as conn:
        names = [n for (n,) in conn.execute(query + f" ORDER BY name LIMIT {MAX_DOCUMENTS + 1}", args).fetchall()]
    return [] if len(names) > MAX_DOCUMENTS else [CompletionItem(n) for n in names]


@click.command(epilog="""\b
Examples:
  source <(kumahc completion bash)
  echo 'source <(kumahc completion bash)' >> ~/.bashrc
  echo 'autoload -U compinit; compinit; source <(kumahc completion zsh)' >> ~/.zshrc
  echo 'kumahc completion fish | source' >> ~/.config/fish/config.fish""")
@click.argument("shell", type=click.Choice(SHELLS), metavar="SHELL")
@click.pass_context
def completion(ctx: click.Context, shell: str) -> None:
    """Print the shell completion script for SHELL (bash, zsh or fish).

    It completes command names, options, KIND arguments, --proxy names from the inputs on the command line (or the
    store), inspect --policy names, and get/delete names from the store. A TAB never prints an error: inputs
    that are invalid or too large give no candidates.
    """
    cls = get_completion_class(shell)
    assert cls is not None  # click.Choice allowed only the shells click supports
    click.echo(cls(ctx.find_root().command, {}, PROG_NAME, COMPLETE_VAR).source(), nl=False)
