"""MeshCircuitBreaker semantic validation: Kuma v2.14's validator (``api/v1alpha1/validator.go``) with its paths
and messages, plus kumahc's warnings for what it does not apply (inbound ``from``/``rules``). Target refs are
checked by MeshHealthCheck's rules, which are Kuma's common ``ValidateTargetRef``. All problems of a document are
reported, in Kuma's order."""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

from kumahc.diagnostics import Report
from kumahc.durations import parse_duration
from kumahc.policies.meshcircuitbreaker.api import CONNECTION_LIMITS, DETECTORS
from kumahc.policies.meshhealthcheck.validate import _Validator as _TargetRefChecker
from kumahc.resources.model import Resource

_NUMBER = re.compile(r"^[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)$")
UINT32_MAX = 2**32 - 1
FACTOR_TOO_BIG = "must be at most 4294967.295 (Envoy's success_rate_stdev_factor is thousandths in 32 bits)"
INBOUND_IGNORED = "inbound policy entries are not applied: kumahc renders outbound clusters only"


def validate(res: Resource, report: Report, preview: bool) -> bool:
    """Check one structurally valid MeshCircuitBreaker; add errors and warnings to ``report``. ``preview`` = no
    Dataplane in the inputs (``_port`` is used then). Returns True when there is no error."""
    v = _Validator(res, report)
    spec = res.fields()
    to, from_, rules = spec.get("to") or [], spec.get("from") or [], spec.get("rules") or []
    v.inbound = bool(from_ or rules)
    v.target_ref(spec.get("targetRef"), ("spec", "targetRef"), top=True)
    if not to and not from_ and not rules:
        v.error(("spec",), "at least one of 'from', 'to' or 'rules' has to be defined")
    if rules and (to or from_):
        v.error(("spec",), "fields 'to' and 'from' must be empty when 'rules' is defined")
    for i, item in enumerate(rules):
        v.conf(item.get("default"), ("spec", "rules", i, "default"))
    for i, item in enumerate(from_):
        path = ("spec", "from", i)
        v.from_ref(item.get("targetRef"), (*path, "targetRef"))
        v.conf(item.get("default"), (*path, "default"))
    for i, item in enumerate(to):
        path = ("spec", "to", i)
        v.target_ref(item.get("targetRef"), (*path, "targetRef"), top=False, preview=preview)
        v.conf(item.get("default"), (*path, "default"))
    for field, items in (("from", from_), ("rules", rules)):
        if items:
            res.src.warning(report, ("spec", field), INBOUND_IGNORED)
    if res.labels.get("kuma.io/effect") == "shadow":
        res.src.info(report, (), "shadow policy (kuma.io/effect: shadow); not applied")
    return not v.failed


class _Validator(_TargetRefChecker):
    inbound = False

    def target_ref(self, ref: dict[str, Any] | None, p: tuple, top: bool, preview: bool = False) -> None:
        # Kuma allows a Dataplane sectionName (an inbound) in policies with from/rules entries.
        if top and self.inbound and ref and ref.get("kind") == "Dataplane" and "sectionName" in ref:
            ref = {k: v for k, v in ref.items() if k != "sectionName"}
        super().target_ref(ref, p, top, preview)

    def from_ref(self, ref: dict[str, Any] | None, p: tuple) -> None:
        kind = (ref or {}).get("kind")
        if kind and kind != "Mesh":
            self.error((*p, "kind"), f"value '{kind}' is not supported")
        else:
            super().target_ref(ref, p, top=False)

    def conf(self, d: dict[str, Any] | None, D: tuple) -> None:  # type: ignore[override]
        d = d or {}
        if "connectionLimits" not in d and "outlierDetection" not in d:
            self.error(D, "at least one of: 'connectionLimits' or 'outlierDetection' should be configured")
            return
        limits = d.get("connectionLimits") or {}
        for f in CONNECTION_LIMITS:
            self._positive(limits, f, (*D, "connectionLimits"))
        od = d.get("outlierDetection")
        if od is None:
            return
        OD = (*D, "outlierDetection")
        for f in ("interval", "baseEjectionTime"):
            if f in od and parse_duration(od[f]) <= 0:
                self.error((*OD, f), "must be greater than zero when defined")
        self._percent(od, "maxEjectionPercent", OD)
        if "healthyPanicThreshold" in od:
            value = number(od["healthyPanicThreshold"])
            if value is None:
                self.error((*OD, "healthyPanicThreshold"), "string must be a valid number")
            elif not 0 <= value <= 100:
                self.error((*OD, "healthyPanicThreshold"), "must be in inclusive range [0.0, 100.0]")
        detectors = od.get("detectors")
        P = (*OD, "detectors")
        if detectors is None:
            self.error(P, "must be defined")
            return
        if not any(k in detectors for k in DETECTORS):
            self.error(P, "must have at least one defined: " + ", ".join(DETECTORS))
            return
        for f in ("totalFailures", "gatewayFailures", "localOriginFailures"):
            self._positive(detectors.get(f) or {}, "consecutive", (*P, f))
        sr = detectors.get("successRate") or {}
        self._positive(sr, "minimumHosts", (*P, "successRate"))
        self._positive(sr, "requestVolume", (*P, "successRate"))
        if "standardDeviationFactor" in sr:
            value = number(sr["standardDeviationFactor"])
            if value is None:
                self.error((*P, "successRate", "standardDeviationFactor"), "invalid number")
            elif value <= 0:
                self.error((*P, "successRate", "standardDeviationFactor"), "must be greater than 0")
            elif value * 1000 > UINT32_MAX:  # (kumahc) Kuma would wrap it around
                self.error((*P, "successRate", "standardDeviationFactor"), FACTOR_TOO_BIG)
        fp = detectors.get("failurePercentage") or {}
        self._positive(fp, "minimumHosts", (*P, "failurePercentage"))
        self._positive(fp, "requestVolume", (*P, "failurePercentage"))
        self._percent(fp, "threshold", (*P, "failurePercentage"))

    def _positive(self, d: dict[str, Any], f: str, p: tuple) -> None:
        if f in d and d[f] <= 0:
            self.error((*p, f), "must be greater than 0")

    def _percent(self, d: dict[str, Any], f: str, p: tuple) -> None:
        if f in d and d[f] > 100:
            self.error((*p, f), "must be in inclusive range [0, 100]")


def number(v: int | str) -> Decimal | None:
    """Kuma's int-or-string decimal (``30``, ``"30.2"``); None when the string is not a number."""
    if isinstance(v, int):
        return Decimal(v)
    return Decimal(v) if _NUMBER.match(v) else None
