"""``kumahc`` command line (spec 07). Thin: parses flags, runs the pipeline, prints. Exit codes: 0 ok, 1 invalid
input (or golden mismatch, or any failure), 2 usage."""

from __future__ import annotations

import difflib
import os
import select
import shlex
import signal
import sys
from collections.abc import Callable, Iterable
from typing import NoReturn

import click

from kumahc import __version__
from kumahc.diagnostics import FatalInputError, InputError, Report, summary
from kumahc.mesh.protocol import KNOWN as PROTOCOLS
from kumahc.pipeline import Loader, Options, Result, run
from kumahc.render import NoProxyMatch, document, json_chunks, to_json, to_yaml, write_atomic
from kumahc.resources.files import (
    DEFAULT_LIMITS,
    MAX_DOCUMENTS,
    MAX_FILE_BYTES,
    Limits,
    parse_size,
    size_text,
    walk_directory,
)
from kumahc.sources.store.errors import StoreError

EPILOG_RENDER = """\b
Examples:
  kumahc render examples/meshhealthcheck/http-kuma-2.10.yaml
  kumahc render examples/complete/mesh --proxy web-01 --format yaml
  kumahc render examples/complete/mesh --format table
  kumahc render examples/healthcheck/ --protocol http -o clusters.json

Without any Dataplane in the inputs kumahc runs in preview mode: it synthesises one proxy per policy selector
and one destination per referenced service, so a single policy file shows what it does."""


def _stderr(lines: list[str]) -> None:
    for line in lines:
        click.echo(line, err=True)


def _fail(message: str) -> NoReturn:
    click.echo(f"error: {message}", err=True)
    sys.exit(1)


def _pipeline(paths: tuple[str, ...], protocol: str | None, strict: bool, store: str | None = None,
              limits: Limits = DEFAULT_LIMITS) -> Result:
    """Run the pipeline on PATHs or on the store at ``store`` (see :func:`_inputs`); on invalid input print every
    line and ``found N errors``, then exit 1."""
    inputs = _inputs(paths, store)
    try:
        result = run(inputs, Options(protocol=protocol, strict=strict, limits=limits))
    except FatalInputError as exc:
        _fail(str(exc))
    except InputError as exc:
        _stderr(exc.report.lines(exc.strict))
        click.echo(summary(exc.report.error_count(exc.strict)), err=True)
        sys.exit(1)
    _stderr(result.report.lines(strict))
    return result


def _emit(text: str | Iterable[str], output: str | None) -> None:
    """The document (a string or its pieces) to stdout, or to ``output`` (:func:`write_atomic`: never a
    half-written file, never a FIFO or device replaced)."""
    if output is None:
        sys.stdout.writelines([text] if isinstance(text, str) else text)
        sys.stdout.flush()
        return
    try:
        write_atomic(output, text)
    except OSError as exc:
        _fail(f"{output}: cannot write: {exc.strerror or exc}")


EXIT_BROKEN_PIPE = 128 + signal.SIGPIPE  # what a shell reports for `cat` killed by SIGPIPE: 141
STDOUT_FD = 1  # the process's standard output, whatever object sys.stdout is now


def _stdout_reader_gone() -> bool:
    """True when standard output is a pipe or socket whose reading end is closed (``| head -1`` has exited): the
    kernel reports POLLERR on the writing end then. Another BrokenPipeError (a FIFO given to ``-o``) is not this."""
    try:
        poller = select.poll()
        poller.register(STDOUT_FD, select.POLLOUT)
        return any(events & select.POLLERR for _, events in poller.poll(0))
    except OSError:
        return False


