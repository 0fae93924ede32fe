"""Legacy CircuitBreaker as a policy family of the pipeline. Selection is the engine's connection-policy rule
(:mod:`kumahc.policies.core.connection`: the most specific source + destination selectors win, no merge), as for
legacy HealthCheck; the winner contributes the ``outlier_detection`` and ``circuit_breakers`` field groups."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from kumahc.diagnostics import Report
from kumahc.mesh.view import Destination, MeshView, PreviewDestination, PreviewProxy, Proxy
from kumahc.policies.circuitbreaker import api, translate
from kumahc.policies.circuitbreaker.validate import validate
from kumahc.policies.combine import CircuitBreakersGroup, Combined, Contribution, OutlierGroup
from kumahc.policies.contract import Attachment, attachment
from kumahc.policies.core import connection
from kumahc.policies.core.load import valid_policies
from kumahc.resources.core import Service
from kumahc.resources.model import Resource

KIND = api.KIND


@dataclass(slots=True)
class Family:
    """The validated CircuitBreakers of the inputs, in input order; the run's selection state and one
    contribution per policy."""

    KIND = KIND
    policies: list[api.CircuitBreaker] = field(default_factory=list)
    selection: connection.ConnectionSelection = field(default_factory=lambda: connection.ConnectionSelection(()))
    _contributions: dict[int, Contribution] = field(default_factory=dict)

    @classmethod
    def load(cls, resources: Sequence[tuple[int, Resource]], report: Report, preview: bool,
             services: Sequence[Service] = ()) -> Family:
        """Validate every CircuitBreaker (``(input order, resource)`` pairs); keep the valid ones, typed."""
        policies = valid_policies(resources, lambda res: validate(res, report), api.parse)
        return cls(policies, connection.ConnectionSelection(policies))

    def preview_proxies(self) -> list[tuple[int, PreviewProxy]]:
        return connection.preview_proxies(self.policies)

    def preview_destinations(self) -> list[tuple[int, PreviewDestination]]:
        return connection.preview_destinations(self.policies)

    def preview_votes(self, dest: Destination) -> set[str]:
        return set()  # circuit breaking works the same on every protocol

    def winner(self, proxy: Proxy, dest: Destination) -> connection.Win | None:
        """The CircuitBreaker applied to ``dest`` for ``proxy``, with its aggregate rank, or None."""
        return self.selection.winner(proxy, dest) if self.policies else None

    def proxy_key(self, proxy: Proxy) -> tuple:
        return self.selection.key(proxy) if self.policies else ()  # no CircuitBreaker: free

    def destination_key(self, proxy: Proxy, dest: Destination) -> tuple | None:
        return self.selection.destination_key(proxy, dest) if self.policies else None

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

    def mesh_warnings(self, view: MeshView, report: Report) -> None:
        """No CircuitBreaker warning needs the whole mesh."""

    # --- views ---------------------------------------------------------------------------------------------------

    def held(self) -> list[Resource]:
        return [p.res for p in self.policies]

    def explain(self, proxy: Proxy, dest: Destination) -> dict[str, object]:
        """``circuitbreaker``: the winner and its aggregate rank, or None."""
        win = self.winner(proxy, dest)
        return {"circuitbreaker": win.text() if win else None}

    @staticmethod
    def explain_lines(fields: dict) -> list[str]:
        return [f"  CircuitBreaker: {fields['circuitbreaker'] or 'none'}"]

    def attach(self, res: Resource, proxy: Proxy, dest: Destination, groups: Combined,
               lost: list[str]) -> Attachment | None:
        win = self.winner(proxy, dest)
        return attachment(res, win is not None and win.policy.res is res, groups, lost)

    def merged(self, proxy: Proxy, dest: Destination) -> None:
        """None: the winner alone is each group's ``source``."""
        return None
