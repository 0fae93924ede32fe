"""Property-based hardening (issue "never a traceback, never partial output", spec 01 §1-§2, 05 §2, 07 §1).

Strategies generate (a) garbage YAML/JSON text and bytes and (b) valid-shaped documents of every kind kumahc reads,
then mutate them (wrong types, huge numbers, odd unicode, deep nesting, missing/extra keys, nulls, duplicate keys,
anchors and aliases). Whatever the input, ``render`` and ``validate`` must exit 0 or 1 (never 2 for a file input,
never a traceback or ``error: internal``); on exit 1 stdout is empty and stderr is made of error/warning lines
then ``found N errors``; on exit 0 stdout is the 05 §2 document. ``render --output-file FILE`` never touches FILE on
failure and never leaves a temporary file behind. ``serve`` keeps serving its last good snapshot through a stream of bad
files.

Bounded for CI: the ``ci`` profile is derandomized and database-free, so every run tries the same examples. Deeper
local runs: ``KUMAHC_FUZZ_PROFILE=fuzz KUMAHC_FUZZ_SCALE=50 pytest tests/resources/test_fuzz.py`` (random, 50x
examples).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from envoy.config.cluster.v3 import cluster_pb2
from google.protobuf import any_pb2, json_format
from helpers import REPO, Run, run
from hypothesis import HealthCheck, assume, event, example, given, note, settings
from hypothesis import strategies as st
from hypothesis.control import currently_in_test_context
from kumahc_serve import atomic_write, serve

# ---------------------------------------------------------------------------------------------------------------------
# Profiles: bounded, reproducible (derandomized, no example database) for CI; "fuzz" for long random local runs.

settings.register_profile(
    "ci", database=None, derandomize=True, deadline=None, print_blob=True,
    suppress_health_check=(HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much,
                           HealthCheck.large_base_example))
settings.register_profile("fuzz", parent=settings.get_profile("ci"), derandomize=False)
PROFILE = os.environ.get("KUMAHC_FUZZ_PROFILE", "ci")
SCALE = 1 if PROFILE == "ci" else int(os.environ.get("KUMAHC_FUZZ_SCALE", "20"))


def bounded(n: int) -> settings:
    """The active profile with ``n`` examples (times ``KUMAHC_FUZZ_SCALE`` outside CI)."""
    return settings(settings.get_profile(PROFILE), max_examples=n * SCALE)


# ---------------------------------------------------------------------------------------------------------------------
# (a) garbage text and bytes

YAML_PUNCTUATION = list("{}[]:-,?&*!|>'\"%@`#~.<=\t\n\r ") + ["---", "...", "<<: ", "- ", ": ", "&a ", "*a", "!!str ",
                                                                 "!!binary ", "%YAML 1.1\n", "\\", "\x00", "\ufeff"]
YAML_WORDS = ["type: ", "kind: ", "apiVersion: ", "name: ", "spec:", "metadata:", "MeshHealthCheck", "HealthCheck",
              "Dataplane", "MeshService", "Mesh", "Service", "KongUpstreamPolicy", "kuma.io/v1alpha1", "v1", "List",
              "items:", "\n  ", "\n- ", ".inf", ".nan", "0x1F", "1e3", "~", "null", "yes", "2**63",
              "9223372036854775808"]

garbage_text = st.lists(
    st.sampled_from(YAML_PUNCTUATION) | st.sampled_from(YAML_WORDS) | st.text(max_size=4), max_size=40,
).map("".join) | st.text(max_size=200)


@st.composite
def garbage_bytes(draw: st.DrawFn) -> bytes:
    """Raw bytes: random, or text with NUL / invalid UTF-8 / BOMs / UTF-16 spliced in."""
    how = draw(st.sampled_from(["random", "splice", "utf16", "bom", "truncated-utf8"]))
    if how == "random":
        return draw(st.binary(max_size=200))
    base = draw(garbage_text).encode("utf-8", "surrogatepass")
    if how == "utf16":
        return draw(garbage_text).encode("utf-16", "surrogatepass")
    if how == "bom":
        return draw(st.sampled_from([b"\xef\xbb\xbf", b"\xff\xfe", b"\xfe\xff", b"\xef\xbb\xbf\xef\xbb\xbf"])) + base
    if how == "truncated-utf8":
        return base + draw(st.sampled_from([b"\xc3", b"\xe2\x82", b"\xf0\x9f\x99"]))
    at = draw(st.integers(0, len(base)))
    junk = draw(st.sampled_from([b"\x00", b"\xff", b"\xc3\x28", b"\xed\xa0\x80", b"\x80", b"\xf8\x88\x80\x80\x80",
                                 b"\x1b[31m", b"\r", b"\t"]))
    return base[:at] + junk + base[at:]


NESTING = st.sampled_from(["[", "{", "{a: ", "- ", "[{a: "])


@st.composite
def unbalanced(draw: st.DrawFn) -> str:
    """Deep or unbalanced nesting, sometimes closed, sometimes not (MAX_DEPTH guards and parser errors)."""
    opener = draw(NESTING)
    depth = draw(st.integers(1, 2000))
    closer = {"[": "]", "{": "}", "{a: ": "}", "- ": "", "[{a: ": "}]"}[opener]
    if opener == "- ":
        return "".join("  " * i + "- \n" for i in range(min(depth, 300)))
    tail = closer * draw(st.integers(0, depth + 2))
    return opener * depth + draw(st.sampled_from(["", "x", "1", "*a", "&a x"])) + tail


# ---------------------------------------------------------------------------------------------------------------------
# (b) valid-shaped documents of every kind

SERVICE = st.sampled_from(["web", "backend", "redis", "api"])
NAMESPACE = st.sampled_from(["default", "kuma-demo", "kong"])
MESH = st.sampled_from(["default", "default", "prod"])
PROTOCOL = st.sampled_from(["http", "http2", "grpc", "tcp", "tls", "kafka", "mysql", "kuma.io/http", "weird"])
DURATION = st.sampled_from(["10s", "1m", "500ms", "1h30m", "2s", "0", "1.5s", "100ms"])
PORT = st.integers(1, 65535)
ADDRESS = st.sampled_from(["10.0.0.1", "10.0.0.2", "192.168.1.9", "::1", "fd00::2"])
B64 = st.sampled_from(["cGluZw==", "aGVsbG8=", "cG9uZw=="])


def optional(**fields: st.SearchStrategy) -> st.SearchStrategy[dict]:
    return st.fixed_dictionaries({}, optional=fields)


def k8s(kind: str, api: str, name: str, namespace: str | None, spec: dict | None, **extra: Any) -> dict:
    meta: dict[str, Any] = {"name": name}
    if namespace is not None:
        meta["namespace"] = namespace
    meta.update(extra.pop("meta", {}))
    doc: dict[str, Any] = {"apiVersion": api, "kind": kind, "metadata": meta, **extra}
    if spec is not None:
        doc["spec"] = spec
    return doc


@st.composite
def tags(draw: st.DrawFn, service: str | None = None) -> dict:
    out = {"kuma.io/service": service or draw(SERVICE)}
    out.update(draw(optional(**{"kuma.io/protocol": PROTOCOL, "version": st.sampled_from(["v1", "v2"])})))
    return out


@st.composite
def dataplane(draw: st.DrawFn) -> dict:
    service = draw(SERVICE)
    name = f"{service}-{draw(st.integers(1, 3))}"
    inbound = draw(st.lists(st.builds(dict, port=PORT, tags=tags(service)), min_size=1, max_size=2))
    if draw(st.booleans()):
        inbound[0]["name"] = "main"
    networking: dict[str, Any] = {"address": draw(ADDRESS), "inbound": inbound}
    outbound = draw(st.none() | st.lists(
        st.builds(dict, tags=st.builds(lambda s: {"kuma.io/service": s}, SERVICE))
        | st.builds(lambda n, p: {"backendRef": {"kind": "MeshService", "name": n, "port": p}}, SERVICE,
                    st.sampled_from([80, 8080])),
        max_size=2))
    if outbound is not None:
        networking["outbound"] = outbound
    labels = draw(optional(app=SERVICE))
    if draw(st.booleans()):
        return k8s("Dataplane", "kuma.io/v1alpha1", name, draw(NAMESPACE), {"networking": networking},
                   mesh=draw(MESH), meta={"labels": labels} if labels else {})
    doc = {"type": "Dataplane", "name": name, "mesh": draw(MESH), "networking": networking}
    if labels:
        doc["labels"] = labels
    return doc


@st.composite
def mesh_service(draw: st.DrawFn) -> dict:
    port = st.builds(dict, port=st.sampled_from([80, 8080, 3001])) | st.fixed_dictionaries(
        {"port": st.sampled_from([80, 8080, 3001])},
        optional={"targetPort": PORT | st.just("main"), "name": st.sampled_from(["http", "grpc"]),
                  "appProtocol": PROTOCOL})
    spec = {"selector": {"dataplaneTags": draw(tags())}, "ports": draw(st.lists(port, min_size=1, max_size=2))}
    name = draw(SERVICE)
    if draw(st.booleans()):
        return k8s("MeshService", "kuma.io/v1alpha1", name, draw(NAMESPACE), spec)
    return {"type": "MeshService", "name": name, "mesh": draw(MESH), "spec": spec}


@st.composite
def mesh(draw: st.DrawFn) -> dict:
    name = draw(st.sampled_from(["default", "prod"]))
    if draw(st.booleans()):
        return k8s("Mesh", "kuma.io/v1alpha1", name, None, None)
    return {"type": "Mesh", "name": name}


MHC_CONF = optional(
    interval=DURATION, timeout=DURATION, unhealthyThreshold=st.integers(1, 10), healthyThreshold=st.integers(1, 10),
    initialJitter=DURATION, intervalJitter=DURATION, intervalJitterPercent=st.integers(0, 100),
    healthyPanicThreshold=st.integers(0, 100) | st.sampled_from(["62.9", "50", "0.5"]),
    failTrafficOnPanic=st.booleans(), noTrafficInterval=DURATION, eventLogPath=st.just("/tmp/hc.log"),
    alwaysLogHealthCheckFailures=st.booleans(), reuseConnection=st.booleans(),
    tcp=optional(disabled=st.booleans(), send=B64, receive=st.lists(B64, max_size=2)),
    http=optional(disabled=st.booleans(), path=st.sampled_from(["/", "/health"]),
                  requestHeadersToAdd=optional(
                      set=st.lists(st.builds(dict, name=st.just("x-a"), value=st.just("1")), max_size=1),
                      add=st.lists(st.builds(dict, name=st.just("x-b"), value=st.just("a,b")), max_size=1)),
                  expectedStatuses=st.lists(st.integers(100, 599), max_size=2)),
    grpc=optional(disabled=st.booleans(), serviceName=st.just("svc"), authority=st.just("backend")),
)
TOP_REF = st.one_of(
    st.just({"kind": "Mesh"}),
    st.builds(lambda s: {"kind": "Dataplane", "labels": {"app": s}}, SERVICE),
    st.builds(lambda s: {"kind": "MeshSubset", "tags": {"kuma.io/service": s}}, SERVICE),
    st.builds(lambda s: {"kind": "MeshService", "name": s}, SERVICE),
    st.builds(lambda s: {"kind": "Dataplane", "name": f"{s}-1"}, SERVICE),
)
TO_REF = st.one_of(
    st.just({"kind": "Mesh"}),
    st.builds(lambda s: {"kind": "MeshService", "name": s}, SERVICE),
    st.builds(lambda s, ns, p: {"kind": "MeshService", "name": s, "namespace": ns, "sectionName": "http", "_port": p},
              SERVICE, NAMESPACE, st.sampled_from([80, 3001])),
)


@st.composite
def mesh_health_check(draw: st.DrawFn) -> dict:
    spec: dict[str, Any] = {"to": draw(st.lists(st.builds(lambda r, c: {"targetRef": r, "default": c}, TO_REF,
                                                          MHC_CONF), min_size=1, max_size=2))}
    ref = draw(st.none() | TOP_REF)
    if ref is not None:
        spec["targetRef"] = ref
    name = f"mhc-{draw(SERVICE)}"
    if draw(st.booleans()):
        return k8s("MeshHealthCheck", "kuma.io/v1alpha1", name, draw(st.sampled_from(["kuma-system", "kuma-demo"])),
                   spec, meta={"labels": {"kuma.io/mesh": draw(MESH)}})
    return {"type": "MeshHealthCheck", "name": name, "mesh": draw(MESH), "spec": spec}


HC_CONF = st.fixed_dictionaries(
    {"interval": DURATION, "timeout": DURATION, "unhealthyThreshold": st.integers(1, 5),
     "healthyThreshold": st.integers(1, 5)},
    optional={"initialJitter": DURATION, "intervalJitter": DURATION, "intervalJitterPercent": st.integers(0, 100),
              "healthyPanicThreshold": st.integers(0, 100) | st.sampled_from([62.5, 0.0]),
              "failTrafficOnPanic": st.booleans(), "noTrafficInterval": DURATION,
              "eventLogPath": st.just("/tmp/hc.log"), "alwaysLogHealthCheckFailures": st.booleans(),
              "reuseConnection": st.booleans()},
)
HC_CHECK = st.one_of(
    st.just({}),
    st.builds(lambda s, r: {"tcp": {"send": s, "receive": r}}, B64, st.lists(B64, max_size=2)),
    st.builds(lambda p, e, h: {"http": {"path": p, "expectedStatuses": e, "requestHeadersToAdd": h}},
              st.sampled_from(["/", "/health"]), st.lists(st.integers(100, 599), max_size=2),
              st.lists(st.builds(lambda a, k: {"append": a, "header": {"key": k, "value": "v"}}, st.booleans(),
                                 st.sampled_from(["Accept", "X-A"])), max_size=2)),
)


@st.composite
def health_check(draw: st.DrawFn) -> dict:
    match = st.builds(lambda s: {"match": {"kuma.io/service": s}}, SERVICE | st.just("*"))
    fields = {"sources": draw(st.lists(match, min_size=1, max_size=2)),
              "destinations": draw(st.lists(match, min_size=1, max_size=2)),
              "conf": {**draw(HC_CONF), **draw(HC_CHECK)}}
    name = f"hc-{draw(SERVICE)}"
    if draw(st.booleans()):
        return k8s("HealthCheck", "kuma.io/v1alpha1", name, None, fields, mesh=draw(MESH))
    return {"type": "HealthCheck", "name": name, "mesh": draw(MESH), **fields}


KONG_HEALTHY = optional(interval=st.integers(0, 30), successes=st.integers(0, 254),
                        httpStatuses=st.lists(st.integers(100, 599), max_size=2))
KONG_UNHEALTHY = optional(interval=st.integers(0, 30), httpFailures=st.integers(0, 254),
                          tcpFailures=st.integers(0, 254), timeouts=st.integers(0, 254),
                          httpStatuses=st.lists(st.integers(100, 599), max_size=2))
KONG_TYPE = st.sampled_from(["http", "https", "tcp", "grpc", "grpcs"])
KONG_CHECKS = optional(
    threshold=st.integers(0, 100),
    active=optional(type=KONG_TYPE, concurrency=st.integers(1, 20), httpPath=st.sampled_from(["/", "/status/200"]),
                    httpsSni=st.just("example.com"), httpsVerifyCertificate=st.booleans(),
                    timeout=st.integers(1, 10), headers=st.just({"X-A": ["1"]}), healthy=KONG_HEALTHY,
                    unhealthy=KONG_UNHEALTHY),
    passive=optional(type=KONG_TYPE, healthy=optional(successes=st.integers(0, 254)),
                     unhealthy=KONG_UNHEALTHY.map(lambda d: {k: v for k, v in d.items() if k != "interval"})),
)


@st.composite
def kong_policy(draw: st.DrawFn) -> dict:
    spec = {"healthchecks": draw(KONG_CHECKS)}
    if draw(st.booleans()):
        spec["algorithm"] = "round-robin"
    return k8s("KongUpstreamPolicy", "configuration.konghq.com/v1beta1", draw(st.sampled_from(["demo", "kup"])),
               draw(NAMESPACE), spec)


@st.composite
def kong_service(draw: st.DrawFn) -> dict:
    ports = draw(st.lists(st.fixed_dictionaries({"port": st.sampled_from([80, 443, 8080])},
                                                optional={"name": st.sampled_from(["http", "grpc"]),
                                                          "appProtocol": PROTOCOL}), max_size=2))
    annotations = draw(optional(**{"konghq.com/upstream-policy": st.sampled_from(["demo", "kup", "nope"])}))
    return k8s("Service", "v1", draw(SERVICE), draw(NAMESPACE), {"ports": ports},
               meta={"annotations": annotations} if annotations else {})


def skipped_kind() -> st.SearchStrategy[dict]:
    return st.sampled_from([
        {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"}},
        {"type": "MeshTrafficPermission", "name": "x"},
        {"apiVersion": "v2", "name": "chart"},
        {"replicaCount": 3},
        {"apiVersion": "serving.knative.dev/v1", "kind": "Service", "metadata": {"name": "k"}},
    ])


def fresh(value: Any) -> Any:
    """A copy sharing no object with the strategies (``st.just`` values) nor within itself, so mutations stay local
    and an alias appears in the YAML only when a mutation asks for one."""
    if isinstance(value, dict):
        return {k: fresh(v) for k, v in value.items()}
    return [fresh(v) for v in value] if isinstance(value, list) else value


VALID_DOCUMENT = st.one_of(mesh_health_check(), health_check(), kong_policy(), kong_service(), dataplane(),
                           mesh_service(), mesh(), skipped_kind()).map(fresh)

# ---------------------------------------------------------------------------------------------------------------------
# Mutations

class Raw(str):
    """A scalar written into the YAML as-is (plain style), e.g. an integer of 5000 digits or ``0x`` + 4000 ``f``:
    Python could not even ``str()`` some of them."""


class _MergeKey:
    """The YAML merge key ``<<`` (a plain ``"<<"`` string key would be quoted by the dumper)."""

    def __repr__(self) -> str:
        return "<<"


MERGE = _MergeKey()


class DupMap(list):
    """A mapping written from (key, value) pairs, so the same key can appear twice (duplicate key errors)."""


class Dumper(yaml.SafeDumper):
    pass


Dumper.add_representer(Raw, lambda d, v: d.represent_scalar(_raw_tag(v), str(v), style=""))
Dumper.add_representer(_MergeKey, lambda d, v: d.represent_scalar("tag:yaml.org,2002:merge", "<<", style=""))
Dumper.add_representer(DupMap, lambda d, v: d.represent_mapping("tag:yaml.org,2002:map", list(v)))


def _raw_tag(text: str) -> str:
    """The tag PyYAML's resolver gives ``text`` (so the emitter writes it plain, without a ``!!tag``)."""
    return yaml.resolver.Resolver().resolve(yaml.ScalarNode, text, (True, False))


