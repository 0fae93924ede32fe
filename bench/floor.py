"""The generation floor: the same unique Cluster messages built and serialized with protobuf alone, no policy logic.

:func:`prepare` (untimed, in its own process) runs the pipeline once and keeps, for every *unique* cluster of the
result (``ClusterResult`` objects the pipeline shares between proxies count once), two inputs:

* ``kwargs`` — the message as nested Python values (``ListFields`` walked recursively: sub-messages as dicts,
  repeated fields as lists, maps as dicts, enums as ints; ``Any`` payloads stay pre-serialized bytes), and
* ``json`` — the same message as ``json_format.MessageToDict`` (``preserving_proto_field_name``),

plus every proxy's cluster list as indices into the unique list. :func:`build` then times only:

1. per unique cluster: ``Cluster(**kwargs)`` (``construct``) or ``json_format.ParseDict(json, Cluster())``
   (``parsedict``), then ``Any(type_url, value=cluster.SerializeToString()).SerializeToString()`` and the
   length-delimited ``resources`` field (field 2) a DiscoveryResponse holds;
2. per proxy: joining its clusters' fields into one response body (``b"".join``); proxies with the same cluster
   list share one body, as in ``snapshot.build``.

Not included: reading/validating YAML, matching, merging, version hashes (JSON + SHA-256), the render document.
"""

from __future__ import annotations

import time
from typing import Any

from envoy.config.cluster.v3 import cluster_pb2
from envoy.extensions.health_check.event_sinks.file.v3 import file_pb2  # noqa: F401 - Any payloads (ParseDict)
from envoy.extensions.transport_sockets.tls.v3 import tls_pb2  # noqa: F401
from envoy.extensions.upstreams.http.v3 import http_protocol_options_pb2  # noqa: F401
from google.protobuf import any_pb2, json_format

from kumahc.xds.snapshot import len_field

CLUSTER_TYPE = "type.googleapis.com/envoy.config.cluster.v3.Cluster"


def message_kwargs(message: Any) -> dict[str, Any]:
    """Constructor keyword arguments that rebuild ``message`` (``type(message)(**kwargs) == message``)."""
    out: dict[str, Any] = {}
    for fd, value in message.ListFields():
        if fd.message_type is not None:
            if fd.message_type.GetOptions().map_entry:
                vfd = fd.message_type.fields_by_name["value"]
                out[fd.name] = {k: (message_kwargs(v) if vfd.message_type else v) for k, v in value.items()}
            elif fd.is_repeated:
                out[fd.name] = [message_kwargs(v) for v in value]
            else:
                out[fd.name] = message_kwargs(value)
        else:
            out[fd.name] = list(value) if fd.is_repeated else value
    return out


def prepare(paths: list[str]) -> dict[str, Any]:
    """Run the pipeline (untimed) and return the floor's inputs (picklable)."""
    from kumahc.pipeline import run

    result = run(paths)
    index: dict[int, int] = {}
    kwargs: list[dict[str, Any]] = []
    dicts: list[dict[str, Any]] = []
    proxies: list[list[int]] = []
    for key in sorted(result.clusters):
        ids = []
        for cr in result.clusters[key]:
            i = index.get(id(cr))
            if i is None:
                i = index[id(cr)] = len(kwargs)
                kw = message_kwargs(cr.cluster)
                if cluster_pb2.Cluster(**kw) != cr.cluster:  # the floor must build exactly the same message
                    raise AssertionError(f"kwargs do not rebuild cluster {cr.cluster.name}")
                kwargs.append(kw)
                dicts.append(json_format.MessageToDict(cr.cluster, preserving_proto_field_name=True))
            ids.append(i)
        proxies.append(ids)
    return {"kwargs": kwargs, "json": dicts, "proxies": proxies}




def build(data: dict[str, Any], method: str) -> tuple[float, list[bytes]]:
    """Time the floor: (seconds, one response body per proxy)."""
    Cluster = cluster_pb2.Cluster
    Any_ = any_pb2.Any
    started = time.perf_counter()
    fields: list[bytes] = []
    if method == "construct":
        for kw in data["kwargs"]:
            value = Cluster(**kw).SerializeToString()
            fields.append(len_field(2, Any_(type_url=CLUSTER_TYPE, value=value).SerializeToString()))
    elif method == "parsedict":
        for d in data["json"]:
            value = json_format.ParseDict(d, Cluster()).SerializeToString()
            fields.append(len_field(2, Any_(type_url=CLUSTER_TYPE, value=value).SerializeToString()))
    else:
        raise ValueError(method)
    shared: dict[tuple[int, ...], bytes] = {}  # identical cluster lists share one body, as in snapshot.build
    bodies = []
    for ids in data["proxies"]:
        key = tuple(ids)
        body = shared.get(key)
        if body is None:
            body = shared[key] = b"".join([fields[i] for i in ids])
        bodies.append(body)
    return time.perf_counter() - started, bodies
