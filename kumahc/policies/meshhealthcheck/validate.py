"""MeshHealthCheck semantic validation: every rule, path and message of spec 02 §3 (Kuma's wording; kumahc's own
rules are marked (kumahc) in the spec). All problems of a document are reported, in rule-table order."""

from __future__ import annotations

import re
from typing import Any

from kumahc.diagnostics import Report
from kumahc.durations import parse_duration
from kumahc.payload import payload_problem
from kumahc.policies.core.checks import TOP, TargetRefChecker, has_nul_crlf, note_shadow, number, to_options
from kumahc.resources.model import Resource

_TOKEN = re.compile(r"^[A-Za-z0-9!#$%&'*+\-.^_`|~]{1,256}$")
_PATH_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def validate(res: Resource, report: Report, preview: bool) -> bool:
    """Check one structurally valid MeshHealthCheck; add errors and validation-time warnings (02 §3.3) to
    ``report``. ``preview`` = no Dataplane in the inputs (``_port`` is used then, ignored with a warning
    otherwise). Returns True when there is no error."""
    v = _Validator(res, report)
    spec = res.fields()
    v.target_ref(spec.get("targetRef"), ("spec", "targetRef"), TOP)
    to = spec.get("to")
    if not to:
        res.src.warning(report, ("spec", "to"), "no entries; the policy has no effect")
    for i, item in enumerate(to or ()):
        path = ("spec", "to", i)
        v.target_ref(item.get("targetRef"), (*path, "targetRef"), to_options(preview))
        v.conf(item.get("default"), (*path, "default"))
    note_shadow(res, report)
    return not v.failed


class _Validator(TargetRefChecker):
    def __init__(self, res: Resource, report: Report):
        super().__init__(res, report)
        self.comma_headers: set[str] = set()

    # --- 02 §3.2 -------------------------------------------------------------------------------------------------

    def conf(self, d: dict[str, Any] | None, D: tuple) -> None:
        d = d or {}
        for f in ("interval", "timeout", "unhealthyThreshold", "healthyThreshold", "initialJitter", "intervalJitter"):
            if f in d and _value(d[f]) <= 0:
                self.error((*D, f), "must be greater than zero when defined")
        if "intervalJitterPercent" in d and not 0 <= d["intervalJitterPercent"] <= 100:
            self.error((*D, "intervalJitterPercent"), "must be in inclusive range [0, 100]")
        if "healthyPanicThreshold" in d:
            hpt = d["healthyPanicThreshold"]
            if isinstance(hpt, str) and number(hpt) is None:
                self.error((*D, "healthyPanicThreshold"), "string must be a valid number")
            elif not 0 <= float(hpt) <= 100:
                self.error((*D, "healthyPanicThreshold"), "must be in inclusive range [0.0, 100.0]")
            else:
                self.warning((*D, "healthyPanicThreshold"),
                             "deprecated in Kuma 2.10 (moved to MeshCircuitBreaker); kumahc still applies it")
        if "noTrafficInterval" in d and _value(d["noTrafficInterval"]) <= 0:
            self.error((*D, "noTrafficInterval"), "must be greater than zero when defined")
        if "eventLogPath" in d and not _valid_log_path(d["eventLogPath"]):
            self.error((*D, "eventLogPath"), "must be a valid path when defined")
        http = d.get("http")
        if http is not None:
            self.http(http, (*D, "http"))
        tcp = d.get("tcp")
        if tcp is not None:
            if "send" in tcp:
                self.payload(tcp["send"], (*D, "tcp", "send"))
            for k, item in enumerate(tcp.get("receive") or ()):
                self.payload(item, (*D, "tcp", "receive", k))
        grpc = d.get("grpc")
        if grpc is not None and has_nul_crlf(grpc.get("authority", "")):
            self.error((*D, "grpc", "authority"), "must not contain NUL, CR or LF")
        if not any(k in d for k in ("http", "tcp", "grpc")):
            self.error(D, "must have at least one defined: http, tcp, grpc")

    def http(self, http: dict[str, Any], H: tuple) -> None:
        if "path" in http:
            if http["path"] == "":
                self.error((*H, "path"), "must be defined")
            elif _PATH_CONTROL.search(http["path"]):
                self.error((*H, "path"), "must not contain control characters")
        for k, status in enumerate(http.get("expectedStatuses") or ()):
            if not 100 <= status <= 599:
                self.error((*H, "expectedStatuses", k), "must be in inclusive range [100, 599]")
        headers = http.get("requestHeadersToAdd") or {}
        for op in ("set", "add"):
            items = headers.get(op) or []
            if len(items) > 16:
                self.error((*H, "requestHeadersToAdd", op), "must have at most 16 elements")
            for k, h in enumerate(items):
                hp = (*H, "requestHeadersToAdd", op, k)
                if not _TOKEN.match(h["name"]):
                    self.error((*hp, "name"), "must be a valid HTTP header name")
                elif h["name"].lower() == "host":
                    self.error((*hp, "name"), 'must not be "host"')
                if has_nul_crlf(h["value"]):
                    self.error((*hp, "value"), "must not contain NUL, CR or LF")
                elif op == "set" and "," in h["value"] and h["name"] not in self.comma_headers:
                    self.comma_headers.add(h["name"])
                    self.warning((*hp, "value"), 'contains ","; split into several values, and with OVERWRITE only '
                                                 "the last reaches the wire")

    def payload(self, text: str, path: tuple) -> None:
        problem = payload_problem(text)
        if problem:
            self.error(path, problem)


def _value(v: Any) -> int:
    return parse_duration(v) if isinstance(v, str) else v


def _valid_log_path(p: str) -> bool:
    return p.startswith("/") or re.match(r"^[A-Za-z]:\\", p) is not None
