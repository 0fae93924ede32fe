"""A seeded generator of ordinary kumahc input files: a Kubernetes-format mesh of S services, D dataplanes spread
over them (K outbounds each) and a mix of health-check policies.

Everything is Kubernetes format (Kong attaches through a core/v1 Service annotation, and Kong is Kubernetes-only).
Layout of the generated directory (``kumahc validate DIR`` / ``kumahc serve DIR`` take it as it is)::

    mesh/services.yaml                    core/v1 Services (+ a Kubernetes MeshService for every 4th Kuma service)
    mesh/dataplanes/<namespace>.yaml      the Dataplanes of one namespace
    policies/meshhealthchecks/<n>.yaml    one MeshHealthCheck per file (namespace kuma-system)
    policies/healthchecks.yaml            legacy HealthChecks (cluster-scoped)
    policies/kong.yaml                    KongUpstreamPolicies (next to the Services that reference them)
    .bench.json                           manifest: size, seed, counts, the edit targets (dot file: kumahc skips it)

Services play one of three roles so that the policy kinds do not fight over a cluster (no precedence warnings):
*kong* services (HTTP) carry a KongUpstreamPolicy, *legacy* services (HTTP) are the destinations of the legacy
HealthChecks, every other service is a *kuma* service (http / http2 / grpc / tcp) for the MeshHealthChecks.
MeshHealthChecks are Mesh-wide (``to: Mesh`` with ``tcp`` and ``grpc`` blocks only, so HTTP destinations of Kong
and legacy services get no MeshHealthCheck checker), per-service (``to: MeshService`` of a Kuma service) or
per-Dataplane-label (``targetRef: Dataplane labels {app: X}`` to some of X's Kuma outbounds).

The same (size, seed) always gives the same bytes.
"""

from __future__ import annotations

import base64
import json
import os
import random
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any, TypeVar

import yaml

T = TypeVar("T")

MANIFEST = ".bench.json"
MESH = "default"
POLICY_NAMESPACE = "kuma-system"

# protocol → (port, port name / inbound name, Service appProtocol, kuma.io/protocol tag, inbound port)
PROTOCOLS: dict[str, tuple[int, str, str, str, int]] = {
    "http": (80, "http", "http", "http", 8080),
    "http2": (8080, "h2c", "kubernetes.io/h2c", "http2", 8081),
    "grpc": (9000, "grpc", "grpc", "grpc", 9090),
    "tcp": (6379, "tcp", "tcp", "tcp", 6379),
}
KUMA_PROTOCOL_WEIGHTS = (("http", 50), ("http2", 10), ("grpc", 15), ("tcp", 25))
INTERVALS = ("5s", "10s", "15s", "20s", "30s")


@dataclass(frozen=True)
class Size:
    """``services`` S, ``dataplanes`` D (round-robin over the services), ``outbounds`` K per dataplane (the same K
    outbounds for every replica of a service), ``mhc`` P MeshHealthChecks, ``healthchecks`` legacy HealthChecks
    (one legacy service each), ``kong`` KongUpstreamPolicies (one Kong service each), ``namespaces``.
    ``loopback``: every dataplane on 127.0.0.1 with its own inbound port (for benchmarks where Envoy probes the
    endpoints). ``client_outbounds``: add one extra Dataplane ``client`` (namespace ``bench``) with that many
    outbounds (the first services by index). ``mesh_wide_http``: the first Mesh-wide MeshHealthCheck also has an
    ``http`` block (only for meshes without Kong and legacy services, where it competes with nothing)."""

    name: str
    services: int
    dataplanes: int
    outbounds: int
    mhc: int
    healthchecks: int
    kong: int
    namespaces: int
    loopback: bool = False
    client_outbounds: int = 0
    mesh_wide_http: bool = False
    gateways: int = 0


