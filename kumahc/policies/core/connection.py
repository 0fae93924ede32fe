"""The legacy connection-policy selection HealthCheck (spec 03 §3) and CircuitBreaker share: ``sources`` and
``destinations`` tag selectors, the most specific policy wins per (proxy, destination), no merge.

Selector rank = (total keys, exact keys); aggregate = source rank + destination rank, component-wise; the best
aggregate wins, then the later ``creationTime`` (absent = older than any), then the later in input order
(kumahc; Kuma keeps the alphabetically first name). Also the selector rules of both validators (03 §2) and their
preview requests (01 §7)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, ClassVar, Protocol

from kumahc.diagnostics import Report
from kumahc.mesh.model import Destination, MeshView, PreviewDestination, PreviewProxy, Proxy
from kumahc.policies.combine import Attachment, Combined, attachment
from kumahc.policies.core.load import FamilyBase
from kumahc.resources.checker import DocumentChecker
from kumahc.resources.model import Resource
from kumahc.resources.tags import MISSING_SERVICE, SERVICE, selector_problems

WILDCARD = "*"
POSITIVE = "must have a positive value"

Rank = tuple[int, int]
"""Selector rank (03 §3): (total keys, exact keys), exact = keys whose value is not ``*``; compared as a tuple."""


@dataclass(frozen=True, slots=True)
class Selector:
    """``sources[index].match`` or ``destinations[index].match``: tag → value (``*`` = any), keys sorted."""

    index: int
    tags: tuple[tuple[str, str], ...]

    @property
    def rank(self) -> Rank:
        return len(self.tags), sum(1 for _, v in self.tags if v != WILDCARD)

    @property
    def service(self) -> str | None:
        """The ``kuma.io/service`` value (a destination selector has only this key, 03 §2)."""
        return next((v for k, v in self.tags if k == SERVICE), None)


def selectors(items: list[dict[str, Any]]) -> tuple[Selector, ...]:
    """Type validated ``sources`` or ``destinations`` items."""
    return tuple(Selector(i, tuple(sorted(item["match"].items()))) for i, item in enumerate(items))


class ConnectionPolicy(Protocol):
    """What the selection reads of a validated HealthCheck or CircuitBreaker."""

    @property
    def res(self) -> Resource: ...

    @property
    def order(self) -> int: ...

    @property
    def sources(self) -> tuple[Selector, ...]: ...

    @property
    def destinations(self) -> tuple[Selector, ...]: ...

    @property
    def created(self) -> datetime | None: ...


@dataclass(frozen=True, slots=True)
class Candidate:
    """A policy with a source selector matching the proxy; ``source_rank`` = the best such selector's rank."""

    policy: Any  # a ConnectionPolicy: the family's own type, handed back unchanged
    source_rank: Rank


@dataclass(frozen=True, slots=True)
class Win:
    """The policy winning one (proxy, destination) and its aggregate rank (``inspect``: ``(total,exact)``)."""

    policy: Any  # a ConnectionPolicy: the family's own type, handed back unchanged
    aggregate: Rank

    def text(self) -> str:
        """``NAME (aggregate rank (T,E))``, as ``inspect`` names the winner."""
        return f"{self.policy.res.display_name} (aggregate rank ({self.aggregate[0]},{self.aggregate[1]}))"


def source_matches(selector: Selector, proxy: Proxy) -> bool:
    """One inbound of ``proxy`` has every key of the selector with an equal value (``*`` = any value)."""
    pairs = selector.tags
    return any(all((have := tags.get(k)) is not None and (v == WILDCARD or v == have) for k, v in pairs)
               for tags in proxy.inbound_tags)


def destination_matches(selector: Selector, dest: Destination) -> bool:
    """``{kuma.io/service: X}`` matches the destination named X (a gateway cluster: the service it forwards to),
    and every destination when X is ``*``."""
    value = selector.service
    return value == WILDCARD or value == service_of(dest)


def service_of(dest: Destination) -> str:
    """The ``kuma.io/service`` destination selectors compare: a builtin gateway's cluster forwards to
    ``dest.backend``; any other destination is its name."""
    return dest.backend if dest.backend is not None else dest.name


