"""Most-specific selection of legacy HealthChecks (spec 03 §3): one policy wins per (proxy, destination), no merge.

Selector rank = (total keys, exact keys); aggregate = source rank + destination rank, component-wise; the best
aggregate wins, then the later ``creationTime`` (absent = older than any), then the later in input order
(kumahc; Kuma keeps the alphabetically first name). Pure functions over the mesh view."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from kumahc.healthcheck.api import WILDCARD, HealthCheck, Rank, Selector
from kumahc.mesh.view import Destination, Proxy
from kumahc.resources.tags import selector_matches


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
    want = selector.as_dict()
    return any(selector_matches(want, tags) for tags in proxy.inbound_tags)


def destination_matches(selector: Selector, dest: Destination) -> bool:
    """``{kuma.io/service: X}`` matches the destination named X, and every destination when X is ``*``."""
    value = selector.service
    return value == WILDCARD or value == dest.name


def candidates(policies: Iterable[HealthCheck], proxy: Proxy) -> tuple[Candidate, ...]:
    """03 §3 step 1: the HealthChecks of the proxy's mesh with a source selector matching it, in input order."""
    out = []
    for p in policies:
        if p.res.mesh != proxy.mesh:
            continue
        ranks = [s.rank for s in p.sources if source_matches(s, proxy)]
        if ranks:
            out.append(Candidate(p, max(ranks)))
    return tuple(out)


def winner(found: Iterable[Candidate], dest: Destination) -> Win | None:
    """03 §3 steps 2–3: the candidate with the best aggregate for ``dest``, ties broken by creation time, then
    input order (later wins both); None when no candidate has a destination selector matching ``dest``."""
    best: tuple | None = None
    win: Win | None = None
    for c in found:
        ranks = [s.rank for s in c.policy.destinations if destination_matches(s, dest)]
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