SIZES: dict[str, Size] = {
    "small": Size("small", services=10, dataplanes=50, outbounds=5, mhc=10, healthchecks=2, kong=2, namespaces=2),
    "medium": Size("medium", services=200, dataplanes=2_000, outbounds=20, mhc=100, healthchecks=10, kong=10,
                   namespaces=10),
    "large": Size("large", services=1_000, dataplanes=10_000, outbounds=50, mhc=500, healthchecks=50, kong=50,
                  namespaces=20),
    # issue 21's store target: 4 replicas × 2,500 clients; large × 5 in every count
    "xlarge": Size("xlarge", services=5_000, dataplanes=50_000, outbounds=50, mhc=2_500, healthchecks=250,
                   kong=250, namespaces=100),
}


def envoy_size(clusters: int = 1000) -> Size:
    """One proxy (``client.bench``) with ``clusters`` outbound destinations, one backend replica per service, all on
    127.0.0.1; only MeshHealthChecks (no Kong, no legacy) so every cluster's health check comes from them."""
    return Size(f"envoy-{clusters}", services=clusters, dataplanes=clusters, outbounds=0, mhc=max(2, clusters // 20),
                healthchecks=0, kong=0, namespaces=4, loopback=True, client_outbounds=clusters, mesh_wide_http=True)


@dataclass(frozen=True)
class Service:
    index: int
    name: str
    namespace: str
    role: str  # kuma | kong | legacy
    protocol: str
    mesh_service: bool

    @property
    def port(self) -> int:
        return PROTOCOLS[self.protocol][0]

    @property
    def port_name(self) -> str:
        return PROTOCOLS[self.protocol][1]

    @property
    def destination(self) -> str:
        """The cluster name (spec 01 §6): ``<name>_<namespace>_svc_<port>``."""
        return f"{self.name}_{self.namespace}_svc_{self.port}"


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


class _Dumper(yaml.CSafeDumper if hasattr(yaml, "CSafeDumper") else yaml.SafeDumper):  # type: ignore[misc]
    pass


def _dump_all(docs: list[dict[str, Any]]) -> str:
    return yaml.dump_all(docs, Dumper=_Dumper, sort_keys=False, default_flow_style=False, width=1000)


def _address(j: int, size: Size) -> tuple[str, int | None]:
    """Dataplane ``j``: (address, inbound port override). Loopback meshes give every dataplane its own port."""
    if size.loopback:
        return "127.0.0.1", 20000 + j
    n = j + 1
    return f"10.{n >> 16 & 255}.{n >> 8 & 255}.{n & 255}", None


class _Mesh:
    """The generated model (before it is written)."""

    def __init__(self, size: Size, seed: int):
        if size.services < 1 or size.dataplanes < 1:
            raise ValueError("a mesh needs at least one service and one dataplane")
        if size.kong + size.healthchecks > size.services:
            raise ValueError("more Kong and legacy services than services")
        self.size = size
        self.seed = seed
        rng = random.Random(seed)
        self.rng = rng
        namespaces = [f"ns-{i:02d}" for i in range(size.namespaces)]
        roles = ["kong"] * size.kong + ["legacy"] * size.healthchecks
        roles += ["kuma"] * (size.services - len(roles))
        rng.shuffle(roles)
        protocols, weights = zip(*KUMA_PROTOCOL_WEIGHTS, strict=True)
        self.services: list[Service] = []
        kuma_seen = 0
        for i, role in enumerate(roles):
            proto = rng.choices(protocols, weights)[0] if role == "kuma" else "http"
            mesh_service = role == "kuma" and kuma_seen % 4 == 3
            kuma_seen += role == "kuma"
            self.services.append(Service(i, f"svc-{i:04d}", namespaces[i % len(namespaces)], role, proto,
                                         mesh_service))
        # The same K outbounds for every replica of a service (pods of one deployment).
        self.outbounds: dict[int, list[int]] = {}
        for s in self.services:
            others = [o.index for o in self.services if o.index != s.index]
            self.outbounds[s.index] = rng.sample(others, min(size.outbounds, len(others)))
        self.replicas: dict[int, list[int]] = {s.index: [] for s in self.services}
        for j in range(size.dataplanes):
            self.replicas[j % size.services].append(j)
        # Which services are some dataplane's destination (a policy about any other would "match no destination").
        self.reached: set[int] = {o for s, outs in self.outbounds.items() if self.replicas[s] for o in outs}
        if size.client_outbounds:
            self.reached |= {s.index for s in self.services[:size.client_outbounds]}

    # --- resources -------------------------------------------------------------------------------------------------

    def service_docs(self) -> list[dict[str, Any]]:
        docs = []
        for s in self.services:
            port, port_name, app_protocol, _, _ = PROTOCOLS[s.protocol]
            meta: dict[str, Any] = {"name": s.name, "namespace": s.namespace, "labels": {"app": s.name}}
            if s.role == "kong":
                meta["annotations"] = {"konghq.com/upstream-policy": f"{s.name}-hc"}
            docs.append({"apiVersion": "v1", "kind": "Service", "metadata": meta, "spec": {
                "selector": {"app": s.name},
                "ports": [{"name": port_name, "port": port, "targetPort": port_name, "appProtocol": app_protocol}]}})
            if s.mesh_service:
                docs.append({"apiVersion": "kuma.io/v1alpha1", "kind": "MeshService", "metadata": {
                    "name": s.name, "namespace": s.namespace, "labels": {"kuma.io/mesh": MESH, "app": s.name}},
                    "spec": {"selector": {"dataplaneTags": {"app": s.name, "k8s.kuma.io/namespace": s.namespace}},
                             "ports": [{"port": port, "targetPort": port_name, "name": port_name,
                                        "appProtocol": app_protocol}]}})
        return docs

    def gateway_docs(self) -> tuple[list[dict[str, Any]], list[str]]:
        """``size.gateways`` builtin gateways (namespace ``gateways``): per gateway a Dataplane, a MeshGateway with
        an HTTP and a TCP listener, a MeshHTTPRoute to 4 HTTP services and a MeshTCPRoute to 2 TCP ones (reached
        services, every replica's port), and one MeshHealthCheck targeting the MeshGateway. Returns (documents,
        proxy node ids)."""
        http = [s for s in self.services if s.role == "kuma" and s.protocol == "http" and s.index in self.reached]
        tcp = [s for s in self.services if s.role == "kuma" and s.protocol == "tcp" and s.index in self.reached]
        docs: list[dict[str, Any]] = []
        proxies = []

        def backend(s: Service) -> dict[str, Any]:
            if s.mesh_service:
                return {"kind": "MeshService", "name": s.name, "namespace": s.namespace, "port": s.port}
            return {"kind": "MeshService", "name": s.destination}

        meta = {"labels": {"kuma.io/mesh": MESH}}
        for g in range(self.size.gateways):
            name = f"gw-{g:02d}"
            service = f"{name}_gateways_svc_80"
            address, _ = _address(self.size.dataplanes + 1 + g, self.size)
            docs.append({"apiVersion": "kuma.io/v1alpha1", "kind": "Dataplane", "mesh": MESH,
                         "metadata": {"name": f"{name}-0", "namespace": "gateways"},
                         "spec": {"networking": {"address": address, "gateway": {
                             "type": "BUILTIN", "tags": {"kuma.io/service": service}}}}})
            proxies.append(f"{MESH}.{name}-0.gateways")
            docs.append({"apiVersion": "kuma.io/v1alpha1", "kind": "MeshGateway", "mesh": MESH,
                         "metadata": {"name": name}, "spec": {
                             "selectors": [{"match": {"kuma.io/service": service}}],
                             "conf": {"listeners": [{"port": 80, "protocol": "HTTP", "tags": {"listener": "http"}},
                                                    {"port": 5432, "protocol": "TCP", "tags": {"listener": "tcp"}}]}}})
            picks = [(http, "MeshHTTPRoute", 4), (tcp, "MeshTCPRoute", 2)]
            for pool, kind, n in picks:
                if not pool:
                    continue
                chosen = [pool[(g * n + k) % len(pool)] for k in range(min(n, len(pool)))]
                rule: dict[str, Any] = {"default": {"backendRefs": [backend(s) for s in chosen]}}
                if kind == "MeshHTTPRoute":
                    rule["matches"] = [{"path": {"type": "PathPrefix", "value": "/"}}]
                docs.append({"apiVersion": "kuma.io/v1alpha1", "kind": kind,
                             "metadata": {"name": f"{name}-{kind.lower()}", "namespace": "kuma-system", **meta},
                             "spec": {"targetRef": {"kind": "MeshGateway", "name": name},
                                      "to": [{"targetRef": {"kind": "Mesh"}, "rules": [rule]}]}})
            docs.append({"apiVersion": "kuma.io/v1alpha1", "kind": "MeshHealthCheck",
                         "metadata": {"name": f"{name}-checks", "namespace": "kuma-system", **meta},
                         "spec": {"targetRef": {"kind": "MeshGateway", "name": name}, "to": [
                             {"targetRef": {"kind": "Mesh"}, "default": {
                                 "interval": "5s", "timeout": "2s", "unhealthyThreshold": 2, "healthyThreshold": 1,
                                 "http": {"path": "/healthz"}, "tcp": {}}}]}})
        return docs, proxies

    def _outbound(self, target: Service) -> dict[str, Any]:
        if target.mesh_service:
            return {"backendRef": {"kind": "MeshService", "name": target.name, "namespace": target.namespace,
                                   "port": target.port}}
        return {"tags": {"kuma.io/service": target.destination}}

    def dataplane_docs(self) -> dict[str, list[dict[str, Any]]]:
        """Namespace → Dataplanes."""
        by_ns: dict[str, list[dict[str, Any]]] = {}
        for j in range(self.size.dataplanes):
            s = self.services[j % self.size.services]
            replica = j // self.size.services
            version = "v2" if replica % 4 == 3 else "v1"
            _, port_name, _, proto_tag, inbound_port = PROTOCOLS[s.protocol]
            address, port_override = _address(j, self.size)
            tags = {"kuma.io/service": s.destination, "kuma.io/protocol": proto_tag, "app": s.name,
                    "version": version, "k8s.kuma.io/namespace": s.namespace}
            doc = {"apiVersion": "kuma.io/v1alpha1", "kind": "Dataplane", "mesh": MESH, "metadata": {
                "name": f"{s.name}-{replica:05d}", "namespace": s.namespace,
                "labels": {"app": s.name, "version": version}},
                "spec": {"networking": {"address": address, "inbound": [
                    {"port": port_override or inbound_port, "name": port_name, "tags": tags}],
                    "outbound": [self._outbound(self.services[o]) for o in self.outbounds[s.index]]}}}
            by_ns.setdefault(s.namespace, []).append(doc)
        if self.size.client_outbounds:
            outs = [self._outbound(t) for t in self.services[:self.size.client_outbounds]]
            address, port = _address(self.size.dataplanes, self.size)
            by_ns.setdefault("bench", []).append({
                "apiVersion": "kuma.io/v1alpha1", "kind": "Dataplane", "mesh": MESH,
                "metadata": {"name": "client", "namespace": "bench", "labels": {"app": "client"}},
                "spec": {"networking": {"address": address, "inbound": [
                    {"port": port or 8080, "name": "http",
                     "tags": {"kuma.io/service": "client_bench_svc_80", "kuma.io/protocol": "http", "app": "client",
                              "k8s.kuma.io/namespace": "bench"}}],
                    "outbound": outs}}})
        return by_ns

    # --- policies --------------------------------------------------------------------------------------------------

    def _conf(self, protocol: str, panic: bool = False) -> dict[str, Any]:
        """A ``default`` for a destination of ``protocol`` (always with ``interval``: the edits change it)."""
        rng = self.rng
        conf: dict[str, Any] = {"interval": rng.choice(INTERVALS), "timeout": rng.choice(("1s", "2s", "3s")),
                                "unhealthyThreshold": rng.randint(2, 5), "healthyThreshold": rng.randint(1, 2)}
        if rng.random() < 0.3:
            conf["intervalJitter"] = "1s"
        if rng.random() < 0.2:
            conf["noTrafficInterval"] = "30s"
        if panic:
            conf["failTrafficOnPanic"] = True
        if protocol in ("http", "http2"):
            http: dict[str, Any] = {"path": rng.choice(("/health", "/healthz", "/ready"))}
            if rng.random() < 0.5:
                http["expectedStatuses"] = [200] if rng.random() < 0.7 else [200, 204]
            if rng.random() < 0.3:
                http["requestHeadersToAdd"] = {"add": [{"name": "x-bench", "value": "1"}]}
            conf["http"] = http
        elif protocol == "grpc":
            conf["grpc"] = {} if rng.random() < 0.5 else {"serviceName": "health"}
        else:
            conf["tcp"] = {} if rng.random() < 0.5 else {"send": _b64("PING\r\n"), "receive": [_b64("+PONG")]}
        return conf

    @staticmethod
    def _mhc(name: str, spec: dict[str, Any]) -> dict[str, Any]:
        return {"apiVersion": "kuma.io/v1alpha1", "kind": "MeshHealthCheck", "metadata": {
            "name": name, "namespace": POLICY_NAMESPACE, "labels": {"kuma.io/mesh": MESH}}, "spec": spec}

    @staticmethod
    def _to_service(s: Service, conf: dict[str, Any], section: bool = False) -> dict[str, Any]:
        ref: dict[str, Any] = {"kind": "MeshService", "name": s.name, "namespace": s.namespace}
        if section:
            ref["sectionName"] = s.port_name
        return {"targetRef": ref, "default": conf}

    def mhc_docs(self) -> list[tuple[str, dict[str, Any]]]:
        """(kind of policy: mesh | service | label, document)."""
        size, rng = self.size, self.rng
        p = size.mhc
        n_mesh = min(p, max(1, p // 50))
        n_service = (p - n_mesh) // 2
        n_label = p - n_mesh - n_service
        out: list[tuple[str, dict[str, Any]]] = []
        for i in range(n_mesh):
            conf: dict[str, Any] = {"interval": "10s", "timeout": "2s", "unhealthyThreshold": 3,
                                    "healthyThreshold": 1, "tcp": {}, "grpc": {}}
            if size.mesh_wide_http:
                conf["http"] = {"path": "/health"}
            if i:  # more Mesh-wide policies each set something else
                conf = {"interval": INTERVALS[i % len(INTERVALS)], "noTrafficInterval": "30s", "tcp": {}}
            out.append(("mesh", self._mhc(f"mesh-{i:03d}", {"targetRef": {"kind": "Mesh"},
                                                           "to": [{"targetRef": {"kind": "Mesh"}, "default": conf}]})))
        kuma = [s for s in self.services if s.role == "kuma" and s.index in self.reached]
        if kuma:
            picks = rng.sample(kuma, min(n_service, len(kuma)))
            while len(picks) < n_service:  # more per-service policies than services: several per service
                picks.append(rng.choice(kuma))
            for i, s in enumerate(picks):
                out.append(("service", self._mhc(f"svc-{i:04d}-{s.name}", {"targetRef": {"kind": "Mesh"}, "to": [
                    self._to_service(s, self._conf(s.protocol, panic=rng.random() < 0.1),
                                     section=rng.random() < 0.3)]})))
        else:
            n_label += n_service
        with_replicas = [s for s in self.services if self.replicas[s.index]]
        for i in range(n_label):
            src = rng.choice(with_replicas)
            labels = {"app": src.name}
            if rng.random() < 0.25 and len(self.replicas[src.index]) >= 4:
                labels["version"] = "v2"
            targets = [self.services[o] for o in self.outbounds[src.index]]
            targets = [t for t in targets if t.role == "kuma"]
            if targets:
                chosen = rng.sample(targets, min(len(targets), rng.randint(1, 3)))
                to = [self._to_service(t, self._conf(t.protocol)) for t in chosen]
            else:
                to = [{"targetRef": {"kind": "Mesh"}, "default": self._conf("tcp")}]
            out.append(("label", self._mhc(f"dp-{i:04d}-{src.name}", {
                "targetRef": {"kind": "Dataplane", "labels": labels}, "to": to})))
        return out

    def healthcheck_docs(self) -> list[dict[str, Any]]:
        rng = self.rng
        legacy = [s for s in self.services if s.role == "legacy"]
        docs = []
        for i, s in enumerate(legacy):
            sources: list[dict[str, Any]] = [{"match": {"kuma.io/service": "*"}}]
            callers = [self.services[c] for c, outs in self.outbounds.items() if s.index in outs and self.replicas[c]]
            if i % 2 and callers:
                sources = [{"match": {"kuma.io/service": c.destination}} for c in callers[:3]]
            conf: dict[str, Any] = {"interval": rng.choice(INTERVALS), "timeout": "2s", "unhealthyThreshold": 3,
                                    "healthyThreshold": 2}
            if i % 3 == 0:
                conf["tcp"] = {"send": _b64("ping"), "receive": [_b64("pong")]}
            else:
                conf["http"] = {"path": "/healthz", "expectedStatuses": [200],
                                "requestHeadersToAdd": [{"append": False, "header": {"key": "x-hc", "value": "1"}}]}
            docs.append({"apiVersion": "kuma.io/v1alpha1", "kind": "HealthCheck", "mesh": MESH,
                         "metadata": {"name": f"hc-{i:04d}-{s.name}"},
                         "spec": {"sources": sources,
                                  "destinations": [{"match": {"kuma.io/service": s.destination}}], "conf": conf}})
        return docs

    def kong_docs(self) -> list[dict[str, Any]]:
        docs = []
        for i, s in enumerate(x for x in self.services if x.role == "kong"):
            hc: dict[str, Any] = {
                "threshold": (0, 25, 50)[i % 3],
                "active": {"type": "http", "httpPath": "/status", "timeout": 2,
                           "healthy": {"interval": 5, "successes": 2},
                           "unhealthy": {"interval": 10, "httpFailures": 3, "tcpFailures": 3, "timeouts": 3}}}
            if i % 2:
                # tcpFailures only: passive timeouts would draw warning K21 (Kong counts 504s as timeouts); the
                # rendered outlier detection is the same (local-origin threshold 3).
                hc["passive"] = {"healthy": {"successes": 5}, "unhealthy": {"tcpFailures": 3}}
            docs.append({"apiVersion": "configuration.konghq.com/v1beta1", "kind": "KongUpstreamPolicy",
                         "metadata": {"name": f"{s.name}-hc", "namespace": s.namespace},
                         "spec": {"healthchecks": hc}})
        return docs


@dataclass(frozen=True)
class Edit:
    """A one-value edit of a MeshHealthCheck file: ``spec.to[entry].default.interval`` ``old`` → ``new``."""

    path: str  # relative to the generated directory
    entry: int
    old: str
    new: str


@dataclass(frozen=True)
class Manifest:
    size: Size
    seed: int
    files: int
    counts: dict[str, int]
    proxies: list[str]  # node ids (<mesh>.<name>.<namespace>), in generation order
    edit_one: Edit  # a per-service policy: changes the proxies that reach that service
    edit_mesh: Edit  # the first Mesh-wide policy: changes every proxy with a tcp or grpc destination

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=1, sort_keys=True) + "\n"

    @staticmethod
    def read(directory: str | os.PathLike[str]) -> Manifest:
        raw = json.loads((Path(directory) / MANIFEST).read_text(encoding="utf-8"))
        return Manifest(Size(**raw["size"]), raw["seed"], raw["files"], raw["counts"], raw["proxies"],
                        Edit(**raw["edit_one"]), Edit(**raw["edit_mesh"]))


def _other_interval(old: str) -> str:
    return "11s" if old != "11s" else "12s"


def generate(directory: str | os.PathLike[str], size: Size | str, seed: int = 1) -> Manifest:
    """Write the inputs of ``size`` into ``directory`` (created; must not hold an earlier mesh's files)."""
    if isinstance(size, str):
        size = SIZES[size]
    root = Path(directory)
    mesh = _Mesh(size, seed)
    files: dict[str, str] = {"mesh/services.yaml": _dump_all(mesh.service_docs())}
    proxies = []
    for ns, docs in sorted(mesh.dataplane_docs().items()):
        files[f"mesh/dataplanes/{ns}.yaml"] = _dump_all(docs)
        proxies += [f"{MESH}.{d['metadata']['name']}.{d['metadata']['namespace']}" for d in docs]
    mhcs = mesh.mhc_docs()
    edit_one = edit_mesh = None
    for kind, doc in mhcs:
        rel = f"policies/meshhealthchecks/{doc['metadata']['name']}.yaml"
        files[rel] = _dump_all([doc])
        old = doc["spec"]["to"][0]["default"]["interval"]
        if kind == "service" and edit_one is None:
            edit_one = Edit(rel, 0, old, _other_interval(old))
        if kind == "mesh" and edit_mesh is None:
            edit_mesh = Edit(rel, 0, old, _other_interval(old))
    assert edit_mesh is not None
    edit_one = edit_one or edit_mesh
    if size.gateways:
        gateway_docs, gateway_proxies = mesh.gateway_docs()
        files["mesh/gateways.yaml"] = _dump_all(gateway_docs)
        proxies += gateway_proxies
    hcs = mesh.healthcheck_docs()
    if hcs:
        files["policies/healthchecks.yaml"] = _dump_all(hcs)
    kongs = mesh.kong_docs()
    if kongs:
        files["policies/kong.yaml"] = _dump_all(kongs)
    counts = {"services": size.services, "mesh_services": sum(s.mesh_service for s in mesh.services),
              "dataplanes": len(proxies), "meshhealthchecks": len(mhcs), "healthchecks": len(hcs),
              "kong_policies": len(kongs), "outbounds_per_dataplane": size.outbounds,
              "kong_services": size.kong, "legacy_services": size.healthchecks, "gateways": size.gateways}
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    manifest = Manifest(size, seed, len(files), counts, proxies, edit_one, edit_mesh)
    (root / MANIFEST).write_text(manifest.to_json(), encoding="utf-8")
    return manifest


def edited_text(directory: str | os.PathLike[str], edit: Edit, forward: bool = True) -> str:
    """The text of ``edit.path`` with the interval set to ``edit.new`` (``forward``) or back to ``edit.old``."""
    path = Path(directory) / edit.path
    doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    doc["spec"]["to"][edit.entry]["default"]["interval"] = edit.new if forward else edit.old
    return _dump_all([doc])


def apply_edit(directory: str | os.PathLike[str], edit: Edit, forward: bool = True) -> str:
    """Replace ``edit.path`` atomically (rename) with the edited text and a new mtime; returns the path."""
    path = Path(directory) / edit.path
    text = edited_text(directory, edit, forward)
    tmp = path.with_name(f".tmp-{path.name}")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)
    st = path.stat()
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))  # differs even on coarse clocks
    return str(path)


def around_edit(directory: str | os.PathLike[str], edit: Edit, measure: Callable[[], T]) -> tuple[T, T]:
    """(``measure()`` before, ``measure()`` after) applying ``edit`` forward; the file is restored either way."""
    before = measure()
    apply_edit(directory, edit, forward=True)
    try:
        after = measure()
    finally:
        apply_edit(directory, edit, forward=False)
    return before, after


def with_size(name: str, **changes: Any) -> Size:
    """``SIZES[name]`` with some fields changed (e.g. a custom seed run with fewer policies)."""
    return replace(SIZES[name], **changes)
