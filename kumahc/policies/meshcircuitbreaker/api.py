"""MeshCircuitBreaker resource types (Kuma v2.14 ``pkg/plugins/policies/meshcircuitbreaker/api/v1alpha1``).

A policy has a top-level ``targetRef`` (the proxies), ``to[]`` entries (destinations → conf) and inbound
``from[]``/``rules[]`` entries, which kumahc validates but does not apply (it renders outbound clusters only).
Entries and target refs are the engine's (:mod:`kumahc.policies.core.targetref`), matched and merged as every
targetRef policy is.
"""

from __future__ import annotations

from dataclasses import dataclass

from kumahc.policies.core.targetref import Entry, TargetRef, attach_entries, is_shadow
from kumahc.resources.model import Resource

KIND = "MeshCircuitBreaker"

CONNECTION_LIMITS = ("maxConnections", "maxConnectionPools", "maxPendingRequests", "maxRetries", "maxRequests")
DETECTORS = ("totalFailures", "gatewayFailures", "localOriginFailures", "successRate", "failurePercentage")


@dataclass(frozen=True, slots=True, eq=False)
class MeshCircuitBreaker:
    """A validated MeshCircuitBreaker. ``order`` = position in input order (merge ties keep it); ``inbound`` =
    it has ``from`` or ``rules`` entries (validated, not applied)."""

    res: Resource
    order: int
    target_ref: TargetRef
    entries: tuple[Entry, ...]
    shadow: bool
    inbound: bool


def parse(res: Resource, order: int) -> MeshCircuitBreaker:
    """Type a MeshCircuitBreaker that passed :func:`kumahc.policies.meshcircuitbreaker.validate.validate`."""
    spec = res.fields()
    policy = MeshCircuitBreaker(res, order, TargetRef.of(spec.get("targetRef")), (), is_shadow(res),
                                bool(spec.get("from") or spec.get("rules")))
    attach_entries(policy, spec)
    return policy
