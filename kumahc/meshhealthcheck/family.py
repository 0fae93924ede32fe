"""MeshHealthCheck as a policy family of the pipeline: validate and parse, preview requests, per-cluster
contribution, and the warnings that need the whole mesh (02 §3.3)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from kumahc.combine import Contribution, HealthCheckGroup, PanicGroup
from kumahc.diagnostics import Report, Severity
from kumahc.envoy import healthcheck as hcb
from kumahc.mesh.view import Destination, MeshView, PreviewDestination, PreviewProxy, Proxy
from kumahc.meshhealthcheck import api, match, translate
from kumahc.meshhealthcheck.validate import validate
from kumahc.resources.core import Service
from kumahc.resources.model import Resource
from kumahc.resources.tags import SERVICE

KIND = "MeshHealthCheck"


@dataclass(frozen=True, slots=True)
class Outcome:
    """Everything MeshHealthCheck decided for one (proxy, destination), for rendering and ``inspect``."""

    entries: tuple[api.Entry, ...]
    merged: match.Merged | None
    checker: str | None
    rule: int
    contribution: Contribution | None


@dataclass(slots=True)
class Family:
    """The validated MeshHealthChecks of the inputs, in input order, with per-proxy caches."""

    KIND = KIND
    policies: list[api.MeshHealthCheck] = field(default_factory=list)
    _selecting: dict[int, tuple[api.MeshHealthCheck, ...]] = field(default_factory=dict)
    _outcomes: dict[tuple, Outcome] = field(default_factory=dict)

    @classmethod
    def load(cls, resources: Sequence[tuple[int, Resource]], report: Report, preview: bool,
             services: Sequence[Service] = ()) -> Family:
        """Validate every MeshHealthCheck (``(input order, resource)`` pairs); keep the valid ones."""
        fam = cls()
        for order, res in resources:
            if validate(res, report, preview):
                fam.policies.append(api.parse(res, order))
        return fam

    # --- preview mode (01 §7) ------------------------------------------------------------------------------------

    def preview_proxies(self) -> list[tuple[int, PreviewProxy]]:
        out = []
        for p in self.policies:
            req = _preview_proxy(p)
            if req is not None:
                out.append((p.order, req))
        return out

    def preview_destinations(self) -> list[tuple[int, PreviewDestination]]:
        out = []
        for p in self.policies:
            if p.shadow:
                continue
            for e in p.entries:
                req = _preview_destination(e)
                if req is not None:
                    out.append((p.order, req))
        return out

    def preview_votes(self, dest: Destination) -> set[str]:
        """Protocols asked for by entries matching ``dest``: ``grpc``/``http`` for an enabled block, else none."""
        votes: set[str] = set()
        for p in self.policies:
            if p.res.mesh != dest.mesh or p.shadow:
                continue
            for e in p.entries:
                if match.entry_matches(e, dest):
                    votes.update(b for b in ("grpc", "http") if translate._enabled(e.default, b))
        return votes

    # --- matching and translation --------------------------------------------------------------------------------

    def selecting(self, proxy: Proxy) -> tuple[api.MeshHealthCheck, ...]:
        key = id(proxy)
        found = self._selecting.get(key)
        if found is None:
            found = self._selecting[key] = tuple(p for p in self.policies if match.selects(p, proxy))
        return found

    def outcome(self, proxy: Proxy, dest: Destination) -> Outcome:
        """The MeshHealthCheck result for one cluster. Proxies with the same selecting policies and tags share
        it (the cache key holds no proxy identity)."""
        policies = self.selecting(proxy)
        tags = translate.kuma_tags_header(proxy.tags)
        key = (tuple(id(p) for p in policies), dest.mesh, dest.name, tags)
        found = self._outcomes.get(key)
        if found is None:
            found = self._outcomes[key] = _outcome(policies, proxy, dest, tags)
        return found

    def contribute(self, proxy: Proxy, dest: Destination) -> Contribution | None:
        return self.outcome(proxy, dest).contribution

    def mesh_warnings(self, view: MeshView, report: Report) -> None:
        """02 §3.3 warnings that need the mesh: a policy selecting no proxy, an entry matching no destination of
        the selected proxies, and MHC confs applied to destinations of unknown protocol."""
        for p in self.policies:
            if p.shadow or p.target_ref.kind == "MeshGateway":
                continue
            proxies = [x for x in view.proxies if match.selects(p, x)]
            if not proxies:
                p.res.src.warning(report, ("spec", "targetRef"), "matches no proxy")
                continue
            dests = {view.destinations[(x.mesh, n)] for x in proxies for n in x.destinations}
            for e in p.entries:
                if e.target_ref.kind in ("MeshExternalService", "MeshMultiZoneService"):
                    continue
                hits = [d for d in dests if match.entry_matches(e, d)]
                if not hits:
                    p.res.src.warning(report, ("spec", "to", e.index, "targetRef"), "matches no destination")
                for d in hits:
                    if d.protocol == "unknown":
                        report.add(Severity.WARNING, "protocol unknown; MeshHealthCheck adds no health check",
                                   ("destination", d.mesh, d.name))


def _outcome(policies: Sequence[api.MeshHealthCheck], proxy: Proxy, dest: Destination, tags: str) -> Outcome:
    entries = tuple(match.matching_entries(policies, proxy, dest))
    if not entries:
        return Outcome((), None, None, 6, None)
    merged = match.merge(entries)
    checker, rule = translate.select_checker(merged.conf, dest.protocol)
    hc_group = None
    if checker is not None:
        hc = translate.health_check(merged.conf, dest.protocol, tags)
        hc_group = HealthCheckGroup(entries[-1].policy.res.display_name, hc, http2=checker == "grpc")
    panic = hcb.panic_settings(merged.conf)
    panic_group = None
    if panic is not None:
        setter = next(e for e in reversed(entries)
                      if "healthyPanicThreshold" in e.default or "failTrafficOnPanic" in e.default)
        panic_group = PanicGroup(setter.policy.res.display_name, panic)
    contribution = Contribution(KIND, hc_group, panic_group) if hc_group or panic_group else None
    return Outcome(entries, merged, checker, rule, contribution)


def _preview_proxy(p: api.MeshHealthCheck) -> PreviewProxy | None:
    ref, mesh = p.target_ref, p.res.mesh
    if p.shadow or ref.kind == "MeshGateway":
        return None
    if ref.kind in ("Mesh", "MeshSubset") and ref.proxy_types is not None and "Sidecar" not in ref.proxy_types:
        return None
    if ref.kind == "Mesh" or (ref.kind == "Dataplane" and ref.name is None and ref.labels is None):
        return PreviewProxy(mesh, "mesh")
    if ref.kind == "MeshSubset":
        return PreviewProxy(mesh, "tags", ref.tags) if ref.tags else PreviewProxy(mesh, "mesh")
    if ref.kind == "MeshService":
        return PreviewProxy(mesh, "tags", ((SERVICE, ref.name),))
    if ref.kind == "MeshServiceSubset":
        return PreviewProxy(mesh, "tags", tuple(sorted({**dict(ref.tags or ()), SERVICE: ref.name}.items())))
    if ref.labels is not None:
        return PreviewProxy(mesh, "labels", ref.labels)
    return PreviewProxy(mesh, "name", name=ref.name, namespace=ref.namespace or p.res.namespace)


def _preview_destination(e: api.Entry) -> PreviewDestination | None:
    ref, mesh = e.target_ref, e.policy.res.mesh
    matches = lambda d, e=e: match.entry_matches(e, d)  # noqa: E731
    if ref.kind == "Mesh":
        return PreviewDestination(mesh, "any-service", matches)
    if ref.kind != "MeshService" or ref.name is None:
        return None
    m = match._K8S_NAME.match(ref.name)
    if m and ref.section_name is None:
        return PreviewDestination(mesh, "meshservice", matches, m.group(1), m.group(2), int(m.group(3)), m.group(3))
    section = ref.section_name
    if ref.port is not None:
        number = ref.port
    elif section is not None and section.isdigit():
        number = int(section)
    else:
        number = 80
    port_name = section if section is not None and not section.isdigit() else str(number)
    namespace = ref.namespace if ref.namespace is not None else e.policy.res.namespace
    return PreviewDestination(mesh, "meshservice", matches, ref.name, namespace, number, port_name)