def _quiet_broken_pipe() -> NoReturn:
    """End like ``cat`` in ``cat FILE | head -1``: no message, exit :data:`EXIT_BROKEN_PIPE`. Standard output is
    pointed at /dev/null first, so flushing what is still buffered at interpreter exit cannot print "Exception
    ignored ... BrokenPipeError" (the recipe of Python's signal module documentation)."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, STDOUT_FD)
    os.close(devnull)
    sys.exit(EXIT_BROKEN_PIPE)


def _guard(fn: Callable[[], None]) -> None:
    """Never a traceback: an unexpected exception becomes ``error: internal: <Type>: <message>``, exit 1. Standard
    output closed by its reader (``kumahc render … | head -1``) ends quietly (:func:`_quiet_broken_pipe`), for
    every command."""
    try:
        try:
            fn()
        finally:
            # Here, not at interpreter exit, where a closed pipe could only be reported as "Exception ignored".
            sys.stdout.flush()
    except (SystemExit, KeyboardInterrupt, click.exceptions.Exit, click.ClickException):
        raise
    except BrokenPipeError as exc:
        if _stdout_reader_gone():
            _quiet_broken_pipe()
        click.echo(f"error: internal: {type(exc).__name__}: {exc}", err=True)
        sys.exit(1)
    except StoreError as exc:
        _fail(str(exc))
    except Exception as exc:  # noqa: BLE001 - the last line of defence of the CLI
        click.echo(f"error: internal: {type(exc).__name__}: {exc}", err=True)
        sys.exit(1)


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


def _store_url(paths: tuple[str, ...], store: str | None) -> str | None:
    """The store URL to read, or None to read PATH arguments. PATHs win over ``$KUMAHC_STORE``; PATHs together with
    an explicit ``--store``, or neither, is a usage error (exit 2)."""
    from click.core import ParameterSource

    ctx = click.get_current_context()
    if paths:
        if store is not None and ctx.get_parameter_source("store") == ParameterSource.COMMANDLINE:
            raise click.UsageError("give PATH arguments or --store, not both")
        return None
    if store is None:
        raise click.UsageError("Missing argument 'PATH...' (or --store URL).")
    return store


def _inputs(paths: tuple[str, ...], store: str | None) -> list[str] | Loader:
    """PATH arguments, or a loader of the store's resources (see :func:`_store_url`)."""
    url = _store_url(paths, store)
    if url is None:
        return list(paths)
    from kumahc.sources.store.source import snapshot

    return snapshot(url).loader()

endpoints_option = click.option(
    "--endpoints", type=click.Choice(["static", "eds"]), default="static", show_default=True,
    help="static: endpoints inline in each cluster (type STATIC). eds: clusters of type EDS whose endpoints come "
         "as ClusterLoadAssignments over ADS (Envoy's bootstrap needs ads_config); an endpoint change then updates "
         "the hosts in place instead of replacing the cluster.")


def _size(_ctx: click.Context, _param: click.Parameter, value: str | None) -> int:
    if value is None:
        return MAX_FILE_BYTES
    try:
        return parse_size(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None


def limits_options(fn: Callable) -> Callable:
    """``--max-file-size`` and ``--max-documents``, passed to the command as one ``limits`` argument."""
    import functools

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


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="kumahc", message="%(prog)s %(version)s")
def main() -> None:
    """kumahc: health-check policies (Kuma MeshHealthCheck and HealthCheck, Kong KongUpstreamPolicy) to Envoy
    clusters.

    \b
    Each PATH is a YAML/JSON file, a directory (read recursively: *.yaml, *.yml, *.json), or - for a document
    stream on standard input (named <stdin> in messages).
    Exit codes: 0 ok (warnings allowed), 1 invalid input, 2 usage error.
    """


@main.command(epilog=EPILOG_RENDER)
@source_paths_argument
@store_option
@click.option("--proxy", metavar="NAME", help="Keep only proxies named NAME (any mesh) or MESH/NAME.")
@click.option("--format", "fmt", type=click.Choice(["json", "yaml", "table"]), default="json", show_default=True,
              help="Output format: Envoy JSON or YAML, or table (one line per cluster, for people).")
@protocol_option
@strict_option
@click.option("-o", "--output", metavar="FILE", type=click.Path(dir_okay=False),
              help="Write the document to FILE (a regular file is replaced atomically, keeping its mode; a FIFO "
                   "or device is written in place) instead of stdout.")
@endpoints_option
@limits_options
def render(paths: tuple[str, ...], store: str | None, proxy: str | None, fmt: str, protocol: str | None,
           strict: bool, output: str | None, endpoints: str, limits: Limits) -> None:
    """Print the Envoy clusters every proxy gets.

    Output: {"proxies": [{"mesh", "name", "clusters": [Cluster, ...]}]} with each Cluster as Envoy's
    envoy.config.cluster.v3.Cluster JSON; with --endpoints eds each proxy also has "load_assignments"
    (envoy.config.endpoint.v3.ClusterLoadAssignment, one per cluster). Only the document goes to stdout; errors,
    warnings and notes go to stderr.
    """

    def go() -> None:
        result = _pipeline(paths, protocol, strict, store, limits)
        try:
            # JSON is assembled from each cluster's own text; YAML (and EDS) goes through the whole document.
            if fmt == "table":
                from kumahc.views import table

                text = table.text(table.rows(result, proxy))
            elif fmt == "json" and endpoints == "static":
                text = json_chunks(result, proxy)
            else:
                doc = document(result, proxy, endpoints=endpoints)
                text = to_json(doc) if fmt == "json" else to_yaml(doc)
        except NoProxyMatch as exc:
            _fail(str(exc))
        _emit(text, output)

    _guard(go)


