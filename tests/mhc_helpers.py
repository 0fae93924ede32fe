"""Inputs and expected output of MeshHealthCheck renders, shared by the MeshHealthCheck render tests
(tests/policies/meshhealthcheck/) and the mesh view tests (tests/mesh/), which see destinations, endpoints and
protocols through the clusters and health checks a MeshHealthCheck gives them."""

from __future__ import annotations

from typing import Any

from helpers import Workspace

CLUSTER = "type.googleapis.com/envoy.config.cluster.v3.Cluster"
HTTP2_OPTIONS = {"envoy.extensions.upstreams.http.v3.HttpProtocolOptions": {
    "@type": "type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions",
    "explicit_http_config": {"http2_protocol_options": {}}}}
WEB_TAGS = {"header": {"key": "x-kuma-tags", "value": "&kuma.io/protocol=http&&kuma.io/service=web&"}}
UNKNOWN = "warning: destination default/backend: protocol unknown; MeshHealthCheck adds no health check"


def preview_note(*proxies: str) -> str:
    return "info: preview mode: no Dataplane in the inputs; synthesised proxies: " + ", ".join(proxies)


def cluster(name: str, endpoints: tuple[tuple[str, int], ...] = (), hc: dict | None = None, http2: bool = False,
            lb: dict | None = None) -> dict[str, Any]:
    """The expected Cluster JSON of 05 §1."""
    c: dict[str, Any] = {"@type": CLUSTER, "name": name, "type": "STATIC", "connect_timeout": "5s"}
    if hc is not None:
        c["health_checks"] = [hc]
    if lb is not None:
        c["common_lb_config"] = lb
    if endpoints:
        c["load_assignment"] = {"cluster_name": name, "endpoints": [{"lb_endpoints": [
            {"endpoint": {"address": {"socket_address": {"address": a, "port_value": p}}}} for a, p in endpoints]}]}
    if http2:
        c["typed_extension_protocol_options"] = HTTP2_OPTIONS
    return c


def hc(checker: dict, **fields: Any) -> dict[str, Any]:
    """A health check with the 02 §2 defaults unless overridden."""
    return {"timeout": "15s", "interval": "60s", "unhealthy_threshold": 5, "healthy_threshold": 1, **fields, **checker}


def http_check(path: str = "/", headers: list | None = None, **extra: Any) -> dict:
    return {"http_health_check": {"path": path, "request_headers_to_add": headers or [WEB_TAGS], **extra}}


def clusters(doc: dict, proxy: str, mesh: str = "default") -> dict[str, dict]:
    """The clusters of one proxy by name (asserting they are sorted by name)."""
    for p in doc["proxies"]:
        if (p["mesh"], p["name"]) == (mesh, proxy):
            names = [c["name"] for c in p["clusters"]]
            assert names == sorted(names)
            return {c["name"]: c for c in p["clusters"]}
    raise AssertionError(f"no proxy {mesh}/{proxy} in {[(p['mesh'], p['name']) for p in doc['proxies']]}")


def policy(name: str, top: str | None = None, to: str = "{kind: MeshService, name: backend}",
           default: str | None = None, head: str = "") -> str:
    """A Universal MeshHealthCheck in flow style; the default conf sets ``http.path`` to ``/<name>``."""
    default = default or f"{{http: {{path: /{name}}}}}"
    lines = ["type: MeshHealthCheck", f"name: {name}", *([head] if head else []), "spec:"]
    if top is not None:
        lines.append(f"  targetRef: {top}")
    lines.append(f"  to: [{{targetRef: {to}, default: {default}}}]")
    return "\n".join(lines) + "\n"


def render(ws: Workspace, *args: str) -> tuple[dict, list[str]]:
    r = ws.ok("render", *args)
    return r.json, r.lines


def names(doc: dict) -> list[str]:
    return [f"{p['mesh']}/{p['name']}" for p in doc["proxies"]]
