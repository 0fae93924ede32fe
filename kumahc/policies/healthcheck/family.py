"""Legacy HealthCheck as a policy family of the pipeline: validate and parse (03 §2), preview requests (01 §7),
the per-cluster contribution of the most specific policy (03 §3–§4)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from kumahc.diagnostics import Report
from kumahc.mesh.view import Destination, MeshView, PreviewDestination, PreviewProxy, Proxy
from kumahc.policies.combine import Contribution, HealthCheckGroup, PanicGroup
from kumahc.policies.healthcheck import api, match, translate
from kumahc.policies.healthcheck.validate import validate
from kumahc.resources.core import Service
from kumahc.resources.model import Resource
from kumahc.resources.tags import SERVICE

KIND = api.KIND


@dataclass(slots=True)
class Family:
    """The validated HealthChecks of the inputs, in input order, with per-proxy and per-policy caches."""

    KIND = KIND
    policies: list[api.HealthCheck] = field(default_factory=list)
    _candidates: dict[tuple, tuple[match.Candidate, ...]] = field(default_factory=dict)
    _contributions: dict[tuple[int, str], Contribution] = field(default_factory=dict)
    _winners: dict[tuple, match.Win | None] = field(default_factory=dict)
    _ranks: dict[int, dict[str, tuple[int, int]]] = field(default_factory=dict)
    _index: match.SourceIndex | None = None
    _keys: dict[int, tuple] = field(default_factory=dict)

    @classmethod
    def load(cls, resources: Sequence[tuple[int, Resource]], report: Report, preview: bool,
             services: Sequence[Service] = ()) -> Family:
        """Validate every policy of the family's kind (``(input order, resource)`` pairs) with :meth:`_valid`;
        keep the valid ones, parsed by :meth:`_parse`."""
        fam = cls()
        for order, res in resources:
            if cls._valid(res, report):
                fam.policies.append(cls._parse(res, order))
        return fam

    # A family that reuses this selection (legacy CircuitBreaker) changes only these two.
    _valid = staticmethod(validate)
    _parse = staticmethod(api.parse)

    # --- preview mode (01 §7) ------------------------------------------------------------------------------------

    def preview_proxies(self) -> list[tuple[int, PreviewProxy]]:
        """One request per ``sources[i].match``: ``{kuma.io/service: '*'}`` alone is the mesh class (any proxy);
        any other selector is the tags class (the view replaces ``*`` values by the proxy name)."""
        out = []
        for p in self.policies:
            for s in p.sources:
                if s.tags == ((SERVICE, api.WILDCARD),):
                    out.append((p.order, PreviewProxy(p.res.mesh, "mesh")))
                else:
                    out.append((p.order, PreviewProxy(p.res.mesh, "tags", s.tags)))
        return out

    def preview_destinations(self) -> list[tuple[int, PreviewDestination]]:
        """One request per ``destinations[i].match``: tag-only destination X, or ``any-service`` for ``*``."""
        out = []
        for p in self.policies:
            for s in p.destinations:
                matches = lambda d, s=s: match.destination_matches(s, d)  # noqa: E731
                if s.service == api.WILDCARD:
                    out.append((p.order, PreviewDestination(p.res.mesh, "any-service", matches)))
                else:
                    out.append((p.order, PreviewDestination(p.res.mesh, "tag", matches, name=s.service or "")))
        return out

    def preview_votes(self, dest: Destination) -> set[str]:
        """``http`` when a HealthCheck with an ``http`` block has a destination selector matching ``dest``."""
        for p in self.policies:
            if p.res.mesh != dest.mesh or not p.has_http:
                continue
            if any(match.destination_matches(s, dest) for s in p.destinations):
                return {"http"}
        return set()

    # --- matching and translation --------------------------------------------------------------------------------

    def candidates(self, proxy: Proxy) -> tuple[match.Candidate, ...]:
        """03 §3 step 1 for ``proxy``; proxies with the same inbound tags (replicas) share the answer."""
        key = (proxy.mesh, tuple(tuple(sorted(t.items())) for t in proxy.inbound_tags))
        found = self._candidates.get(key)
        if found is None:
            if self._index is None:
                self._index = match.SourceIndex(self.policies)
            found = self._candidates[key] = match.candidates(self._index.policies_for(proxy), proxy)
        return found

    def proxy_key(self, proxy: Proxy) -> tuple:
        """The candidate policies (their resources) and source ranks: all the 03 §3 selection depends on besides
        the destination."""
        key = self._keys.get(id(proxy))
        if key is None:
            key = self._keys[id(proxy)] = tuple((c.policy.res, c.source_rank) for c in self.candidates(proxy))
        return key

    def winner(self, proxy: Proxy, dest: Destination) -> match.Win | None:
        """The HealthCheck applied to ``dest`` for ``proxy`` (03 §3), with its aggregate rank, or None. Cached
        per (candidate set, destination): proxies with the same candidates share the decision."""
        key = (self.proxy_key(proxy), dest.mesh, dest.name)
        if key not in self._winners:
            self._winners[key] = match.winner(self.candidates(proxy), dest, self._destination_ranks)
        return self._winners[key]

    def _destination_ranks(self, policy: api.HealthCheck) -> dict[str, tuple[int, int]]:
        found = self._ranks.get(id(policy))
        if found is None:
            found = self._ranks[id(policy)] = match.destination_ranks(policy)
        return found

    def destination_key(self, proxy: Proxy, dest: Destination) -> tuple | None:
        """The winning policy (resource) and its aggregate rank, or None."""
        win = self.winner(proxy, dest)
        return None if win is None else (win.policy.res, win.aggregate)

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


def _contribution(policy: api.HealthCheck, protocol: str) -> Contribution:
    name = policy.res.display_name
    hc = HealthCheckGroup(name, translate.health_check(policy.conf, protocol))
    panic = translate.panic_settings(policy.conf)
    return Contribution(KIND, hc, PanicGroup(name, panic) if panic is not None else None)
