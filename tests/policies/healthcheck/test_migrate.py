"""``kumahc migrate`` (spec 07 §7): the conversion table, the comment lines, the worked example byte for byte, the
command line — and proof that the migrated policies do what the HealthChecks did.

The proof: migrate, check that ``kumahc validate`` accepts the output, then render the original inputs and the
migrated inputs (the MeshHealthChecks plus every non-HealthCheck document of the original inputs) and compare the
clusters. Where they differ, the test states the exact difference — written as a transformation of the original
cluster — and checks that the ``# note:`` line explaining it is in the output:

======================================  ==========================================================================
difference                              note
======================================  ==========================================================================
TCP check on a non-tcp destination      HealthCheck ran a TCP check on every destination …
HTTP check on a non-http destination    HealthCheck ran the HTTP check on every destination …
most specific vs merge                  HealthCheck applied only the most specific policy …
headers (x-kuma-tags, add before set)   HealthCheck ran the HTTP check … (the HTTP mapping of 02 §8)
header values split on commas           header "<key>": MeshHealthCheck splits values on commas
dropped wildcard source tags            source tag "<k>: *" dropped …
======================================  ==========================================================================

Two differences have no note in 07 §7 and are pinned here as found: a Kubernetes policy's plain service name is
resolved in ``kuma-system`` (02 §5), and an all-wildcard source becomes ``Mesh`` (wildcard keys other than
``kuma.io/service`` no longer restrict the proxies)."""

from __future__ import annotations

import copy
import difflib
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from helpers import REPO, Workspace, dataplane, run

from kumahc.pipeline import Options, Result
from kumahc.pipeline import run as pipeline_run
from kumahc.render import document, to_json

EXAMPLES = REPO / "examples" / "healthcheck"
GOLDEN = REPO / "golden"

MIGRATED = "# migrated from HealthCheck {} ({})"
MERGE = ("# note: HealthCheck applied only the most specific policy to a destination; MeshHealthCheck merges every "
         "matching policy field by field")
TCP = ("# note: HealthCheck ran a TCP check on every destination; MeshHealthCheck runs tcp only on tcp destinations "
       "(add http or grpc blocks for other protocols)")
HTTP = ("# note: HealthCheck ran the HTTP check on every destination; MeshHealthCheck runs http only on http and http2 "
        "destinations")
SUBSET = ("# note: MeshSubset is deprecated since Kuma 2.10; prefer a Dataplane labels selector if your proxies carry "
          "labels")
NO_HC = "warning: no HealthCheck or CircuitBreaker resources found"


def split_note(n: int) -> str:
    return f"# note: split into {n} policies, one per source selector"


def dropped_note(key: str) -> str:
    return f'# note: source tag "{key}: *" dropped: MeshSubset tags cannot use wildcards'


def comma_note(key: str) -> str:
    return f'# note: header "{key}": MeshHealthCheck splits values on commas'


# --- helpers -------------------------------------------------------------------------------------------------------

Clusters = dict[tuple[str, str, str], dict[str, Any]]
"""(mesh, proxy, cluster name) → Cluster JSON."""


def migrate(*paths: str | Path) -> str:
    """``kumahc migrate PATHS``: must succeed; returns stdout."""
    r = run("migrate", *map(str, paths))
    assert r.code == 0, r.err
    return r.out


def comment_blocks(text: str) -> list[list[str]]:
    """The leading comment lines of each output document."""
    return [[line for line in doc.splitlines() if line.startswith("#")] for doc in text.split("---\n")]


def result(paths: list[str | Path], protocol: str | None = None) -> Result:
    # keep_documents: migrated_inputs() re-dumps the Dataplanes as the loader read them
    return pipeline_run([str(p) for p in paths], Options(protocol=protocol, keep_documents=True))


def clusters(paths: list[str | Path], protocol: str | None = None) -> Clusters:
    doc = json.loads(to_json(document(result(paths, protocol))))
    return {(p["mesh"], p["name"], c["name"]): c for p in doc["proxies"] for c in p["clusters"]}


def migrated_inputs(ws: Workspace, paths: list[str | Path], name: str = "migrated.yaml") -> tuple[Path, str]:
    """Migrate ``paths`` and check that ``kumahc validate`` accepts the output alone. Returns (a file holding the
    output plus every non-HealthCheck document of the inputs, as the loader read them; the output)."""
    out = migrate(*paths)
    ws.write("mhc-only.yaml", out)
    v = run("validate", "mhc-only.yaml")
    assert v.code == 0, v.err
    assert v.out == f"ok: {out.count('---') + 1} resources in 1 files\n"
    others = [yaml.safe_dump(r.body, sort_keys=False) for r in result(paths).loaded.resources
              if r.kind != "HealthCheck"]
    return ws.write(name, "---\n".join([out, *others])), out


def compare(ws: Workspace, paths: list[str | Path], protocol: str | None = None) -> tuple[Clusters, Clusters, str]:
    """(original clusters, migrated clusters, migrate output)."""
    migrated, out = migrated_inputs(ws, paths)
    return clusters(paths, protocol), clusters([migrated], protocol), out


# Each expected difference is a transformation of the original (HealthCheck) cluster.

def same(c: dict[str, Any]) -> dict[str, Any]:
    return c


def without_check(c: dict[str, Any]) -> dict[str, Any]:
    """MeshHealthCheck selects no checker for the destination's protocol (02 §7): no ``health_checks``; the panic
    settings stay (02 §7, last line)."""
    c = copy.deepcopy(c)
    del c["health_checks"]
    return c