def listener_candidates(policies: Iterable[ConnectionPolicy], mesh: str, tags: Mapping[str, str]
                        ) -> tuple[Candidate, ...]:
    """03 §3 step 1 for a builtin gateway's listener tagged ``tags`` (Kuma matches sources against the
    listener's tags)."""
    out = []
    for p in policies:
        if p.res.mesh != mesh:
            continue
        ranks = [s.rank for s in p.sources
                 if all((have := tags.get(k)) is not None and (v == WILDCARD or v == have) for k, v in s.tags)]
        if ranks:
            out.append(Candidate(p, max(ranks)))
    return tuple(out)


def candidates(policies: Iterable[ConnectionPolicy], proxy: Proxy) -> tuple[Candidate, ...]:
    """03 §3 step 1: the policies of the proxy's mesh with a source selector matching it, in input order.
    ``policies`` may be narrowed beforehand (:class:`SourceIndex`)."""
    out = []
    for p in policies:
        if p.res.mesh != proxy.mesh:
            continue
        ranks = [s.rank for s in p.sources if source_matches(s, proxy)]
        if ranks:
            out.append(Candidate(p, max(ranks)))
    return tuple(out)


def destination_ranks(policy: ConnectionPolicy) -> dict[str, Rank]:
    """Best destination-selector rank per ``kuma.io/service`` value (``*`` included) of one policy."""
    out: dict[str, Rank] = {}
    for s in policy.destinations:
        value = s.service
        if value is not None and (value not in out or s.rank > out[value]):
            out[value] = s.rank
    return out


def winner(found: Iterable[Candidate], dest: Destination,
           ranks_of: Callable[[ConnectionPolicy], dict[str, Rank]] = destination_ranks) -> Win | None:
    """03 §3 steps 2–3: the candidate with the best aggregate for ``dest``, ties broken by creation time, then
    input order (later wins both); None when no candidate has a destination selector matching ``dest``.
    ``ranks_of`` may be a cached :func:`destination_ranks`."""
    best: tuple | None = None
    win: Win | None = None
    for c in found:
        by_service = ranks_of(c.policy)
        ranks = [r for r in (by_service.get(service_of(dest)), by_service.get(WILDCARD)) if r is not None]
        if not ranks:
            continue
        d = max(ranks)
        aggregate = (c.source_rank[0] + d[0], c.source_rank[1] + d[1])
        key = (aggregate, _created_key(c.policy), c.policy.order)
        if best is None or key > best:
            best, win = key, Win(c.policy, aggregate)
    return win


def _created_key(policy: ConnectionPolicy) -> tuple:
    # (0,) sorts before any (1, timestamp): an absent creationTime is older than every timestamp.
    return (0,) if policy.created is None else (1, policy.created)


class SourceIndex:
    """Policies by one non-``*`` (key, value) pair of each source selector: a proxy needs only those with a pair
    among its inbound tags, plus those whose selectors are all ``*``; :func:`candidates` decides."""

    def __init__(self, policies: Sequence[ConnectionPolicy]):
        self.position = {id(p): i for i, p in enumerate(policies)}
        self.always: dict[str, list[ConnectionPolicy]] = {}
        self.by_pair: dict[tuple[str, str, str], list[ConnectionPolicy]] = {}
        for p in policies:
            for s in p.sources:
                pair = next(((k, v) for k, v in s.tags if v != WILDCARD), None)
                bucket = (self.always.setdefault(p.res.mesh, []) if pair is None
                          else self.by_pair.setdefault((p.res.mesh, *pair), []))
                if not bucket or bucket[-1] is not p:
                    bucket.append(p)

    def policies_for(self, proxy: Proxy) -> list[ConnectionPolicy]:
        found: dict[int, ConnectionPolicy] = {id(p): p for p in self.always.get(proxy.mesh, ())}
        for key, values in proxy.tags.items():
            for v in values:
                for p in self.by_pair.get((proxy.mesh, key, v), ()):
                    found[id(p)] = p
        return sorted(found.values(), key=lambda p: self.position[id(p)])


