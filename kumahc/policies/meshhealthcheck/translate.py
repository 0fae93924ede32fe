"""MeshHealthCheck → Envoy: protocol selection (02 §7) and the mapping of a merged conf (02 §8)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from envoy.config.core.v3 import health_check_pb2
from envoy.type.v3 import http_pb2

from kumahc.envoy import healthcheck as hcb
from kumahc.memo import run_memo
from kumahc.payload import decode_payload

HTTP_PROTOCOLS = ("http", "http2")


def enabled(conf: Mapping[str, Any], block: str) -> bool:
    """The block is present and not ``disabled: true`` (02 §7)."""
    b = conf.get(block)
    return b is not None and not b.get("disabled", False)


def _disabled(conf: Mapping[str, Any], block: str) -> bool:
    b = conf.get(block)
    return b is not None and b.get("disabled", False) is True


def select_checker(conf: Mapping[str, Any], protocol: str) -> tuple[str | None, int]:
    """(checker, rule) per the table of 02 §7: checker ∈ ``http``, ``grpc``, ``tcp`` or None; rule 1–6."""
    if protocol in HTTP_PROTOCOLS and enabled(conf, "http"):
        return "http", 1
    if protocol == "grpc" and enabled(conf, "grpc"):
        return "grpc", 2
    if protocol == "tcp" and enabled(conf, "tcp"):
        return "tcp", 3
    if protocol in HTTP_PROTOCOLS and _disabled(conf, "http") and enabled(conf, "tcp"):
        return "tcp", 4
    if protocol == "grpc" and _disabled(conf, "grpc") and enabled(conf, "tcp"):
        return "tcp", 5
    return None, 6


def kuma_tags_header(tags: Mapping[str, tuple[str, ...]]) -> str:
    """``x-kuma-tags`` value: ``&key=v1,v2&`` per tag key sorted, values sorted (02 §8)."""
    return "".join(f"&{k}={','.join(sorted(v))}&" for k, v in sorted(tags.items()))


def health_check(conf: Mapping[str, Any], protocol: str, source_tags: str,
                 conf_key: str | None = None) -> health_check_pb2.HealthCheck | None:
    """``health_checks[0]`` for a merged conf (defaults filled) on a destination of ``protocol``, probed from a
    proxy whose ``x-kuma-tags`` value is ``source_tags`` (``""`` = no header). None when no checker applies.
    ``conf_key``: ``conf`` as canonical JSON when the caller has it (:attr:`kumahc.policies.core.merge.Merged.key`).
    The result is cached and shared: callers copy it, never mutate it."""
    return _health_check(conf_key or json.dumps(conf, sort_keys=True), protocol, source_tags)


@run_memo  # kept while the inputs use it (kumahc.memo)
def _health_check(conf_json: str, protocol: str, source_tags: str) -> health_check_pb2.HealthCheck | None:
    conf = json.loads(conf_json)
    checker, _ = select_checker(conf, protocol)
    if checker is None:
        return None
    hc = hcb.common(conf)
    if checker == "tcp":
        tcp = conf["tcp"]
        send = decode_payload(tcp["send"]) if "send" in tcp else None
        hc.tcp_health_check.CopyFrom(hcb.tcp(send, [decode_payload(r) for r in tcp.get("receive") or ()]))
    elif checker == "grpc":
        grpc = conf["grpc"]
        check = hc.grpc_health_check
        check.SetInParent()
        if grpc.get("serviceName"):
            check.service_name = grpc["serviceName"]
        if grpc.get("authority"):
            check.authority = grpc["authority"]
    else:
        _http(hc.http_health_check, conf["http"], protocol, source_tags)
    return hc


def _http(check: health_check_pb2.HealthCheck.HttpHealthCheck, http: Mapping[str, Any], protocol: str,
          source_tags: str) -> None:
    check.path = http["path"]
    if source_tags:
        check.request_headers_to_add.append(hcb.header("x-kuma-tags", source_tags, overwrite=False))
    headers = http.get("requestHeadersToAdd") or {}
    for op in ("add", "set"):
        for h in headers.get(op) or ():
            for piece in h["value"].split(","):
                check.request_headers_to_add.append(hcb.header(h["name"], piece, overwrite=op == "set"))
    check.expected_statuses.extend(hcb.status_ranges((s, s + 1) for s in http.get("expectedStatuses") or ()))
    if protocol == "http2":
        check.codec_client_type = http_pb2.HTTP2