@main.command(epilog="""\b
Examples:
  kumahc validate examples/complete/mesh
  kumahc validate examples/complete/mesh --strict
  cat examples/complete/mesh/*.yaml | kumahc validate -""")
@source_paths_argument
@store_option
@protocol_option
@strict_option
@limits_options
def validate(paths: tuple[str, ...], store: str | None, protocol: str | None, strict: bool, limits: Limits) -> None:
    """Check inputs without printing clusters.

    Runs everything render runs. Valid: prints "ok: N resources in M files" (N = documents of the kinds kumahc
    reads, M = files read; "ok: N resources in store" with --store) and exits 0; invalid: prints every error and
    "found N errors", exit 1.
    """

    def go() -> None:
        result = _pipeline(paths, protocol, strict, store, limits)
        where = f"{len(result.loaded.files)} files" if paths else "store"
        click.echo(f"ok: {result.loaded.counted} resources in {where}")

    _guard(go)


@main.command(epilog="""\b
Examples:
  kumahc migrate examples/healthcheck/seed000-tcp-connect-universal.yaml
  kumahc migrate examples/healthcheck/seed001-http-universal.yaml -o mhc.yaml && kumahc validate mhc.yaml

\b
Each document starts with comments: where it came from and where MeshHealthCheck behaves differently
(merging instead of most specific wins, checks per destination protocol, dropped wildcards, ...).
Render the old and the new policies with the same Dataplanes and diff the clusters before switching.""")
@paths_argument
@click.option("-o", "--output", metavar="FILE", type=click.Path(dir_okay=False),
              help="Write the MeshHealthChecks to FILE (a regular file is replaced atomically, keeping its mode; a "
                   "FIFO or device is written in place) instead of stdout.")
@limits_options
def migrate(paths: tuple[str, ...], output: str | None, limits: Limits) -> None:
    """Print a MeshHealthCheck for every legacy HealthCheck and a MeshCircuitBreaker for every legacy
    CircuitBreaker (one per source selector), in input order.

    The inputs are validated like `validate` (invalid: every error, "found N errors", exit 1); only HealthChecks
    and CircuitBreakers are converted. Neither: empty output and a warning. The result is not validated: run
    `kumahc validate` on it.
    """
    from kumahc.policies.circuitbreaker import migrate as mcb
    from kumahc.policies.healthcheck.migrate import NO_HEALTHCHECK, healthchecks, join
    from kumahc.policies.healthcheck.migrate import migrate_one as migrate_healthcheck

    def go() -> None:
        result = _pipeline(paths, None, False, limits=limits)
        policies = sorted([(p.order, migrate_healthcheck, p) for p in healthchecks(result.families)]
                          + [(p.order, mcb.migrate_one, p) for p in mcb.circuit_breakers(result.families)],
                          key=lambda item: item[0])
        if not policies:
            click.echo(NO_HEALTHCHECK, err=True)
        text = join([doc for _, convert, p in policies for doc in convert(p)])
        _emit(text, output)

    _guard(go)


