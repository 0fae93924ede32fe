"""``kumahc migrate``: legacy HealthCheck → MeshHealthCheck, CircuitBreaker → MeshCircuitBreaker (spec 07). The
conversions live with the kinds they convert (``kumahc/policies/<kind>/migrate.py``)."""

from __future__ import annotations

import click

from kumahc.commands.options import limits_options, output_option, paths_argument, pipeline
from kumahc.commands.output import emit
from kumahc.resources.files import Limits


@click.command(epilog="""\b
Examples:
  kumahc migrate examples/healthcheck/seed000-tcp-connect-universal.yaml
  kumahc migrate examples/healthcheck/seed001-http-universal.yaml -o mhc.yaml && kumahc validate mhc.yaml

\b
Each document starts with comments: where it came from and where MeshHealthCheck behaves differently
(merging instead of most specific wins, checks per destination protocol, dropped wildcards, ...).
Render the old and the new policies with the same Dataplanes and diff the clusters before switching.""")
@paths_argument
@output_option("the MeshHealthChecks")
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

    result = pipeline(paths, None, False, limits=limits)
    policies = sorted([(p.order, migrate_healthcheck, p) for p in healthchecks(result.families)]
                      + [(p.order, mcb.migrate_one, p) for p in mcb.circuit_breakers(result.families)],
                      key=lambda item: item[0])
    if not policies:
        click.echo(NO_HEALTHCHECK, err=True)
    text = join([doc for _, convert, p in policies for doc in convert(p)])
    emit(text, output)
