"""``kumahc inspect --policy KIND/NAME``: every proxy and cluster one policy reaches, like ``kumactl inspect``.

For each cluster the policy selects: what it contributes (MeshHealthCheck: the merged fields it set;
MeshCircuitBreaker: the merged fields it set, per Envoy field group; the other kinds: the field groups they won), or
why it contributes nothing (another kind takes precedence, every field it sets is overridden by a later entry of its
kind, no checker for the destination's protocol, outlier detection disabled, ...). Facts come from the family's
``attach`` hook (:class:`kumahc.policies.contract.PolicyFamily`), the combine step and its precedence warnings, as
for ``inspect --proxy``.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass

from kumahc.diagnostics import Severity
from kumahc.pipeline import Result
from kumahc.policies.registry import KINDS
from kumahc.resources.kinds import close_matches
from kumahc.resources.model import Resource
from kumahc.views.contributors import family


class NoPolicy(LookupError):
    """``--policy`` names no valid policy; ``str()`` is the message after ``error: ``."""


@dataclass(frozen=True, slots=True)
class ClusterLine:
    cluster: str
    contributes: str | None  # "health check: interval, http.path" / "health check, outlier detection"
    loses: str | None  # why it contributes nothing, or None


@dataclass(frozen=True, slots=True)
class ProxyLines:
    mesh: str
    name: str
    clusters: tuple[ClusterLine, ...]


@dataclass(frozen=True, slots=True)
class PolicyView:
    kind: str
    name: str
    mesh: str
    where: str
    proxies: tuple[ProxyLines, ...]

    def summary(self) -> str:
        won = sum(1 for p in self.proxies for c in p.clusters if c.contributes)
        lost = sum(1 for p in self.proxies for c in p.clusters if not c.contributes)
        proxies = sum(1 for p in self.proxies if any(c.contributes for c in p.clusters))
        return (f"contributes to {won} cluster{'s' if won != 1 else ''} on {proxies} "
                f"prox{'ies' if proxies != 1 else 'y'}; selects {lost} more without contributing")


def find(result: Result, selector: str) -> Resource:
    """The valid policy named by ``KIND/NAME`` (NAME as in messages: ``NAMESPACE/NAME`` for a namespaced
    Kubernetes policy). Raises :class:`NoPolicy` (with close matches) when there is none."""
    kind, _, name = selector.partition("/")
    if kind not in KINDS or not name:
        raise NoPolicy(f'--policy "{selector}": expected KIND/NAME with KIND one of {", ".join(KINDS)}')
    fam = family(result, kind)
    policies = fam.held() if fam is not None else []
    found = [r for r in policies if r.display_name == name]
    if found:
        return found[0]
    names = sorted({f"{kind}/{r.display_name}" for r in policies})
    close = close_matches(selector, names)
    if close:
        hint = "; did you mean " + " or ".join(f'"{n}"' for n in close) + "?"
    elif names:
        hint = f" ({kind} names: {', '.join(n.partition('/')[2] for n in names[:5])}" + (
            f" and {len(names) - 5} more)" if len(names) > 5 else ")")
    else:
        hint = f" (the inputs have no valid {kind})"
    raise NoPolicy(f'no policy matches "{selector}"{hint}')


def view(result: Result, selector: str) -> PolicyView:
    """Every (proxy, cluster) the policy selects, in render order. Raises :class:`NoPolicy`."""
    res = find(result, selector)
    fam = family(result, res.kind)
    label = f"{res.kind} {res.display_name}"
    lost: dict[tuple[str, str, str], list[str]] = {}
    for d in result.report.items:
        if d.severity == Severity.WARNING and d.scope[0] == "proxy" and f" from {label} ignored: " in d.message:
            lost.setdefault(d.scope[1:], []).append(d.message)
    proxies = []
    for p in result.view.proxies:
        lines = []
        for cr in result.clusters[(p.mesh, p.name)]:
            dest = result.view.destinations[(p.mesh, cr.cluster.name)]
            found = fam.attach(res, p, dest, cr.groups, lost.get((p.mesh, p.name, dest.name), []))
            if found is not None:
                lines.append(ClusterLine(dest.name, found.contributes, found.loses))
        if lines:
            proxies.append(ProxyLines(p.mesh, p.name, tuple(lines)))
    return PolicyView(res.kind, res.display_name, res.mesh, res.src.where, tuple(proxies))


def text(v: PolicyView) -> str:
    """``policy KIND NAME (mesh M, FILE:LINE)``, then per proxy its clusters: ``cluster C: fields …`` (the
    MeshHealthCheck fields it set in the merged conf), ``cluster C: outlier detection (outlierDetection.…), …``
    (the MeshCircuitBreaker fields it set, per field group) or ``cluster C: health check, …`` (the field groups
    it won), followed by ``; not applied: WHY`` for what it set without effect; ``cluster C: selected, not
    applied: WHY`` when it contributes nothing; the summary last. Ends with a newline."""
    lines = [f"policy {v.kind} {v.name} (mesh {v.mesh or '-'}, {v.where})"]
    for p in v.proxies:
        lines.append(f"proxy {p.mesh}/{p.name}")
        for c in p.clusters:
            if c.contributes:
                lost = f"; not applied: {c.loses}" if c.loses else ""
                lines.append(f"  cluster {c.cluster}: {c.contributes}{lost}")
            else:
                lines.append(f"  cluster {c.cluster}: selected, not applied: {c.loses}")
    lines.append(v.summary())
    return "\n".join(lines) + "\n"


def as_json(v: PolicyView) -> str:
    """The same facts for tools, 2-space indented."""
    return json.dumps(asdict(v), indent=2, ensure_ascii=False) + "\n"