def _repeat(parts: tuple[str, int, str]) -> str:
    head, n, tail = parts
    return head * n + tail


RAW = st.sampled_from([
    ("9", 5000, ""), ("-9", 4400, ""), ("1_", 4400, "0"), ("0x", 1, "f" * 5000), ("0b1", 1, "0" * 20000),
    ("0o7", 1, "7" * 5000), ("1", 1, ":00" * 1500), ("9", 400, ".0"), ("1.0e+", 1, "400"), (".inf", 1, ""),
    ("-.inf", 1, ""), (".nan", 1, ""), ("0x7fffffffffffffff", 1, ""), ("-0x8000000000000001", 1, ""), ("1_000", 1, ""),
    ("0o17", 1, ""), ("190:20:30", 1, ""), ("~", 1, ""), ("2001-12-14t21:59:43.10-05:00", 1, ""),
]).map(_repeat).map(Raw)
HUGE = st.sampled_from([2**63, -(2**63), 2**63 - 1, 2**64, 2**31, 2**31 - 1, -(2**31), -(2**31) - 1, 2**32, 10**30,
                        10**400, 65535, 65536, 0, -1, 1, 1e308, -1e308, float("inf"), float("-inf"), float("nan"),
                        -0.0, 3.0, 0.1, 5e-324]) | RAW
