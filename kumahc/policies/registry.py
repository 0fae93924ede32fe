"""The policy families, one line each. Their order is the order they are loaded and asked, and the order of their
lines in ``inspect``; precedence between kinds is :mod:`kumahc.policies.combine`'s business."""

from __future__ import annotations

from kumahc.policies.circuitbreaker.family import Family as CircuitBreaker
from kumahc.policies.contract import PolicyFamily
from kumahc.policies.healthcheck.family import Family as HealthCheck
from kumahc.policies.kong.family import Family as KongUpstreamPolicy
from kumahc.policies.meshcircuitbreaker.family import Family as MeshCircuitBreaker
from kumahc.policies.meshhealthcheck.family import Family as MeshHealthCheck

FAMILIES: tuple[type[PolicyFamily], ...] = (MeshHealthCheck, KongUpstreamPolicy, HealthCheck, MeshCircuitBreaker,
                                            CircuitBreaker)
KINDS: tuple[str, ...] = tuple(f.KIND for f in FAMILIES)
