"""MeshCircuitBreaker semantic validation: Kuma v2.14's validator (``api/v1alpha1/validator.go``) with its paths
and messages, plus kumahc's warnings for what it does not apply (inbound ``from``/``rules``). Target refs are
checked by the engine's checker (Kuma's common ``ValidateTargetRef`` with options). All problems of a document are
reported, in Kuma's order."""

from __future__ import annotations

from typing import Any

from kumahc.diagnostics import Report
from kumahc.durations import parse_duration
from kumahc.policies.core.checks import (
    FACTOR_TOO_BIG,
    FROM,
    TOP_KINDS,
    UINT32_MAX,
    TargetRefChecker,
    TargetRefOptions,
    note_shadow,
    number,
    to_options,
)
from kumahc.policies.meshcircuitbreaker.api import CONNECTION_LIMITS, DETECTORS
from kumahc.resources.model import Resource

INBOUND_IGNORED = "inbound policy entries are not applied: kumahc renders outbound clusters only"


def validate(res: Resource, report: Report, preview: bool) -> bool:
    """Check one structurally valid MeshCircuitBreaker; add errors and warnings to ``report``. ``preview`` = no
    Dataplane in the inputs (``_port`` is used then). Returns True when there is no error."""
    v = _Validator(res, report)
    spec = res.fields()
    to, from_, rules = spec.get("to") or [], spec.get("from") or [], spec.get("rules") or []
    top = TargetRefOptions(TOP_KINDS, top=True, inbound=bool(from_ or rules))
    v.target_ref(spec.get("targetRef"), ("spec", "targetRef"), top)
    if not to and not from_ and not rules:
        v.error(("spec",), "at least one of 'from', 'to' or 'rules' has to be defined")
    if rules and (to or from_):
        v.error(("spec",), "fields 'to' and 'from' must be empty when 'rules' is defined")
    for i, item in enumerate(rules):
        v.conf(item.get("default"), ("spec", "rules", i, "default"))
    for i, item in enumerate(from_):
        path = ("spec", "from", i)
        v.target_ref(item.get("targetRef"), (*path, "targetRef"), FROM)
        v.conf(item.get("default"), (*path, "default"))
    for i, item in enumerate(to):
        path = ("spec", "to", i)
        v.target_ref(item.get("targetRef"), (*path, "targetRef"), to_options(preview))
        v.conf(item.get("default"), (*path, "default"))
    for field, items in (("from", from_), ("rules", rules)):
        if items:
            res.src.warning(report, ("spec", field), INBOUND_IGNORED)
    note_shadow(res, report)
    return not v.failed


class _Validator(TargetRefChecker):
    """The engine's target-ref rules plus MeshCircuitBreaker's conf rules."""

    def conf(self, d: dict[str, Any] | None, D: tuple) -> None:
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

