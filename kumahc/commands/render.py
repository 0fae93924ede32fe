"""``kumahc render``: every proxy's clusters as Envoy JSON or YAML, a table, or the proxies' names (spec 07)."""

from __future__ import annotations

import click

from kumahc.commands import progress
from kumahc.commands.completion import proxy_names
from kumahc.commands.options import (
    endpoints_option,
    format_option,
    limits_options,
    output_file_option,
    pipeline,
    protocol_option,
    source_paths_argument,
    store_option,
    strict_option,
)
from kumahc.commands.output import emit, fail
from kumahc.resources.files import Limits

EPILOG = """\b
Examples:
  kumahc render examples/meshhealthcheck/http-kuma-2.10.yaml
  kumahc render examples/complete/mesh --proxy web-01 -o yaml
  kumahc render examples/complete/mesh -o table
  kumahc render examples/meshcircuitbreaker/outlier-detection.yaml -o wide
  kumahc render examples/complete/mesh -o name
  kumahc render examples/healthcheck/ --protocol http --output-file clusters.json

Without any Dataplane in the inputs kumahc runs in preview mode: it synthesises one proxy per policy selector
and one destination per referenced service, so a single policy file shows what it does."""


FORMATS = ("json", "yaml", "table", "wide", "name")


@click.command(epilog=EPILOG)
@source_paths_argument
@store_option
@click.option("--proxy", metavar="NAME", shell_complete=proxy_names,
              help="Keep only proxies named NAME (any mesh) or MESH/NAME.")
@format_option(FORMATS, "json", "Envoy JSON or YAML; table (one line per cluster, for people), wide (table with the "
                                 "endpoint count, ejection timing and circuit-breaker limits) or name (one MESH/NAME "
                                 "per proxy).")
@output_file_option("the document")
@protocol_option
@strict_option
@endpoints_option
@limits_options
def render(paths: tuple[str, ...], store: str | None, proxy: str | None, fmt: str, protocol: str | None,
           strict: bool, output_file: str | None, endpoints: str, limits: Limits) -> None:
    """Print the Envoy clusters every proxy gets.

    Output: {"proxies": [{"mesh", "name", "clusters": [Cluster, ...]}]} with each Cluster as Envoy's
    envoy.config.cluster.v3.Cluster JSON; with --endpoints eds each proxy also has "load_assignments"
    (envoy.config.endpoint.v3.ClusterLoadAssignment, one per cluster). Only the document goes to stdout; errors,
    warnings and notes go to stderr.
    """
    from kumahc.render import NoProxyMatch, document, json_chunks, to_json, to_yaml

    result = pipeline(paths, protocol, strict, store, limits)
    try:
        # JSON is assembled from each cluster's own text; YAML (and EDS) goes through the whole document.
        if fmt in ("table", "wide"):
            from kumahc.views import table

            wide = fmt == "wide"
            text = table.text(table.rows(result, proxy, wide), table.WIDE_HEADER if wide else table.HEADER)
        elif fmt == "name":
            from kumahc.views import table

            text = table.names(result, proxy)
        elif fmt == "json" and endpoints == "static":
            text = progress.written(json_chunks(result, proxy), len(result.view.proxies))
        else:
            doc = document(result, proxy, endpoints=endpoints)
            text = to_json(doc) if fmt == "json" else to_yaml(doc)
    except NoProxyMatch as exc:
        fail(str(exc))
    emit(text, output_file)
