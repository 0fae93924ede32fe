"""``kumahc migrate``: legacy HealthCheck → MeshHealthCheck YAML (spec 07 §7); CircuitBreaker →
MeshCircuitBreaker is :mod:`kumahc.policies.circuitbreaker.migrate`, on the same shapes.

Pure: validated, typed HealthChecks (:mod:`kumahc.policies.healthcheck.api`, as the pipeline produced them) in, one YAML
document text per produced MeshHealthCheck out. Nothing here reads files or parses YAML: the loader and the
HealthCheck validation of the pipeline already did, so only valid policies reach this module. The output is not
validated here (07 §7: run ``kumahc validate`` on it).

Shapes (07 §7):

* one HealthCheck with n sources → n MeshHealthChecks (``<name>`` when n = 1, else ``<name>-1`` … ``<name>-n``);
* source selector → top-level ``targetRef`` (``Mesh`` or ``MeshSubset``); destination j → ``to[j]``;
* ``conf`` → every ``to[j].default`` (the same conf in each entry, written out each time: no YAML anchors).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from decimal import Decimal
from typing import Any

from kumahc.policies.contract import PolicyFamily
from kumahc.policies.core import migration
from kumahc.policies.core.connection import Selector
from kumahc.policies.healthcheck import api
from kumahc.policies.healthcheck.family import Family as HealthCheckFamily

KIND = "MeshHealthCheck"

NOTE_MERGE = ("# note: HealthCheck applied only the most specific policy to a destination; MeshHealthCheck merges "
              "every matching policy field by field")
NOTE_TCP = ("# note: HealthCheck ran a TCP check on every destination; MeshHealthCheck runs tcp only on tcp "
            "destinations (add http or grpc blocks for other protocols)")
NOTE_HTTP = ("# note: HealthCheck ran the HTTP check on every destination; MeshHealthCheck runs http only on http "
             "and http2 destinations")
NO_HEALTHCHECK = "warning: no HealthCheck or CircuitBreaker resources found"


def healthchecks(families: Iterable[PolicyFamily]) -> list[api.HealthCheck]:
    """The validated HealthChecks of a pipeline run (``Result.families``), in input order."""
    return migration.policies_of(families, HealthCheckFamily)


def migrate(policies: Sequence[api.HealthCheck]) -> list[str]:
    """Every HealthCheck, in the given (input) order → the YAML text of each MeshHealthCheck (comment lines, then
    the body), one policy per source selector."""
    return [doc for p in policies for doc in migrate_one(p)]


def join(documents: Sequence[str]) -> str:
    """The output of ``migrate``: documents joined by ``---`` lines; no document → ``""``."""
    return "---\n".join(documents)


def migrate_one(policy: api.HealthCheck) -> list[str]:
    """One HealthCheck → one document text per ``sources[i]``."""
    n = len(policy.sources)
    to = [to_entry(d, policy) for d in policy.destinations]
    out = []
    for source in policy.sources:
        name = policy.res.name if n == 1 else f"{policy.res.name}-{source.index + 1}"
        body = migration.envelope(policy, name, {"targetRef": migration.target_ref(source), "to": to}, KIND)
        out.append("".join(line + "\n" for line in comments(policy, source)) + migration.dump(body))
    return out


def to_entry(destination: Selector, policy: api.HealthCheck) -> dict[str, Any]:
    """``destinations[j]`` → ``to[j]``: ``kuma.io/service: X`` → MeshService X, ``*`` → Mesh; ``default`` = the
    conf (a fresh dict per entry, so the YAML has no anchors)."""
    return {"targetRef": migration.destination_ref(destination), "default": default(policy)}


def default(policy: api.HealthCheck) -> dict[str, Any]:
    """``conf`` → ``to[j].default``: the common fields as written (02 §2 order), then exactly one block:
    ``http``, or ``tcp`` (``{}`` when the HealthCheck had neither: its connect-only TCP check)."""
    conf = policy.conf
    out: dict[str, Any] = {k: scalar(k, v) for k, v in conf.common.items()}
    if conf.http is not None:
        out["http"] = http_block(conf.http)
    else:
        out["tcp"] = tcp_block(policy)
    return out


def scalar(key: str, value: Any) -> Any:
    """A conf value as written, except a float ``healthyPanicThreshold``: MeshHealthCheck's IntOrString rejects
    floats (02 §2), so it becomes a plain decimal string (``62.5`` → ``"62.5"``, never ``1e-05``)."""
    if key == "healthyPanicThreshold" and isinstance(value, float):
        return format(Decimal(repr(value)), "f")
    return value


def tcp_block(policy: api.HealthCheck) -> dict[str, Any]:
    """``tcp: {send, receive}`` with the base64 texts copied as written (both kinds decode them the same way,
    README difference #1); ``api.Tcp`` holds decoded bytes, so the texts come from the validated document."""
    raw = policy.res.fields()["conf"].get("tcp") or {}
    out: dict[str, Any] = {}
    if raw.get("send") is not None:
        out["send"] = raw["send"]
    if raw.get("receive"):
        out["receive"] = list(raw["receive"])
    return out


def http_block(http: api.Http) -> dict[str, Any]:
    """``http: {path, expectedStatuses, requestHeadersToAdd: {add, set}}``; ``append: false`` → ``set``, any other
    (absent = true) → ``add``; empty lists and an empty ``requestHeadersToAdd`` are omitted."""
    out: dict[str, Any] = {"path": http.path}
    if http.expected_statuses:
        out["expectedStatuses"] = list(http.expected_statuses)
    add = [{"name": h.key, "value": h.value} for h in http.headers if h.append]
    set_ = [{"name": h.key, "value": h.value} for h in http.headers if not h.append]
    headers = {k: v for k, v in (("add", add), ("set", set_)) if v}
    if headers:
        out["requestHeadersToAdd"] = headers
    return out


# --- comments ------------------------------------------------------------------------------------------------------


def comments(policy: api.HealthCheck, source: Selector) -> list[str]:
    """The comment lines of one produced document, in the order of 07 §7, each only when it applies."""
    lines = [f"# migrated from HealthCheck {policy.res.display_name} ({policy.res.src.where})", NOTE_MERGE,
             NOTE_HTTP if policy.has_http else NOTE_TCP]
    if len(policy.sources) > 1:
        lines.append(f"# note: split into {len(policy.sources)} policies, one per source selector")
    tags, dropped = migration.split_source(source)
    if tags:  # all-wildcard sources become Mesh: nothing is dropped from a MeshSubset
        lines += [f'# note: source tag "{k}: *" dropped: MeshSubset tags cannot use wildcards' for k in dropped]
        lines.append(migration.NOTE_MESH_SUBSET)
    lines += [f'# note: header "{key}": MeshHealthCheck splits values on commas' for key in comma_headers(policy)]
    return lines


def comma_headers(policy: api.HealthCheck) -> list[str]:
    """Header keys (first occurrence order, once each) with a value containing ``,``: HealthCheck sent the value
    as is, MeshHealthCheck sends one header per comma-separated piece (02 §8)."""
    keys: list[str] = []
    for h in policy.conf.http.headers if policy.conf.http is not None else ():
        if "," in h.value and h.key not in keys:
            keys.append(h.key)
    return keys