def mhc_headers(kuma_tags: str) -> Callable[[dict[str, Any]], dict[str, Any]]:
    """The HTTP headers of 02 §8 instead of 03 §4: ``x-kuma-tags`` first, then the ``add`` items (HealthCheck
    append true), then the ``set`` items (append false, OVERWRITE), every value split on commas."""

    def transform(c: dict[str, Any]) -> dict[str, Any]:
        c = copy.deepcopy(c)
        http = c["health_checks"][0]["http_health_check"]
        old = http.get("request_headers_to_add", [])

        def pieces(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
            out = []
            for h in items:
                for piece in h["header"].get("value", "").split(","):
                    header = {"key": h["header"]["key"], **({"value": piece} if piece else {})}
                    out.append({**h, "header": header})
            return out

        adds = [h for h in old if "append_action" not in h]
        sets = [h for h in old if "append_action" in h]
        http["request_headers_to_add"] = [{"header": {"key": "x-kuma-tags", "value": kuma_tags}},
                                          *pieces(adds), *pieces(sets)]
        return c

    return transform


def then(*fs: Callable[[dict[str, Any]], dict[str, Any]]) -> Callable[[dict[str, Any]], dict[str, Any]]:
    def transform(c: dict[str, Any]) -> dict[str, Any]:
        for f in fs:
            c = f(c)
        return c

    return transform


def expect(original: Clusters, f: Callable[[dict[str, Any]], dict[str, Any]],
           rename: dict[str, str] | None = None) -> Clusters:
    """Every original cluster transformed by ``f``; ``rename`` maps old cluster names to new ones."""
    rename = rename or {}
    return {(m, p, rename.get(n, n)): {**f(c), "name": rename.get(n, n)} for (m, p, n), c in original.items()}


# --- the worked example (07 §7) ------------------------------------------------------------------------------------

WORKED_EXAMPLE = """\
# migrated from HealthCheck web-to-backend-check (hc.yaml:1)
# note: HealthCheck applied only the most specific policy to a destination; MeshHealthCheck merges every matching policy field by field
# note: HealthCheck ran a TCP check on every destination; MeshHealthCheck runs tcp only on tcp destinations (add http or grpc blocks for other protocols)
# note: MeshSubset is deprecated since Kuma 2.10; prefer a Dataplane labels selector if your proxies carry labels
type: MeshHealthCheck
name: web-to-backend-check
mesh: default
spec:
  targetRef:
    kind: MeshSubset
    tags:
      kuma.io/service: web
  to:
  - targetRef:
      kind: MeshService
      name: backend
    default:
      interval: 10s
      timeout: 2s
      unhealthyThreshold: 3
      healthyThreshold: 1
      tcp: {}
"""  # noqa: E501 - the spec's lines, verbatim


def test_worked_example_byte_for_byte(ws: Workspace) -> None:
    ws.write("hc.yaml", (EXAMPLES / "seed000-tcp-connect-universal.yaml").read_text(encoding="utf-8"))
    r = run("migrate", "hc.yaml")
    assert (r.code, r.out) == (0, WORKED_EXAMPLE)
    # Inputs are validated like `validate`: its warnings and notes (here the preview note) go to stderr.
    assert r.lines == ["info: preview mode: no Dataplane in the inputs; synthesised proxies: default/web"]


def test_output_file_is_written_atomically_with_the_same_bytes(ws: Workspace) -> None:
    ws.write("hc.yaml", (EXAMPLES / "seed000-tcp-connect-universal.yaml").read_text(encoding="utf-8"))
    r = run("migrate", "hc.yaml", "--output-file", "out.yaml")
    assert (r.code, r.out) == (0, "")
    assert (ws.root / "out.yaml").read_text(encoding="utf-8") == WORKED_EXAMPLE
    assert sorted(p.name for p in ws.root.iterdir()) == ["hc.yaml", "out.yaml"]  # no temporary file left
    r = run("migrate", "hc.yaml", "--output-file", "missing-dir/out.yaml")
    assert r.code == 1 and r.out == ""
    assert r.lines[-1].startswith("error: missing-dir/out.yaml: cannot write: ")


def test_help_has_an_example() -> None:
    r = run("migrate", "--help")
    assert r.code == 0
    assert "Examples:" in r.out and "kumahc migrate examples/healthcheck/" in r.out and "--output-file FILE" in r.out


# --- seed examples: preview mode -------------------------------------------------------------------------------------

KUMA_SYSTEM = {"backend": "backend_kuma-system_svc_80"}
SEED_EXAMPLES = {
    # file: (expected migrated clusters from the original ones, rename, notes that must be present)
    "seed000-tcp-connect-universal.yaml": (same, None, [TCP]),
    "seed001-tcp-payload-universal.yaml": (same, None, [TCP]),
    "seed001-http-universal.yaml": (mhc_headers("&kuma.io/service=web&"), None, [HTTP]),
    # Kubernetes: the policy lives in kuma-system, so MeshService "backend" is backend in kuma-system (02 §5); the
    # preview destination is named after it. With real Dataplanes it matches nothing (see the Kubernetes test).
    "seed000-tcp-connect-kubernetes.yaml": (same, KUMA_SYSTEM, [TCP]),
    "seed001-tcp-payload-kubernetes.yaml": (same, KUMA_SYSTEM, [TCP]),
    "seed001-http-kubernetes.yaml": (mhc_headers("&kuma.io/service=web&"), KUMA_SYSTEM, [HTTP]),
    "seed002-all-options-tcp-kubernetes.yaml": (same, None, [TCP]),
    "seed002-all-options-http-kubernetes.yaml": (mhc_headers("&kuma.io/service=web_default_svc_80&"), None, [HTTP]),
}


def test_every_seed_example_is_covered() -> None:
    assert sorted(p.name for p in EXAMPLES.glob("*.yaml")) == sorted(SEED_EXAMPLES)


@pytest.mark.parametrize("name", sorted(SEED_EXAMPLES))
def test_seed_example_preview(ws: Workspace, name: str) -> None:
    f, rename, notes = SEED_EXAMPLES[name]
    original, migrated, out = compare(ws, [EXAMPLES / name])
    assert migrated == expect(original, f, rename)
    assert all(c.get("health_checks") for c in original.values())
    [comments] = comment_blocks(out)
    assert comments[0].startswith("# migrated from HealthCheck web-to-backend-check (")
    assert comments[1] == MERGE
    for note in [*notes, SUBSET]:
        assert note in comments


def test_seed_example_kubernetes_document(ws: Workspace) -> None:
    out = migrate(EXAMPLES / "seed002-all-options-http-kubernetes.yaml")
    assert out.split("spec:\n")[0].splitlines()[-7:] == [
        "apiVersion: kuma.io/v1alpha1", "kind: MeshHealthCheck", "metadata:", "  name: web-to-backend-check",
        "  namespace: kuma-system", "  labels:", "    kuma.io/mesh: default"]
    default = yaml.safe_load(out)["spec"]["to"][0]["default"]
    assert default == {
        "interval": "10s", "timeout": "2s", "unhealthyThreshold": 3, "healthyThreshold": 1, "initialJitter": "5s",
        "intervalJitter": "6s", "intervalJitterPercent": 10, "healthyPanicThreshold": 60, "failTrafficOnPanic": True,
        "noTrafficInterval": "10s", "eventLogPath": "/tmp/health-check.log", "alwaysLogHealthCheckFailures": True,
        "reuseConnection": False,
        "http": {"path": "/health", "expectedStatuses": [200, 201],
                 "requestHeadersToAdd": {"add": [{"name": "Accept", "value": "application/json"}],
                                         "set": [{"name": "Content-Type", "value": "application/json"}]}}}
    tcp = yaml.safe_load(migrate(EXAMPLES / "seed002-all-options-tcp-kubernetes.yaml"))["spec"]["to"][0]["default"]
    assert tcp["tcp"] == {"send": "Zm9v", "receive": ["YmFy", "YmF6"]}  # base64 copied as written


# --- seed examples against real Dataplanes, every destination protocol --------------------------------------------

PROTOCOLS = ["tcp", "http", "http2", "grpc", None]  # None: no kuma.io/protocol tag → unknown


def seed_mesh(ws: Workspace, example: str, protocol: str | None) -> Path:
    """Dataplanes for a seed example: the source proxy ``web`` (its ``sources`` service) with one outbound, the
    destination service (its ``destinations`` service) with ``protocol``."""
    src, dst = ("web_default_svc_80", "backend_default_svc_80") if "seed002" in example else ("web", "backend")
    web = dataplane("web", "10.0.0.1", src, outbound=f"[{{tags: {{kuma.io/service: {dst}}}}}]")
    return ws.write("dataplanes.yaml", web + "---\n" + dataplane("backend", "10.0.0.2", dst, 20001,
                                                                  protocol=protocol, outbound="[]"))


@pytest.mark.parametrize("protocol", PROTOCOLS)
@pytest.mark.parametrize("name", sorted(SEED_EXAMPLES))
def test_seed_example_on_each_protocol(ws: Workspace, name: str, protocol: str | None) -> None:
    mesh = seed_mesh(ws, name, protocol)
    ws.write("hc.yaml", (EXAMPLES / name).read_text(encoding="utf-8"))
    original, migrated, out = compare(ws, [mesh, "hc.yaml"])
    [(key, cluster)] = original.items()
    assert key[1] == "web" and cluster["health_checks"]  # HealthCheck: a check whatever the protocol (03 §4)
    http = "http" in name
    kubernetes_plain = "kubernetes" in name and "seed002" not in name
    if kubernetes_plain:
        f = without_check  # matches no destination: see test_kubernetes_plain_service_name_matches_nothing
    elif http and protocol in ("http", "http2"):
        src = "web_default_svc_80" if "seed002" in name else "web"
        f = mhc_headers(f"&kuma.io/service={src}&")
    elif not http and protocol == "tcp":
        f = same
    else:
        f = without_check  # the TCP or HTTP note below
    assert migrated == expect(original, f)
    [comments] = comment_blocks(out)
    assert (HTTP if http else TCP) in comments and MERGE in comments
    dst = "backend_default_svc_80" if "seed002" in name else "backend"
    unknown = f"warning: destination default/{dst}: protocol unknown; MeshHealthCheck adds no health check"
    assert (unknown in result(["migrated.yaml"]).report.lines()) == (protocol is None and not kubernetes_plain)


# --- Kubernetes: plain service names resolve in kuma-system -------------------------------------------------------

def test_kubernetes_plain_service_name_matches_nothing(ws: Workspace) -> None:
    """Found by this proof, no note in 07 §7: the MeshHealthCheck lives in kuma-system, so ``MeshService backend``
    means backend in namespace kuma-system (02 §5), not the tag-only destination ``backend`` (namespace "").
    Kubernetes ``kuma.io/service`` values have the ``<name>_<ns>_svc_<port>`` form, which still matches (seed 002
    above)."""
    mesh = seed_mesh(ws, "seed000", "tcp")
    original, migrated, out = compare(ws, [mesh, EXAMPLES / "seed000-tcp-connect-kubernetes.yaml"])
    assert migrated == expect(original, without_check)
    assert "matches no destination" in "\n".join(result(["migrated.yaml"]).report.lines())
    assert comment_blocks(out)[0][1:] == [MERGE, TCP, SUBSET]  # none of them explains it


# --- the conversion table --------------------------------------------------------------------------------------------

TWO_SOURCES = """\
type: HealthCheck
name: multi
mesh: default
sources:
- match: {kuma.io/service: web}
- match: {version: v1, kuma.io/service: api}
destinations:
- match: {kuma.io/service: backend}
conf: {interval: 10s, timeout: 2s, unhealthyThreshold: 3, healthyThreshold: 1}
"""

TWO_SOURCES_OUT = """\
# migrated from HealthCheck multi (hc.yaml:{line})
{MERGE}
{TCP}
{split}
{SUBSET}
type: MeshHealthCheck
name: multi-{n}
mesh: default
spec:
  targetRef:
    kind: MeshSubset
    tags:
{tags}
  to:
  - targetRef:
      kind: MeshService
      name: backend
    default:
      interval: 10s
      timeout: 2s
      unhealthyThreshold: 3
      healthyThreshold: 1
      tcp: {{}}
"""


def mesh_of(ws: Workspace, *dps: str) -> Path:
    return ws.write("dataplanes.yaml", "---\n".join(dps))


def test_multi_source_split(ws: Workspace) -> None:
    mesh = mesh_of(ws, dataplane("web", "10.0.0.1", "web", outbound="[{tags: {kuma.io/service: backend}}]"),
                   dataplane("api", "10.0.0.3", "api", outbound="[{tags: {kuma.io/service: backend}}]")
                   .replace("{kuma.io/service: api}", "{kuma.io/service: api, version: v1}"),
                   dataplane("other", "10.0.0.4", "other", outbound="[{tags: {kuma.io/service: backend}}]"),
                   dataplane("backend", "10.0.0.2", "backend", 20001, protocol="tcp", outbound="[]"))
    ws.write("hc.yaml", "type: Mesh\nname: default\n---\n" + TWO_SOURCES)
    original, migrated, out = compare(ws, [mesh, "hc.yaml"])
    common = {"MERGE": MERGE, "TCP": TCP, "SUBSET": SUBSET, "split": split_note(2), "line": 4}
    assert out == "---\n".join([
        TWO_SOURCES_OUT.format(n=1, tags="      kuma.io/service: web", **common),
        TWO_SOURCES_OUT.format(n=2, tags="      kuma.io/service: api\n      version: v1", **common)])
    assert migrated == original
    assert [k[1] for k, c in original.items() if "health_checks" in c] == ["api", "web"]  # not "other"


def wildcard_hc(match: str, destinations: str = "[{match: {kuma.io/service: backend}}]") -> str:
    return (f"type: HealthCheck\nname: wild\nsources: [{{match: {match}}}]\ndestinations: {destinations}\n"
            "conf: {interval: 10s, timeout: 2s, unhealthyThreshold: 3, healthyThreshold: 1}\n")


def tagged(name: str, address: str, tags: str, outbound: str = "[{tags: {kuma.io/service: backend}}]") -> str:
    return dataplane(name, address, name, outbound=outbound).replace(f"{{kuma.io/service: {name}}}", tags)


def wildcard_mesh(ws: Workspace) -> Path:
    return mesh_of(ws, tagged("web", "10.0.0.1", "{kuma.io/service: web, version: v1, zone: a}"),
                   tagged("api", "10.0.0.3", "{kuma.io/service: api, version: v2}"),
                   dataplane("backend", "10.0.0.2", "backend", 20001, protocol="tcp", outbound="[]"))


def test_wildcard_service_source_becomes_mesh(ws: Workspace) -> None:
    ws.write("hc.yaml", wildcard_hc("{kuma.io/service: '*'}"))
    original, migrated, out = compare(ws, [wildcard_mesh(ws), "hc.yaml"])
    assert yaml.safe_load(out)["spec"]["targetRef"] == {"kind": "Mesh"}
    assert comment_blocks(out) == [[MIGRATED.format("wild", "hc.yaml:1"), MERGE, TCP]]
    assert migrated == original and len([c for c in original.values() if "health_checks" in c]) == 2


def test_wildcard_entries_dropped_from_meshsubset(ws: Workspace) -> None:
    ws.write("hc.yaml", wildcard_hc("{kuma.io/service: '*', version: v1}"))
    original, migrated, out = compare(ws, [wildcard_mesh(ws), "hc.yaml"])
    assert yaml.safe_load(out)["spec"]["targetRef"] == {"kind": "MeshSubset", "tags": {"version": "v1"}}
    assert comment_blocks(out) == [[MIGRATED.format("wild", "hc.yaml:1"), MERGE, TCP,
                                    dropped_note("kuma.io/service"), SUBSET]]
    # every inbound carries kuma.io/service, so dropping "kuma.io/service: *" changes nothing
    assert migrated == original
    assert [k[1] for k, c in original.items() if "health_checks" in c] == ["web"]


def test_dropped_wildcard_widens_the_selection(ws: Workspace) -> None:
    """``zone: '*'`` required an inbound with a zone tag; the MeshSubset selects web proxies without one too."""
    ws.write("hc.yaml", wildcard_hc("{kuma.io/service: web, zone: '*'}"))
    mesh = mesh_of(ws, tagged("web-1", "10.0.0.1", "{kuma.io/service: web, zone: a}"),
                   tagged("web-2", "10.0.0.5", "{kuma.io/service: web}"),
                   dataplane("backend", "10.0.0.2", "backend", 20001, protocol="tcp", outbound="[]"))
    original, migrated, out = compare(ws, [mesh, "hc.yaml"])
    assert comment_blocks(out) == [[MIGRATED.format("wild", "hc.yaml:1"), MERGE, TCP, dropped_note("zone"), SUBSET]]
    web1 = ("default", "web-1", "backend")
    web2 = ("default", "web-2", "backend")
    assert "health_checks" not in original[web2]
    assert migrated == {**original, web2: {**original[web2], "health_checks": original[web1]["health_checks"]}}


def test_all_wildcard_source_becomes_mesh_and_widens(ws: Workspace) -> None:
    """Found by this proof, no note in 07 §7: ``{kuma.io/service: '*', version: '*'}`` needed a version tag;
    ``Mesh`` selects every proxy. No "dropped" note (nothing is dropped from a MeshSubset)."""
    ws.write("hc.yaml", wildcard_hc("{kuma.io/service: '*', version: '*'}"))
    mesh = mesh_of(ws, tagged("web", "10.0.0.1", "{kuma.io/service: web, version: v1}"),
                   tagged("api", "10.0.0.3", "{kuma.io/service: api}"),
                   dataplane("backend", "10.0.0.2", "backend", 20001, protocol="tcp", outbound="[]"))
    original, migrated, out = compare(ws, [mesh, "hc.yaml"])
    assert comment_blocks(out) == [[MIGRATED.format("wild", "hc.yaml:1"), MERGE, TCP]]
    api = ("default", "api", "backend")
    web = ("default", "web", "backend")
    assert "health_checks" not in original[api]
    assert migrated == {**original, api: {**original[api], "health_checks": original[web]["health_checks"]}}


def test_wildcard_destination_becomes_mesh(ws: Workspace) -> None:
    ws.write("hc.yaml", wildcard_hc("{kuma.io/service: web}",
                                    "[{match: {kuma.io/service: '*'}}, {match: {kuma.io/service: backend}}]"))
    mesh = mesh_of(ws, tagged("web", "10.0.0.1", "{kuma.io/service: web, kuma.io/protocol: tcp}", outbound="null"),
                   dataplane("db", "10.0.0.3", "db", protocol="tcp", outbound="[]"),
                   dataplane("backend", "10.0.0.2", "backend", 20001, protocol="tcp", outbound="[]"))
    original, migrated, out = compare(ws, [mesh, "hc.yaml"])
    assert [e["targetRef"] for e in yaml.safe_load(out)["spec"]["to"]] == [
        {"kind": "Mesh"}, {"kind": "MeshService", "name": "backend"}]
    assert migrated == original
    assert sorted(k[2] for k, c in original.items() if "health_checks" in c) == ["backend", "db", "web"]


# --- most specific vs merge ------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("case", "interval"), [
    ("hc-rank-most-specific", "2s"),  # HealthCheck: c (3 keys) wins, 3s; MeshHealthCheck: MeshSubset b and c tie on
                                      # kind, name descending merges c first, b last: 2s
    ("hc-rank-creation-time", "2s"),  # HealthCheck: a (has creationTime) wins, 1s; MeshSubset b outranks Mesh a: 2s
    ("hc-rank-input-order", None),    # HealthCheck: b (later in input), 2s; MeshSubset b outranks Mesh a: same
])
def test_most_specific_vs_merge_rank_cases(ws: Workspace, case: str, interval: str | None) -> None:
    original, migrated, out = compare(ws, [GOLDEN / case / "input.yaml"], protocol="tcp")
    key = ("default", "web", "backend")

    def f(c: dict[str, Any]) -> dict[str, Any]:
        if interval is None:
            return c
        c = copy.deepcopy(c)
        c["health_checks"][0]["interval"] = interval
        return c

    assert original[key]["health_checks"][0]["interval"] != interval
    assert migrated == expect(original, f)
    assert all(block[1] == MERGE for block in comment_blocks(out))


