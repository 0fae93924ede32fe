"""HealthCheck semantic validation: every rule, path and message of spec 03 §2 (Kuma's wording; kumahc's own rules
marked (kumahc)). Paths go through :meth:`Resource.at`, so they are unprefixed in Universal format and
``spec.``-prefixed in Kubernetes format. All problems of a document are reported, in rule-table order (the report
sorts by line; insertion order breaks ties on one line)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from kumahc.diagnostics import Report
from kumahc.durations import parse_duration
from kumahc.payload import payload_problem
from kumahc.policies.core.checks import has_nul_crlf
from kumahc.policies.core.connection import POSITIVE, SelectorChecker
from kumahc.resources.model import Resource

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def validate(res: Resource, report: Report) -> bool:
    """Check one structurally valid HealthCheck, adding its errors to ``report``. True when there is none."""
    v = _Checker(res, report)
    f = res.fields()
    v.sources(f.get("sources"))
    v.destinations(f.get("destinations"))
    v.conf(f.get("conf"))
    return not v.failed


class _Checker(SelectorChecker):
    """The engine's selector rules plus HealthCheck's ``conf`` rules."""

    # --- conf ------------------------------------------------------------------------------------------------------

    def conf(self, conf: Mapping[str, Any] | None) -> None:
        if conf is None:
            self.error(("conf",), "has to be defined")
            return
        for f in ("interval", "timeout"):
            # No default (03 §1); Kuma checks only == 0, kumahc also rejects negative values (README #4).
            if conf.get(f) is None or parse_duration(conf[f]) <= 0:
                self.error(("conf", f), POSITIVE)
        for f in ("unhealthyThreshold", "healthyThreshold"):
            if conf.get(f) is None or conf[f] <= 0:
                self.error(("conf", f), POSITIVE)
        for f in ("initialJitter", "intervalJitter", "noTrafficInterval"):
            if conf.get(f) is not None and parse_duration(conf[f]) <= 0:
                self.error(("conf", f), POSITIVE)
        # 03 §1 (types): a uint32 in Kuma's API, so a negative value has no meaning.
        if conf.get("intervalJitterPercent") is not None and conf["intervalJitterPercent"] < 0:
            self.error(("conf", "intervalJitterPercent"), "must not be negative")
        hpt = conf.get("healthyPanicThreshold")
        if hpt is not None and not 0 <= hpt <= 100:  # NaN fails too
            self.error(("conf", "healthyPanicThreshold"), "must be in range [0.0 - 100.0]")
        http = conf.get("http")
        if http is not None:
            self.http(http)
        if http is not None and conf.get("tcp") is not None:
            self.error(("conf",), "http and tcp cannot be defined at the same time")
        self.kumahc_rules(conf)

    def http(self, http: Mapping[str, Any]) -> None:
        H = ("conf", "http")
        if not http.get("path"):
            self.error((*H, "path"), "has to be defined and cannot be empty")
        for k, status in enumerate(http.get("expectedStatuses") or ()):
            if not 100 <= status < 600:
                self.error((*H, "expectedStatuses", k), "must be in range [100, 600)")
        for k, item in enumerate(http.get("requestHeadersToAdd") or ()):
            hp = (*H, "requestHeadersToAdd", k, "header")
            header = item.get("header")
            if header is None:
                self.error(hp, "has to be defined")
            elif not header.get("key"):
                self.error((*hp, "key"), "cannot be empty")

    def kumahc_rules(self, conf: Mapping[str, Any]) -> None:
        """(kumahc) the last row of 03 §2: what Envoy would reject, worded as 02 §3.2."""
        http = conf.get("http")
        if http is not None:
            H = ("conf", "http")
            if http.get("path") and _CONTROL.search(http["path"]):
                self.error((*H, "path"), "must not contain control characters")
            for k, item in enumerate(http.get("requestHeadersToAdd") or ()):
                header = item.get("header") or {}
                hp = (*H, "requestHeadersToAdd", k, "header")
                key = header.get("key") or ""
                if key.lower() == "host":
                    self.error((*hp, "key"), 'must not be "host"')
                elif key.startswith(":"):
                    self.error((*hp, "key"), 'must not start with ":"')
                elif has_nul_crlf(key):
                    # Not in 03 §2: Envoy rejects such a key too (HeaderValue.key), so it must not reach the output.
                    self.error((*hp, "key"), "must not contain NUL, CR or LF")
                if has_nul_crlf(header.get("value") or ""):
                    self.error((*hp, "value"), "must not contain NUL, CR or LF")
        tcp = conf.get("tcp")
        if tcp is not None:
            if tcp.get("send") is not None:
                self.payload(tcp["send"], ("conf", "tcp", "send"))
            for k, item in enumerate(tcp.get("receive") or ()):
                self.payload(item, ("conf", "tcp", "receive", k))

    def payload(self, text: str, path: tuple) -> None:
        problem = payload_problem(text)
        if problem:
            self.error(path, problem)
