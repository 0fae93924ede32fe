"""MeshHealthCheck semantic validation: every rule, path and message of spec 02 §3 (Kuma's wording; kumahc's own
rules are marked (kumahc) in the spec). All problems of a document are reported, in rule-table order."""

from __future__ import annotations

import re
from typing import Any

from kumahc.diagnostics import Report
from kumahc.durations import parse_duration
from kumahc.payload import payload_problem
from kumahc.resources.checker import DocumentChecker
from kumahc.resources.model import Resource
from kumahc.resources.tags import selector_problems, tag_problems

TOP_KINDS = ("Mesh", "MeshSubset", "MeshGateway", "MeshService", "MeshServiceSubset", "Dataplane")
TO_KINDS = ("Mesh", "MeshService", "MeshExternalService", "MeshMultiZoneService")

_RESOURCE_NAME = re.compile(r"^[0-9a-z.\-_]*$")
_NUMBER = re.compile(r"^[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)$")
_TOKEN = re.compile(r"^[A-Za-z0-9!#$%&'*+\-.^_`|~]{1,256}$")
_PATH_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def validate(res: Resource, report: Report, preview: bool) -> bool:
    """Check one structurally valid MeshHealthCheck; add errors and validation-time warnings (02 §3.3) to
    ``report``. ``preview`` = no Dataplane in the inputs (``_port`` is used then, ignored with a warning
    otherwise). Returns True when there is no error."""
    v = _Validator(res, report)
    spec = res.fields()
    v.target_ref(spec.get("targetRef"), ("spec", "targetRef"), top=True)
    to = spec.get("to")
    if not to:
        res.src.warning(report, ("spec", "to"), "no entries; the policy has no effect")
    for i, item in enumerate(to or ()):
        path = ("spec", "to", i)
        v.target_ref(item.get("targetRef"), (*path, "targetRef"), top=False, preview=preview)
        v.conf(item.get("default"), (*path, "default"))
    if res.labels.get("kuma.io/effect") == "shadow":
        # A note on the whole document (no PATH): its root line; the subject already reads "MeshHealthCheck NAME".
        res.src.info(report, (), "shadow policy (kuma.io/effect: shadow); not applied")
    return not v.failed


class _Validator(DocumentChecker):
    def __init__(self, res: Resource, report: Report):
        super().__init__(res, report)
        self.comma_headers: set[str] = set()

    # --- 02 §3.1 -------------------------------------------------------------------------------------------------

    def target_ref(self, ref: dict[str, Any] | None, p: tuple, top: bool, preview: bool = False) -> None:
        if ref is None and top:
            return  # absent top-level targetRef = Mesh
        ref = ref or {}
        kind = ref.get("kind")
        if not kind:
            self.error((*p, "kind"), "must be defined")
            return
        allowed = TOP_KINDS if top else TO_KINDS
        if kind not in allowed:
            self.error((*p, "kind"), f"value '{kind}' is not supported (allowed: {', '.join(allowed)})")
            return
        has = lambda f: f in ref  # noqa: E731

        def forbid(*fields: str) -> None:
            for f in fields:
                if has(f):
                    self.error((*p, f), f"must not be set with kind {kind}")

        for k, pt in enumerate(ref.get("proxyTypes") or ()):
            if pt not in ("Sidecar", "Gateway"):
                self.error((*p, "proxyTypes", k), "must be one of: Sidecar, Gateway")
        if kind == "Mesh":
            if has("name"):
                self.error((*p, "name"), "using name with kind Mesh is not yet supported")
            forbid("mesh", "tags", "labels", "namespace", "sectionName")
        if kind in ("Mesh", "MeshSubset") and ref.get("proxyTypes") == []:
            self.error((*p, "proxyTypes"), "must be undefined or have at least one element")
        if kind == "Dataplane":
            forbid("tags", "mesh", "proxyTypes")
        if kind in ("Dataplane", "MeshService") and has("labels") and (has("name") or has("namespace")):
            self.error((*p, "labels"), "either labels or name and namespace must be specified")
        if kind == "Dataplane" and has("sectionName"):
            self.error((*p, "sectionName"), "can only be used with inbound policies")
        if kind == "MeshSubset":
            forbid("name", "mesh", "labels", "namespace", "sectionName")
            for key, message in tag_problems(ref.get("tags") or {}, require_service=False):
                self.error((*p, "tags") if key is None else (*p, "tags", key), message)
        if kind in ("MeshService", "MeshServiceSubset", "MeshGateway", "MeshExternalService") and has("name") \
                and not _RESOURCE_NAME.match(ref["name"]):
            self.error((*p, "name"), "invalid characters: must consist of lower case alphanumeric characters, "
                                     "'-', '.' and '_'.")
        if kind in ("MeshService", "MeshExternalService"):
            forbid("mesh", "tags", "proxyTypes")
        if not top and kind in ("MeshService", "MeshExternalService") and not has("name") and not has("labels"):
            self.error(p, f"name or labels must be set when kind is {kind}")
        if kind == "MeshExternalService":
            if has("labels") and has("name"):
                self.error((*p, "labels"), "either labels or name must be specified")
            forbid("sectionName")
        if (kind in ("MeshServiceSubset", "MeshGateway") or (top and kind == "MeshService")) and not has("name"):
            self.error((*p, "name"), f"must be set when kind is {kind}")
        if kind in ("MeshServiceSubset", "MeshGateway"):
            forbid("mesh", "proxyTypes", "labels", "namespace", "sectionName")
            for key, message in selector_problems(ref.get("tags") or {}):
                self.error((*p, "tags") if key is None else (*p, "tags", key), message)
        if has("_port"):
            if kind != "MeshService":
                self.error((*p, "_port"), f"must not be set with kind {kind}")
            elif not 1 <= ref["_port"] <= 65535:
                self.error((*p, "_port"), "port must be in the range [1, 65535]")
            elif not preview:
                self.warning((*p, "_port"), "documentation-only field; ignored")
        # 02 §3.3 warnings about kinds
        if top and kind in ("MeshSubset", "MeshService", "MeshServiceSubset"):
            self.warning((*p, "kind"), f"{kind} value for 'targetRef.kind' is deprecated, use Dataplane with "
                                       "labels instead")
        if top and kind == "MeshGateway":
            self.warning((*p, "kind"), "MeshGateway is not supported yet; the policy matches no proxy")
        if not top and kind in ("MeshExternalService", "MeshMultiZoneService"):
            self.warning((*p, "kind"), f"{kind} is not supported yet; the entry matches no destination")

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
            if isinstance(hpt, str) and not _NUMBER.match(hpt):
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
        if grpc is not None and _has_nul_crlf(grpc.get("authority", "")):
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
                if _has_nul_crlf(h["value"]):
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


def _has_nul_crlf(s: str) -> bool:
    return any(c in s for c in "\x00\r\n")
