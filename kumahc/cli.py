"""``kumahc`` command line (spec 07). Thin: parses flags, runs the pipeline, prints. Exit codes: 0 ok, 1 invalid
input (or golden mismatch, or any failure), 2 usage."""

from __future__ import annotations

import difflib
import os
import shlex
import sys
from collections.abc import Callable
from typing import NoReturn

import click

from kumahc import __version__
from kumahc.diagnostics import FatalInputError, InputError, summary
from kumahc.mesh.protocol import KNOWN as PROTOCOLS
from kumahc.pipeline import Options, Result, run
from kumahc.render import NoProxyMatch, document, to_json, to_yaml, write_atomic
from kumahc.resources.files import walk_directory

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


def _pipeline(paths: tuple[str, ...], protocol: str | None, strict: bool) -> Result:
    """Run the pipeline; on invalid input print every line and ``found N errors``, then exit 1."""
    try:
        result = run(list(paths), Options(protocol=protocol, strict=strict))
    except FatalInputError as exc:
        _fail(str(exc))
    except InputError as exc:
        _stderr(exc.report.lines(exc.strict))
        click.echo(summary(exc.report.error_count(exc.strict)), err=True)
        sys.exit(1)
    _stderr(result.report.lines(strict))
    return result


def _emit(text: str, output: str | None) -> None:
    """The document to stdout, or atomically to ``output`` (05 §2: never a half-written file)."""
    if output is None:
        sys.stdout.write(text)
        sys.stdout.flush()
        return
    try:
        write_atomic(output, text)
    except OSError as exc:
        _fail(f"{output}: cannot write: {exc.strerror or exc}")


def _guard(fn: Callable[[], None]) -> None:
    """Never a traceback: an unexpected exception becomes ``error: internal: <Type>: <message>``, exit 1."""
    try:
        fn()
    except (SystemExit, KeyboardInterrupt, click.exceptions.Exit, click.ClickException):
        raise
    except Exception as exc:  # noqa: BLE001 - the last line of defence of the CLI
        click.echo(f"error: internal: {type(exc).__name__}: {exc}", err=True)
        sys.exit(1)


protocol_option = click.option(
    "--protocol", type=click.Choice(PROTOCOLS), default=None, metavar="P",
    help="Protocol of destinations whose protocol is otherwise unknown, and of preview destinations without "
         "appProtocol: one of " + ", ".join(PROTOCOLS) + ".")
strict_option = click.option("--strict", is_flag=True, help="Treat every warning as an error (info notes stay notes).")
paths_argument = click.argument("paths", nargs=-1, required=True, type=click.Path(), metavar="PATH...")


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
@paths_argument
@click.option("--proxy", metavar="NAME", help="Keep only proxies named NAME (any mesh) or MESH/NAME.")
@click.option("--format", "fmt", type=click.Choice(["json", "yaml", "table"]), default="json", show_default=True,
              help="Output format: Envoy JSON or YAML, or table (one line per cluster, for people).")
@protocol_option
@strict_option
@click.option("-o", "--output", metavar="FILE", type=click.Path(dir_okay=False),
              help="Write the document to FILE atomically instead of stdout.")
def render(paths: tuple[str, ...], proxy: str | None, fmt: str, protocol: str | None, strict: bool,
           output: str | None) -> None:
    """Print the Envoy clusters every proxy gets.

    Output: {"proxies": [{"mesh", "name", "clusters": [Cluster, ...]}]} with each Cluster as Envoy's
    envoy.config.cluster.v3.Cluster JSON. Only the document goes to stdout; errors, warnings and notes go to
    stderr.
    """

    def go() -> None:
        result = _pipeline(paths, protocol, strict)
        try:
            if fmt == "table":
                from kumahc import table

                text = table.text(table.rows(result, proxy))
            else:
                doc = document(result, proxy)
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
@paths_argument
@protocol_option
@strict_option
def validate(paths: tuple[str, ...], protocol: str | None, strict: bool) -> None:
    """Check inputs without printing clusters.

    Runs everything render runs. Valid: prints "ok: N resources in M files" (N = documents of the kinds kumahc
    reads, M = files read) and exits 0; invalid: prints every error and "found N errors", exit 1.
    """

    def go() -> None:
        result = _pipeline(paths, protocol, strict)
        click.echo(f"ok: {result.loaded.counted} resources in {len(result.loaded.files)} files")

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
              help="Write the MeshHealthChecks to FILE atomically instead of stdout.")
def migrate(paths: tuple[str, ...], output: str | None) -> None:
    """Print a MeshHealthCheck for every legacy HealthCheck (one per source selector), in input order.

    The inputs are validated like `validate` (invalid: every error, "found N errors", exit 1); only HealthChecks
    are converted. No HealthCheck: empty output and a warning. The result is not validated: run `kumahc validate`
    on it.
    """
    from kumahc.migrate import NO_HEALTHCHECK, healthchecks, join
    from kumahc.migrate import migrate as migrate_policies

    def go() -> None:
        result = _pipeline(paths, None, False)
        policies = healthchecks(result.families)
        if not policies:
            click.echo(NO_HEALTHCHECK, err=True)
        text = join(migrate_policies(policies))
        _emit(text, output)

    _guard(go)


