"""``kumahc migrate``: legacy HealthCheck → MeshHealthCheck, CircuitBreaker → MeshCircuitBreaker (spec 07). The
conversions live with the kinds they convert (``kumahc/policies/<kind>/migrate.py``)."""

from __future__ import annotations

import json

import click

from kumahc.commands.options import format_option, limits_options, output_file_option, paths_argument, pipeline
from kumahc.commands.output import emit
from kumahc.resources.files import Limits


@click.command(epilog="""\b
Examples:
  kumahc migrate examples/healthcheck/seed000-tcp-connect-universal.yaml
  kumahc migrate examples/healthcheck/seed001-http-universal.yaml --output-file mhc.yaml && kumahc validate mhc.yaml
  kumahc migrate examples/circuitbreaker/precedence.yaml -o json

\b
Each document starts with comments: where it came from and where MeshHealthCheck behaves differently
(merging instead of most specific wins, checks per destination protocol, dropped wildcards, ...).
Render the old and the new policies with the same Dataplanes and diff the clusters before switching.
-o json prints the same policies as one Kubernetes List, without those comments.""")
@paths_argument
@format_option(("yaml", "json"), "yaml", "yaml: the documents with their comments; json: {\"apiVersion\": \"v1\", "
                                         "\"kind\": \"List\", \"items\": [...]}, no comments.")
@output_file_option("the converted policies")
@limits_options
def migrate(paths: tuple[str, ...], fmt: str, output_file: str | None, limits: Limits) -> None:
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
    documents = [doc for _, convert, p in policies for doc in convert(p)]
    emit(join(documents) if fmt == "yaml" else as_list_json(documents), output_file)


def as_list_json(documents: list[str]) -> str:
    """``migrate -o json``: the YAML ``documents`` (as :func:`kumahc.policies.healthcheck.migrate.join` would
    join them) as one Kubernetes ``List`` that ``kumahc`` reads back (``items`` in input order; the comments, which
    YAML keeps and JSON cannot, dropped), 2-space indented, newline-terminated."""
    import yaml

    items = [yaml.safe_load(doc) for doc in documents]
    return json.dumps({"apiVersion": "v1", "kind": "List", "items": items}, indent=2, ensure_ascii=False) + "\n"