def _address(_ctx: click.Context, _param: click.Parameter, value: str) -> object:
    from kumahc.xds.address import Address

    try:
        return Address.parse(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None


@main.command(epilog="""\b
Examples:
  kumahc serve examples/complete/mesh
  kumahc serve examples/complete/mesh --xds-address 127.0.0.1:0 --admin-address 127.0.0.1:0
  .venv/bin/python envoy-testbed/certs.py certs    # demo CA, server and web-01 certificates in certs/
  kumahc serve examples/complete/mesh --xds-tls-cert certs/server.crt --xds-tls-key certs/server.key \\
      --xds-client-ca certs/ca.crt --log-format json

\b
Point Envoy at it with node.id "<mesh>.<proxy>" (e.g. default.web-01) and a CDS or ADS config source
(api_type GRPC or DELTA_GRPC); envoy-testbed/ has ready-made bootstraps, plain and mTLS. With --xds-client-ca
every Envoy needs a client certificate whose URI SAN spiffe://<mesh>/dataplane/<proxy> allows exactly node id
<mesh>.<proxy>; any other node id gets PERMISSION_DENIED. docs/serve.md explains TLS, the admin port, the logs
and every metric.

\b
With --store URL (or $KUMAHC_STORE and no PATH) it serves the PostgreSQL store instead and follows its
commits (LISTEN/NOTIFY); any number of replicas on one store serve identical versions (docs/store.md).""")
@source_paths_argument
@store_option
@click.option("--xds-address", default="127.0.0.1:18000", show_default=True, callback=_address, metavar="HOST:PORT",
              help="gRPC xDS listener; IPv6 as [::1]:PORT; port 0 = any free port.")
@click.option("--admin-address", default="127.0.0.1:18001", show_default=True, callback=_address,
              metavar="HOST:PORT", help="Admin HTTP listener (/ready, /metrics, /config_dump, /status).")
@protocol_option
@strict_option
@click.option("--xds-tls-cert", metavar="FILE", help="Serve xDS over TLS with this PEM certificate (chain); "
              "needs --xds-tls-key. Re-read when the file changes.")
@click.option("--xds-tls-key", metavar="FILE", help="PEM private key of --xds-tls-cert (not encrypted).")
@click.option("--xds-client-ca", metavar="FILE", help="Require client certificates signed by these PEM CA "
              "certificates; a certificate's spiffe://<mesh>/dataplane/<proxy> URI SAN is the only node id it may "
              "use. Needs --xds-tls-cert.")
@click.option("--admin-allowed-host", "admin_allowed_hosts", metavar="NAME", multiple=True,
              help="Also accept admin requests whose Host header is NAME (repeatable); the listening address and "
                   "localhost are always accepted, any other Host gets 403.")
@click.option("--admin-token-file", metavar="FILE", help="Require 'Authorization: Bearer <token>' (the file's "
              "content, re-read when it changes) on /config_dump and /status; /ready and /metrics stay open.")
@click.option("--log-format", type=click.Choice(["text", "json"]), default="text", show_default=True,
              help="Log lines on stderr: text, or one JSON object per line.")
@click.option("--log-level", type=click.Choice(["debug", "info", "warning", "error"]), default="info",
              show_default=True, help="Least severe level logged (debug adds one line per ACK).")
@endpoints_option
@limits_options
def serve(paths: tuple[str, ...], store: str | None, xds_address: object, admin_address: object, protocol: str | None,
          strict: bool, xds_tls_cert: str | None, xds_tls_key: str | None, xds_client_ca: str | None,
          admin_allowed_hosts: tuple[str, ...], admin_token_file: str | None, log_format: str,
          log_level: str, endpoints: str, limits: Limits) -> None:
    """Serve the clusters of `render` to Envoys over gRPC xDS (CDS and ADS, SotW and Delta).

    Both listeners bind first and print "xds listening on ADDR" and "admin listening on ADDR" to stdout; then
    the inputs are rendered (/ready answers 503 and xDS streams wait until then; invalid inputs: every error,
    exit 1). Logs go to stderr. Policy files are watched (inotify: completed writes, 50 ms debounce, at most 1 s;
    polling every 0.5 s where inotify is unavailable) and re-rendered on change; invalid new inputs are logged and
    the last good state keeps being served. SIGHUP forces a reload; SIGTERM/SIGINT
    stop it. With --store: every commit is served as soon as it is notified; while the store is down the last
    snapshot is served and kumahc reconnects, then catches up.
    """
    # grpc core logs failed TLS handshakes and other connection events to stderr in its own format, which would
    # break the one-format log stream (and JSON lines): it reports errors only, unless the operator sets
    # GRPC_VERBOSITY (e.g. INFO to see why TLS handshakes fail). It is read when grpc is first imported, below.
    os.environ.setdefault("GRPC_VERBOSITY", "ERROR")
    from kumahc.xds.app import ServeConfig
    from kumahc.xds.app import serve as run_server
    from kumahc.xds.tls import TlsFiles

    if (xds_tls_cert is None) != (xds_tls_key is None):
        raise click.UsageError("--xds-tls-cert and --xds-tls-key go together")
    if xds_client_ca is not None and xds_tls_cert is None:
        raise click.UsageError("--xds-client-ca needs --xds-tls-cert and --xds-tls-key")
    tls = TlsFiles(xds_tls_cert, xds_tls_key, xds_client_ca) if xds_tls_cert and xds_tls_key else None
    config = ServeConfig(tuple(paths), xds_address, admin_address, protocol, strict, tls, admin_allowed_hosts,
                         admin_token_file, log_format, log_level, endpoints, limits, store=_store_url(paths, store))
    _guard(lambda: sys.exit(run_server(config)))


@main.command(epilog="""\b
Examples:
  kumahc inspect examples/complete/mesh --proxy web-01
  kumahc inspect examples/complete/mesh --proxy default/web-01 --cluster backend --format json
  kumahc inspect examples/kong/mesh-precedence.yaml --policy KongUpstreamPolicy/shop/backend-hc
  kumahc inspect examples/meshcircuitbreaker/mesh-precedence.yaml --policy MeshCircuitBreaker/web-backend-cb
  kumahc inspect examples/circuitbreaker/precedence.yaml --policy CircuitBreaker/web-to-backend""")
@source_paths_argument
@store_option
@click.option("--proxy", metavar="NAME", help="The proxy to explain: NAME (any mesh) or MESH/NAME.")
@click.option("--cluster", metavar="C", help="Only this cluster of the proxy.")
@click.option("--policy", metavar="KIND/NAME",
              help="Instead of a proxy: every proxy and cluster this policy reaches, and what it contributes "
                   "there (KIND: MeshHealthCheck, KongUpstreamPolicy, HealthCheck, MeshCircuitBreaker or "
                   "CircuitBreaker; e.g. MeshHealthCheck/web, KongUpstreamPolicy/shop/backend-hc, "
                   "MeshCircuitBreaker/kuma-system/backend-cb).")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True,
              help="text for people, json for tools.")