def two_policies(ws: Workspace, general: str, specific: str, protocol: str) -> tuple[Clusters, Clusters, str]:
    mesh = mesh_of(ws, dataplane("web", "10.0.0.1", "web", outbound="[{tags: {kuma.io/service: backend}}]"),
                   dataplane("backend", "10.0.0.2", "backend", 20001, protocol=protocol, outbound="[]"))
    ws.write("hc.yaml", "type: HealthCheck\nname: general\nsources: [{match: {kuma.io/service: '*'}}]\n"
             f"destinations: [{{match: {{kuma.io/service: '*'}}}}]\nconf: {general}\n---\n"
             "type: HealthCheck\nname: specific\nsources: [{match: {kuma.io/service: web}}]\n"
             f"destinations: [{{match: {{kuma.io/service: backend}}}}]\nconf: {specific}\n")
    return compare(ws, [mesh, "hc.yaml"])


def test_merge_adds_fields_the_winner_did_not_set(ws: Workspace) -> None:
    """HealthCheck: ``specific`` wins whole, no panic settings. MeshHealthCheck: ``general``'s panic threshold is
    merged under ``specific``'s fields."""
    original, migrated, out = two_policies(
        ws, "{interval: 1s, timeout: 1s, unhealthyThreshold: 1, healthyThreshold: 1, healthyPanicThreshold: 30}",
        "{interval: 5s, timeout: 2s, unhealthyThreshold: 3, healthyThreshold: 2}", "tcp")
    key = ("default", "web", "backend")
    assert original[key]["health_checks"][0]["interval"] == "5s" and "common_lb_config" not in original[key]
    assert migrated == {key: {**original[key], "common_lb_config": {"healthy_panic_threshold": {"value": 30.0}}}}
    assert [block[:2] for block in comment_blocks(out)] == [
        [MIGRATED.format("general", "hc.yaml:1"), MERGE], [MIGRATED.format("specific", "hc.yaml:7"), MERGE]]


