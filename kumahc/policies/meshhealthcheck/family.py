"""MeshHealthCheck as a policy family of the pipeline: validate and parse, preview requests, per-cluster
contribution, and the warnings that need the whole mesh (02 §3.3)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

from kumahc.diagnostics import Report, Severity
from kumahc.envoy import healthcheck as hcb
from kumahc.mesh.view import Destination, MeshView, PreviewDestination, PreviewProxy, Proxy
from kumahc.policies.combine import Contribution, HealthCheckGroup, PanicGroup
from kumahc.policies.meshhealthcheck import api, match, translate
from kumahc.policies.meshhealthcheck.validate import validate
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
    _selecting: dict[int, tuple[int, tuple[api.MeshHealthCheck, ...]]] = field(default_factory=dict)
    _selections: dict[tuple[int, ...], int] = field(default_factory=dict)
    _tags: dict[int, str] = field(default_factory=dict)
    _merged: dict[tuple, Outcome] = field(default_factory=dict)
    _outcomes: dict[tuple, Outcome] = field(default_factory=dict)
    _index: _SelectorIndex | None = None
    _entries: dict[int, _EntryIndex] = field(default_factory=dict)
    _keys: dict[int, tuple[Resource, ...]] = field(default_factory=dict)  # per selection id
    _matches: dict[tuple, list[api.Entry]] = field(default_factory=dict)
    _profiles: dict[tuple, tuple[int, tuple[api.MeshHealthCheck, ...]]] = field(default_factory=dict)

    @classmethod
    def load(cls, resources: Sequence[tuple[int, Resource]], report: Report, preview: bool,
             services: Sequence[Service] = ()) -> Family:
        """Validate every policy of the family's kind (``(input order, resource)`` pairs) with :meth:`_valid`;
        keep the valid ones, parsed by :meth:`_parse`."""
        fam = cls()
        for order, res in resources:
            if cls._valid(res, report, preview):
                fam.policies.append(cls._parse(res, order))
        return fam

    # A targetRef family that reuses this engine (MeshCircuitBreaker) changes only these two.
    _valid = staticmethod(validate)
    _parse = staticmethod(api.parse)

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
                    votes.update(b for b in ("grpc", "http") if translate.enabled(e.default, b))
        return votes

    # --- matching and translation --------------------------------------------------------------------------------

    def selecting(self, proxy: Proxy) -> tuple[int, tuple[api.MeshHealthCheck, ...]]:
        """(selection id, policies selecting ``proxy``): proxies selected by the same policies share the id."""
        found = self._selecting.get(id(proxy))
        if found is None:
            if self._index is None:
                self._index = _SelectorIndex(self.policies)
            # Replicas (same mesh, inbound tags and the labels policies look at; not kuma.io/display-name unless
            # asked for) are selected alike; a name only counts when some policy selects Dataplanes by name.
            index = self._index
            labels = tuple((k, v) for k, v in proxy.labels.items() if k in index.label_keys)
            profile = (proxy.mesh, labels, tuple(tuple(t.items()) for t in proxy.inbound_tags),
                       (proxy.dp_name, proxy.namespace, proxy.format) if self._index.by_name else None)
            found = self._profiles.get(profile)
            if found is None:
                policies = tuple(self._index.selecting(proxy))
                ids = tuple(id(p) for p in policies)
                found = self._profiles[profile] = (self._selections.setdefault(ids, len(self._selections)), policies)
            self._selecting[id(proxy)] = found
        return found

    def proxy_key(self, proxy: Proxy) -> tuple[tuple[Resource, ...], str]:
        """(the selecting policies' resources, ``x-kuma-tags`` value): all a MeshHealthCheck outcome depends on
        besides the destination. Resources, not per-run ids, so the key means the same across reloads."""
        selection, policies = self.selecting(proxy)
        resources = self._keys.get(selection)
        if resources is None:
            resources = self._keys[selection] = tuple(p.res for p in policies)
        return (resources, self._kuma_tags(proxy))

    def _kuma_tags(self, proxy: Proxy) -> str:
        tags = self._tags.get(id(proxy))
        if tags is None:
            tags = self._tags[id(proxy)] = translate.kuma_tags_header(proxy.tags)
        return tags

    def outcome(self, proxy: Proxy, dest: Destination) -> Outcome:
        """The MeshHealthCheck result for one cluster. Matching and merging depend only on the selecting policies
        and the destination; the health check also on the proxy's tags (``x-kuma-tags``). Each is computed once
        per distinct key, so proxies that differ in nothing relevant share all the work."""
        selection, _ = self.selecting(proxy)
        tags = self._kuma_tags(proxy)
        base_key = (selection, dest.mesh, dest.name)
        base = self._merged.get(base_key)
        if base is None:
            base = self._merged[base_key] = _merge(self._matching(proxy, dest), dest)
        if base.checker is None:
            return base  # no health check: nothing depends on the tags
        key = (base_key, tags)
        found = self._outcomes.get(key)
        if found is None:
            found = self._outcomes[key] = _with_check(base, dest, tags)
        return found

    def _matching(self, proxy: Proxy, dest: Destination) -> list[api.Entry]:
        """The entries matching ``dest`` of the policies selecting ``proxy``, in merge order (02 §5–§6)."""
        selection, policies = self.selecting(proxy)
        key = (selection, dest.mesh, dest.name)
        found = self._matches.get(key)
        if found is None:
            index = self._entries.get(selection)
            if index is None:
                index = self._entries[selection] = _EntryIndex(policies)
            found = self._matches[key] = index.matching(dest)
        return found

    def destination_key(self, proxy: Proxy, dest: Destination) -> tuple:
        """The matching entries (as (resource, to index)) and, when there are any, the ``x-kuma-tags`` value:
        everything this cluster's MeshHealthCheck contribution depends on besides the destination itself."""
        entries = self._matching(proxy, dest)
        if not entries:
            return ()
        return (tuple((e.policy.res, e.index) for e in entries), self._kuma_tags(proxy))

    def contribute(self, proxy: Proxy, dest: Destination) -> Contribution | None:
        return self.outcome(proxy, dest).contribution

    def mesh_warnings(self, view: MeshView, report: Report) -> None:
        """02 §3.3 warnings that need the mesh: a policy selecting no proxy, an entry matching no destination of
        the selected proxies, and MHC confs applied to destinations of unknown protocol."""
        for _, hits in self.entry_reach(view, report):
            for k in hits:
                if view.destinations[k].protocol == "unknown":
                    report.add(Severity.WARNING, "protocol unknown; MeshHealthCheck adds no health check",
                               ("destination", k[0], k[1]))

    def entry_reach(self, view: MeshView, report: Report, skip_without_entries: bool = False
                    ) -> Iterator[tuple[api.Entry, list[tuple[str, str]]]]:
        """Warn ``matches no proxy`` for a policy selecting no proxy and ``matches no destination`` for an entry
        whose candidate destinations none of its selections reaches; yield every checked entry with the
        destination keys it reaches. ``skip_without_entries``: policies without ``to`` entries are not checked
        (a family whose inbound-only policies were already warned at validation)."""
        # Destinations reached per selection (proxies selected by the same policies), then per policy.
        reached: dict[int, set[tuple[str, str]]] = {}
        selections_of: dict[int, set[int]] = {}
        for x in view.proxies:
            selection, policies = self.selecting(x)
            if selection not in reached:
                reached[selection] = set()
                for p in policies:
                    selections_of.setdefault(id(p), set()).add(selection)
            reached[selection].update((x.mesh, n) for n in x.destinations)
        for p in self.policies:
            if p.shadow or p.target_ref.kind == "MeshGateway" or (skip_without_entries and not p.entries):
                continue
            if id(p) not in selections_of:
                p.res.src.warning(report, ("spec", "targetRef"), "matches no proxy")
                continue
            sets = [reached[sel] for sel in sorted(selections_of[id(p)])]
            for e in p.entries:
                if e.target_ref.kind in ("MeshExternalService", "MeshMultiZoneService"):
                    continue
                candidates = [k for k, d in view.destinations.items() if k[0] == p.res.mesh
                              and match.entry_matches(e, d)]
                hits = [k for k in candidates if any(k in r for r in sets)]
                if not hits:
                    p.res.src.warning(report, ("spec", "to", e.index, "targetRef"), "matches no destination")
                yield e, hits

class _SelectorIndex:
    """Top-level targetRefs by the one fact a proxy must have for them to select it: nothing (Mesh, Dataplane
    without name/labels, MeshSubset without tags), a label pair (Dataplane labels: the first pair), an inbound tag
    pair (MeshSubset: the first tag; MeshService/MeshServiceSubset: ``kuma.io/service``), or a Dataplane name.
    Shadow and MeshGateway policies select nothing and are left out."""

    def __init__(self, policies: Sequence[api.MeshHealthCheck]):
        self.position = {id(p): i for i, p in enumerate(policies)}
        self.always: list[api.MeshHealthCheck] = []
        self.everyone: dict[str, list[api.MeshHealthCheck]] = {}  # select every proxy of their mesh
        self.by_key: dict[tuple[str, ...], list[api.MeshHealthCheck]] = {}
        self.by_name = False  # some policy selects Dataplanes by name
        self.label_keys: set[str] = set()  # label keys some policy selects on
        for p in policies:
            ref = p.target_ref
            if p.shadow or ref.kind == "MeshGateway":
                continue
            if (ref.kind == "Mesh" and ref.proxy_types is None) or (
                    ref.kind == "Dataplane" and ref.name is None and ref.labels is None):
                self.everyone.setdefault(p.res.mesh, []).append(p)
                continue
            if ref.kind == "Dataplane" and ref.labels:
                key: tuple[str, ...] | None = ("label", *ref.labels[0])
                self.label_keys.update(k for k, _ in ref.labels)
            elif ref.kind == "Dataplane" and ref.labels is None and ref.name is not None:
                key = ("name", ref.name)
                self.by_name = True
            elif ref.kind == "MeshSubset" and ref.tags:
                key = ("tag", *ref.tags[0])
            elif ref.kind in ("MeshService", "MeshServiceSubset"):
                key = ("tag", SERVICE, ref.name)
            else:
                key = None
            (self.always if key is None else self.by_key.setdefault(key, [])).append(p)

    def selecting(self, proxy: Proxy) -> list[api.MeshHealthCheck]:
        """The policies selecting ``proxy``, in input order."""
        everyone = self.everyone.get(proxy.mesh, [])
        others = [p for p in self.candidates(proxy) if match.selects(p, proxy)]
        if not others:
            return everyone
        return sorted(everyone + others, key=lambda p: self.position[id(p)])

    def candidates(self, proxy: Proxy) -> list[api.MeshHealthCheck]:
        found = list(self.always)
        get = self.by_key.get
        keys = [("label", k, v) for k, v in proxy.labels.items()]
        keys += [("tag", k, v) for k, values in proxy.tags.items() for v in values]
        keys.append(("name", proxy.dp_name))
        for key in keys:
            hit = get(key)
            if hit:
                found.extend(hit)
        if len(found) > len(self.always):
            found = sorted(set(found), key=lambda p: self.position[id(p)])
        return found


class _EntryIndex:
    """The ``to[]`` entries of one selection's policies by the destination name they can match (02 §5): ``Mesh``
    entries match everything, ``MeshService`` entries by name (``<n>_<ns>_svc_<p>`` names by ``n``), label entries
    are checked one by one; :func:`match.entry_matches` decides."""

    def __init__(self, policies: Sequence[api.MeshHealthCheck]):
        self.mesh: list[api.Entry] = []  # match every destination
        self.labels: list[api.Entry] = []  # checked one by one
        self.by_name: dict[str, list[api.Entry]] = {}
        for p in policies:
            for e in p.entries:
                ref = e.target_ref
                if ref.kind == "Mesh":
                    self.mesh.append(e)
                elif ref.kind == "MeshService" and ref.labels is None and ref.name is not None:
                    m = match.K8S_NAME.match(ref.name)
                    key = m.group(1) if m and ref.section_name is None else ref.name
                    self.by_name.setdefault(key, []).append(e)
                elif ref.kind == "MeshService":
                    self.labels.append(e)

    def matching(self, dest: Destination) -> list[api.Entry]:
        """The matching entries in merge order (02 §6)."""
        named = self.by_name.get(dest.id_name, [])
        hits = [e for e in (*named, *self.labels) if match.entry_matches(e, dest)]
        return match.sorted_entries(self.mesh + hits if hits else self.mesh)


def _merge(entries: Sequence[api.Entry], dest: Destination) -> Outcome:
    """Merge, checker selection and panic settings of the matching ``entries``: everything but the health check
    itself."""
    entries = tuple(entries)
    if not entries:
        return Outcome((), None, None, 6, None)
    merged = match.merge(entries)
    checker, rule = translate.select_checker(merged.conf, dest.protocol)
    panic = hcb.panic_settings(merged.conf)
    panic_group = None
    if panic is not None:
        setter = next(e for e in reversed(entries)
                      if "healthyPanicThreshold" in e.default or "failTrafficOnPanic" in e.default)
        panic_group = PanicGroup(setter.policy.res.display_name, panic)
    contribution = Contribution(KIND, None, panic_group) if panic_group else None
    return Outcome(entries, merged, checker, rule, contribution)


def _with_check(base: Outcome, dest: Destination, tags: str) -> Outcome:
    """``base`` plus the health check probed from a proxy whose ``x-kuma-tags`` value is ``tags``."""
    hc = translate.health_check(base.merged.conf, dest.protocol, tags, base.merged.key)
    hc_group = HealthCheckGroup(base.entries[-1].policy.res.display_name, hc, http2=base.checker == "grpc")
    panic = base.contribution.panic if base.contribution is not None else None
    return Outcome(base.entries, base.merged, base.checker, base.rule, Contribution(KIND, hc_group, panic))


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
    m = match.K8S_NAME.match(ref.name)
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