class ConnectionSelection:
    """One run's selection state over a family's validated policies (input order): candidates per proxy profile,
    the winner per (candidate set, destination). Per run: a new family object makes a new one."""

    def __init__(self, policies: Sequence[ConnectionPolicy]):
        self.policies = policies
        self._index: SourceIndex | None = None
        self._candidates: dict[tuple, tuple[Candidate, ...]] = {}
        self._keys: dict[int, tuple] = {}
        self._winners: dict[tuple, Win | None] = {}
        self._ranks: dict[int, dict[str, Rank]] = {}

    def candidates(self, proxy: Proxy) -> tuple[Candidate, ...]:
        """03 §3 step 1 for ``proxy``; proxies with the same inbound tags (replicas) share the answer."""
        key = (proxy.mesh, tuple(tuple(sorted(t.items())) for t in proxy.inbound_tags))
        found = self._candidates.get(key)
        if found is None:
            if self._index is None:
                self._index = SourceIndex(self.policies)
            found = self._candidates[key] = candidates(self._index.policies_for(proxy), proxy)
        return found

    def key(self, proxy: Proxy) -> tuple:
        """The candidate policies (their resources) and source ranks: all the selection depends on besides the
        destination."""
        key = self._keys.get(id(proxy))
        if key is None:
            key = self._keys[id(proxy)] = tuple((c.policy.res, c.source_rank) for c in self.candidates(proxy))
        return key

    def winner(self, proxy: Proxy, dest: Destination) -> Win | None:
        """The policy applied to ``dest`` for ``proxy`` (03 §3), with its aggregate rank, or None. Cached per
        (candidate set, destination): proxies with the same candidates share the decision."""
        if dest.host_tags is not None:
            return self._gateway_winner(proxy, dest)
        key = (self.key(proxy), dest.mesh, dest.name)
        if key not in self._winners:
            self._winners[key] = winner(self.candidates(proxy), dest, self._destination_ranks)
        return self._winners[key]

    def _gateway_winner(self, proxy: Proxy, dest: Destination) -> Win | None:
        # Kuma applies HealthCheck and CircuitBreaker to a builtin gateway's clusters of services named by the
        # routes, choosing by the listener's tags; clusters of MeshService resources get none.
        if dest.backend is None or dest.host_tags is None:
            return None
        key = ("gateway", proxy.mesh, dest.mesh, dest.name)
        if key not in self._winners:
            found = listener_candidates(self.policies, proxy.mesh, dest.host_tags)
            self._winners[key] = winner(found, dest, self._destination_ranks)
        return self._winners[key]

    def destination_key(self, proxy: Proxy, dest: Destination) -> tuple | None:
        """The winning policy (resource) and its aggregate rank, or None."""
        win = self.winner(proxy, dest)
        return None if win is None else (win.policy.res, win.aggregate)

    def _destination_ranks(self, policy: ConnectionPolicy) -> dict[str, Rank]:
        found = self._ranks.get(id(policy))
        if found is None:
            found = self._ranks[id(policy)] = destination_ranks(policy)
        return found


def preview_proxies(policies: Sequence[ConnectionPolicy]) -> list[tuple[int, PreviewProxy]]:
    """One request per ``sources[i].match``: ``{kuma.io/service: '*'}`` alone is the mesh class (any proxy);
    any other selector is the tags class (the view replaces ``*`` values by the proxy name)."""
    out = []
    for p in policies:
        for s in p.sources:
            if s.tags == ((SERVICE, WILDCARD),):
                out.append((p.order, PreviewProxy(p.res.mesh, "mesh")))
            else:
                out.append((p.order, PreviewProxy(p.res.mesh, "tags", s.tags)))
    return out


def preview_destinations(policies: Sequence[ConnectionPolicy]) -> list[tuple[int, PreviewDestination]]:
    """One request per ``destinations[i].match``: tag-only destination X, or ``any-service`` for ``*``."""
    out = []
    for p in policies:
        for s in p.destinations:
            matches = lambda d, s=s: destination_matches(s, d)  # noqa: E731
            if s.service == WILDCARD:
                out.append((p.order, PreviewDestination(p.res.mesh, "any-service", matches)))
            else:
                out.append((p.order, PreviewDestination(p.res.mesh, "tag", matches, name=s.service or "")))
    return out


