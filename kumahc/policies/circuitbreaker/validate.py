"""CircuitBreaker semantic validation: Kuma's ``circuit_breaker_validator.go`` (paths and messages), with the
engine's selector rules (shared with legacy HealthCheck), plus kumahc's rules for values Envoy would reject (marked)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from kumahc.diagnostics import Report
from kumahc.durations import parse_duration
from kumahc.policies.circuitbreaker.api import DETECTORS, THRESHOLDS
from kumahc.policies.core.checks import FACTOR_TOO_BIG, UINT32_MAX
from kumahc.policies.core.connection import POSITIVE, SelectorChecker
from kumahc.resources.model import Resource

PERCENT = "has to be in [0.0 - 100.0] range"


def validate(res: Resource, report: Report) -> bool:
    """Check one structurally valid CircuitBreaker, adding its errors to ``report``. True when there is none."""
    v = _Checker(res, report)
    f = res.fields()
    v.sources(f.get("sources"))
    v.destinations(f.get("destinations"))
    v.conf(f.get("conf") or {})
    return not v.failed


class _Checker(SelectorChecker):
    """The engine's selector rules plus CircuitBreaker's ``conf`` rules."""

    def conf(self, conf: Mapping[str, Any]) -> None:
        detectors = conf.get("detectors")
        thresholds = conf.get("thresholds")
        has_detectors = any(k in (detectors or {}) for k in DETECTORS)
        has_thresholds = any(k in (thresholds or {}) for k in THRESHOLDS)
        if not has_detectors and not has_thresholds:
            self.error(("conf",), "must have at least one of the detector or threshold configured")
            return
        if detectors is not None and not has_detectors:
            self.error(("conf", "detectors"), "can't be empty")
        if conf.get("maxEjectionPercent", 0) > 100:
            self.error(("conf", "maxEjectionPercent"), PERCENT)
        if (detectors or {}).get("failure", {}).get("threshold", 0) > 100:
            self.error(("conf", "detectors", "failure", "threshold"), PERCENT)
        if thresholds is not None and not has_thresholds:
            self.error(("conf", "thresholds"), "can't be empty")
        # (kumahc) Envoy requires positive durations; Kuma turns a negative factor into a huge uint32.
        for f in ("interval", "baseEjectionTime"):
            if f in conf and parse_duration(conf[f]) <= 0:
                self.error(("conf", f), POSITIVE)
        factor = (detectors or {}).get("standardDeviation", {}).get("factor")
        if factor is not None and factor != factor:  # NaN
            self.error(("conf", "detectors", "standardDeviation", "factor"), "must be a number")
        elif factor is not None and factor < 0:
            self.error(("conf", "detectors", "standardDeviation", "factor"), "must not be negative")
        elif factor is not None and factor * 1000 > UINT32_MAX:
            self.error(("conf", "detectors", "standardDeviation", "factor"), FACTOR_TOO_BIG)
