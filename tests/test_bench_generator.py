"""The benchmark mesh generator (bench/generator.py) writes ordinary kumahc inputs: small and medium pass
``kumahc validate`` without warnings, the output is a function of (size, seed), and the edits used by the
benchmarks change the rendered clusters and can be undone byte for byte. No benchmark figure is asserted here."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.generator import MANIFEST, SIZES, Manifest, apply_edit, envoy_size, generate  # noqa: E402


def _files(directory: Path) -> dict[str, bytes]:
    return {str(p.relative_to(directory)): p.read_bytes() for p in sorted(directory.rglob("*")) if p.is_file()}


def _resources(m: Manifest) -> int:
    c = m.counts
    return (c["services"] + c["mesh_services"] + c["dataplanes"] + c["meshhealthchecks"] + c["healthchecks"]
            + c["kong_policies"])


def test_small_and_medium_pass_validate_without_warnings(tmp_path: Path) -> None:
    manifests = {size: generate(tmp_path / size, size, seed=1) for size in ("small", "medium")}
    # Both validations at once: medium takes a few seconds.
    procs = {size: subprocess.Popen([sys.executable, "-m", "kumahc", "validate", str(tmp_path / size)],
                                    stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for size in manifests}
    try:
        outputs = {size: p.communicate(timeout=300) for size, p in procs.items()}
    finally:
        for p in procs.values():
            if p.poll() is None:
                p.kill()
                p.wait()
    for size, (out, err) in outputs.items():
        m = manifests[size]
        assert procs[size].returncode == 0, err
        assert err == ""
        assert out == f"ok: {_resources(m)} resources in {m.files} files\n"


def test_counts_and_mix(tmp_path: Path) -> None:
    size = "small"
    s = SIZES[size]
    m = generate(tmp_path, size, seed=1)
    assert Manifest.read(tmp_path) == m
    assert m.counts["services"] == s.services and m.counts["dataplanes"] == len(m.proxies) == s.dataplanes
    assert m.counts["meshhealthchecks"] == s.mhc and m.counts["healthchecks"] == s.healthchecks
    assert m.counts["kong_policies"] == s.kong
    docs = [d for p in sorted(tmp_path.rglob("*.yaml")) for d in yaml.load_all(p.read_text(), Loader=yaml.CSafeLoader)]
    kinds = [d["kind"] for d in docs]
    assert kinds.count("Dataplane") == s.dataplanes
    for dp in (d for d in docs if d["kind"] == "Dataplane"):
        assert len(dp["spec"]["networking"]["outbound"]) == s.outbounds
    mhc_refs = {d["spec"]["targetRef"]["kind"] for d in docs if d["kind"] == "MeshHealthCheck"}
    to_refs = {t["targetRef"]["kind"] for d in docs if d["kind"] == "MeshHealthCheck" for t in d["spec"]["to"]}
    assert mhc_refs == {"Mesh", "Dataplane"} and to_refs == {"Mesh", "MeshService"}
    annotated = [d for d in docs if d["kind"] == "Service" and "annotations" in d["metadata"]]
    assert len(annotated) == s.kong
    assert all(d["metadata"]["annotations"]["konghq.com/upstream-policy"] for d in annotated)


def test_same_seed_same_bytes_other_seed_other_mesh(tmp_path: Path) -> None:
    generate(tmp_path / "a", "small", seed=7)
    generate(tmp_path / "b", "small", seed=7)
    generate(tmp_path / "c", "small", seed=8)
    assert _files(tmp_path / "a") == _files(tmp_path / "b")
    assert _files(tmp_path / "a") != _files(tmp_path / "c")
    assert MANIFEST in _files(tmp_path / "a")


def test_edits_change_versions_and_undo(tmp_path: Path) -> None:
    from kumahc.pipeline import run
    from kumahc.xds.snapshot import build

    m = generate(tmp_path, "small", seed=1)
    original = _files(tmp_path)
    before = build(run([str(tmp_path)]))
    for edit in (m.edit_one, m.edit_mesh):
        apply_edit(tmp_path, edit, forward=True)
        after = build(run([str(tmp_path)]))
        changed = [k for k, v in after.proxies.items() if before.proxies[k].version != v.version]
        assert changed, edit
        apply_edit(tmp_path, edit, forward=False)
        assert _files(tmp_path) == original


def test_envoy_size_has_one_client_with_every_destination(tmp_path: Path) -> None:
    from kumahc.pipeline import run

    m = generate(tmp_path, envoy_size(30), seed=1)
    result = run([str(tmp_path)])
    assert "default.client.bench" in m.proxies
    assert len(result.clusters[("default", "client.bench")]) == 30
    assert all(len(v) == 0 for k, v in result.clusters.items() if k != ("default", "client.bench"))
    addresses = {ep.endpoint.address.socket_address.address for cr in result.clusters[("default", "client.bench")]
                 for loc in cr.cluster.load_assignment.endpoints for ep in loc.lb_endpoints}
    assert addresses == {"127.0.0.1"}
