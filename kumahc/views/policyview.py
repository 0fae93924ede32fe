"""``kumahc inspect --policy KIND/NAME``: every proxy and cluster one policy reaches, like ``kumactl inspect``.

For each cluster the policy selects: what it contributes (MeshHealthCheck: the merged fields it set;
MeshCircuitBreaker: the merged fields it set, per Envoy field group; the other kinds: the field groups they won), or
why it contributes nothing (another kind takes precedence, every field it sets is overridden by a later entry of its
kind, no checker for the destination's protocol, outlier detection disabled, ...). Facts come from the families, the
combine step and its precedence warnings, as for ``inspect --proxy``.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from typing import Any

from kumahc.diagnostics import Severity
from kumahc.pipeline import Result
from kumahc.policies.combine import GROUPS
from kumahc.policies.meshcircuitbreaker import translate as mcb_translate
from kumahc.resources.kinds import close_matches
from kumahc.resources.model import Resource
from kumahc.views.contributors import family
from kumahc.views.inspect import _cb_lines, _reason

KINDS = ("MeshHealthCheck", "KongUpstreamPolicy", "HealthCheck", "MeshCircuitBreaker", "CircuitBreaker")


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
    held = getattr(fam, "policies", ()) if fam is not None else ()
    policies = [p.res for p in (held.values() if isinstance(held, dict) else held)]
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
            line = _line(result, res, label, p, dest, cr.groups, lost.get((p.mesh, p.name, dest.name), []))
            if line is not None:
                lines.append(line)
        if lines:
            proxies.append(ProxyLines(p.mesh, p.name, tuple(lines)))
    return PolicyView(res.kind, res.display_name, res.mesh, res.src.where, tuple(proxies))


def _line(result: Result, res: Resource, label: str, proxy: Any, dest: Any, groups: Any,
          lost: list[str]) -> ClusterLine | None:
    if res.kind == "MeshHealthCheck":
        outcome = family(result, res.kind).outcome(proxy, dest)
        mine = {e.label for e in outcome.entries if e.policy.res is res}
        if not mine:
            return None
        if outcome.merged is None or not outcome.checker or outcome.checker == "none":
            why = _reason(outcome.rule, dest.protocol) if outcome.merged is not None else "no merged conf"
            return ClusterLine(dest.name, None, f"no health check: {why}")
        origins = outcome.merged.origins
        # An object it only opened (``http: {}``) counts as a field unless some entry set something inside it.
        fields = [".".join(path) for path, e in origins.items() if e.label in mine
                  and not any(len(o) > len(path) and o[:len(path)] == path for o in origins)]
        if not fields:
            return ClusterLine(dest.name, None,
                               "every field it sets is overridden by a higher-priority MeshHealthCheck entry")
        return ClusterLine(dest.name, "fields " + ", ".join(fields), None)
    if res.kind == "MeshCircuitBreaker":
        return _mcb_line(result, res, proxy, dest, groups, lost)
    won = [words for attr, words in GROUPS
           if (g := getattr(groups, attr)) is not None and g.source == res.display_name
           and _group_kind(groups, attr) == res.kind]
    if res.kind == "KongUpstreamPolicy":
        attached = family(result, res.kind).attached(dest)
        selected = attached is not None and attached.res is res
    else:
        win = family(result, res.kind).winner(proxy, dest)
        selected = win is not None and win.policy.res is res
    if not selected and not won and not lost:
        return None
    if won:
        return ClusterLine(dest.name, ", ".join(won), "; ".join(lost) or None)
    if lost:
        return ClusterLine(dest.name, None, "; ".join(lost))
    return ClusterLine(dest.name, None, f"{label} sets nothing for this cluster")


def _mcb_line(result: Result, res: Resource, proxy: Any, dest: Any, groups: Any,
              lost: list[str]) -> ClusterLine | None:
    """The merged fields the policy's entries set, grouped by the Envoy field group they feed (combine's order);
    ``outlierDetection`` fields under ``disabled: true`` are reported as not applied. Without any
    ``connectionLimits`` the last entry's policy still sets ``circuit_breakers`` (Envoy's default thresholds, as
    Kuma does)."""
    outcome = family(result, res.kind).outcome(proxy, dest)
    mine = {e.label for e in outcome.entries if e.policy.res is res}
    if not mine:
        return None
    fields = [line.path for line in _cb_lines(outcome.merged) if line.origin in mine]
    defaults = "connectionLimits" not in outcome.merged.conf and groups.circuit_breakers_kind == res.kind \
        and groups.circuit_breakers.source == res.display_name
    if not fields and not defaults:
        return ClusterLine(dest.name, None,
                           "every field it sets is overridden by a higher-priority MeshCircuitBreaker entry")
    applies = mcb_translate.outlier_applies(outcome.merged.conf)
    grouped: dict[str, list[str]] = {}
    inert: list[str] = []
    for path in fields:
        group = mcb_translate.field_group(path.split("."))
        if group != "circuit breakers" and not applies:
            inert.append(path)
        else:
            grouped.setdefault(group, []).append(path)
    if defaults:
        grouped["circuit breakers"] = ["Envoy's default thresholds: no entry sets connectionLimits"]
    notes = list(lost)
    if inert:
        # ``disabled: true`` contributes no group: the cluster's outlier detection comes from a lower kind, if any.
        by = f"outlier detection disabled by {outcome.merged.origins[('outlierDetection', 'disabled')].label}"
        rest = [p for p in inert if p != "outlierDetection.disabled"]
        notes.insert(0, f"{by}, so {', '.join(rest)} {'has' if len(rest) == 1 else 'have'} no effect" if rest
                     else by)
    contributes = ", ".join(f"{words} ({', '.join(grouped[words])})" for _, words in GROUPS if words in grouped)
    return ClusterLine(dest.name, contributes or None, "; ".join(notes) or None)


def _group_kind(groups: Any, attr: str) -> str | None:
    if attr == "health_check":
        return groups.health_check_kind
    if attr == "panic":
        return groups.panic_kind
    if attr == "circuit_breakers":
        return groups.circuit_breakers_kind
    return getattr(groups, "outlier_kind", None) or "KongUpstreamPolicy"


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
