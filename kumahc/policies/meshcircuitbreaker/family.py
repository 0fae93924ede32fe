"""MeshCircuitBreaker as a policy family of the pipeline. Selection, ``to[]`` matching and the priority merge are
MeshHealthCheck's engine (Kuma's targetRef policy matching, shared by every targetRef policy); only validation,
the conf and its translation differ. Contributes the ``circuit_breakers``, ``outlier_detection`` and panic
settings field groups."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field

from kumahc.diagnostics import Report
from kumahc.mesh.view import Destination, MeshView, PreviewProxy, Proxy
from kumahc.policies.combine import CircuitBreakersGroup, Contribution, OutlierGroup, PanicGroup
from kumahc.policies.meshcircuitbreaker import api, translate
from kumahc.policies.meshcircuitbreaker.validate import validate
from kumahc.policies.meshhealthcheck import match
from kumahc.policies.meshhealthcheck.api import Entry
from kumahc.policies.meshhealthcheck.family import Family as _TargetRefFamily
from kumahc.resources.model import Resource

KIND = api.KIND


@dataclass(frozen=True, slots=True)
class Outcome:
    """What MeshCircuitBreaker decided for one (proxy, destination): the matching entries in merge order, the
    merged conf with the entry that set each leaf (None without entries), and the contribution."""

    entries: tuple[Entry, ...]
    merged: match.Merged | None
    contribution: Contribution | None


@dataclass(slots=True)
class Family(_TargetRefFamily):
    """The validated MeshCircuitBreakers of the inputs, in input order, with per-selection caches."""

    KIND = KIND
    _cb_outcomes: dict[tuple, Outcome] = field(default_factory=dict)
    _shared: dict[tuple, Contribution] = field(default_factory=dict)  # equal contributions → one object

    _valid = staticmethod(validate)
    _parse = staticmethod(api.parse)

    def preview_proxies(self) -> list[tuple[int, PreviewProxy]]:
        """As MeshHealthCheck's, for policies with ``to`` entries (inbound-only ones are not applied)."""
        return [(order, req) for order, req in _TargetRefFamily.preview_proxies(self)
                if next(p for p in self.policies if p.order == order).entries]

    def preview_votes(self, dest: Destination) -> set[str]:
        return set()  # circuit breaking works the same on every protocol

    def proxy_key(self, proxy: Proxy) -> tuple[Resource, ...]:  # type: ignore[override]
        """The selecting policies' resources: all an outcome depends on besides the destination."""
        if not self.policies:
            return ()  # the common case: no MeshCircuitBreaker at all costs nothing per proxy
        selection, policies = self.selecting(proxy)
        resources = self._keys.get(selection)
        if resources is None:
            resources = self._keys[selection] = tuple(p.res for p in policies)
        return resources

    def destination_key(self, proxy: Proxy, dest: Destination) -> tuple:
        if not self.policies:
            return ()
        return tuple((e.policy.res, e.index) for e in self._matching(proxy, dest))

    def outcome(self, proxy: Proxy, dest: Destination) -> Outcome:  # type: ignore[override]
        selection, _ = self.selecting(proxy)
        key = (selection, dest.mesh, dest.name)
        found = self._cb_outcomes.get(key)
        if found is None:
            found = self._cb_outcomes[key] = _outcome(tuple(self._matching(proxy, dest)), self._shared)
        return found

    def contribute(self, proxy: Proxy, dest: Destination) -> Contribution | None:
        return self.outcome(proxy, dest).contribution if self.policies else None

    def mesh_warnings(self, view: MeshView, report: Report) -> None:
        """A policy with ``to`` entries selecting no proxy; an entry matching no destination of the selected
        proxies. Inbound-only policies are not checked (their warning was given at validation)."""
        if self.policies:
            for _ in self.entry_reach(view, report, skip_without_entries=True):
                pass

def merge(entries: Sequence[Entry]) -> match.Merged:
    """RFC 7386 merge of the entries' ``default`` objects in merge order (later wins), as MeshHealthCheck merges;
    MeshCircuitBreaker has no defaults to fill in."""
    conf: dict = {}
    origins: dict[tuple[str, ...], Entry] = {}
    for e in entries:
        match._patch(conf, e.default, (), e, origins)
    return match.Merged(conf, origins, json.dumps(conf, sort_keys=True))


def _outcome(entries: tuple[Entry, ...], shared: dict[tuple, Contribution]) -> Outcome:
    if not entries:
        return Outcome((), None, None)
    merged = merge(entries)
    source = entries[-1].policy.res.display_name

    def setter(*prefixes: tuple[str, ...]) -> str:
        """The display name of the last entry that set a leaf under one of ``prefixes``."""
        for e in reversed(entries):
            if any(path[:len(pre)] == pre for path, who in merged.origins.items() if who is e for pre in prefixes):
                return e.policy.res.display_name
        return source

    conf = merged.conf
    od = translate.outlier_detection(conf)
    panic = translate.panic_settings(conf)
    sources = (setter(("outlierDetection", "healthyPanicThreshold")), setter(("outlierDetection",)),
               setter(("connectionLimits",)))
    key = (merged.key, sources)
    contribution = shared.get(key)
    if contribution is None:
        # Equal confs from the same setters share one object, so combine results and clusters are shared too.
        contribution = shared[key] = Contribution(
            KIND, None, PanicGroup(sources[0], panic) if panic else None,
            OutlierGroup(sources[1], od) if od is not None else None,
            CircuitBreakersGroup(sources[2], translate.circuit_breakers(conf)))
    return Outcome(entries, merged, contribution)