@protocol_option
@limits_options
def inspect(paths: tuple[str, ...], store: str | None, proxy: str | None, cluster: str | None, policy: str | None,
            fmt: str, protocol: str | None, limits: Limits) -> None:
    """Explain why a proxy gets the health checks it gets, or where a policy applies (--policy).

    For each cluster: the destination's protocol and where it came from, the MeshHealthCheck entries that matched
    in merge order (file:line), the merged conf with the origin of every field, the checker chosen and the
    protocol-table rule behind it, the KongUpstreamPolicy and HealthCheck that apply, the MeshCircuitBreaker
    entries and legacy CircuitBreaker, and which policy kind won each field group (health check, panic settings,
    outlier detection, circuit breakers).
    """
    from kumahc.views import inspect as explain

    if (proxy is None) == (policy is None):
        raise click.UsageError("give exactly one of --proxy and --policy")
    if policy is not None and cluster is not None:
        raise click.UsageError("--cluster goes with --proxy, not --policy")

    def go() -> None:
        result = _pipeline(paths, protocol, False, store, limits)
        if policy is not None:
            from kumahc.views import policyview

            try:
                found_policy = policyview.view(result, policy)
            except policyview.NoPolicy as exc:
                _fail(str(exc))
            sys.stdout.write(policyview.text(found_policy) if fmt == "text" else policyview.as_json(found_policy))
            return
        try:
            found = explain.explain(result, proxy, cluster)
        except (NoProxyMatch, explain.NoCluster) as exc:
            _fail(str(exc))
        sys.stdout.write(explain.text(found) if fmt == "text" else explain.as_json(found))

    _guard(go)


DIFF_NO_CHANGE, DIFF_CHANGES = 0, 3


@main.command(epilog="""\b
Examples:
  kumahc diff examples/diff/before examples/diff/after
  kumahc diff examples/diff/before examples/diff/after --proxy web-01 --format json

\b
Exit codes (for CI): 0 no cluster changes, 3 some cluster changes, 1 invalid input (either side), 2 usage.""")
@click.argument("before", type=click.Path(), metavar="BEFORE")
@click.argument("after", type=click.Path(), metavar="AFTER")
@click.option("--proxy", metavar="NAME", help="Only proxies named NAME (any mesh) or MESH/NAME.")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True,
              help="text for people, json for tools.")
