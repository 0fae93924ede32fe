"""Legacy CircuitBreaker: Kuma's validator cases (``circuit_breaker_validator_test.go``) and configurer cases
(``outlier_detection_configurer_test.go``, ``circuit_breaker_configurer_test.go``) restated as kumahc inputs and
expected messages / cluster fields; selection like legacy HealthCheck; precedence below MeshCircuitBreaker."""

from __future__ import annotations

import textwrap

import pytest
from helpers import Workspace, dataplane, docs

F = "p.yaml"
MESH = docs(dataplane("web-01", "10.0.0.1", "web", protocol="http", outbound="[{tags: {kuma.io/service: backend}}]"),
            dataplane("backend-01", "10.0.0.2", "backend", 20001, protocol="http", outbound="[]"))


def cb(body: str, name: str = "p") -> str:
    """A Universal CircuitBreaker: ``body`` is Kuma's spec text (sources, destinations, conf)."""
    return f"type: CircuitBreaker\nname: {name}\nmesh: default\n" + textwrap.dedent(body).strip("\n") + "\n"


def problems(lines: list[str]) -> list[str]:
    out = []
    for line in lines:
        head, sep, rest = line.partition(" CircuitBreaker p: ")
        assert sep and head.startswith(f"{F}:"), line
        out.append(rest)
    return out


SELECTORS = """\
sources:
- match:
    kuma.io/service: frontend
    region: us
destinations:
- match:
    kuma.io/service: backend
"""

PASS_CASES = [
    ("full example", SELECTORS + """\
conf:
  interval: 1s
  baseEjectionTime: 30s
  maxEjectionPercent: 20
  splitExternalAndLocalErrors: false
  detectors:
    totalErrors:
      consecutive: 20
    gatewayErrors:
      consecutive: 10
    localErrors:
      consecutive: 7
    standardDeviation:
      requestVolume: 10
      minimumHosts: 5
      factor: 1.9
    failure:
      requestVolume: 10
      minimumHosts: 5
      threshold: 85
  thresholds:
    maxConnections: 2
    maxPendingRequests: 2
    maxRetries: 2
    maxRequests: 2
"""),
    ("one detector with default values", SELECTORS + """\
conf:
  detectors:
    totalErrors: {}
    standardDeviation: {}
"""),
    ("only thresholds", SELECTORS + "conf:\n  thresholds:\n    maxConnections: 2\n"),
]


@pytest.mark.parametrize(("name", "body"), PASS_CASES, ids=[c[0] for c in PASS_CASES])
def test_kuma_valid(ws: Workspace, name: str, body: str) -> None:
    ws.write(F, cb(body))
    r = ws.ok("validate", F)
    assert (r.out, r.lines) == ("ok: 1 resources in 1 files\n", [
        "info: preview mode: no Dataplane in the inputs; synthesised proxies: default/frontend"])


ERROR_CASES = [
    ("spec: empty", "", ["sources: must have at least one element", "destinations: must have at least one element",
                         "conf: must have at least one of the detector or threshold configured"]),
    ("wrong format", """\
sources:
- match:
    kuma.io/service: frontend
    region: us
destinations:
- match:
    kuma.io/service: backend
    region: eu
conf:
    maxEjectionPercent: 120
    detectors:
      failure:
        threshold: 850
""", ['destinations[0].match: must consist of exactly one tag "kuma.io/service"',
      'destinations[0].match["region"]: tag "region" is not allowed',
      "conf.maxEjectionPercent: has to be in [0.0 - 100.0] range",
      "conf.detectors.failure.threshold: has to be in [0.0 - 100.0] range"]),
    ("empty thresholds section", SELECTORS + """\
conf:
  detectors:
    totalErrors: {}
    standardDeviation: {}
  thresholds: {}
""", ["conf.thresholds: can't be empty"]),
    ("empty detectors section", SELECTORS + """\
conf:
  detectors: {}
  thresholds:
    maxConnections: 2
""", ["conf.detectors: can't be empty"]),
    ("empty detectors and thresholds section", SELECTORS + """\
conf:
  detectors: {}
  thresholds: {}
""", ["conf: must have at least one of the detector or threshold configured"]),
    # kumahc's own rules: values Envoy rejects (durations) or Kuma wraps into a huge uint32 (a negative factor)
    ("kumahc: factor NaN", SELECTORS + "conf: {detectors: {standardDeviation: {factor: .nan}}}\n",
     ["conf.detectors.standardDeviation.factor: must be a number"]),
    ("kumahc: factor too big", SELECTORS + "conf: {detectors: {standardDeviation: {factor: 5000000}}}\n",
     ["conf.detectors.standardDeviation.factor: must be at most 4294967.295 (Envoy's success_rate_stdev_factor is "
      "thousandths in 32 bits)"]),
    ("kumahc: durations and factor", SELECTORS + """\
conf:
  interval: 0s
  baseEjectionTime: -1s
  detectors:
    standardDeviation: {factor: -0.5}
""", ["conf.interval: must have a positive value", "conf.baseEjectionTime: must have a positive value",
      "conf.detectors.standardDeviation.factor: must not be negative"]),
]


