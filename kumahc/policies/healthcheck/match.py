"""Most-specific selection of legacy HealthChecks (spec 03 §3): one policy wins per (proxy, destination), no merge.

Selector rank = (total keys, exact keys); aggregate = source rank + destination rank, component-wise; the best
aggregate wins, then the later ``creationTime`` (absent = older than any), then the later in input order
(kumahc; Kuma keeps the alphabetically first name). Pure functions over the mesh view."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from kumahc.mesh.view import Destination, Proxy
from kumahc.policies.healthcheck.api import WILDCARD, HealthCheck, Rank, Selector


@dataclass(frozen=True, slots=True)
class Candidate:
    """A policy with a source selector matching the proxy; ``source_rank`` = the best such selector's rank."""

    policy: HealthCheck
    source_rank: Rank


@dataclass(frozen=True, slots=True)
class Win:
    """The policy winning one (proxy, destination) and its aggregate rank (``inspect``: ``(total,exact)``)."""

    policy: HealthCheck
    aggregate: Rank


def source_matches(selector: Selector, proxy: Proxy) -> bool:
    """One inbound of ``proxy`` has every key of the selector with an equal value (``*`` = any value)."""
    pairs = selector.tags
    return any(all((have := tags.get(k)) is not None and (v == WILDCARD or v == have) for k, v in pairs)
               for tags in proxy.inbound_tags)


def destination_matches(selector: Selector, dest: Destination) -> bool:
    """``{kuma.io/service: X}`` matches the destination named X, and every destination when X is ``*``."""
    value = selector.service
    return value == WILDCARD or value == dest.name


def candidates(policies: Iterable[HealthCheck], proxy: Proxy) -> tuple[Candidate, ...]:
    """03 §3 step 1: the HealthChecks of the proxy's mesh with a source selector matching it, in input order.
    ``policies`` may be narrowed beforehand (:class:`SourceIndex`)."""
    out = []
    for p in policies:
        if p.res.mesh != proxy.mesh:
            continue
        ranks = [s.rank for s in p.sources if source_matches(s, proxy)]
        if ranks:
            out.append(Candidate(p, max(ranks)))
    return tuple(out)


def destination_ranks(policy: HealthCheck) -> dict[str, Rank]:
    """Best destination-selector rank per ``kuma.io/service`` value (``*`` included) of one policy."""
    out: dict[str, Rank] = {}
    for s in policy.destinations:
        value = s.service
        if value is not None and (value not in out or s.rank > out[value]):
            out[value] = s.rank
    return out


def winner(found: Iterable[Candidate], dest: Destination,
           ranks_of: Callable[[HealthCheck], dict[str, Rank]] = destination_ranks) -> Win | None:
    """03 §3 steps 2–3: the candidate with the best aggregate for ``dest``, ties broken by creation time, then
    input order (later wins both); None when no candidate has a destination selector matching ``dest``.
    ``ranks_of`` may be a cached :func:`destination_ranks`."""
    best: tuple | None = None
    win: Win | None = None
    for c in found:
        by_service = ranks_of(c.policy)
        ranks = [r for r in (by_service.get(dest.name), by_service.get(WILDCARD)) if r is not None]
        if not ranks:
            continue
        d = max(ranks)
        aggregate = (c.source_rank[0] + d[0], c.source_rank[1] + d[1])
        key = (aggregate, _created_key(c.policy), c.policy.order)
        if best is None or key > best:
            best, win = key, Win(c.policy, aggregate)
    return win


def _created_key(policy: HealthCheck) -> tuple:
    # (0,) sorts before any (1, timestamp): an absent creationTime is older than every timestamp.
    return (0,) if policy.created is None else (1, policy.created)


class SourceIndex:
    """HealthChecks by one non-``*`` (key, value) pair of each source selector: a proxy needs only those with a
    pair among its inbound tags, plus those whose selectors are all ``*``; :func:`candidates` decides."""

    def __init__(self, policies: Sequence[HealthCheck]):
        self.position = {id(p): i for i, p in enumerate(policies)}
        self.always: dict[str, list[HealthCheck]] = {}
        self.by_pair: dict[tuple[str, str, str], list[HealthCheck]] = {}
        for p in policies:
            for s in p.sources:
                pair = next(((k, v) for k, v in s.tags if v != WILDCARD), None)
                bucket = (self.always.setdefault(p.res.mesh, []) if pair is None
                          else self.by_pair.setdefault((p.res.mesh, *pair), []))
                if not bucket or bucket[-1] is not p:
                    bucket.append(p)

    def policies_for(self, proxy: Proxy) -> list[HealthCheck]:
        found: dict[int, HealthCheck] = {id(p): p for p in self.always.get(proxy.mesh, ())}
        for key, values in proxy.tags.items():
            for v in values:
                for p in self.by_pair.get((proxy.mesh, key, v), ()):
                    found[id(p)] = p
        return sorted(found.values(), key=lambda p: self.position[id(p)])
