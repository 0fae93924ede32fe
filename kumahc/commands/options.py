"""Options and arguments several commands share, and how they become inputs: PATH arguments or the store, the
input limits, and the pipeline run every policy-reading command starts with (spec 07)."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import click
from click.core import ParameterSource

from kumahc.commands import progress
from kumahc.commands.completion import kind_names
from kumahc.commands.output import fail, fail_invalid, stderr
from kumahc.diagnostics import FatalInputError, InputError
from kumahc.mesh.protocol import KNOWN as PROTOCOLS
from kumahc.resources.files import DEFAULT_LIMITS, MAX_DOCUMENTS, MAX_FILE_BYTES, Limits, parse_size, size_text

if TYPE_CHECKING:  # the pipeline loads only for the commands that run it
    from kumahc.pipeline import Loader, Result

CONTEXT_SETTINGS: dict[str, Any] = {"help_option_names": ["-h", "--help"]}

protocol_option = click.option(
    "--protocol", type=click.Choice(PROTOCOLS), default=None, metavar="P",
    help="Protocol of destinations whose protocol is otherwise unknown, and of preview destinations without "
         "appProtocol: one of " + ", ".join(PROTOCOLS) + ".")
strict_option = click.option("--strict", is_flag=True, help="Treat every warning as an error (info notes stay notes).")
# readable=False: an unreadable input is the loader's one-line "cannot read" error (exit 1), not click's usage
# error (exit 2) from its own access() check.
paths_argument = click.argument("paths", nargs=-1, required=True, type=click.Path(readable=False), metavar="PATH...")
# Commands that read the store too: PATH... or --store URL (KUMAHC_STORE applies only when no PATH is given).
source_paths_argument = click.argument("paths", nargs=-1, type=click.Path(readable=False), metavar="[PATH...]")
store_option = click.option(
    "--store", metavar="URL", envvar="KUMAHC_STORE",
    help="PostgreSQL store (postgresql://USER@HOST:PORT/DBNAME) instead of PATH arguments; default: $KUMAHC_STORE.")
# The store commands (apply, get, delete, store migrate) read nothing else.
required_store_option = click.option(
    "--store", metavar="URL", envvar="KUMAHC_STORE", required=True,
    help="PostgreSQL store (postgresql://USER@HOST:PORT/DBNAME); default: $KUMAHC_STORE.")
endpoints_option = click.option(
    "--endpoints", type=click.Choice(["static", "eds"]), default="static", show_default=True,
    help="static: endpoints inline in each cluster (type STATIC). eds: clusters of type EDS whose endpoints come "
         "as ClusterLoadAssignments over ADS (Envoy's bootstrap needs ads_config); an endpoint change then updates "
         "the hosts in place instead of replacing the cluster.")
kind_argument = click.argument("kind", metavar="KIND", shell_complete=kind_names)
mesh_option = click.option("--mesh", metavar="M", help="Only resources of mesh M.")
namespace_option = click.option("-n", "--namespace", metavar="NAMESPACE", help="Only resources in NAMESPACE.")


def output_file_option(what: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """``--output-file FILE``: write ``what`` (e.g. "the document") to FILE instead of stdout (see
    :func:`kumahc.commands.output.emit`). The command receives it as ``output_file``."""
    return click.option(
        "--output-file", "output_file", metavar="FILE", type=click.Path(dir_okay=False),
        help=f"Write {what} to FILE (a regular file is replaced atomically, keeping its mode; a FIFO or device is "
             "written in place) instead of stdout.")


def format_option(formats: tuple[str, ...], default: str,
                  help_text: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """``-o/--output FORMAT`` as kubectl spells it: one of ``formats`` (``json``, ``yaml``, ``table``, ``wide``,
    ``name``, ``text``), ``default`` when absent. The command receives it as ``fmt``. A value that is no format
    is a usage error (exit 2) that names ``--output-file``, because ``-o FILE`` used to mean a file."""

    def check(_ctx: click.Context, _param: click.Parameter, value: str) -> str:
        if value in formats:
            return value
        # "-o -" is not a file named "-" (it used to be); stdout needs no option at all.
        to_file = f"--output-file {value}" if value not in ("", "-") else "--output-file FILE (stdout is the default)"
        raise click.BadParameter(
            f"{value!r} is not an output format (one of {', '.join(formats)}); to write to a file, use {to_file}",
            param_hint="'-o' / '--output'")

    return click.option(
        "-o", "--output", "fmt", metavar="FORMAT", default=default, show_default=True, callback=check,
        help=f"{help_text} One of: {', '.join(formats)}.")


def _size(_ctx: click.Context, _param: click.Parameter, value: str | None) -> int:
    if value is None:
        return MAX_FILE_BYTES
    try:
        return parse_size(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None


def limits_options(fn: Callable[..., Any]) -> Callable[..., Any]:
    """``--max-file-size`` and ``--max-documents``, passed to the command as one ``limits`` argument."""

    @functools.wraps(fn)
    def wrapper(*args: object, max_file_size: int, max_documents: int, **kwargs: object) -> object:
        return fn(*args, limits=Limits(max_file_size, max_documents), **kwargs)

    wrapper = click.option(
        "--max-documents", type=click.IntRange(min=1), default=MAX_DOCUMENTS, show_default=True, metavar="N",
        help="Read at most N documents in all (YAML documents and List items).")(wrapper)
    return click.option(
        "--max-file-size", callback=_size, metavar="SIZE", default=None,
        help=f"Refuse input files larger than SIZE (bytes, or with KiB, MiB, GiB) [default: "
             f"{size_text(MAX_FILE_BYTES).replace(' ', '')}].")(wrapper)


def store_url(paths: tuple[str, ...], store: str | None) -> str | None:
    """The store URL to read, or None to read PATH arguments. PATHs win over ``$KUMAHC_STORE``; PATHs together with
    an explicit ``--store``, or neither, is a usage error (exit 2)."""
    ctx = click.get_current_context()
    if paths:
        if store is not None and ctx.get_parameter_source("store") == ParameterSource.COMMANDLINE:
            raise click.UsageError("give PATH arguments or --store, not both")
        return None
    if store is None:
        raise click.UsageError("Missing argument 'PATH...' (or --store URL).")
    return store


def inputs(paths: tuple[str, ...], store: str | None) -> list[str] | Loader:
    """PATH arguments, or a loader of the store's resources (see :func:`store_url`)."""
    url = store_url(paths, store)
    if url is None:
        return list(paths)
    from kumahc.sources.store.source import snapshot

    return snapshot(url).loader()