def _address(_ctx: click.Context, _param: click.Parameter, value: str) -> object:
    from kumahc.xds.app import Address

    try:
        return Address.parse(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None


@main.command(epilog="""\b
Examples:
  kumahc serve examples/complete/mesh
  kumahc serve examples/complete/mesh --xds-address 127.0.0.1:0 --admin-address 127.0.0.1:0

\b
Point Envoy at it with node.id "<mesh>.<proxy>" (e.g. default.web-01) and a CDS or ADS config source
(api_type GRPC or DELTA_GRPC); envoy-testbed/ has ready-made bootstraps.""")
@paths_argument
@click.option("--xds-address", default="127.0.0.1:18000", show_default=True, callback=_address, metavar="HOST:PORT",
              help="gRPC xDS listener; IPv6 as [::1]:PORT; port 0 = any free port.")
@click.option("--admin-address", default="127.0.0.1:18001", show_default=True, callback=_address,
              metavar="HOST:PORT", help="Admin HTTP listener (/ready, /metrics, /config_dump, /status).")
@protocol_option
@strict_option
def serve(paths: tuple[str, ...], xds_address: object, admin_address: object, protocol: str | None,
          strict: bool) -> None:
    """Serve the clusters of `render` to Envoys over gRPC xDS (CDS and ADS, SotW and Delta).

    Prints "xds listening on ADDR" and "admin listening on ADDR" to stdout once both listeners are up; logs go
    to stderr. Policy files are watched (polled every 0.5 s) and re-rendered on change; invalid new inputs are
    logged and the last good state keeps being served. SIGHUP forces a reload; SIGTERM/SIGINT stop it.
    """
    from kumahc.xds.app import serve as run_server

    _guard(lambda: sys.exit(run_server(list(paths), xds_address, admin_address, protocol, strict)))


@main.command(epilog="""\b
Examples:
  kumahc inspect examples/complete/mesh --proxy web-01
  kumahc inspect examples/complete/mesh --proxy default/web-01 --cluster backend --format json
  kumahc inspect examples/kong/mesh-precedence.yaml --policy KongUpstreamPolicy/shop/backend-hc""")
@paths_argument
@click.option("--proxy", metavar="NAME", help="The proxy to explain: NAME (any mesh) or MESH/NAME.")
@click.option("--cluster", metavar="C", help="Only this cluster of the proxy.")
@click.option("--policy", metavar="KIND/NAME",
              help="Instead of a proxy: every proxy and cluster this policy reaches (e.g. MeshHealthCheck/web, "
                   "KongUpstreamPolicy/shop/backend-hc).")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True,
              help="text for people, json for tools.")
@protocol_option
def inspect(paths: tuple[str, ...], proxy: str | None, cluster: str | None, policy: str | None, fmt: str,
            protocol: str | None) -> None:
    """Explain why a proxy gets the health checks it gets, or where a policy applies (--policy).

    For each cluster: the destination's protocol and where it came from, the MeshHealthCheck entries that matched
    in merge order (file:line), the merged conf with the origin of every field, the checker chosen and the
    protocol-table rule behind it, the KongUpstreamPolicy and HealthCheck that apply, and which policy kind won
    each field group (health check, panic settings, outlier detection).
    """
    from kumahc import inspect as explain

    if (proxy is None) == (policy is None):
        raise click.UsageError("give exactly one of --proxy and --policy")
    if policy is not None and cluster is not None:
        raise click.UsageError("--cluster goes with --proxy, not --policy")

    def go() -> None:
        result = _pipeline(paths, protocol, False)
        if policy is not None:
            from kumahc import policyview

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
def diff(before: str, after: str, proxy: str | None, fmt: str, protocol: str | None, strict: bool) -> None:
    """Show what changes in the rendered clusters between two sets of inputs.

    BEFORE and AFTER are each a file, a directory or - (standard input). Both are rendered as `render` would;
    for every proxy and cluster that differs, prints the field-level change (paths in render's JSON) and the
    policies in the cluster before or after, then a summary such as "12 clusters on 340 proxies change".
    Warnings of AFTER go to stderr; errors of either side make it exit 1.
    """
    from kumahc import diff as differ

    def go() -> None:
        results = []
        failed = False
        for path in (before, after):
            try:
                results.append(run([path], Options(protocol=protocol, strict=strict)))
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


def _render_case(case_dir: str) -> tuple[str | None, list[str]]:
    """Render one case like ``kumahc render <case> <args>``: (JSON text, []) or (None, error lines)."""
    args: list[str] = []
    args_file = os.path.join(case_dir, "args")
    if os.path.exists(args_file):
        with open(args_file, encoding="utf-8") as fh:
            args = shlex.split(fh.read())
    opts = _parse_case_args(args)
    paths = [os.path.join(case_dir, f) for f in _case_inputs(case_dir)]
    try:
        result = run(paths, Options(protocol=opts["protocol"], strict=opts["strict"]))
        return to_json(document(result, opts["proxy"])), []
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
    return {"protocol": ctx.params["protocol"], "strict": ctx.params["strict"], "proxy": ctx.params["proxy"]}


@golden.command("check")
@click.argument("directory", metavar="DIR", type=click.Path())
def golden_check(directory: str) -> None:
    """Render every case and diff it against its expected.json; exit 1 on any difference."""

    def go() -> None:
        passed = failed = 0
        for name in _cases(directory):
            case_dir = os.path.join(directory, name)
            expected_path = os.path.join(case_dir, "expected.json")
            actual, errors = _render_case(case_dir)
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
        cases = _cases(directory)
        updated = 0
        broken = False
        for name in cases:
            case_dir = os.path.join(directory, name)
            expected_path = os.path.join(case_dir, "expected.json")
            actual, errors = _render_case(case_dir)
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
