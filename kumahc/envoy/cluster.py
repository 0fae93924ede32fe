"""The rendered Cluster (spec 05 §1): skeleton, endpoints, HTTP/2 options, and the policy field groups."""

from __future__ import annotations

from envoy.config.cluster.v3 import cluster_pb2
from envoy.config.core.v3 import config_source_pb2
from envoy.config.endpoint.v3 import endpoint_pb2
from envoy.extensions.upstreams.http.v3 import http_protocol_options_pb2
from google.protobuf.duration_pb2 import Duration

from kumahc.policies.combine import Combined

Cluster = cluster_pb2.Cluster
HTTP_OPTIONS_KEY = "envoy.extensions.upstreams.http.v3.HttpProtocolOptions"
HTTP2_PROTOCOLS = ("http2", "grpc")


def _http2_options() -> http_protocol_options_pb2.HttpProtocolOptions:
    opts = http_protocol_options_pb2.HttpProtocolOptions()
    opts.explicit_http_config.http2_protocol_options.SetInParent()
    return opts


def load_assignment(name: str, endpoints: tuple[tuple[str, int], ...]) -> endpoint_pb2.ClusterLoadAssignment | None:
    """``load_assignment`` for one destination: one locality, one ``lb_endpoints`` item per endpoint in order
    (01 §6.2); None without endpoints (the field is omitted, 05 §1)."""
    if not endpoints:
        return None
    la = endpoint_pb2.ClusterLoadAssignment(cluster_name=name)
    locality = la.endpoints.add()
    for address, port in endpoints:
        sa = locality.lb_endpoints.add().endpoint.address.socket_address
        sa.address, sa.port_value = address, port
    return la


def build(name: str, protocol: str, assignment: endpoint_pb2.ClusterLoadAssignment | None,
          groups: Combined) -> cluster_pb2.Cluster:
    """One ``Cluster``: ``STATIC``, ``connect_timeout`` 5s, at most one health check, circuit breakers, outlier
    detection, TLS transport socket, panic settings, ``load_assignment`` (from :func:`load_assignment`, shared by
    every proxy's cluster for the destination), and HTTP/2 upstream options when ``protocol`` is http2/grpc or the
    health check needs HTTP/2 (gRPC)."""
    c = Cluster(name=name, type=Cluster.STATIC, connect_timeout=Duration(seconds=5))
    if groups.health_check is not None:
        c.health_checks.append(groups.health_check.health_check)
        if groups.health_check.transport_socket is not None:
            c.transport_socket.CopyFrom(groups.health_check.transport_socket)
    if groups.circuit_breakers is not None:
        c.circuit_breakers.CopyFrom(groups.circuit_breakers.circuit_breakers)
    if groups.outlier is not None:
        c.outlier_detection.CopyFrom(groups.outlier.outlier)
    if groups.panic is not None:
        c.common_lb_config.CopyFrom(groups.panic.panic)
    if assignment is not None:
        c.load_assignment.CopyFrom(assignment)
    needs_http2 = groups.health_check is not None and groups.health_check.http2
    if protocol in HTTP2_PROTOCOLS or needs_http2:
        c.typed_extension_protocol_options[HTTP_OPTIONS_KEY].Pack(_http2_options())
    return c


STATIC = "static"
EDS = "eds"
ENDPOINT_MODES = (STATIC, EDS)


def eds(cluster: cluster_pb2.Cluster) -> tuple[cluster_pb2.Cluster, endpoint_pb2.ClusterLoadAssignment]:
    """The EDS form of a rendered (STATIC) cluster: the same cluster as ``type: EDS`` whose endpoints come over
    ADS (``eds_config: {ads: {}, resource_api_version: V3}``, as Kuma's proxies get them), and its endpoints as a
    ``ClusterLoadAssignment`` named after the cluster (no endpoints → an assignment without endpoints, so Envoy
    does not wait for one). An endpoint change then changes only the assignment: Envoy updates the hosts of the
    cluster in place and keeps the health of the hosts that stay, where a changed STATIC cluster is replaced."""
    c = Cluster()
    c.CopyFrom(cluster)
    c.ClearField("load_assignment")
    c.type = Cluster.EDS
    source = c.eds_cluster_config.eds_config
    source.ads.SetInParent()
    source.resource_api_version = config_source_pb2.V3
    la = endpoint_pb2.ClusterLoadAssignment()
    if cluster.HasField("load_assignment"):
        la.CopyFrom(cluster.load_assignment)
    la.cluster_name = cluster.name
    return c, la