@pytest.mark.parametrize(("name", "body", "expected"), ERROR_CASES, ids=[c[0] for c in ERROR_CASES])
def test_kuma_invalid(ws: Workspace, name: str, body: str, expected: list[str]) -> None:
    ws.write(F, cb(body))
    assert sorted(problems(ws.fails("validate", F))) == sorted(expected)


def test_error_line_and_kubernetes_paths(ws: Workspace) -> None:
    ws.write(F, """\
apiVersion: kuma.io/v1alpha1
kind: CircuitBreaker
mesh: default
metadata: {name: p}
spec:
  sources: [{match: {kuma.io/service: web}}]
  destinations: [{match: {kuma.io/service: backend}}]
  conf:
    maxEjectionPercent: 101
    thresholds: {maxRetries: 1}
""")
    assert ws.fails("validate", F) == [
        "p.yaml:9: CircuitBreaker p: spec.conf.maxEjectionPercent: has to be in [0.0 - 100.0] range"]


# --- configurer cases ----------------------------------------------------------------------------------------------

ZERO = {"enforcing_consecutive_5xx": 0, "enforcing_consecutive_gateway_failure": 0,
        "enforcing_consecutive_local_origin_failure": 0, "enforcing_failure_percentage": 0,
        "enforcing_success_rate": 0}
CONFIGURER_CASES = [
    ("TotalError detector, default values", "detectors: {totalErrors: {}}", {**ZERO, "enforcing_consecutive_5xx": 100}),
    ("GatewayError detector, default values", "detectors: {gatewayErrors: {}}",
     {**ZERO, "enforcing_consecutive_gateway_failure": 100}),
    ("LocalError detector, default values", "detectors: {localErrors: {}}",
     {**ZERO, "enforcing_consecutive_local_origin_failure": 100}),
    ("all error detectors, custom values",
     "detectors: {totalErrors: {consecutive: 21}, gatewayErrors: {consecutive: 11}, localErrors: {consecutive: 6}}",
     {**ZERO, "consecutive_5xx": 21, "consecutive_gateway_failure": 11, "consecutive_local_origin_failure": 6,
      "enforcing_consecutive_5xx": 100, "enforcing_consecutive_gateway_failure": 100,
      "enforcing_consecutive_local_origin_failure": 100}),
    ("StandardDeviation detector, default values", "detectors: {standardDeviation: {}}",
     {**ZERO, "enforcing_success_rate": 100, "enforcing_local_origin_success_rate": 100}),
    ("StandardDeviation detector, custom values",
     "detectors: {standardDeviation: {requestVolume: 7, minimumHosts: 8, factor: 1.9}}",
     {**ZERO, "enforcing_success_rate": 100, "enforcing_local_origin_success_rate": 100,
      "success_rate_minimum_hosts": 8, "success_rate_request_volume": 7, "success_rate_stdev_factor": 1900}),
    ("Failure detector, default values", "detectors: {failure: {}}",
     {**ZERO, "enforcing_failure_percentage": 100, "enforcing_failure_percentage_local_origin": 100}),
    ("Failure detector, custom values", "detectors: {failure: {requestVolume: 7, minimumHosts: 8, threshold: 85}}",
     {**ZERO, "enforcing_failure_percentage": 100, "enforcing_failure_percentage_local_origin": 100,
      "failure_percentage_minimum_hosts": 8, "failure_percentage_request_volume": 7,
      "failure_percentage_threshold": 85}),
    ("interval, ejection time, percent, split mode",
     "{interval: 5s, baseEjectionTime: 1m, maxEjectionPercent: 30, splitExternalAndLocalErrors: true, "
     "detectors: {totalErrors: {}}}".removeprefix("{").removesuffix("}"),
     {**ZERO, "interval": "5s", "base_ejection_time": "60s", "max_ejection_percent": 30,
      "split_external_local_origin_errors": True, "enforcing_consecutive_5xx": 100}),
]


def backend_cluster(ws: Workspace, *policies: str) -> tuple[dict, list[str]]:
    ws.write("in.yaml", docs(MESH, *policies))
    r = ws.ok("render", "in.yaml", "--proxy", "web-01")
    (cluster,) = [c for c in r.json["proxies"][0]["clusters"] if c["name"] == "backend"]
    return cluster, r.lines


def web_to_backend(conf: str, name: str = "p", source: str = "{kuma.io/service: web}",
                   destination: str = "backend") -> str:
    return cb(f"""\
sources: [{{match: {source}}}]
destinations: [{{match: {{kuma.io/service: '{destination}'}}}}]
conf: {{{conf}}}
""", name)