LONG = st.sampled_from([("x", 5000, ""), ("a", 254, ""), ("a", 64, ""), ("9", 5000, "s"), ("1.", 1, "9" * 5000 + "s"),
                        ("1", 1, "0" * 40 + "h"), ("-9", 5000, "s"), ("0.", 1, "0" * 4500 + "1ns"),
                        ("1s", 3000, ""), ("a.", 200, "b"), ("%", 1, "zz" * 100)]).map(_repeat)
ODD_STRINGS = st.sampled_from([
    "🙂", "👩‍👩‍👧", "\u202eevil\u202c", "שלום", "مرحبا", "\x00", "\x07", "\x1b[31mred", "a\nb", "a\rb", "a\u2028b",
    "a\u0085b", "\x7f", "\ufeff", "\ud800", "\udfff", "", " ", "*", "~", "null", "10s", "-1s", "0s",
    "1e400s", "9223372036s", "9223372035.999999999s", "-9223372036854775808ns", "2562047h47m16.854775807s",
    ".inf", ".nan", "0x1F", "0o17", "1_000", "yes", "no", "\t", "%", "%zz", "//", "kuma.io/service", "default/web",
    "web_default_svc_80", "2024-01-01", "2024-13-45T25:61:61Z", "2024-02-30T00:00:00Z", "1e3", "62.9", "nan", "inf",
    "-0", "+5s", "--5s", "5", "5S", "1µs", "1μs", ".s", "1.s", ".5s", "+0", "-0s", "1h-1m", "1e3s", "0x10s",
    "1.2.3s", "١٠s", "１０s", "10s ", " 10s", "10 s", "-", "+", "100.5", "-1", "101", "1e-400", "0.0000001",
    "a/b/c", "127.0.0.1:80", "[::1]", "example.com:443", "/a//b", "/%41", "/%4", "/ok?q=1", "a,b,c", "*.*",
]) | LONG
SCALAR = HUGE | ODD_STRINGS | st.booleans() | st.none() | st.integers() | st.floats() | st.text(max_size=12)
WEIRD = st.recursive(SCALAR, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(
    st.text(max_size=6) | ODD_STRINGS, inner, max_size=3), max_leaves=6)