def test_merge_combines_blocks(ws: Workspace) -> None:
    """HealthCheck: ``specific`` (TCP) wins on the http destination. MeshHealthCheck: the merged conf has
    ``general``'s http block and ``specific``'s timings, so the http destination gets an HTTP check."""
    original, migrated, out = two_policies(
        ws, "{interval: 1s, timeout: 1s, unhealthyThreshold: 1, healthyThreshold: 1, http: {path: /general}}",
        "{interval: 5s, timeout: 2s, unhealthyThreshold: 3, healthyThreshold: 2}", "http")
    key = ("default", "web", "backend")
    timings = {"timeout": "2s", "interval": "5s", "unhealthy_threshold": 3, "healthy_threshold": 2}
    assert original[key]["health_checks"] == [{**timings, "tcp_health_check": {}}]
    assert migrated == {key: {**original[key], "health_checks": [{**timings, "http_health_check": {
        "path": "/general", "request_headers_to_add": [{"header": {"key": "x-kuma-tags",
                                                                   "value": "&kuma.io/service=web&"}}]}}]}}
    assert [block[1:3] for block in comment_blocks(out)] == [[MERGE, HTTP], [MERGE, TCP]]


# --- headers, panic threshold ----------------------------------------------------------------------------------------

HEADERS_HC = """\
type: HealthCheck
name: headers
sources: [{match: {kuma.io/service: web}}]
destinations: [{match: {kuma.io/service: backend}}]
conf:
  interval: 10s
  timeout: 2s
  unhealthyThreshold: 3
  healthyThreshold: 1
  http:
    path: /health
    requestHeadersToAdd:
    - append: false
      header: {key: X-Set, value: "a,b"}
    - append: true
      header: {key: X-Add, value: "1,2"}
    - header: {key: X-Empty}
    - header: {key: X-Add, value: "3,4"}
    - append: false
      header: {key: X-Plain, value: v}
"""