@protocol_option
@strict_option
@limits_options
def diff(before: str, after: str, proxy: str | None, fmt: str, protocol: str | None, strict: bool,
         limits: Limits) -> None:
    """Show what changes in the rendered clusters between two sets of inputs.

    BEFORE and AFTER are each a file, a directory or - (standard input). Both are rendered as `render` would;
    for every proxy and cluster that differs, prints the field-level change (paths in render's JSON) and the
    policies in the cluster before or after, then a summary such as "12 clusters on 340 proxies change".
    Warnings of AFTER go to stderr; errors of either side make it exit 1. --max-file-size and --max-documents
    bound each side on its own.
    """
    from kumahc.views import diff as differ

    def go() -> None:
        results = []
        failed = False
        for path in (before, after):
            try:
                results.append(run([path], Options(protocol=protocol, strict=strict, limits=limits)))
            except FatalInputError as exc:
                click.echo(f"error: {path}: {exc}", err=True)
                failed = True
            except InputError as exc:
                _stderr(exc.report.lines(exc.strict))
                click.echo(summary(exc.report.error_count(exc.strict)), err=True)
                failed = True
        if failed:
            sys.exit(1)
        _stderr(results[1].report.lines(strict))
        try:
            found = differ.compare(results[0], results[1], proxy)
        except NoProxyMatch as exc:
            _fail(str(exc))
        sys.stdout.write(differ.text(found) if fmt == "text" else differ.as_json(found))
        sys.stdout.flush()
        sys.exit(DIFF_CHANGES if found.proxies else DIFF_NO_CHANGE)

    _guard(go)


# --- the store: apply / get / delete / store migrate -------------------------------------------------------------

required_store_option = click.option(
    "--store", metavar="URL", envvar="KUMAHC_STORE", required=True,
    help="PostgreSQL store (postgresql://USER@HOST:PORT/DBNAME); default: $KUMAHC_STORE.")
kind_argument = click.argument("kind", metavar="KIND")
mesh_option = click.option("--mesh", metavar="M", help="Only resources of mesh M.")
namespace_option = click.option("-n", "--namespace", metavar="NAMESPACE", help="Only resources in NAMESPACE.")


def _kind(text: str) -> str:
    from kumahc.resources.model import KINDS
    from kumahc.sources.store.records import parse_kind

    kind = parse_kind(text)
    if kind is None:
        raise click.BadParameter(f'unknown kind "{text}"; one of {", ".join(KINDS)} (any case, or plural)',
                                 param_hint="KIND")
    return kind


def _print_invalid(exc: InputError) -> NoReturn:
    _stderr(exc.report.lines(exc.strict))
    click.echo(summary(exc.report.error_count(exc.strict)), err=True)
    sys.exit(1)


@main.command("apply", epilog="""\b
Examples:
  kumahc apply -f examples/complete/mesh --store postgresql://kumahc@db/kumahc
  kumahc get meshhealthcheck --format yaml | kumahc apply -f -
  kumahc apply -f examples/meshhealthcheck/http-kuma-2.10.yaml --dry-run""")
@click.option("-f", "--filename", "paths", multiple=True, required=True, metavar="PATH",
              help="A file or directory to apply, as render reads it; - reads standard input. Repeatable.")
@click.option("--dry-run", is_flag=True, help="Validate and print what would change; write nothing.")
@required_store_option
def apply_command(paths: tuple[str, ...], dry_run: bool, store: str) -> None:
    """Create or replace resources in the store, all or none.

    The state the store would hold afterwards (stored resources, with the applied ones replacing those of the same
    identity or added) is validated exactly like `kumahc validate`; on any error every line is printed,
    "found N errors", nothing is written, exit 1. Otherwise everything is committed in one transaction and one
    line per resource is printed: "KIND NAME created|configured|unchanged". creationTime /
    metadata.creationTimestamp in the files are ignored: the store records the real times.
    """
    from kumahc.apply import apply
    from kumahc.sources import files
    from kumahc.sources.store import connection, schema

    def go() -> None:
        with files.stdin_file(list(paths)) as stdin:
            load_report = Report()
            try:
                loaded = files.read(list(paths), load_report, stdin)
            except FatalInputError as exc:
                _fail(str(exc))
            if not loaded.resources and not load_report.has_errors():
                _stderr(load_report.lines())
                _fail("no resources to apply")
            with connection.session(store) as conn:
                schema.check(conn, connection.redact(store))
                try:
                    outcome = apply(conn, loaded, load_report, dry_run=dry_run)
                except InputError as exc:
                    _print_invalid(exc)
        _stderr(outcome.result.report.lines())
        for change in outcome.changes:
            click.echo(change.line(dry_run))

    _guard(go)