def pipeline(paths: tuple[str, ...], protocol: str | None, strict: bool, store: str | None = None,
             limits: Limits = DEFAULT_LIMITS) -> Result:
    """Run the pipeline on PATHs or on the store at ``store`` (see :func:`inputs`), with progress on a terminal
    (:mod:`kumahc.commands.progress`), and print its warnings and notes to stderr; a fatal input error is one
    ``error:`` line, invalid input goes to the failure printer (:func:`kumahc.commands.output.fail_invalid`): both
    exit 1."""
    from kumahc.pipeline import Options, run  # loaded only by the commands that render

    source = inputs(paths, store)
    try:
        # The bars are erased when this block ends: before any warning or error below is printed.
        with progress.shown() as report:
            result = run(source, Options(protocol=protocol, strict=strict, limits=limits), progress=report)
    except FatalInputError as exc:
        fail(str(exc))
    except InputError as exc:
        fail_invalid(exc)
    stderr(result.report.lines(strict))
    return result


def parse_kind(text: str) -> str:
    """The store kind named by ``text`` (any case, or plural); otherwise a usage error naming every kind."""
    from kumahc.resources.model import KINDS
    from kumahc.sources.store.records import parse_kind as store_kind

    kind = store_kind(text)
    if kind is None:
        raise click.BadParameter(f'unknown kind "{text}"; one of {", ".join(KINDS)} (any case, or plural)',
                                 param_hint="KIND")
    return kind