def test_headers_append_and_commas(ws: Workspace) -> None:
    mesh = mesh_of(ws, dataplane("web", "10.0.0.1", "web", outbound="[{tags: {kuma.io/service: backend}}]"),
                   dataplane("backend", "10.0.0.2", "backend", 20001, protocol="http", outbound="[]"))
    ws.write("hc.yaml", HEADERS_HC)
    original, migrated, out = compare(ws, [mesh, "hc.yaml"])
    assert yaml.safe_load(out)["spec"]["to"][0]["default"]["http"] == {"path": "/health", "requestHeadersToAdd": {
        "add": [{"name": "X-Add", "value": "1,2"}, {"name": "X-Empty", "value": ""}, {"name": "X-Add", "value": "3,4"}],
        "set": [{"name": "X-Set", "value": "a,b"}, {"name": "X-Plain", "value": "v"}]}}
    assert comment_blocks(out) == [[MIGRATED.format("headers", "hc.yaml:1"), MERGE, HTTP, SUBSET,
                                    comma_note("X-Set"), comma_note("X-Add")]]
    key = ("default", "web", "backend")
    overwrite = {"append_action": "OVERWRITE_IF_EXISTS_OR_ADD"}
    assert original[key]["health_checks"][0]["http_health_check"]["request_headers_to_add"] == [
        {"header": {"key": "X-Set", "value": "a,b"}, **overwrite}, {"header": {"key": "X-Add", "value": "1,2"}},
        {"header": {"key": "X-Empty"}}, {"header": {"key": "X-Add", "value": "3,4"}},
        {"header": {"key": "X-Plain", "value": "v"}, **overwrite}]
    assert migrated[key]["health_checks"][0]["http_health_check"]["request_headers_to_add"] == [
        {"header": {"key": "x-kuma-tags", "value": "&kuma.io/service=web&"}},
        {"header": {"key": "X-Add", "value": "1"}}, {"header": {"key": "X-Add", "value": "2"}},
        {"header": {"key": "X-Empty"}},
        {"header": {"key": "X-Add", "value": "3"}}, {"header": {"key": "X-Add", "value": "4"}},
        {"header": {"key": "X-Set", "value": "a"}, **overwrite},
        {"header": {"key": "X-Set", "value": "b"}, **overwrite},
        {"header": {"key": "X-Plain", "value": "v"}, **overwrite}]
    assert migrated == expect(original, mhc_headers("&kuma.io/service=web&"))
    # `validate` on the output also warns about the split set value (02 §3.3)
    assert any('set[0].value: contains ","' in line for line in run("validate", "mhc-only.yaml").lines)