@pytest.mark.parametrize(("name", "conf", "expected"), CONFIGURER_CASES, ids=[c[0] for c in CONFIGURER_CASES])
def test_kuma_outlier_configurer(ws: Workspace, name: str, conf: str, expected: dict) -> None:
    cluster, lines = backend_cluster(ws, web_to_backend(conf))
    assert lines == []
    assert cluster["outlier_detection"] == expected
    assert "circuit_breakers" not in cluster  # no thresholds
    assert "common_lb_config" not in cluster


def test_kuma_circuit_breaker_configurer_thresholds(ws: Workspace) -> None:
    cluster, _ = backend_cluster(ws, web_to_backend(
        "thresholds: {maxConnections: 2, maxPendingRequests: 3, maxRetries: 4, maxRequests: 5}"))
    assert cluster["circuit_breakers"] == {"thresholds": [
        {"max_connections": 2, "max_pending_requests": 3, "max_requests": 5, "max_retries": 4}]}
    # Thresholds only: Kuma still writes outlier_detection, with every detector off.
    assert cluster["outlier_detection"] == ZERO


def test_most_specific_policy_wins_no_merge(ws: Workspace) -> None:
    wide = web_to_backend("thresholds: {maxConnections: 1}, detectors: {totalErrors: {consecutive: 9}}",
                          name="wide", source="{kuma.io/service: '*'}", destination="*")
    specific = web_to_backend("thresholds: {maxRequests: 7}", name="specific")
    cluster, lines = backend_cluster(ws, wide, specific)
    assert cluster["circuit_breakers"] == {"thresholds": [{"max_requests": 7}]}
    assert cluster["outlier_detection"] == ZERO  # the wide policy's detector is not merged in
    assert lines == []


def test_mesh_circuit_breaker_takes_precedence(ws: Workspace) -> None:
    legacy = web_to_backend("thresholds: {maxConnections: 1}, detectors: {totalErrors: {consecutive: 9}}",
                            name="legacy")
    mcb = """\
type: MeshCircuitBreaker
name: new
mesh: default
spec:
  to:
  - targetRef: {kind: Mesh}
    default: {connectionLimits: {maxConnections: 50}}
"""
    cluster, lines = backend_cluster(ws, legacy, mcb)
    # circuit breakers from MeshCircuitBreaker; it has no outlierDetection, so CircuitBreaker's applies
    assert cluster["circuit_breakers"] == {"thresholds": [{"max_connections": 50, "track_remaining": True}]}
    assert cluster["outlier_detection"]["consecutive_5xx"] == 9
    assert lines == ["warning: proxy default/web-01 cluster backend: circuit breakers from CircuitBreaker legacy "
                     "ignored: MeshCircuitBreaker new takes precedence"]


def test_inspect_names_the_selected_circuit_breaker(ws: Workspace) -> None:
    wide = web_to_backend("thresholds: {maxConnections: 1}", name="wide", source="{kuma.io/service: '*'}",
                          destination="*")
    specific = web_to_backend("thresholds: {maxRequests: 7}", name="specific")
    ws.write("in.yaml", docs(MESH, wide, specific))
    lines = ws.ok("inspect", "in.yaml", "--proxy", "web-01", "--cluster", "backend").out.splitlines()
    assert lines[-2:] == [
        "  CircuitBreaker: specific (aggregate rank (2,2))",
        "  result: health check <- none; panic settings <- none; outlier detection <- CircuitBreaker specific; "
        "circuit breakers <- CircuitBreaker specific"]


# --- migrate: CircuitBreaker → MeshCircuitBreaker ------------------------------------------------------------------

FRONTEND_MESH = docs(
    dataplane("frontend-01", "10.0.0.1", "frontend", protocol="http", labels={"region": "us"},
              outbound="[{tags: {kuma.io/service: backend}}]").replace(
        "tags: {kuma.io/service: frontend, kuma.io/protocol: http}",
        "tags: {kuma.io/service: frontend, kuma.io/protocol: http, region: us}"),
    dataplane("backend-01", "10.0.0.2", "backend", 20001, protocol="http", outbound="[]"))


def test_migrate_example_exactly(ws: Workspace) -> None:
    from helpers import REPO

    r = ws.ok("migrate", str(REPO / "examples/circuitbreaker/full-universal.yaml"))
    expected = (REPO / "tests/data/migrate/circuitbreaker-full-universal.yaml").read_text(encoding="utf-8")
    assert r.out == expected.replace("examples/circuitbreaker/", str(REPO / "examples/circuitbreaker") + "/", 1)


