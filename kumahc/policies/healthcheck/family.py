"""Legacy HealthCheck as a policy family of the pipeline: validate and parse (03 §2), preview requests (01 §7),
the per-cluster contribution of the most specific policy (03 §3–§4), selected by the engine's connection-policy
selection (:mod:`kumahc.policies.core.connection`)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from kumahc.diagnostics import Report
from kumahc.mesh.view import Destination, MeshView, PreviewDestination, PreviewProxy, Proxy
from kumahc.policies.combine import Combined, Contribution, HealthCheckGroup, PanicGroup
from kumahc.policies.contract import Attachment, attachment
from kumahc.policies.core import connection
from kumahc.policies.core.load import valid_policies
from kumahc.policies.healthcheck import api, translate
from kumahc.policies.healthcheck.validate import validate
from kumahc.resources.core import Service
from kumahc.resources.model import Resource

KIND = api.KIND


@dataclass(slots=True)
class Family:
    """The validated HealthChecks of the inputs, in input order; the run's selection state and one contribution
    per (policy, destination protocol)."""

    KIND = KIND
    policies: list[api.HealthCheck] = field(default_factory=list)
    selection: connection.ConnectionSelection = field(default_factory=lambda: connection.ConnectionSelection(()))
    _contributions: dict[tuple[int, str], Contribution] = field(default_factory=dict)

    @classmethod
    def load(cls, resources: Sequence[tuple[int, Resource]], report: Report, preview: bool,
             services: Sequence[Service] = ()) -> Family:
        """Validate every HealthCheck (``(input order, resource)`` pairs); keep the valid ones, typed."""
        policies = valid_policies(resources, lambda res: validate(res, report), api.parse)
        return cls(policies, connection.ConnectionSelection(policies))

    # --- preview mode (01 §7) ------------------------------------------------------------------------------------

    def preview_proxies(self) -> list[tuple[int, PreviewProxy]]:
        return connection.preview_proxies(self.policies)

    def preview_destinations(self) -> list[tuple[int, PreviewDestination]]:
        return connection.preview_destinations(self.policies)

    def preview_votes(self, dest: Destination) -> set[str]:
        """``http`` when a HealthCheck with an ``http`` block has a destination selector matching ``dest``."""
        for p in self.policies:
            if p.res.mesh != dest.mesh or not p.has_http:
                continue
            if any(connection.destination_matches(s, dest) for s in p.destinations):
                return {"http"}
        return set()

    # --- matching and translation --------------------------------------------------------------------------------

    def winner(self, proxy: Proxy, dest: Destination) -> connection.Win | None:
        """The HealthCheck applied to ``dest`` for ``proxy`` (03 §3), with its aggregate rank, or None."""
        return self.selection.winner(proxy, dest)

    def proxy_key(self, proxy: Proxy) -> tuple:
        """The candidate policies (their resources) and source ranks."""
        return self.selection.key(proxy)

    def destination_key(self, proxy: Proxy, dest: Destination) -> tuple | None:
        """The winning policy (resource) and its aggregate rank, or None."""
        return self.selection.destination_key(proxy, dest)

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

    def mesh_warnings(self, view: MeshView, report: Report) -> None:
        """03 defines no warning that needs the whole mesh."""

    # --- views ---------------------------------------------------------------------------------------------------

    def held(self) -> list[Resource]:
        return [p.res for p in self.policies]

    def explain(self, proxy: Proxy, dest: Destination) -> dict[str, object]:
        """``healthcheck``: the winner and its aggregate rank, or None."""
        win = self.winner(proxy, dest)
        return {"healthcheck": win.text() if win else None}

    @staticmethod
    def explain_lines(fields: dict) -> list[str]:
        return [f"  HealthCheck: {fields['healthcheck'] or 'none'}"]

    def attach(self, res: Resource, proxy: Proxy, dest: Destination, groups: Combined,
               lost: list[str]) -> Attachment | None:
        win = self.winner(proxy, dest)
        return attachment(res, win is not None and win.policy.res is res, groups, lost)

    def merged(self, proxy: Proxy, dest: Destination) -> None:
        """None: the winner alone is each group's ``source``."""
        return None


def _contribution(policy: api.HealthCheck, protocol: str) -> Contribution:
    name = policy.res.display_name
    hc = HealthCheckGroup(name, translate.health_check(policy.conf, protocol))
    panic = translate.panic_settings(policy.conf)
    return Contribution(KIND, hc, PanicGroup(name, panic) if panic is not None else None)