@pytest.mark.parametrize(("written", "migrated_text", "value"), [
    ("62.5", "'62.5'", 62.5),
    ("0.00001", "'0.00001'", 1e-05),  # a decimal string, never 1e-05 (MeshHealthCheck rejects exponents)
    ("60.0", "'60.0'", 60.0),
    ("90", "90", 90.0),  # an int stays an int
])
def test_panic_threshold(ws: Workspace, written: str, migrated_text: str, value: float) -> None:
    mesh = mesh_of(ws, dataplane("web", "10.0.0.1", "web", outbound="[{tags: {kuma.io/service: backend}}]"),
                   dataplane("backend", "10.0.0.2", "backend", 20001, protocol="tcp", outbound="[]"))
    ws.write("hc.yaml", wildcard_hc("{kuma.io/service: web}").replace(
        "healthyThreshold: 1}", f"healthyThreshold: 1, healthyPanicThreshold: {written}, failTrafficOnPanic: true}}"))
    original, migrated, out = compare(ws, [mesh, "hc.yaml"])
    assert f"      healthyPanicThreshold: {migrated_text}\n      failTrafficOnPanic: true\n" in out
    key = ("default", "web", "backend")
    assert original[key]["common_lb_config"] == {"healthy_panic_threshold": {"value": value},
                                                 "zone_aware_lb_config": {"fail_traffic_on_panic": True}}
    assert migrated == original


# --- both formats, file and line -----------------------------------------------------------------------------------

