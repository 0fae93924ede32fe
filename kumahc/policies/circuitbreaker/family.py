"""Legacy CircuitBreaker as a policy family of the pipeline. Selection is legacy HealthCheck's (Kuma's
connection-policy rule: the most specific source + destination selectors win, no merge); the winner contributes
the ``outlier_detection`` and ``circuit_breakers`` field groups."""

from __future__ import annotations

from dataclasses import dataclass, field

from kumahc.mesh.view import Destination, Proxy
from kumahc.policies.circuitbreaker import api, translate
from kumahc.policies.circuitbreaker.validate import validate
from kumahc.policies.combine import CircuitBreakersGroup, Contribution, OutlierGroup
from kumahc.policies.healthcheck.family import Family as _SelectorFamily

KIND = api.KIND


@dataclass(slots=True)
class Family(_SelectorFamily):
    """The validated CircuitBreakers of the inputs, in input order, with per-proxy and per-policy caches."""

    KIND = KIND
    _cb_contributions: dict[int, Contribution] = field(default_factory=dict)

    _valid = staticmethod(validate)
    _parse = staticmethod(api.parse)

    def preview_votes(self, dest: Destination) -> set[str]:
        return set()  # circuit breaking works the same on every protocol

    def proxy_key(self, proxy: Proxy) -> tuple:
        return _SelectorFamily.proxy_key(self, proxy) if self.policies else ()  # no CircuitBreaker: free

    def destination_key(self, proxy: Proxy, dest: Destination) -> tuple | None:
        return _SelectorFamily.destination_key(self, proxy, dest) if self.policies else None

    def contribute(self, proxy: Proxy, dest: Destination) -> Contribution | None:
        """The winner's outlier detection and (when it sets a threshold) circuit breakers; one object per policy."""
        win = self.winner(proxy, dest) if self.policies else None
        if win is None:
            return None
        policy: api.CircuitBreaker = win.policy  # type: ignore[assignment]
        found = self._cb_contributions.get(id(policy))
        if found is None:
            name = policy.res.display_name
            cb = translate.circuit_breakers(policy.conf)
            found = self._cb_contributions[id(policy)] = Contribution(
                KIND, outlier=OutlierGroup(name, translate.outlier_detection(policy.conf)),
                circuit_breakers=CircuitBreakersGroup(name, cb) if cb is not None else None)
        return found
