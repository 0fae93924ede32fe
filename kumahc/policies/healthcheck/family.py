"""Legacy HealthCheck as a policy family of the pipeline: validate and parse (03 §2), preview requests (01 §7),
the per-cluster contribution of the most specific policy (03 §3–§4), selected by the engine's connection-policy
selection (:mod:`kumahc.policies.core.connection`)."""

from __future__ import annotations

from dataclasses import dataclass, field

from kumahc.mesh.model import Destination, Proxy
from kumahc.policies.combine import Contribution, HealthCheckGroup, PanicGroup
from kumahc.policies.core import connection
from kumahc.policies.healthcheck import api, translate
from kumahc.policies.healthcheck.validate import validate

KIND = api.KIND


@dataclass(slots=True)
class Family(connection.ConnectionFamily):
    """The validated HealthChecks of the inputs, in input order; the run's selection state and one contribution
    per (policy, destination protocol)."""

    KIND = KIND
    MESH_TYPOS = True
    EXPLAIN_FIELD = "healthcheck"
    check = staticmethod(validate)
    parse = staticmethod(api.parse)
    _contributions: dict[tuple[int, str], Contribution] = field(default_factory=dict)

    def preview_votes(self, dest: Destination) -> set[str]:
        """``http`` when a HealthCheck with an ``http`` block has a destination selector matching ``dest``."""
        for p in self.policies:
            if p.res.mesh != dest.mesh or not p.has_http:
                continue
            if any(connection.destination_matches(s, dest) for s in p.destinations):
                return {"http"}
        return set()

    def contribute(self, proxy: Proxy, dest: Destination) -> Contribution | None:
        """The winner's health check (every protocol) and, when it sets either panic field, its panic settings.
        One Contribution object per (policy, protocol), so identical clusters are built once by the pipeline."""
        win = self.winner(proxy, dest)
        if win is None:
            return None
        key = (id(win.policy), dest.protocol)
        found = self._contributions.get(key)
        if found is None:
            found = self._contributions[key] = _contribution(win.policy, dest.protocol)
        return found


def _contribution(policy: api.HealthCheck, protocol: str) -> Contribution:
    name = policy.res.display_name
    hc = HealthCheckGroup(name, translate.health_check(policy.conf, protocol))
    panic = translate.panic_settings(policy.conf)
    return Contribution(KIND, hc, PanicGroup(name, panic) if panic is not None else None)