def test_kubernetes_format_mesh_label_and_document_line(ws: Workspace) -> None:
    ws.write("hc.yaml", """\
        type: Mesh
        name: other
        ---
        # a comment before the document
        apiVersion: kuma.io/v1alpha1
        kind: HealthCheck
        metadata:
          name: k8s-check
          labels: {kuma.io/mesh: other, team: a}
        spec:
          sources: [{match: {kuma.io/service: web_other_svc_80}}]
          destinations: [{match: {kuma.io/service: backend_other_svc_80}}]
          conf: {interval: 10s, timeout: 2s, unhealthyThreshold: 3, healthyThreshold: 1}
        """)
    out = migrate("hc.yaml")
    assert out.startswith(MIGRATED.format("k8s-check", "hc.yaml:5") + "\n")
    assert yaml.safe_load(out) == {
        "apiVersion": "kuma.io/v1alpha1", "kind": "MeshHealthCheck",
        "metadata": {"name": "k8s-check", "namespace": "kuma-system", "labels": {"kuma.io/mesh": "other"}},
        "spec": {"targetRef": {"kind": "MeshSubset", "tags": {"kuma.io/service": "web_other_svc_80"}},
                 "to": [{"targetRef": {"kind": "MeshService", "name": "backend_other_svc_80"},
                         "default": {"interval": "10s", "timeout": "2s", "unhealthyThreshold": 3,
                                     "healthyThreshold": 1, "tcp": {}}}]}}


def test_input_order_across_files_and_formats(ws: Workspace) -> None:
    ws.write("b.yaml", wildcard_hc("{kuma.io/service: web}").replace("name: wild", "name: second"))
    ws.write("a.yaml", (EXAMPLES / "seed001-http-kubernetes.yaml").read_text(encoding="utf-8"))
    out = migrate("b.yaml", "a.yaml")
    docs = out.split("---\n")
    assert [d.splitlines()[0] for d in docs] == [MIGRATED.format("second", "b.yaml:1"),
                                                 MIGRATED.format("web-to-backend-check", "a.yaml:2")]
    assert [yaml.safe_load(d).get("type", yaml.safe_load(d).get("kind")) for d in docs] == ["MeshHealthCheck"] * 2
    assert "type: MeshHealthCheck" in docs[0] and "apiVersion: kuma.io/v1alpha1" in docs[1]


# --- other resources, errors ---------------------------------------------------------------------------------------

def test_no_healthcheck(ws: Workspace) -> None:
    ws.write("mhc.yaml", "type: MeshHealthCheck\nname: m\nspec:\n  to: [{targetRef: {kind: Mesh}, "
                         "default: {tcp: {}}}]\n")
    r = run("migrate", "mhc.yaml")
    assert (r.code, r.out) == (0, "")
    assert r.lines[-1] == NO_HC
    r = run("migrate", "mhc.yaml", "--output-file", "out.yaml")
    assert (r.code, r.out, r.lines[-1]) == (0, "", NO_HC)
    assert (ws.root / "out.yaml").read_text(encoding="utf-8") == ""


def test_invalid_inputs_fail_like_validate(ws: Workspace) -> None:
    ws.write("hc.yaml", wildcard_hc("{kuma.io/service: web}"))
    bad = str(REPO / "examples" / "invalid" / "bad.yaml")
    ws.write("bad-hc.yaml", wildcard_hc("{kuma.io/service: web}").replace("interval: 10s", "interval: 0s")
             .replace("name: wild", "name: broken"))
    r = run("migrate", "hc.yaml", bad, "bad-hc.yaml", "--output-file", "out.yaml")
    v = run("validate", "hc.yaml", bad, "bad-hc.yaml")
    assert (r.code, r.out) == (1, "")
    assert r.err == v.err and v.code == 1
    assert r.lines[-1] == "found 8 errors"
    assert "bad-hc.yaml:5: HealthCheck broken: conf.interval: must have a positive value" in r.lines
    assert not (ws.root / "out.yaml").exists()


def test_missing_path(ws: Workspace) -> None:
    r = run("migrate", "nothing.yaml")
    assert r.code == 1 and r.out == ""
    assert run("migrate").code == 2


# --- golden HealthCheck cases ----------------------------------------------------------------------------------------

WEB = mhc_headers("&kuma.io/service=web&")
GOLDEN_CASES: dict[str, tuple[Callable[[dict[str, Any]], dict[str, Any]], dict[str, str] | None, list[str]]] = {
    # case: (migrated cluster from the original one, rename, notes explaining the difference)
    "hc-http2-codec": (WEB, None, [HTTP]),
    "hc-map-row1-tcp-connect": (same, None, [TCP]),
    "hc-map-row2-http": (WEB, None, [HTTP]),
    "hc-map-row3-tcp-payload": (same, None, [TCP]),
    "hc-map-row4-panic": (same, None, [TCP]),
    # the migrated policy (MeshSubset) outranks web-http (Mesh): its panic 20 wins the merge; its tcp block selects
    # no checker on the http destination, where the HealthCheck's TCP check used to fill in (03 §5)
    "hc-precedence-mhc-no-checker": (then(without_check, lambda c: {
        **c, "common_lb_config": {"healthy_panic_threshold": {"value": 20.0}}}), None, [MERGE, TCP]),
    # merged over web-http's http {}: the HealthCheck's timings replace the 02 §2 defaults
    "hc-precedence-mhc-wins": (lambda c: {**c, "health_checks": [{
        **c["health_checks"][0], "timeout": "2s", "interval": "10s", "unhealthy_threshold": 3,
        "healthy_threshold": 1}]}, None, [MERGE]),
    "hc-preview-wildcards": (same, None, [TCP, split_note(2), dropped_note("kuma.io/service")]),
    # backend has no kuma.io/protocol tag: unknown protocol, no MeshHealthCheck check (see the --protocol tcp test)
    "hc-rank-creation-time": (without_check, None, [TCP]),
    "hc-rank-input-order": (without_check, None, [TCP]),
    "hc-rank-most-specific": (without_check, None, [TCP]),
    "hc-seed000-kubernetes": (same, KUMA_SYSTEM, [TCP]),
    "hc-seed001-http-kubernetes": (WEB, KUMA_SYSTEM, [HTTP]),
    "hc-seed001-tcp-payload-kubernetes": (same, KUMA_SYSTEM, [TCP]),
    "hc-seed002-all-options-http": (mhc_headers("&kuma.io/service=web_default_svc_80&"), None, [HTTP]),
    "hc-seed002-all-options-tcp": (same, None, [TCP]),
}