def _render_backend(ws: Workspace, name: str, *policies: str) -> dict:
    ws.write(name, docs(FRONTEND_MESH, *policies))
    r = ws.ok("render", name, "--proxy", "frontend-01")
    (cluster,) = [c for c in r.json["proxies"][0]["clusters"] if c["name"] == "backend"]
    return cluster


MIGRATE_CASES = [
    ("full example", "examples/circuitbreaker/full-universal.yaml"),
    ("thresholds only", """\
sources: [{match: {kuma.io/service: frontend}}]
destinations: [{match: {kuma.io/service: '*'}}]
conf: {interval: 3s, thresholds: {maxRetries: 9}}
"""),
    ("split mode without standardDeviation", """\
sources: [{match: {kuma.io/service: '*', region: us}}, {match: {kuma.io/service: frontend}}]
destinations: [{match: {kuma.io/service: backend}}]
conf: {splitExternalAndLocalErrors: true, detectors: {gatewayErrors: {}, failure: {threshold: 50}}}
"""),
]


@pytest.mark.parametrize(("name", "body"), MIGRATE_CASES, ids=[c[0] for c in MIGRATE_CASES])
def test_migrated_policy_renders_what_the_notes_say(ws: Workspace, name: str, body: str) -> None:
    """Render the same Dataplanes with the CircuitBreaker and with its migration: the clusters differ only where
    a ``# note:`` says so."""
    from helpers import REPO

    legacy = (REPO / body).read_text(encoding="utf-8") if body.endswith(".yaml") else cb(body)
    ws.write("legacy.yaml", legacy)
    migrated = ws.ok("migrate", "legacy.yaml").out
    notes = [line for line in migrated.splitlines() if line.startswith("# note:")]
    before = _render_backend(ws, "before.yaml", legacy)
    after = _render_backend(ws, "after.yaml", *migrated.split("---\n"))
    # track_remaining: the note "also sets track_remaining"
    assert any("track_remaining" in n for n in notes)
    for t in after["circuit_breakers"]["thresholds"]:
        assert t.pop("track_remaining") is True
    if after["circuit_breakers"] == {"thresholds": [{}]}:
        del after["circuit_breakers"]
    od_before, od_after = before.pop("outlier_detection"), after.pop("outlier_detection", None)
    assert before == after
    detectors = ("enforcing_consecutive_5xx", "enforcing_consecutive_gateway_failure",
                 "enforcing_consecutive_local_origin_failure", "enforcing_success_rate",
                 "enforcing_failure_percentage")
    if od_after is None:
        # the note "dropped: without detectors ... ejected nothing"
        assert all(od_before[k] == 0 for k in detectors)
        assert any("without detectors" in n for n in notes) or set(od_before) == set(detectors)
        return
    # Envoy's default (consecutive 5) made explicit by the migration (see the "had no consecutive" note)
    for count, enforcing in (("consecutive_5xx", "enforcing_consecutive_5xx"),
                             ("consecutive_gateway_failure", "enforcing_consecutive_gateway_failure"),
                             ("consecutive_local_origin_failure", "enforcing_consecutive_local_origin_failure")):
        if od_before[enforcing] == 100 and count not in od_before:
            assert any("had no consecutive" in n for n in notes)
            od_before[count] = 5
    if "enforcing_local_origin_success_rate" not in od_before:
        # CircuitBreaker left Envoy's default (100), which acts in split mode only: the split-mode note
        assert od_after.pop("enforcing_local_origin_success_rate") == 0
        if od_before.get("split_external_local_origin_errors"):
            assert any("local-origin success-rate" in n for n in notes)
    if "enforcing_failure_percentage_local_origin" not in od_before:
        assert od_after.pop("enforcing_failure_percentage_local_origin") == 0  # Envoy's default is 0 too
    assert od_before == od_after


def test_precedence_example_kong_over_circuitbreaker_and_mesh_over_both() -> None:
    from helpers import REPO, run

    r = run("render", str(REPO / "examples/circuitbreaker/precedence.yaml"), "--proxy", "web-01")
    assert r.code == 0
    (cluster,) = r.json["proxies"][0]["clusters"]
    assert cluster["circuit_breakers"] == {"thresholds": [{"max_connections": 500, "max_requests": 1000,
                                                           "track_remaining": True}]}
    assert cluster["outlier_detection"]["consecutive_gateway_failure"] == 5  # Kong's httpFailures
    assert "consecutive_5xx" not in cluster["outlier_detection"]  # not the CircuitBreaker's totalErrors
    prefix = "warning: proxy default/web-01 cluster backend_shop_svc_80: "
    assert [line.removeprefix(prefix) for line in r.lines if line.startswith(prefix)] == [
        "outlier detection from CircuitBreaker web-to-backend ignored: KongUpstreamPolicy shop/backend-hc takes "
        "precedence",
        "circuit breakers from CircuitBreaker web-to-backend ignored: MeshCircuitBreaker web-limits takes precedence"]