KEYS = st.sampled_from(["", "unknown", "<<", "type", "kind", "name", "spec", "metadata", "apiVersion", "mesh", "status",
                        "~", "?", "- x", "a: b", "\x00", "🙂", "a\nb", 1, 2**63, 1.5, True, None]) | st.text(max_size=6)
DURATION_TEXT = re.compile(r"^[0-9.]+(ns|us|µs|ms|s|m|h)")
# Weighted: type-preserving extremes pass the structural checks and reach the semantic ones.
OPS = ("extreme", "extreme", "extreme", "extreme", "value", "number", "string", "delete", "delete", "extra", "null",
       "wrap", "deep", "alias", "recursive", "merge", "flip", "root")


def _nodes(node: Any, path: tuple = (), seen: set | None = None) -> list[tuple[tuple, Any]]:
    """Every (path, value) of a document; shared (aliased) or recursive nodes are visited once."""
    seen = set() if seen is None else seen
    out = [(path, node)]
    if isinstance(node, dict | list):
        if id(node) in seen:
            return out
        seen.add(id(node))
        items = node.items() if isinstance(node, dict) else enumerate(node)
        for k, v in list(items):
            out.extend(_nodes(v, (*path, k), seen))
    return out


def _get(root: Any, path: tuple) -> Any:
    for step in path:
        root = root[step]
    return root


def _flip(value: Any) -> Any:
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, str):
        return int(value) if value.isdigit() and len(value) < 100 else len(value)
    if isinstance(value, dict):
        return [[k, v] for k, v in value.items()]
    return {str(i): v for i, v in enumerate(value)} if isinstance(value, list) else "null"


@st.composite
def mutated(draw: st.DrawFn, base: st.SearchStrategy[dict] = VALID_DOCUMENT, max_ops: int = 3,
            ops: tuple[str, ...] = OPS, duplicates: bool = True) -> Any:
    """A valid-shaped document with 0..max_ops mutations from ``ops`` applied at random paths (few ops more often
    than many: one bad field is enough to hide the others behind a structural error)."""
    doc = draw(base)
    for _ in range(draw(st.sampled_from([n for n in (0, 1, 1, 1, 2, 2, 3) if n <= max_ops]))):
        op = draw(st.sampled_from(ops))
        nodes = _nodes(doc)
        inner = [(p, v) for p, v in nodes if p]
        if op == "root":
            doc = draw(st.sampled_from([[doc], [doc, doc], "just a string", 42, None, {"apiVersion": "v1", "kind":
                                                                                       "List", "items": [doc]}]))
            continue
        if not inner or not isinstance(doc, dict | list):
            break
        path, value = draw(st.sampled_from(inner))
        parent, key = _get(doc, path[:-1]), path[-1]
        if op == "delete":
            del parent[key]
        elif op == "extra":
            containers = [(p, v) for p, v in nodes if isinstance(v, dict)]
            if containers:
                _, target = draw(st.sampled_from(containers))
                target[draw(KEYS)] = draw(WEIRD)
        elif op == "alias":
            sources = [v for _, v in nodes if isinstance(v, dict | list)]
            parent[key] = draw(st.sampled_from(sources))  # shared object → YAML anchor + alias (maybe recursive)
        elif op == "recursive":
            if isinstance(value, dict):
                value["self"] = parent
        elif op == "merge":  # YAML merge key: explicit keys win, merged ones are never duplicates (01 §1)
            containers = [v for _, v in nodes if isinstance(v, dict)]
            if containers and isinstance(value, dict):
                source = draw(st.sampled_from(containers + [[c] for c in containers] + ["scalar", [1]]))
                value[MERGE] = source
        else:
            parent[key] = _replacement(draw, op, value)
    if duplicates and isinstance(doc, dict) and doc and draw(st.integers(0, 7)) == 0:  # a duplicate key
        maps = [(p, v) for p, v in _nodes(doc) if isinstance(v, dict) and v and not any(
            isinstance(k, _MergeKey) for k in v)]
        path, target = draw(st.sampled_from(maps))
        pairs = list(target.items())
        dup = draw(st.sampled_from(pairs))
        pairs.insert(draw(st.integers(0, len(pairs))), (dup[0], draw(st.sampled_from([dup[1], None, "other", 1]))))
        if path:
            _get(doc, path[:-1])[path[-1]] = DupMap(pairs)
        else:
            doc = DupMap(pairs)
    return doc


