"""Which proxies a targetRef policy selects (spec 02 §4), indexed, and the per-run selection state a targetRef
family keeps: proxies selected by the same policies share one selection id, its key and its matching entries.
Also the mesh-wide ``matches no proxy`` / ``matches no destination`` warnings (02 §3.3)."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

from kumahc.diagnostics import Report
from kumahc.mesh.model import Destination, MeshView, PreviewDestination, PreviewProxy, Proxy
from kumahc.policies.core import preview
from kumahc.policies.core.load import FamilyBase
from kumahc.policies.core.matching import EntryIndex, entry_matches
from kumahc.policies.core.targetref import UNSUPPORTED_DESTINATIONS, Entry, TargetRefPolicy
from kumahc.resources.model import UNIVERSAL, Resource
from kumahc.resources.tags import SERVICE, selector_matches


def selects(policy: TargetRefPolicy, proxy: Proxy) -> bool:
    """02 §4: does the top-level targetRef select ``proxy``? Only proxies of the policy's mesh; shadow
    policies select nothing. A builtin gateway is selected when one of its listeners is (Kuma's
    ``DppSelectedByPolicy``): ``Mesh``, ``MeshSubset``/``MeshService`` on listener tags, ``MeshGateway`` by name
    (and listener ``tags``); never by ``Dataplane``."""
    if policy.shadow or proxy.mesh != policy.res.mesh:
        return False
    ref = policy.target_ref
    kind = ref.kind
    if kind in ("Mesh", "MeshSubset"):
        if ref.proxy_types is not None and proxy.proxy_type not in ref.proxy_types:
            return False
        if kind == "Mesh" or not ref.tags:
            return True
        return any(selector_matches(dict(ref.tags), tags) for tags in proxy.inbound_tags)
    if kind == "Dataplane":
        if proxy.gateway_type == "BUILTIN":
            return False
        if ref.labels is not None:
            return all(proxy.labels.get(k) == v for k, v in ref.labels)
        if ref.name is None:
            return True
        if proxy.format == UNIVERSAL:
            return ref.namespace is None and proxy.dp_name == ref.name
        return proxy.dp_name == ref.name and proxy.namespace == (ref.namespace or policy.res.namespace)
    if kind == "MeshService":
        return any(tags.get(SERVICE) == ref.name for tags in proxy.inbound_tags)
    if kind == "MeshServiceSubset":
        want = {**dict(ref.tags or ()), SERVICE: ref.name}
        return any(selector_matches(want, tags) for tags in proxy.inbound_tags)
    if kind == "MeshGateway":
        if proxy.gateway_type != "BUILTIN" or proxy.gateway != ref.name:
            return False
        return not ref.tags or any(selector_matches(dict(ref.tags), tags) for tags in proxy.inbound_tags)
    return False


def selects_listener(policy: TargetRefPolicy, host_tags: dict[str, str]) -> bool:
    """For a policy already selecting a builtin gateway: does it select the listener tagged ``host_tags``
    (Kuma's per-listener rules)? ``Mesh`` and untagged ``MeshSubset``/``MeshGateway`` select every listener."""
    ref = policy.target_ref
    if ref.kind == "MeshService":
        return host_tags.get(SERVICE) == ref.name
    if ref.kind == "MeshServiceSubset":
        return selector_matches({**dict(ref.tags or ()), SERVICE: ref.name}, host_tags)
    if ref.kind in ("MeshSubset", "MeshGateway") and ref.tags:
        return selector_matches(dict(ref.tags), host_tags)
    return True


class SelectorIndex:
    """Top-level targetRefs by the one fact a proxy must have for them to select it: nothing (Mesh, Dataplane
    without name/labels, MeshSubset without tags), a label pair (Dataplane labels: the first pair), an inbound tag
    pair (MeshSubset: the first tag; MeshService/MeshServiceSubset: ``kuma.io/service``), a Dataplane name or a
    MeshGateway name. Shadow policies select nothing and are left out."""

    def __init__(self, policies: Sequence[TargetRefPolicy]):
        self.position = {id(p): i for i, p in enumerate(policies)}
        self.always: list[TargetRefPolicy] = []
        self.everyone: dict[str, list[TargetRefPolicy]] = {}  # select every proxy of their mesh
        self.by_key: dict[tuple[str, ...], list[TargetRefPolicy]] = {}
        self.by_name = False  # some policy selects Dataplanes by name
        self.label_keys: set[str] = set()  # label keys some policy selects on
        for p in policies:
            ref = p.target_ref
            if p.shadow:
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
            elif ref.kind == "MeshGateway":
                key = ("gateway", ref.name or "")
            else:
                key = None
            (self.always if key is None else self.by_key.setdefault(key, [])).append(p)

    def selecting(self, proxy: Proxy) -> list[TargetRefPolicy]:
        """The policies selecting ``proxy``, in input order."""
        everyone = self.everyone.get(proxy.mesh, [])
        others = [p for p in self.candidates(proxy) if selects(p, proxy)]
        if not others:
            return everyone
        return sorted(everyone + others, key=lambda p: self.position[id(p)])

    def candidates(self, proxy: Proxy) -> list[TargetRefPolicy]:
        found = list(self.always)
        get = self.by_key.get
        keys = [("label", k, v) for k, v in proxy.labels.items()]
        keys += [("tag", k, v) for k, values in proxy.tags.items() for v in values]
        if proxy.gateway_type == "BUILTIN":  # selected by its listeners' tags, not by its own
            keys += [("tag", k, v) for tags in proxy.inbound_tags for k, v in tags.items()]
            keys.append(("gateway", proxy.gateway or ""))
        keys.append(("name", proxy.dp_name))
        for key in keys:
            hit = get(key)
            if hit:
                found.extend(hit)
        if len(found) > len(self.always):
            found = sorted(set(found), key=lambda p: self.position[id(p)])
        return found


class Selection:
    """One run's selection state over a family's validated policies (input order): which policies select a
    proxy, the selection's key and the entries matching a destination. Proxies selected by the same policies share
    a selection id, so all the work below is done once per (selection, destination). Per run: a new family object
    (one per pipeline run) makes a new one."""

    def __init__(self, policies: Sequence[TargetRefPolicy]):
        self.policies = policies
        self._index: SelectorIndex | None = None
        self._by_proxy: dict[int, tuple[int, tuple[TargetRefPolicy, ...]]] = {}
        self._by_profile: dict[tuple, tuple[int, tuple[TargetRefPolicy, ...]]] = {}
        self._ids: dict[tuple[int, ...], int] = {}
        self._keys: dict[int, tuple[Resource, ...]] = {}
        self._entries: dict[object, EntryIndex] = {}
        self._matches: dict[tuple, list[Entry]] = {}

    def selecting(self, proxy: Proxy) -> tuple[int, tuple[TargetRefPolicy, ...]]:
        """(selection id, policies selecting ``proxy``): proxies selected by the same policies share the id."""
        found = self._by_proxy.get(id(proxy))
        if found is None:
            if self._index is None:
                self._index = SelectorIndex(self.policies)
            # Replicas (same mesh, inbound tags and the labels policies look at; not kuma.io/display-name unless
            # asked for) are selected alike; a name only counts when some policy selects Dataplanes by name.
            index = self._index
            labels = tuple((k, v) for k, v in proxy.labels.items() if k in index.label_keys)
            profile = (proxy.mesh, labels, tuple(tuple(t.items()) for t in proxy.inbound_tags),
                       (proxy.dp_name, proxy.namespace, proxy.format) if index.by_name else None,
                       proxy.gateway_type, proxy.gateway)
            found = self._by_profile.get(profile)
            if found is None:
                policies = tuple(index.selecting(proxy))
                ids = tuple(id(p) for p in policies)
                found = self._by_profile[profile] = (self._ids.setdefault(ids, len(self._ids)), policies)
            self._by_proxy[id(proxy)] = found
        return found

    def key(self, proxy: Proxy) -> tuple[Resource, ...]:
        """The selecting policies' resources: what the selection means across runs (resources, not per-run ids,
        so the key is equal after a reload that did not change them)."""
        selection, policies = self.selecting(proxy)
        resources = self._keys.get(selection)
        if resources is None:
            resources = self._keys[selection] = tuple(p.res for p in policies)
        return resources

    def matching(self, proxy: Proxy, dest: Destination) -> list[Entry]:
        """The entries matching ``dest`` of the policies selecting ``proxy``, in merge order (02 §5–§6)."""
        selection, policies = self.selecting(proxy)
        key = (selection, dest.mesh, dest.name)
        found = self._matches.get(key)
        if found is None:
            index_key: object = selection
            if dest.host_tags is not None:  # a builtin gateway's cluster: the policies selecting its listener
                policies = tuple(p for p in policies if selects_listener(p, dest.host_tags))
                index_key = tuple(id(p) for p in policies)
            index = self._entries.get(index_key)
            if index is None:
                index = self._entries[index_key] = EntryIndex(policies)
            found = self._matches[key] = index.matching(dest)
        return found

    def entry_reach(self, view: MeshView, report: Report, skip_without_entries: bool = False
                    ) -> Iterator[tuple[Entry, list[tuple[str, str]]]]:
        """Warn ``matches no proxy`` for a policy selecting no proxy and ``matches no destination`` for an entry
        whose candidate destinations none of its selections reaches; yield every checked entry with the
        destination keys it reaches. ``skip_without_entries``: policies without ``to`` entries are not checked
        (a family whose inbound-only policies were already warned at validation).

        A policy's reach depends only on its own resource and the view (the proxies it selects and their
        destinations), so it is kept in ``view.reach`` by resource: a reload that keeps the view walks the proxies
        for the policies that changed only."""
        checked = [p for p in self.policies if not p.shadow and not (skip_without_entries and not p.entries)]
        if not checked:
            return
        kept: dict[Resource, _Reach] = view.reach.get(checked[0].res.kind, {})
        missing = [p for p in checked if p.res not in kept]
        found = dict(zip((p.res for p in missing), _reaches(missing, view), strict=True)) if missing else {}
        now: dict[Resource, _Reach] = {}
        for p in checked:
            reach = now[p.res] = kept[p.res] if p.res in kept else found[p.res]
            if reach is None:
                p.res.src.warning(report, ("spec", "targetRef"), "matches no proxy")
                continue
            checked_entries = [e for e in p.entries if e.target_ref.kind not in UNSUPPORTED_DESTINATIONS]
            for e, hits in zip(checked_entries, reach, strict=True):
                if not hits:
                    p.res.src.warning(report, ("spec", "to", e.index, "targetRef"), "matches no destination")
                yield e, hits
        # Only this run's policies are kept: an edited policy's old resource is dropped with its reach.
        view.reach[checked[0].res.kind] = now


_Reach = tuple[list[tuple[str, str]], ...] | None
"""One policy's reach: None when it selects no proxy, else the destination keys each of its checked ``to``
entries reaches (entries of unsupported destination kinds left out), in the view's destination order."""


_FEW = 8  # up to this many policies to check, each looks only at the proxies using its candidate destinations


def _reaches(policies: list[TargetRefPolicy], view: MeshView) -> list[_Reach]:
    """:data:`_Reach` of each of ``policies`` (not shadow). Many (a first run): one walk over the proxies, where
    proxies selected by the same of these policies share one set of reached destinations. A few (a reload's
    edited policies): per policy, only the proxies with an outbound to a destination its entries match."""
    if len(policies) <= _FEW:
        return [_reach_of(p, view) for p in policies]
    index = SelectorIndex(policies)
    reached: dict[tuple[int, ...], set[tuple[str, str]]] = {}
    groups_of: dict[int, list[tuple[int, ...]]] = {}
    for x in view.proxies:
        selecting = index.selecting(x)
        if not selecting:
            continue
        group = tuple(id(p) for p in selecting)
        into = reached.get(group)
        if into is None:
            into = reached[group] = set()
            for p in selecting:
                groups_of.setdefault(id(p), []).append(group)
        into.update((x.mesh, n) for n in x.destinations)
    out: list[_Reach] = []
    for p in policies:
        groups = groups_of.get(id(p))
        if groups is None:
            out.append(None)
            continue
        sets = [reached[g] for g in groups]
        hits_of = []
        for e in p.entries:
            if e.target_ref.kind in UNSUPPORTED_DESTINATIONS:
                continue
            candidates = [k for k, d in view.destinations.items() if k[0] == p.res.mesh and entry_matches(e, d)]
            hits_of.append([k for k in candidates if any(k in r for r in sets)])
        out.append(tuple(hits_of))
    return out


def _reach_of(policy: TargetRefPolicy, view: MeshView) -> _Reach:
    """:data:`_Reach` of one policy: an entry reaches a destination it matches when some proxy the policy selects
    has an outbound to it (:meth:`MeshView.users`)."""
    index = SelectorIndex([policy])
    if not any(index.selecting(x) for x in view.proxies):
        return None
    selected: dict[int, bool] = {}

    def reached(k: tuple[str, str]) -> bool:
        for x in view.users(k):
            hit = selected.get(id(x))
            if hit is None:
                hit = selected[id(x)] = bool(index.selecting(x))
            if hit:
                return True
        return False

    hits_of = []
    for e in policy.entries:
        if e.target_ref.kind in UNSUPPORTED_DESTINATIONS:
            continue
        candidates = [k for k, d in view.destinations.items() if k[0] == policy.res.mesh and entry_matches(e, d)]
        hits_of.append([k for k in candidates if reached(k)])
    return tuple(hits_of)


@dataclass(slots=True)
class TargetRefFamily(FamilyBase):
    """The part of a family facade every targetRef family shares. ``selection``: this run's selection state. A
    subclass (a slotted dataclass) declares ``KIND``, ``check`` (its validator: ``(resource, report, preview) ->
    ok``) and ``parse``."""

    check: ClassVar[Callable[[Resource, Report, bool], bool]]
    selection: Selection = field(default_factory=lambda: Selection(()))

    @classmethod
    def valid(cls, res: Resource, report: Report, preview: bool) -> bool:
        return cls.check(res, report, preview)

    @classmethod
    def selection_of(cls, policies: Sequence[Any]) -> Selection:
        return Selection(policies)

    def preview_proxies(self) -> list[tuple[int, PreviewProxy]]:
        return preview.preview_proxies(self.policies)

    def preview_destinations(self) -> list[tuple[int, PreviewDestination]]:
        return preview.preview_destinations(self.policies)
