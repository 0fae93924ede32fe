"""``kumahc serve``: the clusters of ``render`` over gRPC xDS, reloaded on change (spec 07; docs/serve.md)."""

from __future__ import annotations

import os
import sys

import click

from kumahc.commands import progress
from kumahc.commands.options import (
    endpoints_option,
    limits_options,
    protocol_option,
    source_paths_argument,
    store_option,
    store_url,
    strict_option,
)
from kumahc.commands.settings import SettingsCommand
from kumahc.resources.files import Limits


def _address(_ctx: click.Context, _param: click.Parameter, value: str) -> object:
    from kumahc.xds.address import Address

    try:
        return Address.parse(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None


@click.command(cls=SettingsCommand, epilog="""\b
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
commits (LISTEN/NOTIFY); any number of replicas on one store serve identical versions (docs/store.md).

\b
Every option can also come from $KUMAHC_<OPTION> (--xds-address: $KUMAHC_XDS_ADDRESS) or from --config FILE
(YAML, keys as the option names: xds-address: 127.0.0.1:18000); a flag beats the environment, which beats the
file, which beats the default. --print-config shows what applies and where it came from:
  kumahc serve --config examples/serve/kumahc.yaml --print-config""")
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
@click.option("--ui/--no-ui", default=None, help="Serve the operator pages under /ui/ on the admin port "
              "(docs/ui.md; the same Host check and token, with a login form). Default: on when --admin-address "
              "is a loopback address, off otherwise.")
@click.option("--log-format", type=click.Choice(["text", "json"]), default="text", show_default=True,
              help="Log lines on stderr: text, or one JSON object per line.")
@click.option("--log-level", type=click.Choice(["debug", "info", "warning", "error"]), default="info",
              show_default=True, help="Least severe level logged (debug adds one line per ACK).")
@click.option("--render", type=click.Choice(["connected", "all"]), default="connected", show_default=True,
              help="Build the clusters of connected proxies only, when their first request comes (the whole mesh "
                   "is still loaded and validated), or of all proxies at every load (docs/serve.md).")
@click.option("--render-grace", type=click.FloatRange(min=0), default=60.0, show_default=True, metavar="SECONDS",
              help="With --render connected: how long a proxy's clusters are kept after its last stream closed.")
@endpoints_option
@limits_options
def serve(paths: tuple[str, ...], store: str | None, xds_address: object, admin_address: object, protocol: str | None,
          strict: bool, xds_tls_cert: str | None, xds_tls_key: str | None, xds_client_ca: str | None,
          admin_allowed_hosts: tuple[str, ...], admin_token_file: str | None, ui: bool | None, log_format: str,
          log_level: str, endpoints: str, limits: Limits, render: str, render_grace: float) -> None:
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
    from kumahc.xds.app import ServeConfig, is_loopback
    from kumahc.xds.app import serve as run_server
    from kumahc.xds.tls import TlsFiles

    if (xds_tls_cert is None) != (xds_tls_key is None):
        raise click.UsageError("--xds-tls-cert and --xds-tls-key go together")
    if xds_client_ca is not None and xds_tls_cert is None:
        raise click.UsageError("--xds-client-ca needs --xds-tls-cert and --xds-tls-key")
    tls = TlsFiles(xds_tls_cert, xds_tls_key, xds_client_ca) if xds_tls_cert and xds_tls_key else None
    config = ServeConfig(tuple(paths), xds_address, admin_address, protocol, strict, tls, admin_allowed_hosts,
                         admin_token_file, log_format, log_level, endpoints, limits, store=store_url(paths, store),
                         ui=is_loopback(admin_address.host) if ui is None else ui, render=render,
                         render_grace=render_grace,
                         # decided here: the first load runs in another thread, outside click's context
                         progress=progress.drawn if progress.wanted() else None)
    sys.exit(run_server(config))