def _extreme(draw: st.DrawFn, value: Any) -> Any:
    """Same type as ``value`` (so the structural checks pass), extreme content."""
    if isinstance(value, bool):
        return not value
    if isinstance(value, int | float):
        return draw(HUGE | st.integers() | st.floats())
    if isinstance(value, str):
        if DURATION_TEXT.match(value):
            return draw(st.sampled_from(["", "", "-"])) + draw(ODD_STRINGS)
        return draw(ODD_STRINGS | st.text(max_size=20))
    if isinstance(value, list):
        return draw(st.sampled_from([[], [None], value[:1], value + value[-1:]]))
    if isinstance(value, dict):
        return draw(st.sampled_from([{}, {"": None}, {**value, **{k + "x": v for k, v in value.items()
                                                                  if isinstance(k, str)}}]))
    return draw(WEIRD)


def _replacement(draw: st.DrawFn, op: str, value: Any) -> Any:
    if op == "extreme":
        return _extreme(draw, value)
    if op == "value":
        return draw(WEIRD)
    if op == "number":
        return draw(HUGE)
    if op == "string":
        return draw(ODD_STRINGS)
    if op == "wrap":
        return draw(st.sampled_from([[value], {"value": value}, [[value]]]))
    if op == "deep":
        return _deep(value, draw(st.integers(1, 80)), draw(st.booleans()))
    if op == "flip":
        return _flip(value)
    return None  # "null": a YAML null means "absent" (01 §4)


def _deep(value: Any, depth: int, as_list: bool) -> Any:
    for _ in range(depth):
        value = [value] if as_list else {"a": value}
    return value


@st.composite
def serialized(draw: st.DrawFn, documents: list[Any]) -> str:
    """Documents → one file's text: YAML block or flow style, or JSON, joined with ``---``."""
    style = draw(st.sampled_from(["block", "flow", "json", "list"]))
    if style == "list":
        documents, style = [documents], "block"
    parts = []
    for doc in documents:
        text = None
        if style == "json" and not _yaml_only(doc):
            try:
                text = json.dumps(doc, ensure_ascii=draw(st.booleans()), indent=draw(st.sampled_from([None, 2])))
            except (TypeError, ValueError):  # recursive structure, odd keys: fall back to YAML
                text = None
        if text is None:
            text = yaml.dump(doc, Dumper=Dumper, sort_keys=False, allow_unicode=draw(st.booleans()),
                             default_flow_style=style == "flow", width=draw(st.sampled_from([80, 1000000])))
        parts.append(text)
    sep = draw(st.sampled_from(["---\n", "--- \n", "\n---\n", "...\n---\n"]))
    return sep.join(parts)


def _yaml_only(doc: Any) -> bool:
    """Raw scalars, merge keys and duplicate keys have no JSON spelling."""
    return any(isinstance(v, Raw | DupMap) or (isinstance(v, dict) and MERGE in v) for _, v in _nodes(doc))


TEXT_OPS = ("dup-line", "drop-line", "tab", "truncate", "insert", "swap", "dup-doc")


@st.composite
def text_mutated(draw: st.DrawFn, text: str) -> str:
    """Line-level damage: duplicate keys (a duplicated line), tabs, truncation, stray punctuation."""
    for _ in range(draw(st.integers(0, 2))):
        lines = text.split("\n")
        op = draw(st.sampled_from(TEXT_OPS))
        i = draw(st.integers(0, max(len(lines) - 1, 0)))
        if op == "dup-line":
            lines.insert(i, lines[i])
        elif op == "drop-line":
            del lines[i]
        elif op == "tab":
            lines[i] = "\t" + lines[i]
        elif op == "swap" and len(lines) > 1:
            j = draw(st.integers(0, len(lines) - 1))
            lines[i], lines[j] = lines[j], lines[i]
        elif op == "dup-doc":
            lines = lines + ["---"] + lines
        text = "\n".join(lines)
        if op == "truncate":
            text = text[:draw(st.integers(0, len(text)))]
        elif op == "insert":
            at = draw(st.integers(0, len(text)))
            text = text[:at] + draw(st.sampled_from(YAML_PUNCTUATION + YAML_WORDS)) + text[at:]
    return text


@st.composite
def file_bytes(draw: st.DrawFn, text: str) -> bytes:
    data = text.encode("utf-8", "surrogatepass")
    how = draw(st.sampled_from(["plain", "plain", "plain", "bom", "bad-byte"]))
    if how == "bom":
        return b"\xef\xbb\xbf" + data
    if how == "bad-byte":
        at = draw(st.integers(0, len(data)))
        return data[:at] + draw(st.sampled_from([b"\xff", b"\x00", b"\xc3"])) + data[at:]
    return data


@st.composite
def mutated_file(draw: st.DrawFn, max_ops: int = 3, damage: bool = True) -> bytes:
    docs = draw(st.lists(mutated(max_ops=max_ops), min_size=1, max_size=3))
    text = draw(serialized(docs))
    if damage and draw(st.integers(0, 2)) == 0:
        text = draw(text_mutated(text))
        return draw(file_bytes(text))
    return text.encode("utf-8", "surrogatepass")


EXTENSION = st.sampled_from([".yaml", ".yml", ".json"])
BASE_MESH = (REPO / "examples" / "complete" / "mesh" / "dataplanes.yaml").read_bytes()


class Unreadable(bytes):
    """Marker contents: the file is written as a dangling symlink, or as one pointing at itself (ELOOP)."""

    def __repr__(self) -> str:
        return "UNREADABLE"


UNREADABLE = Unreadable()


@st.composite
def case(draw: st.DrawFn) -> list[tuple[str, bytes]]:
    """1-3 files of (possibly mutated) documents, sometimes beside a valid mesh, sometimes beside garbage."""
    files = [(f"f{i}{draw(EXTENSION)}", draw(mutated_file())) for i in range(draw(st.integers(1, 3)))]
    extra = draw(st.sampled_from(["none", "none", "mesh", "garbage", "unreadable"]))
    if extra == "mesh":
        files.append(("mesh.yaml", BASE_MESH))
    elif extra == "unreadable":
        files.append((draw(st.sampled_from(["dangling.yaml", "loop.yaml"])), UNREADABLE))
    elif extra == "garbage":
        files.append(("zz.yaml", draw(garbage_bytes() | garbage_text.map(str.encode) | unbalanced().map(str.encode))))
    return files


