"""Legacy CircuitBreaker resource types (Kuma ``api/mesh/v1alpha1/circuit_breaker.proto``): source and destination
selectors ranked like legacy HealthCheck's (the engine's connection-policy selection), and the conf as written."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from types import MappingProxyType
from typing import Any

from kumahc.policies.core.connection import Selector, selectors
from kumahc.resources.model import Resource

KIND = "CircuitBreaker"
DETECTORS = ("totalErrors", "gatewayErrors", "localErrors", "standardDeviation", "failure")
THRESHOLDS = ("maxConnections", "maxPendingRequests", "maxRetries", "maxRequests")


@dataclass(frozen=True, slots=True, eq=False)
class CircuitBreaker:
    """A validated CircuitBreaker. ``order`` = position in input order (selection tie-break); ``conf`` = the
    ``conf`` object as written (Kuma names; durations are Go duration strings), read-only."""

    res: Resource
    order: int
    sources: tuple[Selector, ...]
    destinations: tuple[Selector, ...]
    conf: Mapping[str, Any]

    @property
    def created(self) -> datetime | None:
        return self.res.creation_time

    @property
    def has_thresholds(self) -> bool:
        return any(k in (self.conf.get("thresholds") or {}) for k in THRESHOLDS)


def parse(res: Resource, order: int) -> CircuitBreaker:
    """Type a CircuitBreaker that passed :func:`kumahc.policies.circuitbreaker.validate.validate`."""
    f = res.fields()
    return CircuitBreaker(res, order, selectors(f["sources"]), selectors(f["destinations"]),
                          MappingProxyType(f.get("conf") or {}))
