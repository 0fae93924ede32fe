"""The dependency index of ``serve``'s reloads: from the policies a reload changed to the proxies whose clusters
they can change, so every other proxy keeps what it had (the same objects, hence the same snapshot entries and
versions) without being looked at again.

A targetRef policy (MeshHealthCheck, MeshCircuitBreaker) can only change a cluster of a proxy it selects (spec 02
§4) and whose destination one of its ``to`` entries matches (02 §5): any other (proxy, destination) merges the
same entries of the same other policies, in the same order. So when a reload keeps the mesh view (no Dataplane,
Service, MeshService, MeshGateway or route changed, same ``--protocol``), every resource that is not a targetRef
policy is the same object, and the targetRef policies that stay keep their order and shadowing, the proxies to
recompute are those that the old or the new version of a changed policy selects and that have a destination its
entries match. Anything else (a changed view, a legacy or Kong policy, preview mode) and :func:`affected` says
None: every proxy is recomputed, as a fresh run would.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from kumahc.mesh.model import MeshView
from kumahc.policies.core.matching import entry_matches
from kumahc.policies.core.selection import SelectorIndex, TargetRefFamily
from kumahc.resources.model import Resource

ProxyKey = tuple[str, str]


@dataclass(frozen=True, slots=True)
class Inputs:
    """What a run's clusters were computed from, as :func:`affected` compares it with the next run's: the
    options (a hashable), the view, every resource that is not a targetRef policy (input order), and each
    targetRef family's typed policies (input order)."""

    options: Any
    view: MeshView
    others: tuple[Resource, ...]
    policies: tuple[tuple[Any, ...], ...]


def inputs(options: Any, view: MeshView, resources: Sequence[Resource], families: Sequence[Any]) -> Inputs:
    """The :class:`Inputs` of a run (``resources``: every loaded resource, input order)."""
    targeted = [f for f in families if isinstance(f, TargetRefFamily)]
    kinds = {f.KIND for f in targeted}
    return Inputs(options, view, tuple(r for r in resources if r.kind not in kinds),
                  tuple(tuple(f.policies) for f in targeted))


def affected(before: Inputs | None, now: Inputs) -> frozenset[ProxyKey] | None:
    """The (mesh, proxy name) keys whose clusters may differ between the run of ``before`` and the run of ``now``,
    or None when that cannot be told (see the module's docstring): then every proxy
    must be recomputed."""
    if (before is None or before.view is not now.view or now.view.preview or before.options != now.options
            or len(before.others) != len(now.others) or len(before.policies) != len(now.policies)
            or not all(a is b for a, b in zip(before.others, now.others, strict=True))):
        return None
    changed: list[Any] = []
    for old, new in zip(before.policies, now.policies, strict=True):
        if len(old) == len(new) and all(a.res is b.res and a.shadow == b.shadow
                                        for a, b in zip(old, new, strict=True)):
            continue
        found = _changed(old, new)
        if found is None:
            return None
        changed.extend(found)
    keys: set[ProxyKey] = set()
    for policy in changed:
        keys.update(reached(policy, now.view))
    return frozenset(keys)


def _changed(old: Sequence[Any], new: Sequence[Any]) -> list[Any] | None:
    """The policies only one of ``old`` and ``new`` has, or None when those both have are not in the same order
    with the same shadowing (merge order or selection of others could change). A policy of ``new`` whose document
    equals that of the ``old`` policy of its identity (:func:`same_document`: a file read again, an unchanged
    apply) is the same input: clusters depend on a policy's content, never on where it was read."""
    old_res = {p.res for p in old}
    new_res = {p.res for p in new}
    gone = {p.res.identity: p.res for p in old if p.res not in new_res}
    same = {p.res: o for p in new if p.res not in old_res
            and (o := gone.get(p.res.identity)) is not None and same_document(o, p.res)}
    new_tokens = {same.get(r, r) for r in new_res}
    kept_old = [(p.res, p.shadow) for p in old if p.res in new_tokens]
    kept_new = [(same.get(p.res, p.res), p.shadow) for p in new if same.get(p.res, p.res) in old_res]
    if kept_old != kept_new:
        return None
    return [p for p in old if p.res not in new_tokens] + [p for p in new if same.get(p.res, p.res) not in old_res]


def same_document(a: Resource, b: Resource) -> bool:
    """``a`` and ``b`` are the same document of the same resource (identity, format, labels, annotations,
    creation time, value), wherever each was read."""
    return (a.identity == b.identity and a.format == b.format and a.base == b.base and a.labels == b.labels
            and a.annotations == b.annotations and a.creation_time == b.creation_time and a.body is not None
            and a.body == b.body)


def reached(policy: Any, view: MeshView) -> set[ProxyKey]:
    """The proxies of ``view`` whose clusters ``policy`` (a typed targetRef policy) can change: selected by it,
    with a destination one of its entries matches. A shadow policy selects nothing. Only the proxies with an
    outbound to a matched destination are looked at (:meth:`MeshView.users`)."""
    if policy.shadow or not policy.entries:
        return set()
    index = SelectorIndex([policy])
    out: set[ProxyKey] = set()
    seen: set[int] = set()
    for k, d in view.destinations.items():
        if k[0] != policy.res.mesh or not any(entry_matches(e, d) for e in policy.entries):
            continue
        for x in view.users(k):
            if id(x) not in seen:
                seen.add(id(x))
                if index.selecting(x):
                    out.add((x.mesh, x.name))
    return out