@main.command(epilog="""\b
Examples:
  kumahc get meshhealthchecks
  kumahc get meshhealthcheck web-to-backend --mesh default --format yaml
  kumahc get dataplanes -n kuma-demo --format json""")
@kind_argument
@click.argument("name", metavar="[NAME]", required=False)
@mesh_option
@namespace_option
@click.option("--format", "fmt", type=click.Choice(["table", "yaml", "json"]), default="table", show_default=True,
              help="table for people; yaml (documents `kumahc apply -f -` accepts unchanged) or json.")
@required_store_option
def get(kind: str, name: str | None, mesh: str | None, namespace: str | None, fmt: str, store: str) -> None:
    """Print stored resources of KIND (all, or the one named NAME).

    table: NAME (NAMESPACE/NAME or MESH/NAME), MESH, FORMAT, GENERATION, CREATED, MODIFIED. yaml: the documents as
    applied, with the store's creation time, separated by ---. json: the document when NAME is given, else
    {"items": [...]}. KIND is a kind name in any case, or its plural. NAME not found: error, exit 1.
    """
    import orjson
    import yaml

    from kumahc.apply import matches
    from kumahc.sources.store import connection, records, schema, state

    def go() -> None:
        k = _kind(kind)
        with connection.session(store) as conn:
            schema.check(conn, connection.redact(store))
            rows = [r for r in state.read(conn, k).rows if matches(r, k, name, mesh, namespace)]
        if name is not None and not rows:
            _fail(f'{k.lower()} "{name}" not found')
        if name is not None and len(rows) > 1 and fmt == "json":
            _fail(f'{len(rows)} {k} resources named "{name}" ({", ".join(r.display for r in rows)}): '
                  "choose one with --mesh or -n")
        if fmt == "json":
            docs = [records.document(r) for r in rows]
            value = docs[0] if name is not None else {"items": docs}
            sys.stdout.write(orjson.dumps(value, option=orjson.OPT_INDENT_2).decode() + "\n")
            return
        if not rows:
            click.echo(f"no {k} resources found", err=True)
            return
        if fmt == "yaml":
            sys.stdout.write(yaml.safe_dump_all([records.document(r) for r in rows], sort_keys=False,
                                                allow_unicode=True, default_flow_style=False,
                                                explicit_start=len(rows) > 1))
            return
        table = [("NAME", "MESH", "FORMAT", "GENERATION", "CREATED", "MODIFIED")]
        table += [(r.display, r.mesh or "-", r.format, str(r.generation), records.timestamp(r.created_at),
                   records.timestamp(r.modified_at)) for r in rows]
        widths = [max(len(row[i]) for row in table) for i in range(len(table[0]))]
        for row in table:
            click.echo("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())

    _guard(go)


@main.command(epilog="""\b
Examples:
  kumahc delete meshhealthcheck web-to-backend --mesh default
  kumahc delete dataplane web-01 -n kuma-demo""")
@kind_argument
@click.argument("name", metavar="NAME")
@mesh_option
@namespace_option
@required_store_option
def delete(kind: str, name: str, mesh: str | None, namespace: str | None, store: str) -> None:
    """Delete one stored resource: KIND NAME, narrowed by --mesh and -n when several match.

    Like apply, the state left must pass `kumahc validate`: otherwise its errors are printed, nothing is deleted,
    exit 1. Prints "KIND NAME deleted". Not found, or several match: error, exit 1.
    """
    from kumahc.apply import delete as delete_resource
    from kumahc.sources.store import connection, schema

    def go() -> None:
        k = _kind(kind)
        with connection.session(store) as conn:
            schema.check(conn, connection.redact(store))
            try:
                outcome = delete_resource(conn, k, name, mesh, namespace)
            except InputError as exc:
                _print_invalid(exc)
        _stderr(outcome.result.report.lines())
        for change in outcome.changes:
            click.echo(change.line())

    _guard(go)


@main.group("store")
def store_group() -> None:
    """The PostgreSQL store's schema."""


@store_group.command("migrate", epilog="""\b
Examples:
  kumahc store migrate --store postgresql://kumahc@db/kumahc""")
@required_store_option
def store_migrate(store: str) -> None:
    """Bring the store's schema to the version this kumahc needs (every other command refuses an older one).

    Safe to run again, and from several hosts at once. Prints "store schema at version N (was M)".
    """
    from kumahc.sources.store import connection, schema

    def go() -> None:
        with connection.session(store) as conn:
            before, after = schema.migrate(conn)
        click.echo(f"store schema at version {after} (was {before})")

    _guard(go)


@main.group(epilog="""\b
Examples:
  kumahc golden check golden/
  kumahc golden update golden/""")
def golden() -> None:
    """Golden files: each subdirectory of DIR is a case (input files, optional `args`, expected.json)."""


def _cases(directory: str) -> list[str]:
    try:
        names = sorted(os.listdir(directory))
    except OSError as exc:
        _fail(f"{directory}: cannot read: {exc.strerror or exc}")
    cases = []
    for name in names:
        case = os.path.join(directory, name)
        if os.path.isdir(case) and not name.startswith(".") and any(
            f.endswith((".yaml", ".yml", ".json")) and f != "expected.json" for _, _, fs in os.walk(case) for f in fs
        ):
            cases.append(name)
    if not cases:
        _fail(f"no golden cases in {directory}")
    return cases


# Options an ``args`` file may hold: those the harness applies to the render (and --format, which it ignores:
# expected.json is always JSON). Anything else would be ignored silently, write files, or end the run before any
# comparison (--help exits 0): a case must never pass by not being rendered.
CASE_OPTIONS = ("protocol", "strict", "proxy", "endpoints", "fmt")


class _BadCase(Exception):
    """A case the harness refuses; the message names its path."""


def _case_options(case_dir: str) -> dict:
    """The render options of a case: its ``args`` file (one line, split like a shell; spec 07 §6) read with
    ``render``'s own parser, without running any option's action. Raises :class:`_BadCase` for an option outside
    :data:`CASE_OPTIONS` (``--help``, ``-o``, ``--store``, …), a PATH, or anything ``render`` would refuse."""
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
        ctx = click.Context(render, info_name="render", **main.context_settings)
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
        _stderr([f"error: {p}" for p in problems])
        sys.exit(1)
    return cases


def _render_case(case_dir: str, opts: dict) -> tuple[str | None, list[str]]:
    """Render one case like ``kumahc render <case> <args>``: (JSON text, []) or (None, error lines)."""
    paths = [os.path.join(case_dir, f) for f in _case_inputs(case_dir)]
    try:
        result = run(paths, Options(protocol=opts["protocol"], strict=opts["strict"]))
        return to_json(document(result, opts["proxy"], endpoints=opts["endpoints"])), []
    except InputError as exc:
        return None, [*exc.report.lines(exc.strict), summary(exc.report.error_count(exc.strict))]
    except FatalInputError as exc:
        return None, [f"error: {exc}"]
    except NoProxyMatch as exc:
        return None, [f"error: {exc}"]


def _case_inputs(case_dir: str) -> list[str]:
    """The case read as a directory (01 §1), without ``expected.json``."""
    return [rel for rel in walk_directory(case_dir) if rel != "expected.json"]


def _parse_case_args(args: list[str]) -> dict:
    ctx = render.make_context("render", [*args, "."], resilient_parsing=False)
    return {"protocol": ctx.params["protocol"], "strict": ctx.params["strict"], "proxy": ctx.params["proxy"],
            "endpoints": ctx.params["endpoints"]}


@golden.command("check")
@click.argument("directory", metavar="DIR", type=click.Path())
def golden_check(directory: str) -> None:
    """Render every case and diff it against its expected.json; exit 1 on any difference."""

    def go() -> None:
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

    _guard(go)


@golden.command("update")
@click.argument("directory", metavar="DIR", type=click.Path())
def golden_update(directory: str) -> None:
    """Write expected.json for every case that renders; print the cases whose bytes changed."""

    def go() -> None:
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
                write_atomic(expected_path, actual)
                click.echo(f"updated {name}")
                updated += 1
        click.echo(f"golden: {len(cases)} cases, {updated} updated")
        sys.exit(1 if broken else 0)

    _guard(go)


if __name__ == "__main__":
    main()