# ---------------------------------------------------------------------------------------------------------------------
# Properties of one CLI run

SUMMARY = re.compile(r"found (\d+) errors?")
CLUSTER_TYPE = "type.googleapis.com/envoy.config.cluster.v3.Cluster"


def _line_forms(names: list[str]) -> re.Pattern:
    files = "|".join(re.escape(n) for n in sorted(names, key=len, reverse=True))
    return re.compile(
        rf"^(?:(?:warning: |info: )?(?:{files}):\d+: "  # FILE:LINE: KIND NAME: PATH: MESSAGE (01 §2)
        rf"|(?:{files}): cannot read: "  # unreadable path (01 §1)
        r"|error: "  # fatal one-liners (07 §1)
        r"|(?:warning: )?destination [^\s/]+/\S+: "  # destination lines (01 §2)
        r"|(?:warning: )?proxy [^\s/]+/\S+ cluster \S+: "  # rendered-cluster lines (01 §2)
        r"|info: preview mode: no Dataplane in the inputs; synthesised proxies: )", re.DOTALL)


def check_stderr(r: Run, names: list[str], strict: bool) -> list[str]:
    """stderr is whole lines of the allowed forms; on exit 1 the last is ``found N error(s)`` with N = error lines."""
    assert "Traceback" not in r.err and "error: internal" not in r.err, r.err
    assert r.err == "" or r.err.endswith("\n"), r.err
    lines = r.err.split("\n")[:-1]
    forms = _line_forms(names)
    body = lines[:-1] if r.code == 1 else lines
    for line in body:
        assert forms.match(line), f"unexpected stderr line {line!r} in:\n{r.err}"
    if r.code == 1:
        assert lines, "exit 1 without any stderr"
        m = SUMMARY.fullmatch(lines[-1])
        assert m, f"last stderr line is not the summary: {lines[-1]!r}"
        errors = [line for line in body if not line.startswith(("warning: ", "info: "))]
        assert int(m.group(1)) == len(errors) > 0, r.err
        assert lines[-1] == ("found 1 error" if len(errors) == 1 else f"found {len(errors)} errors")
    else:
        # Exit 0: warnings and notes only (with --strict, notes only).
        allowed = ("info: ",) if strict else ("warning: ", "info: ")
        assert all(line.startswith(allowed) for line in body), r.err
    assert len(body) == len(set(body)), "identical lines are printed once (01 §2)"
    return body


def check_document(text: str) -> dict:
    """stdout of a successful render: the exact 05 §2 bytes, proxies and clusters sorted, every cluster a
    loadable ``envoy.config.cluster.v3.Cluster``."""
    doc = json.loads(text)
    assert text == json.dumps(doc, indent=2, ensure_ascii=False) + "\n"
    assert list(doc) == ["proxies"]
    keys = [(p["mesh"], p["name"]) for p in doc["proxies"]]
    assert keys == sorted(keys, key=lambda k: (k[0].encode(), k[1].encode())) and len(set(keys)) == len(keys)
    for proxy in doc["proxies"]:
        assert list(proxy) == ["mesh", "name", "clusters"]
        names = [c["name"] for c in proxy["clusters"]]
        assert names == sorted(names, key=str.encode) and len(set(names)) == len(names)
        for c in proxy["clusters"]:
            assert c["@type"] == CLUSTER_TYPE and c["type"] == "STATIC" and c["connect_timeout"] == "5s"
            packed = json_format.ParseDict(c, any_pb2.Any())
            cluster = cluster_pb2.Cluster()
            assert packed.Unpack(cluster) and cluster.name == c["name"]
            assert len(cluster.health_checks) <= 1
    return doc


class Inputs:
    """A temporary directory holding one example's files; ``names`` as kumahc prints them."""

    def __init__(self, files: list[tuple[str, bytes]], as_directory: bool):
        self._tmp = tempfile.TemporaryDirectory(prefix="kumahc-fuzz-")
        self.root = Path(self._tmp.name)
        self.dir = self.root / "in"
        self.dir.mkdir()
        for name, data in files:
            if isinstance(data, Unreadable):  # "<path>: cannot read: <OS reason>" (01 §1)
                os.symlink("missing.txt" if name.startswith("dangling") else name, self.dir / name)
            else:
                (self.dir / name).write_bytes(data)
        if as_directory:
            self.args = [str(self.dir)]
            self.names = [f"{self.dir}/{name}" for name, _ in files if name.endswith((".yaml", ".yml", ".json"))]
        else:
            self.args = [str(self.dir / name) for name, _ in files]
            self.names = list(self.args)

    def __enter__(self) -> Inputs:
        return self

    def __exit__(self, *_: object) -> None:
        self._tmp.cleanup()


def check_render_and_validate(files: list[tuple[str, bytes]], as_directory: bool = True, strict: bool = False,
                              fmt: str = "json", invoke: Callable[..., Run] = run) -> int:
    """Run ``render`` and ``validate`` on ``files`` and check every property; returns the exit code."""
    flags = ["--strict"] if strict else []
    with Inputs(files, as_directory) as inp:
        rendered = invoke("render", *inp.args, "-o", fmt, *flags)
        if currently_in_test_context():
            note(f"render exit {rendered.code}\nstderr:\n{rendered.err}")
        assert rendered.code in (0, 1), (rendered.code, rendered.err)
        check_stderr(rendered, inp.names, strict)
        if rendered.code == 1:
            assert rendered.out == "", "exit 1 with output on stdout"
        elif fmt == "json":
            check_document(rendered.out)
        else:
            doc = yaml.safe_load(rendered.out)
            assert isinstance(doc, dict) and list(doc) == ["proxies"]
        validated = invoke("validate", *inp.args, *flags)
        assert validated.code == rendered.code, (validated.err, rendered.err)
        assert validated.err == rendered.err, "validate prints the same stderr as render (07 §3)"
        if validated.code == 0:
            assert re.fullmatch(rf"ok: \d+ resources in {len(inp.names)} files\n", validated.out), validated.out
        else:
            assert validated.out == ""
    if currently_in_test_context():
        event(f"exit {rendered.code}")
    return rendered.code


# ---------------------------------------------------------------------------------------------------------------------
# In-process properties

