"""MeshCircuitBreaker as a policy family of the pipeline. Selection, ``to[]`` matching and the priority merge are
the engine's (:mod:`kumahc.policies.core`, Kuma's targetRef policy matching, shared by every targetRef policy);
only validation, the conf and its translation are the family's. Contributes the ``circuit_breakers``,
``outlier_detection`` and panic settings field groups."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from kumahc.diagnostics import Report
from kumahc.mesh.model import Destination, MeshView, PreviewProxy, Proxy
from kumahc.policies.combine import GROUPS, CircuitBreakersGroup, Combined, Contribution, OutlierGroup, PanicGroup
from kumahc.policies.contract import Attachment
from kumahc.policies.core import explain as ex
from kumahc.policies.core import preview
from kumahc.policies.core.merge import Merged, merge
from kumahc.policies.core.selection import TargetRefFamily
from kumahc.policies.core.targetref import Entry
from kumahc.policies.meshcircuitbreaker import api, translate
from kumahc.policies.meshcircuitbreaker.validate import validate
from kumahc.resources.model import Resource

KIND = api.KIND

# What ``inspect`` shows: the conf in Kuma's API order, per object.
CONF_ORDER = {"": ("connectionLimits", "outlierDetection"),
              "connectionLimits": ("maxConnections", "maxConnectionPools", "maxPendingRequests", "maxRetries",
                                   "maxRequests"),
              "outlierDetection": ("disabled", "interval", "baseEjectionTime", "maxEjectionPercent",
                                   "splitExternalAndLocalErrors", "detectors", "healthyPanicThreshold"),
              "detectors": ("totalFailures", "gatewayFailures", "localOriginFailures", "successRate",
                            "failurePercentage"),
              "successRate": ("minimumHosts", "requestVolume", "standardDeviationFactor"),
              "failurePercentage": ("minimumHosts", "requestVolume", "threshold")}


@dataclass(frozen=True, slots=True)
class Outcome:
    """What MeshCircuitBreaker decided for one (proxy, destination): the matching entries in merge order, the
    merged conf with the entry that set each leaf (None without entries), and the contribution."""

    entries: tuple[Entry, ...]
    merged: Merged | None
    contribution: Contribution | None


@dataclass(slots=True)
class Family(TargetRefFamily):
    """The validated MeshCircuitBreakers of the inputs, in input order; the run's selection state (the engine's)
    and the family's translation caches: outcomes per (selection, destination), one contribution object per
    distinct (conf, setters)."""

    KIND = KIND
    check = staticmethod(validate)
    parse = staticmethod(api.parse)
    _outcomes: dict[tuple, Outcome] = field(default_factory=dict)
    _shared: dict[tuple, Contribution] = field(default_factory=dict)  # equal contributions → one object

    def preview_proxies(self) -> list[tuple[int, PreviewProxy]]:
        """For policies with ``to`` entries (inbound-only ones are not applied)."""
        return preview.preview_proxies([p for p in self.policies if p.entries])

    def preview_votes(self, dest: Destination) -> set[str]:
        return set()  # circuit breaking works the same on every protocol

    def proxy_key(self, proxy: Proxy) -> tuple[Resource, ...]:
        """The selecting policies' resources: all an outcome depends on besides the destination."""
        if not self.policies:
            return ()  # the common case: no MeshCircuitBreaker at all costs nothing per proxy
        return self.selection.key(proxy)

    def destination_key(self, proxy: Proxy, dest: Destination) -> tuple:
        if not self.policies:
            return ()
        return tuple((e.policy.res, e.index) for e in self.selection.matching(proxy, dest))

    def outcome(self, proxy: Proxy, dest: Destination) -> Outcome:
        selection, _ = self.selection.selecting(proxy)
        key = (selection, dest.mesh, dest.name)
        found = self._outcomes.get(key)
        if found is None:
            found = self._outcomes[key] = _outcome(tuple(self.selection.matching(proxy, dest)), self._shared)
        return found

    def contribute(self, proxy: Proxy, dest: Destination) -> Contribution | None:
        return self.outcome(proxy, dest).contribution if self.policies else None

    def mesh_warnings(self, view: MeshView, report: Report) -> None:
        """A policy with ``to`` entries selecting no proxy; an entry matching no destination of the selected
        proxies. Inbound-only policies are not checked (their warning was given at validation)."""
        if self.policies:
            for _ in self.selection.entry_reach(view, report, skip_without_entries=True):
                pass

    # --- views ---------------------------------------------------------------------------------------------------

    def explain(self, proxy: Proxy, dest: Destination) -> dict[str, Any]:
        """``circuit_breaker_entries`` (merge order) and ``circuit_breaker_merged`` (every leaf with its setter)."""
        outcome = self.outcome(proxy, dest)
        merged = tuple(ex.conf_lines(outcome.merged, CONF_ORDER)) if outcome.merged is not None else ()
        return {"circuit_breaker_entries": ex.entry_lines(outcome.entries), "circuit_breaker_merged": merged}

    @staticmethod
    def explain_lines(fields: dict[str, Any]) -> list[str]:
        return ex.text_lines(KIND, fields["circuit_breaker_entries"], fields["circuit_breaker_merged"])

    def attach(self, res: Resource, proxy: Proxy, dest: Destination, groups: Combined,
               lost: list[str]) -> Attachment | None:
        """The merged fields the policy's entries set, grouped by the Envoy field group they feed (combine's
        order); ``outlierDetection`` fields under ``disabled: true`` are reported as not applied. Without any
        ``connectionLimits`` the last entry's policy still sets ``circuit_breakers`` (Envoy's default thresholds,
        as Kuma does)."""
        outcome = self.outcome(proxy, dest)
        mine = ex.own_labels(outcome.entries, res)
        if not mine or outcome.merged is None:
            return None
        fields = [line.path for line in ex.conf_lines(outcome.merged, CONF_ORDER) if line.origin in mine]
        defaults = "connectionLimits" not in outcome.merged.conf and groups.circuit_breakers_kind == res.kind \
            and groups.circuit_breakers is not None and groups.circuit_breakers.source == res.display_name
        if not fields and not defaults:
            return Attachment(None, "every field it sets is overridden by a higher-priority MeshCircuitBreaker entry")
        applies = translate.outlier_applies(outcome.merged.conf)
        grouped: dict[str, list[str]] = {}
        inert: list[str] = []
        for path in fields:
            group = translate.field_group(path.split("."))
            if group != "circuit breakers" and not applies:
                inert.append(path)
            else:
                grouped.setdefault(group, []).append(path)
        if defaults:
            grouped["circuit breakers"] = ["Envoy's default thresholds: no entry sets connectionLimits"]
        notes = list(lost)
        if inert:
            # ``disabled: true`` contributes no group: the cluster's outlier detection comes from a lower kind.
            by = f"outlier detection disabled by {outcome.merged.origins[('outlierDetection', 'disabled')].label}"
            rest = [p for p in inert if p != "outlierDetection.disabled"]
            notes.insert(0, f"{by}, so {', '.join(rest)} {'has' if len(rest) == 1 else 'have'} no effect" if rest
                         else by)
        contributes = ", ".join(f"{words} ({', '.join(grouped[words])})" for _, words in GROUPS if words in grouped)
        return Attachment(contributes or None, "; ".join(notes) or None)

    def merged(self, proxy: Proxy, dest: Destination) -> None:
        """None: each group names the entry's policy that set it (its ``source``)."""
        return None


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