class SelectorChecker(DocumentChecker):
    """The ``sources``/``destinations`` rules of 03 §2 (Kuma's wording). Paths are relative to the kind's fields
    (``("conf", "interval")``); the Kubernetes ``spec.`` prefix is added. A family adds its ``conf`` rules."""

    def __init__(self, res: Resource, report: Report):
        super().__init__(res, report, res.base)

    def sources(self, items: list[dict[str, Any]] | None) -> None:
        if not items:
            self.error(("sources",), "must have at least one element")
        for i, item in enumerate(items or ()):
            p = ("sources", i, "match")
            match = item.get("match") or {}
            if not match:
                self.error(p, "must have at least one tag")
            self.selector(match, p)
            if SERVICE not in match:
                self.error(p, MISSING_SERVICE)

    def destinations(self, items: list[dict[str, Any]] | None) -> None:
        if not items:
            self.error(("destinations",), "must have at least one element")
        for i, item in enumerate(items or ()):
            p = ("destinations", i, "match")
            match = item.get("match") or {}
            if len(match) != 1 or SERVICE not in match:
                self.error(p, f'must consist of exactly one tag "{SERVICE}"')
            for key in sorted(match):
                # Per key: the selector rules, then "not allowed" (Kuma runs its extra key check inside the loop).
                self.selector({key: match[key]}, p)
                if key != SERVICE:
                    self.error((*p, key), f'tag "{key}" is not allowed')
            if SERVICE not in match:
                self.error(p, MISSING_SERVICE)

    def selector(self, match: Mapping[str, str], p: tuple) -> None:
        for key, message in selector_problems(match):
            self.error(p if key is None else (*p, key), message)


@dataclass(slots=True)
class ConnectionFamily(FamilyBase):
    """The family facade HealthCheck and CircuitBreaker share: a family whose one policy wins each (proxy,
    destination) whole. ``selection``: this run's selection state. A subclass (a slotted dataclass) declares
    ``KIND``, ``EXPLAIN_FIELD`` (its JSON key in ``inspect``), ``check`` (its validator: ``(resource, report) ->
    ok``) and ``parse``, and adds ``preview_votes`` and ``contribute``. Nothing is computed per proxy while the
    family has no policy."""

    EXPLAIN_FIELD: ClassVar[str]
    check: ClassVar[Callable[[Resource, Report], bool]]
    selection: ConnectionSelection = field(default_factory=lambda: ConnectionSelection(()))

    @classmethod
    def valid(cls, res: Resource, report: Report, preview: bool) -> bool:
        return cls.check(res, report)

    @classmethod
    def selection_of(cls, policies: Sequence[Any]) -> ConnectionSelection:
        return ConnectionSelection(policies)

    def preview_proxies(self) -> list[tuple[int, PreviewProxy]]:
        return preview_proxies(self.policies)

    def preview_destinations(self) -> list[tuple[int, PreviewDestination]]:
        return preview_destinations(self.policies)

    def winner(self, proxy: Proxy, dest: Destination) -> Win | None:
        """The policy applied to ``dest`` for ``proxy`` (03 §3), with its aggregate rank, or None."""
        return self.selection.winner(proxy, dest) if self.policies else None

    def proxy_key(self, proxy: Proxy) -> tuple:
        """The candidate policies (their resources) and source ranks."""
        return self.selection.key(proxy) if self.policies else ()

    def destination_key(self, proxy: Proxy, dest: Destination) -> tuple | None:
        """The winning policy (resource) and its aggregate rank, or None."""
        return self.selection.destination_key(proxy, dest) if self.policies else None

    def mesh_warnings(self, view: MeshView, report: Report) -> None:
        """No legacy connection policy has a warning that needs the whole mesh."""

    def explain(self, proxy: Proxy, dest: Destination) -> dict[str, Any]:
        """``EXPLAIN_FIELD``: the winner and its aggregate rank, or None."""
        win = self.winner(proxy, dest)
        return {self.EXPLAIN_FIELD: win.text() if win else None}

    @classmethod
    def explain_lines(cls, fields: dict[str, Any]) -> list[str]:
        return [f"  {cls.KIND}: {fields[cls.EXPLAIN_FIELD] or 'none'}"]

    def attach(self, res: Resource, proxy: Proxy, dest: Destination, groups: Combined,
               lost: list[str]) -> Attachment | None:
        win = self.winner(proxy, dest)
        return attachment(res, win is not None and win.policy.res is res, groups, lost)

    def merged(self, proxy: Proxy, dest: Destination) -> None:
        """None: the winner alone is each group's ``source``."""
        return None