@bounded(80)
@given(text=garbage_text | unbalanced(), ext=EXTENSION)
@example(text="a: [" * 3000, ext=".yaml")
@example(text="- " * 500, ext=".json")
@example(text="a: &a [*a]\n", ext=".yaml")
@example(text="\t{\"type\": \"Mesh\"}\n", ext=".json")
def test_garbage_text(text: str, ext: str) -> None:
    check_render_and_validate([(f"g{ext}", text.encode("utf-8", "surrogatepass"))])


@bounded(60)
@given(data=garbage_bytes(), explicit=st.booleans())
@example(data=b"type: Mesh\nname: \xff\n", explicit=False)
@example(data=b"\x00", explicit=True)
@example(data=b"\xef\xbb\xbf\xef\xbb\xbftype: Mesh\nname: m\n", explicit=False)
def test_garbage_bytes(data: bytes, explicit: bool) -> None:
    # An explicit file is read whatever its extension (01 §1).
    name = "garbage.bin" if explicit else "garbage.yaml"
    check_render_and_validate([(name, data)], as_directory=not explicit)


@bounded(250)
@given(files=case(), as_directory=st.booleans(), strict=st.booleans(), fmt=st.sampled_from(["json", "json", "yaml"]))
# The example hypothesis shrank the integer crash to (the YAML loader: int() of 5000 digits).
@example(files=[("f0.yaml", b"type: " + b"9" * 5000 + b"\nname: mhc-web\nmesh: default\nspec:\n  to:\n"
                            b"  - targetRef:\n      kind: Mesh\n    default: {}\n")],
         as_directory=False, strict=False, fmt="json")
def test_mutated_documents(files: list[tuple[str, bytes]], as_directory: bool, strict: bool, fmt: str) -> None:
    check_render_and_validate(files, as_directory, strict, fmt)


@st.composite
def extreme_case(draw: st.DrawFn) -> list[tuple[str, bytes]]:
    """Valid-shaped documents whose fields keep their type but take extreme values, sometimes beside a mesh."""
    docs = draw(st.lists(mutated(ops=("extreme",), duplicates=False), min_size=1, max_size=4))
    files = [("docs.yaml", yaml.dump_all(docs, Dumper=Dumper, sort_keys=False, allow_unicode=True).encode())]
    if draw(st.booleans()):
        files.append(("mesh.yaml", BASE_MESH))
    return files


@bounded(200)
@given(files=extreme_case(), strict=st.booleans())
def test_type_preserving_extremes(files: list[tuple[str, bytes]], strict: bool) -> None:
    """Each field keeps its type but takes an extreme value (huge or negative numbers, odd durations, odd strings):
    the documents pass the structural checks and exercise the semantic checks and the translation."""
    check_render_and_validate(files, strict=strict)


@bounded(50)
@given(docs=st.lists(VALID_DOCUMENT, min_size=1, max_size=6), with_mesh=st.booleans())
def test_valid_shaped_documents(docs: list[dict], with_mesh: bool) -> None:
    """Unmutated documents: the happy path is reached often (exit 0 with a full 05 §2 document)."""
    files = [("docs.yaml", yaml.safe_dump_all(docs, sort_keys=False).encode())]
    if with_mesh:
        files.append(("mesh.yaml", BASE_MESH))
    check_render_and_validate(files)


@bounded(40)
@given(files=case(), existing=st.booleans())
def test_output_file_is_atomic(files: list[tuple[str, bytes]], existing: bool) -> None:
    """``render --output-file FILE``: on failure FILE is byte-identical (or still absent); never a temporary file
    left."""
    with Inputs(files, as_directory=True) as inp:
        out_dir = inp.root / "out"
        out_dir.mkdir()
        target = out_dir / "clusters.json"
        sentinel = b"previous bytes \xf0\x9f\x99\x82\n"
        if existing:
            target.write_bytes(sentinel)
        r = run("render", *inp.args, "--output-file", str(target))
        assert r.code in (0, 1)
        check_stderr(r, inp.names, strict=False)
        assert r.out == "", "with --output-file nothing goes to stdout"
        if r.code == 0:
            assert sorted(os.listdir(out_dir)) == ["clusters.json"]
            check_document(target.read_text(encoding="utf-8"))
            assert target.read_text(encoding="utf-8") == run("render", *inp.args).out
        else:
            assert sorted(os.listdir(out_dir)) == (["clusters.json"] if existing else [])
            if existing:
                assert target.read_bytes() == sentinel
        event(f"exit {r.code}")


# ---------------------------------------------------------------------------------------------------------------------
# The real process: ``python -m kumahc`` (real stdio encodings, real exit codes)

def run_process(*args: str) -> Run:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONIOENCODING", "PYTHONUTF8")}
    proc = subprocess.run([sys.executable, "-m", "kumahc", *args], capture_output=True, timeout=60, env=env)
    return Run(proc.returncode, proc.stdout.decode("utf-8"), proc.stderr.decode("utf-8", "backslashreplace"))


@bounded(5)
@given(files=case() | extreme_case())
def test_process_mutated_documents(files: list[tuple[str, bytes]]) -> None:
    check_render_and_validate(files, invoke=run_process)


NASTY = {
    "invalid-utf8": b"type: Mesh\nname: \xc3\x28\n",
    "nul": b"type: Mesh\x00\nname: m\n",
    "deep": b"[" * 5000,
    "billion-laughs": b"a: &a [x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]\n"
                      b"c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]\nd: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c]\n"
                      b"e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d]\nf: &f [*e, *e, *e, *e, *e, *e, *e, *e, *e]\n",
    "control-chars-in-name": b'type: MeshHealthCheck\nname: "a\\nb\\e[31m\\u2028"\nspec: {to: 3}\n',
    "huge-duration": b"type: MeshHealthCheck\nname: x\nspec:\n  to:\n  - targetRef: {kind: Mesh}\n"
                     b"    default: {interval: " + b"9" * 5000 + b"s, tcp: {}}\n",
}


@pytest.mark.parametrize("name", sorted(NASTY))
def test_process_nasty_inputs(name: str) -> None:
    check_render_and_validate([(f"{name}.yaml", NASTY[name])], invoke=run_process)


# ---------------------------------------------------------------------------------------------------------------------
# serve: a stream of bad files never replaces the last good snapshot

def _metric(metrics: str, name: str) -> float:
    for line in metrics.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[-1])
    raise AssertionError(f"{name} not in /metrics")


FAILURES = 'kumahc_reloads_total{result="failure"}'


