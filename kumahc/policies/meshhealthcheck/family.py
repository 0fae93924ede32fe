"""MeshHealthCheck as a policy family of the pipeline: validate and parse, preview requests, per-cluster
contribution, the warnings that need the whole mesh (02 §3.3) and what ``inspect`` shows. Selection, matching
and merge are the engine's (:mod:`kumahc.policies.core`)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from kumahc.diagnostics import Report, Severity
from kumahc.envoy import healthcheck as hcb
from kumahc.mesh.model import Destination, MeshView, Proxy
from kumahc.policies.combine import Combined, Contribution, HealthCheckGroup, PanicGroup
from kumahc.policies.contract import Attachment
from kumahc.policies.core import explain as ex
from kumahc.policies.core.matching import entry_matches
from kumahc.policies.core.merge import Merged, merge
from kumahc.policies.core.selection import TargetRefFamily
from kumahc.policies.core.targetref import Entry
from kumahc.policies.meshhealthcheck import api, translate
from kumahc.policies.meshhealthcheck.validate import validate
from kumahc.resources.model import Resource

KIND = api.KIND

# What ``inspect`` shows: 02 §2 field order, then each block's keys in their 02 §2 order.
CONF_ORDER = {"": ("interval", "timeout", "unhealthyThreshold", "healthyThreshold", "initialJitter",
                   "intervalJitter", "intervalJitterPercent", "healthyPanicThreshold", "failTrafficOnPanic",
                   "noTrafficInterval", "eventLogPath", "alwaysLogHealthCheckFailures", "reuseConnection", "tcp",
                   "http", "grpc"),
              "tcp": ("disabled", "send", "receive"),
              "http": ("disabled", "path", "requestHeadersToAdd", "expectedStatuses"),
              "requestHeadersToAdd": ("set", "add"),
              "grpc": ("disabled", "serviceName", "authority")}
_BLOCK_FOR_RULE = {1: "http", 2: "grpc", 3: "tcp", 4: "http", 5: "grpc"}


@dataclass(frozen=True, slots=True)
class Outcome:
    """Everything MeshHealthCheck decided for one (proxy, destination), for rendering and ``inspect``."""

    entries: tuple[Entry, ...]
    merged: Merged | None
    checker: str | None
    rule: int
    contribution: Contribution | None


@dataclass(slots=True)
class Family(TargetRefFamily):
    """The validated MeshHealthChecks of the inputs, in input order; the run's selection state (the engine's) and
    the family's translation caches: ``x-kuma-tags`` per proxy, outcomes per (selection, destination) and per
    (that, ``x-kuma-tags``)."""

    KIND = KIND
    MESH_TYPOS = True
    check = staticmethod(validate)
    parse = staticmethod(api.parse)
    _tags: dict[int, str] = field(default_factory=dict)
    _merged: dict[tuple, Outcome] = field(default_factory=dict)
    _outcomes: dict[tuple, Outcome] = field(default_factory=dict)

    def preview_votes(self, dest: Destination) -> set[str]:
        """Protocols asked for by entries matching ``dest``: ``grpc``/``http`` for an enabled block, else none."""
        votes: set[str] = set()
        for p in self.policies:
            if p.res.mesh != dest.mesh or p.shadow:
                continue
            for e in p.entries:
                if entry_matches(e, dest):
                    votes.update(b for b in ("grpc", "http") if translate.enabled(e.default, b))
        return votes

    # --- matching and translation --------------------------------------------------------------------------------

    def proxy_key(self, proxy: Proxy) -> tuple[tuple[Resource, ...], str]:
        """(the selecting policies' resources, ``x-kuma-tags`` value): all a MeshHealthCheck outcome depends on
        besides the destination."""
        return (self.selection.key(proxy), self._kuma_tags(proxy))

    def _kuma_tags(self, proxy: Proxy) -> str:
        tags = self._tags.get(id(proxy))
        if tags is None:
            tags = self._tags[id(proxy)] = translate.kuma_tags_header(proxy.tags)
        return tags

    def outcome(self, proxy: Proxy, dest: Destination) -> Outcome:
        """The MeshHealthCheck result for one cluster. Matching and merging depend only on the selecting policies
        and the destination; the health check also on the proxy's tags (``x-kuma-tags``). Each is computed once
        per distinct key, so proxies that differ in nothing relevant share all the work."""
        selection, _ = self.selection.selecting(proxy)
        tags = self._kuma_tags(proxy)
        base_key = (selection, dest.mesh, dest.name)
        base = self._merged.get(base_key)
        if base is None:
            base = self._merged[base_key] = _merge(self.selection.matching(proxy, dest), dest)
        if base.checker is None:
            return base  # no health check: nothing depends on the tags
        key = (base_key, tags)
        found = self._outcomes.get(key)
        if found is None:
            found = self._outcomes[key] = _with_check(base, dest, tags)
        return found

    def destination_key(self, proxy: Proxy, dest: Destination) -> tuple:
        """The matching entries (as (resource, to index)) and, when there are any, the ``x-kuma-tags`` value:
        everything this cluster's MeshHealthCheck contribution depends on besides the destination itself."""
        entries = self.selection.matching(proxy, dest)
        if not entries:
            return ()
        return (tuple((e.policy.res, e.index) for e in entries), self._kuma_tags(proxy))

    def contribute(self, proxy: Proxy, dest: Destination) -> Contribution | None:
        return self.outcome(proxy, dest).contribution

    def mesh_warnings(self, view: MeshView, report: Report) -> None:
        """02 §3.3 warnings that need the mesh: a policy selecting no proxy, an entry matching no destination of
        the selected proxies, and MHC confs applied to destinations of unknown protocol."""
        for _, hits in self.selection.entry_reach(view, report):
            for k in hits:
                if view.destinations[k].protocol == "unknown":
                    report.add(Severity.WARNING, "protocol unknown; MeshHealthCheck adds no health check",
                               ("destination", k[0], k[1]))

    # --- views ---------------------------------------------------------------------------------------------------

    def explain(self, proxy: Proxy, dest: Destination) -> dict[str, Any]:
        """``entries`` (merge order), ``merged`` (each leaf with its setter or ``default``), ``checker`` (None
        without entries) and ``checker_reason`` (the 02 §7 rule)."""
        outcome = self.outcome(proxy, dest)
        merged: tuple[ex.ConfLine, ...] = ()
        checker, reason = None, ""
        if outcome.merged is not None:
            merged = tuple(ex.conf_lines(outcome.merged, CONF_ORDER, known_only=True))
            checker = outcome.checker or "none"
            reason = rule_text(outcome.rule, dest.protocol)
        return {"entries": ex.entry_lines(outcome.entries), "merged": merged, "checker": checker,
                "checker_reason": reason}

    @staticmethod
    def explain_lines(fields: dict[str, Any]) -> list[str]:
        lines = ex.text_lines(KIND, fields["entries"], fields["merged"])
        if fields["entries"]:
            lines.append(f"  checker: {fields['checker']} ({fields['checker_reason']})")
        return lines

    def attach(self, res: Resource, proxy: Proxy, dest: Destination, groups: Combined,
               lost: list[str]) -> Attachment | None:
        """The merged fields the policy's entries set (precedence against other kinds is not shown), or why none
        applies: no checker for the protocol, or every field overridden by a higher-priority entry."""
        outcome = self.outcome(proxy, dest)
        mine = ex.own_labels(outcome.entries, res)
        if not mine:
            return None
        if outcome.merged is None or not outcome.checker or outcome.checker == "none":
            why = rule_text(outcome.rule, dest.protocol) if outcome.merged is not None else "no merged conf"
            return Attachment(None, f"no health check: {why}")
        origins = outcome.merged.origins
        # An object it only opened (``http: {}``) counts as a field unless some entry set something inside it.
        fields = [".".join(path) for path, e in origins.items() if e.label in mine
                  and not any(len(o) > len(path) and o[:len(path)] == path for o in origins)]
        if not fields:
            return Attachment(None, "every field it sets is overridden by a higher-priority MeshHealthCheck entry")
        return Attachment("fields " + ", ".join(fields), None)

    def merged(self, proxy: Proxy, dest: Destination) -> list[str]:
        """Every MeshHealthCheck whose entries were merged into the cluster's conf, in merge order, once each."""
        names: list[str] = []
        for e in self.outcome(proxy, dest).entries:
            name = e.policy.res.display_name
            if name not in names:
                names.append(name)
        return names


def rule_text(rule: int, protocol: str) -> str:
    """The 02 §7 rule that chose the checker, in ``inspect``'s words."""
    if rule in (1, 2, 3):
        return f"rule {rule}: protocol {protocol}, {_BLOCK_FOR_RULE[rule]} enabled"
    if rule in (4, 5):
        return f"rule {rule}: protocol {protocol}, {_BLOCK_FOR_RULE[rule]} disabled, tcp enabled (fallback)"
    return f"rule 6: protocol {protocol}, no enabled block for it"


def _merge(entries: Sequence[Entry], dest: Destination) -> Outcome:
    """Merge, checker selection and panic settings of the matching ``entries``: everything but the health check
    itself."""
    entries = tuple(entries)
    if not entries:
        return Outcome((), None, None, 6, None)
    merged = merge(entries, api.fill_defaults)
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
