"""``kumahc inspect``: why a proxy gets its checks (``--proxy``), or where a policy applies (``--policy``)
(spec 07; docs/inspect.md)."""

from __future__ import annotations

import click

from kumahc.commands.completion import policy_names, proxy_names
from kumahc.commands.options import (
    format_option,
    limits_options,
    output_file_option,
    pipeline,
    protocol_option,
    source_paths_argument,
    store_option,
)
from kumahc.commands.output import REPORT_FORMATS, as_format, emit, fail
from kumahc.resources.files import Limits


class _PolicyOption(click.Option):
    """``--policy``, whose help names the policy kinds from the registry when help is shown: every other command
    line starts without loading the policy families."""

    def get_help_record(self, ctx: click.Context) -> tuple[str, str] | None:
        from kumahc.policies.registry import KINDS

        if self.help is not None and "{kinds}" in self.help:
            self.help = self.help.replace("{kinds}", f"{', '.join(KINDS[:-1])} or {KINDS[-1]}")
        return super().get_help_record(ctx)


@click.command(epilog="""\b
Examples:
  kumahc inspect examples/complete/mesh --proxy web-01
  kumahc inspect examples/complete/mesh --proxy default/web-01 --cluster backend -o json
  kumahc inspect examples/kong/mesh-precedence.yaml --policy KongUpstreamPolicy/shop/backend-hc
  kumahc inspect examples/meshcircuitbreaker/mesh-precedence.yaml --policy MeshCircuitBreaker/web-backend-cb
  kumahc inspect examples/circuitbreaker/precedence.yaml --policy CircuitBreaker/web-to-backend""")
@source_paths_argument
@store_option
@click.option("--proxy", metavar="NAME", shell_complete=proxy_names,
              help="The proxy to explain: NAME (any mesh) or MESH/NAME.")
@click.option("--cluster", metavar="C", help="Only this cluster of the proxy.")
@click.option("--policy", metavar="KIND/NAME", shell_complete=policy_names, cls=_PolicyOption,
              help="Instead of a proxy: every proxy and cluster this policy reaches, and what it contributes "
                   "there (KIND: {kinds}; e.g. MeshHealthCheck/web, KongUpstreamPolicy/shop/backend-hc, "
                   "MeshCircuitBreaker/kuma-system/backend-cb).")
@format_option(REPORT_FORMATS, "text", "text for people; json, or the same document as yaml, for tools.")
@output_file_option("the explanation")
@protocol_option
@limits_options
def inspect(paths: tuple[str, ...], store: str | None, proxy: str | None, cluster: str | None, policy: str | None,
            fmt: str, output_file: str | None, protocol: str | None, limits: Limits) -> None:
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
    result = pipeline(paths, protocol, False, store, limits)
    if policy is not None:
        from kumahc.views import policyview

        try:
            found_policy = policyview.view(result, policy)
        except policyview.NoPolicy as exc:
            fail(str(exc))
        emit(policyview.text(found_policy) if fmt == "text" else as_format(policyview.as_json(found_policy), fmt),
             output_file)
        return
    from kumahc.render import NoProxyMatch

    try:
        found = explain.explain(result, proxy, cluster)
    except (NoProxyMatch, explain.NoCluster) as exc:
        fail(str(exc))
    emit(explain.text(found) if fmt == "text" else as_format(explain.as_json(found), fmt), output_file)
