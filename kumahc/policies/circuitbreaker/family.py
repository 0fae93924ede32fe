"""Legacy CircuitBreaker as a policy family of the pipeline. Selection is the engine's connection-policy rule
(:mod:`kumahc.policies.core.connection`: the most specific source + destination selectors win, no merge), as for
legacy HealthCheck; the winner contributes the ``outlier_detection`` and ``circuit_breakers`` field groups."""

from __future__ import annotations

from dataclasses import dataclass, field

from kumahc.mesh.model import Destination, Proxy
from kumahc.policies.circuitbreaker import api, translate
from kumahc.policies.circuitbreaker.validate import validate
from kumahc.policies.combine import CircuitBreakersGroup, Contribution, OutlierGroup
from kumahc.policies.core import connection

KIND = api.KIND


@dataclass(slots=True)
class Family(connection.ConnectionFamily):
    """The validated CircuitBreakers of the inputs, in input order; the run's selection state and one
    contribution per policy."""

    KIND = KIND
    EXPLAIN_FIELD = "circuitbreaker"
    check = staticmethod(validate)
    parse = staticmethod(api.parse)
    _contributions: dict[int, Contribution] = field(default_factory=dict)

    def preview_votes(self, dest: Destination) -> set[str]:
        return set()  # circuit breaking works the same on every protocol

    def contribute(self, proxy: Proxy, dest: Destination) -> Contribution | None:
        """The winner's outlier detection and (when it sets a threshold) circuit breakers; one object per policy."""
        win = self.winner(proxy, dest)
        if win is None:
            return None
        policy: api.CircuitBreaker = win.policy
        found = self._contributions.get(id(policy))
        if found is None:
            name = policy.res.display_name
            cb = translate.circuit_breakers(policy.conf)
            found = self._contributions[id(policy)] = Contribution(
                KIND, outlier=OutlierGroup(name, translate.outlier_detection(policy.conf)),
                circuit_breakers=CircuitBreakersGroup(name, cb) if cb is not None else None)
        return found
