"""``kumahc migrate`` for legacy CircuitBreaker → MeshCircuitBreaker YAML, on HealthCheck's shapes
(:mod:`kumahc.policies.healthcheck.migrate`): one policy per source selector (``<name>`` or ``<name>-1`` …
``<name>-n``), source selector → top-level ``targetRef`` (``Mesh`` / ``MeshSubset``), destination j → ``to[j]``,
``conf`` → every ``to[j].default``:

* ``thresholds`` → ``connectionLimits`` (same four names);
* with detectors, ``outlierDetection``: ``interval``, ``baseEjectionTime``, ``maxEjectionPercent``,
  ``splitExternalAndLocalErrors`` as written; ``totalErrors``/``gatewayErrors``/``localErrors`` →
  ``totalFailures``/``gatewayFailures``/``localOriginFailures`` (a missing ``consecutive`` is written as Envoy's
  default 5, which CircuitBreaker enforced and MeshCircuitBreaker would not); ``standardDeviation`` →
  ``successRate`` (``factor`` → ``standardDeviationFactor`` as a decimal string); ``failure`` →
  ``failurePercentage``.

Every place where the new policy may behave differently gets a ``# note:`` comment.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from decimal import Decimal
from typing import Any

from kumahc.policies.circuitbreaker import api
from kumahc.policies.circuitbreaker.family import Family as CircuitBreakerFamily
from kumahc.policies.contract import PolicyFamily
from kumahc.policies.core import migration
from kumahc.policies.core.connection import Selector

KIND = "MeshCircuitBreaker"
ENVOY_DEFAULT_CONSECUTIVE = 5  # Envoy's consecutive_5xx / gateway / local-origin default

DETECTORS = (("totalErrors", "totalFailures"), ("gatewayErrors", "gatewayFailures"),
             ("localErrors", "localOriginFailures"))
OUTLIER_FIELDS = ("interval", "baseEjectionTime", "maxEjectionPercent", "splitExternalAndLocalErrors")

NOTE_MERGE = ("# note: CircuitBreaker applied only the most specific policy to a destination; MeshCircuitBreaker "
              "merges every matching policy field by field")
NOTE_TRACK = ("# note: MeshCircuitBreaker also sets track_remaining on the cluster's circuit breakers (remaining_* "
              "stats only; no effect on traffic)")
NOTE_PRECEDENCE = ("# note: MeshCircuitBreaker takes precedence over a KongUpstreamPolicy's passive checks on the "
                   "same cluster; CircuitBreaker gave way to them")


def circuit_breakers(families: Iterable[PolicyFamily]) -> list[api.CircuitBreaker]:
    """The validated CircuitBreakers of a pipeline run (``Result.families``), in input order."""
    return migration.policies_of(families, CircuitBreakerFamily)


def migrate(policies: Sequence[api.CircuitBreaker]) -> list[str]:
    """Every CircuitBreaker, in the given order → the YAML text of each MeshCircuitBreaker."""
    return [doc for p in policies for doc in migrate_one(p)]


def migrate_one(policy: api.CircuitBreaker) -> list[str]:
    n = len(policy.sources)
    out = []
    for source in policy.sources:
        name = policy.res.name if n == 1 else f"{policy.res.name}-{source.index + 1}"
        to = [to_entry(d, policy) for d in policy.destinations]
        body = migration.envelope(policy, name, {"targetRef": migration.target_ref(source), "to": to}, KIND)
        out.append("".join(line + "\n" for line in comments(policy, source)) + migration.dump(body))
    return out


def to_entry(destination: Selector, policy: api.CircuitBreaker) -> dict[str, Any]:
    return {"targetRef": migration.destination_ref(destination), "default": default(policy.conf)}


def default(conf: Mapping[str, Any]) -> dict[str, Any]:
    """``conf`` → ``to[j].default`` (a fresh dict each time: the YAML has no anchors)."""
    out: dict[str, Any] = {}
    thresholds = {k: v for k, v in (conf.get("thresholds") or {}).items() if k in api.THRESHOLDS}
    if thresholds:
        out["connectionLimits"] = thresholds
    detectors = conf.get("detectors") or {}
    if any(k in detectors for k in api.DETECTORS):
        od: dict[str, Any] = {k: conf[k] for k in OUTLIER_FIELDS if k in conf}
        new: dict[str, Any] = {}
        for old, name in DETECTORS:
            if old in detectors:
                new[name] = {"consecutive": detectors[old].get("consecutive", ENVOY_DEFAULT_CONSECUTIVE)}
        sd = detectors.get("standardDeviation")
        if sd is not None:
            sr = {k: sd[k] for k in ("minimumHosts", "requestVolume") if k in sd}
            if "factor" in sd:
                sr["standardDeviationFactor"] = format(Decimal(repr(float(sd["factor"]))), "f")
            new["successRate"] = sr
        fp = detectors.get("failure")
        if fp is not None:
            new["failurePercentage"] = {k: fp[k] for k in ("minimumHosts", "requestVolume", "threshold") if k in fp}
        od["detectors"] = new
        out["outlierDetection"] = od
    return out


def comments(policy: api.CircuitBreaker, source: Selector) -> list[str]:
    """The comment lines of one produced document, each only when it applies."""
    conf = policy.conf
    detectors = conf.get("detectors") or {}
    lines = [f"# migrated from CircuitBreaker {policy.res.display_name} ({policy.res.src.where})", NOTE_MERGE,
             NOTE_PRECEDENCE, NOTE_TRACK]
    if len(policy.sources) > 1:
        lines.append(f"# note: split into {len(policy.sources)} policies, one per source selector")
    tags, dropped = migration.split_source(source)
    if tags:
        lines += [f'# note: source tag "{k}: *" dropped: MeshSubset tags cannot use wildcards' for k in dropped]
        lines.append(migration.NOTE_MESH_SUBSET)
    has_detectors = any(k in detectors for k in api.DETECTORS)
    if not has_detectors:
        written = [k for k in OUTLIER_FIELDS if k in conf]
        if written:
            lines.append(f"# note: {', '.join(written)} dropped: without detectors CircuitBreaker's outlier "
                         "detection ejected nothing")
    else:
        for old, name in DETECTORS:
            if old in detectors and "consecutive" not in detectors[old]:
                lines.append(f"# note: detectors.{old} had no consecutive: CircuitBreaker enforced Envoy's default "
                             f"{ENVOY_DEFAULT_CONSECUTIVE}, written out as {name}.consecutive (MeshCircuitBreaker "
                             "enforces nothing without it)")
    if conf.get("splitExternalAndLocalErrors") and "standardDeviation" not in detectors:
        lines.append("# note: split mode without standardDeviation: CircuitBreaker left Envoy's local-origin "
                     "success-rate ejection on (enforcing_local_origin_success_rate 100); MeshCircuitBreaker turns "
                     "it off (add successRate to keep it)")
    return lines