def test_serve_keeps_last_good_snapshot_through_bad_files(tmp_path: Path) -> None:
    watched = tmp_path / "mesh"
    shutil.copytree(REPO / "examples" / "complete" / "mesh", watched)
    staging = tmp_path / "staging"
    bad_name = "zz-fuzz.yaml"
    with serve(str(watched)) as s:
        status, _, good = s.get("/config_dump")
        assert status == 200 and json.loads(good)["proxies"]
        fed: list[bytes] = []

        @bounded(15)
        @given(data=mutated_file(max_ops=3) | garbage_bytes() | unbalanced().map(str.encode))
        def feed(data: bytes) -> None:
            # Only inputs that make the watched directory invalid (checked in-process on a copy first).
            shutil.rmtree(staging, ignore_errors=True)
            shutil.copytree(watched, staging)
            (staging / bad_name).write_bytes(data)
            assume(run("validate", str(staging)).code == 1)
            before = _metric(s.get("/metrics")[2], FAILURES)
            mark = len(s.stderr())
            atomic_write_bytes(watched / bad_name, data)
            s.wait_log("ERROR reload failed; keeping the last good snapshot", after=mark, timeout=15)
            assert s.proc.poll() is None, "serve exited"
            assert s.get("/config_dump")[2] == good, "the last good snapshot is still served"
            assert s.get("/ready")[0] == 200
            assert _metric(s.get("/metrics")[2], FAILURES) > before
            fed.append(data)

        feed()
        assert len(fed) >= 10, f"only {len(fed)} bad files fed"
        log = s.stderr()
        assert "Traceback" not in log and "error: internal" not in log, log
        for line in log.splitlines():  # one problem = one log line, whatever the bad file held
            assert re.match(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ (INFO|WARNING|ERROR) ", line), line
        assert _metric(s.get("/metrics")[2], FAILURES) >= len(fed)

        # A good file is picked up again: a new policy changes the snapshot.
        mark = len(s.stderr())
        atomic_write(str(watched / bad_name), "type: MeshHealthCheck\nname: fuzz-recovered\nspec:\n  targetRef: "
                     "{kind: Mesh}\n  to:\n  - targetRef: {kind: Mesh}\n    default: {interval: 7s, tcp: {}}\n")
        s.wait_log("INFO reloaded: ", after=mark, timeout=15)
        now = s.get("/config_dump")[2]
        assert now != good and '"interval": "7s"' in now
        assert s.proc.poll() is None and s.get("/ready")[0] == 200


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """``atomic_write`` for bytes (garbage need not be UTF-8): replace in one step."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
    os.replace(tmp, path)


# ---------------------------------------------------------------------------------------------------------------------
# Regressions: inputs hypothesis found that crashed kumahc (error: internal) or broke the one-line rule, kept as plain
# tests with their exact output.

MHC_INTERVAL = ("type: MeshHealthCheck\nname: x\nspec:\n  to:\n  - targetRef: {kind: Mesh}\n"
                "    default: {%s: %s, tcp: {}}\n")


@pytest.mark.parametrize(("text", "expected"), [
    # the YAML loader: int() refuses more than 4300 decimal digits (ValueError while composing the document).
    ("type: Mesh\nname: m\nx: " + "9" * 5000 + "\n", "f.yaml:3: invalid YAML: integer larger than 1000 digits"),
    ("type: Mesh\nname: m\nx: -" + "1_" * 2500 + "1\n", "f.yaml:3: invalid YAML: integer larger than 1000 digits"),
    # the YAML loader: a long hex literal builds, but str() of it failed later (skipped kind "<value>").
    ("kind: 0x" + "f" * 3000 + "\n", "f.yaml:1: invalid YAML: integer larger than 1000 digits"),
    ("a: 0b1" + "0" * 3500 + "\n", "f.yaml:1: invalid YAML: integer larger than 1000 digits"),
    # durations: int() of the digits of a duration.
    (MHC_INTERVAL % ("interval", "9" * 5000 + "s"),
     "f.yaml:6: MeshHealthCheck x: spec.to[0].default.interval: must be less than 9223372036s"),
    (MHC_INTERVAL % ("initialJitter", "-" + "9" * 5000 + "s"),
     "f.yaml:6: MeshHealthCheck x: spec.to[0].default.initialJitter: must be greater than zero when defined"),
    ("type: HealthCheck\nname: h\nsources: [{match: {kuma.io/service: web}}]\n"
     "destinations: [{match: {kuma.io/service: backend}}]\n"
     "conf: {interval: 1." + "1" * 5000 + "h, timeout: 0." + "0" * 4400 + "1s, unhealthyThreshold: 3, "
     "healthyThreshold: 1, noTrafficInterval: " + "0" * 5000 + "1s}\n",
     "f.yaml:5: HealthCheck h: conf.timeout: must have a positive value"),
    # diagnostics: a newline or an escape sequence in a name, a key or a kind split or coloured the line.
    ('type: MeshHealthCheck\nname: "a\\nb\\e[31m\\u2028\\x85"\nspec: {to: 3}\n',
     "f.yaml:3: MeshHealthCheck a\\nb\\x1b[31m\\u2028\\x85: spec.to: must be a list"),
    ('type: Dataplane\nname: d\nnetworking: {address: 10.0.0.1, inbound: [{port: 1, tags: {kuma.io/service: x, '
     '"a\\rb": c}}]}\n', 'f.yaml:3: Dataplane d: networking.inbound[0].tags["a\\rb"]: tag name must consist of '
     "alphanumeric characters, dots, dashes, slashes and underscores"),
])
def test_regression_crashes(ws, text: str, expected: str) -> None:
    ws.write("f.yaml", text)
    assert ws.fails("render", "f.yaml") == [expected]
    assert ws.fails("validate", "f.yaml") == [expected]


def test_regression_long_fraction_is_a_duration(ws) -> None:
    """A fraction of 5000 digits is still a duration: digits below a nanosecond are dropped (as Go does)."""
    ws.write("f.yaml", MHC_INTERVAL % ("interval", "1." + "9" * 5000 + "s"))
    doc = ws.ok("render", "f.yaml").json
    assert doc["proxies"][0]["clusters"][0]["health_checks"][0]["interval"] == "1.999999999s"


def test_regression_control_characters_in_a_skipped_kind(ws) -> None:
    ws.write("f.yaml", 'apiVersion: v1\nkind: "Deploy\\rment\\x1b"\n')
    r = ws.ok("validate", "f.yaml")
    assert r.lines == ['warning: f.yaml:2: document 1: kind: skipped kind "Deploy\\rment\\x1b" (kumahc reads '
                       "CircuitBreaker, Dataplane, HealthCheck, KongUpstreamPolicy, Mesh, MeshCircuitBreaker, "
                       "MeshGateway, MeshHTTPRoute, MeshHealthCheck, MeshService, MeshTCPRoute, Service)"]