@pytest.mark.parametrize("case", sorted(GOLDEN_CASES))
def test_golden_healthcheck_case(ws: Workspace, case: str) -> None:
    f, rename, notes = GOLDEN_CASES[case]
    original, migrated, out = compare(ws, [GOLDEN / case])
    assert migrated == expect(original, f, rename)
    blocks = comment_blocks(out)
    for note in notes:
        assert any(note in block for block in blocks), note
    assert all(block[1] == MERGE for block in blocks)


def test_preview_wildcards_output(ws: Workspace) -> None:
    blocks = comment_blocks(migrate(GOLDEN / "hc-preview-wildcards"))
    where = f"{GOLDEN / 'hc-preview-wildcards' / 'input.yaml'}:4"
    assert blocks == [[MIGRATED.format("everything", where), MERGE, TCP, split_note(2)],
                      [MIGRATED.format("everything", where), MERGE, TCP, split_note(2),
                       dropped_note("kuma.io/service"), SUBSET]]


@pytest.mark.parametrize(("protocol", "block"), [("http", "http"), ("http2", "http"), ("grpc", "grpc")])
def test_keeping_the_tcp_check_with_a_disabled_block(ws: Workspace, protocol: str, block: str) -> None:
    """The README's recipe for the TCP note: ``<block>: {disabled: true}`` next to ``tcp`` selects the TCP fallback
    (02 §7 rules 4–5), so the cluster is the HealthCheck's again."""
    mesh = seed_mesh(ws, "seed000", protocol)
    ws.write("hc.yaml", (EXAMPLES / "seed000-tcp-connect-universal.yaml").read_text(encoding="utf-8"))
    original, migrated, out = compare(ws, [mesh, "hc.yaml"])
    assert migrated == expect(original, without_check)
    ws.write("fixed.yaml", ws.root.joinpath("migrated.yaml").read_text(encoding="utf-8").replace(
        "      tcp: {}\n", f"      tcp: {{}}\n      {block}:\n        disabled: true\n"))
    assert clusters(["fixed.yaml"]) == original


def readme_block(lang: str) -> str:
    """The first ``yaml`` code block of docs/migrate.md (``lang`` = ``yaml``), or the output block after its
    ``diff -u`` command (``lang`` = ``diff``)."""
    text = (REPO / "docs" / "migrate.md").read_text(encoding="utf-8")
    if lang == "diff":
        text = text.split("diff -u before.yaml after.yaml", 1)[1]
        lang = "text"
    return text.split(f"```{lang}\n")[1].split("```")[0]


def test_readme_example_is_real(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """The migration guide's example was pasted from real runs; keep it so."""
    monkeypatch.chdir(REPO)
    dataplanes = "examples/complete/mesh/dataplanes.yaml"
    hc = "examples/healthcheck/seed000-tcp-connect-universal.yaml"
    out = migrate(dataplanes, hc)
    assert out == readme_block("yaml")
    mhc = tmp_path / "mhc.yaml"
    mhc.write_text(out, encoding="utf-8")
    before = run("render", dataplanes, hc, "-o", "yaml").out
    after = run("render", dataplanes, str(mhc), "-o", "yaml").out
    diff = list(difflib.unified_diff(before.splitlines(keepends=True), after.splitlines(keepends=True), n=3))
    assert "".join(diff[2:]) == readme_block("diff")  # without the ---/+++ file lines


def test_output_meshhealthcheck_rejects_is_left_to_validate(ws: Workspace) -> None:
    """Values HealthCheck accepts but MeshHealthCheck does not are copied as written (07 §7: the result is not
    validated); ``kumahc validate`` on the output names each of them."""
    ws.write("hc.yaml", """\
        type: HealthCheck
        name: edge
        sources: [{match: {kuma.io/service: web, team: a/b}}]
        destinations: [{match: {kuma.io/service: backend}}]
        conf:
          interval: 10s
          timeout: 2s
          unhealthyThreshold: 3
          healthyThreshold: 1
          intervalJitterPercent: 150
          eventLogPath: relative.log
          http:
            path: /h
            requestHeadersToAdd:
            - header: {key: "bad header", value: v}
        """)
    ws.write("out.yaml", migrate("hc.yaml"))
    assert ws.fails("validate", "out.yaml") == [
        "warning: out.yaml:10: MeshHealthCheck edge: spec.targetRef.kind: MeshSubset value for 'targetRef.kind' is "
        "deprecated, use Dataplane with labels instead",
        'out.yaml:13: MeshHealthCheck edge: spec.targetRef.tags["team"]: tag value must consist of alphanumeric '
        "characters, dots, dashes and underscores",
        "out.yaml:23: MeshHealthCheck edge: spec.to[0].default.intervalJitterPercent: must be in inclusive range "
        "[0, 100]",
        "out.yaml:24: MeshHealthCheck edge: spec.to[0].default.eventLogPath: must be a valid path when defined",
        "out.yaml:29: MeshHealthCheck edge: spec.to[0].default.http.requestHeadersToAdd.add[0].name: must be a valid "
        "HTTP header name"]
