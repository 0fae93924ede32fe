"""Reloads as ``serve`` makes them (one RunCache, each snapshot built on the one before), lazily (``--render
connected``, with proxies connecting and leaving between reloads) and eagerly (``--render all``), give exactly what a
fresh full render of the same inputs gives: the same versions and the same bytes, for random sequences of edits."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bench.generator import Manifest, apply_edit, generate, with_size
from kumahc.pipeline import RunCache, run
from kumahc.xds import snapshot as snapshots
from kumahc.xds.materialize import snapshot_of


@pytest.fixture(scope="module")
def pristine(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("pristine") / "mesh"
    generate(root, "small", seed=3)
    return root


def toggle(path: Path, a: str, b: str) -> None:
    """Replace the first ``a`` by ``b`` in ``path``, or the first ``b`` by ``a`` (an edit and its undo)."""
    text = path.read_text(encoding="utf-8")
    old, new = (a, b) if a in text else (b, a)
    assert old in text, (path, a, b)
    tmp = path.with_name(".tmp-" + path.name)
    tmp.write_text(text.replace(old, new, 1), encoding="utf-8")
    os.replace(tmp, path)


def edits(root: Path, manifest: Manifest) -> list:
    dataplanes = sorted((root / "mesh" / "dataplanes").glob("*.yaml"))
    state = {"one": True, "mesh": True}

    def policy(name: str, edit: object) -> None:
        apply_edit(root, edit, forward=state[name])
        state[name] = not state[name]

    return [
        lambda: policy("one", manifest.edit_one),  # a per-service MeshHealthCheck
        lambda: policy("mesh", manifest.edit_mesh),  # a Mesh-wide MeshHealthCheck
        lambda: toggle(dataplanes[0], "address: 10.0.0.1\n", "address: 10.0.9.1\n"),  # an endpoint moves
        lambda: toggle(dataplanes[-1], "version: v1\n", "version: v9\n"),  # labels: other policies select it
        lambda: toggle(root / "policies" / "kong.yaml", "successes: 2", "successes: 4"),  # a Kong policy
    ]


def wire(snap: snapshots.Snapshot, keys: object = None) -> dict:
    chosen = snap.proxies if keys is None else {k: snap.proxies[k] for k in keys}
    out = {k: (r.version, r.sotw_body, r.versions, r.delta_entries) for k, r in chosen.items()}
    if snap.mode == "eds":
        out["eds"] = {k: (r.version, r.sotw_body, r.delta_entries) for k, r in snap.endpoints.items()
                      if keys is None or k in keys}
    return out


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                  HealthCheck.too_slow])
@given(steps=st.lists(st.tuples(st.integers(0, 4), st.sets(st.integers(0, 49), max_size=12),
                                st.sampled_from(["static", "eds"])), min_size=1, max_size=6))
def test_incremental_reloads_equal_fresh_renders(pristine: Path, tmp_path_factory: pytest.TempPathFactory,
                                                 steps: list[tuple[int, set[int], str]]) -> None:
    root = tmp_path_factory.mktemp("edited") / "mesh"
    shutil.copytree(pristine, root)
    manifest = Manifest.read(root)
    change = edits(root, manifest)
    lazy_cache, eager_cache = RunCache(), RunCache()
    everyone = sorted(snapshots.build(run([str(root)])).proxies)
    lazy_snap, _ = snapshot_of(run([str(root)], cache=lazy_cache, lazy=True), None, "static", ())
    eager_snap = snapshots.build(run([str(root)], cache=eager_cache))
    for edit, connected, endpoints in steps:
        change[edit]()
        keys = {everyone[i % len(everyone)] for i in connected}
        fresh = snapshots.build(run([str(root)]), None, endpoints)
        eager_snap = snapshots.build(run([str(root)], cache=eager_cache), eager_snap, endpoints)
        assert wire(eager_snap) == wire(fresh)
        lazy_snap, _ = snapshot_of(run([str(root)], cache=lazy_cache, lazy=True), lazy_snap, endpoints, keys)
        assert set(lazy_snap.proxies) == keys
        assert wire(lazy_snap) == wire(fresh, keys)
        # A proxy connecting between reloads (a materializing batch on the reloaded snapshot) too.
        more = keys | {everyone[len(keys) * 7 % len(everyone)]}
        lazy_snap, _ = snapshot_of(lazy_snap.result, lazy_snap, endpoints, more)
        assert wire(lazy_snap) == wire(fresh, more)


@pytest.fixture(scope="module")
def gateway_mesh(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The small mesh with two builtin gateways (gateways.yaml: Dataplanes, MeshGateways, routes and a
    MeshHealthCheck per gateway in one file), its per-Dataplane MeshHealthChecks joined into one multi-document
    file."""
    root = tmp_path_factory.mktemp("gateways") / "mesh"
    generate(root, with_size("small", gateways=2), seed=3)
    folder = root / "policies" / "meshhealthchecks"
    parts = sorted(folder.glob("dp-*.yaml"))
    (folder / "dp-all.yaml").write_text("---\n".join(p.read_text(encoding="utf-8") for p in parts), encoding="utf-8")
    for p in parts:
        p.unlink()
    return root


def toggle_in(path: Path, number: int, a: str, b: str) -> None:
    """:func:`toggle` inside document ``number`` (0-based) of a multi-document file only."""
    docs = path.read_text(encoding="utf-8").split("---\n")
    old, new = (a, b) if a in docs[number] else (b, a)
    assert old in docs[number], (path, number, a, b)
    docs[number] = docs[number].replace(old, new, 1)
    tmp = path.with_name(".tmp-" + path.name)
    tmp.write_text("---\n".join(docs), encoding="utf-8")
    os.replace(tmp, path)


def wider_edits(root: Path, manifest: Manifest) -> list:
    many = root / "policies" / "meshhealthchecks" / "dp-all.yaml"
    gateways = root / "mesh" / "gateways.yaml"
    services = root / "mesh" / "services.yaml"
    first = "apiVersion: kuma.io/v1alpha1\nkind: MeshHealthCheck\n"
    return [
        *edits(root, manifest),
        # One policy of a multi-policy file; then lines move under the others (a comment grows the first one).
        lambda: toggle_in(many, 1, "interval: 20s\n", "interval: 21s\n"),
        lambda: toggle_in(many, 3, "timeout: ", "timeout: 1"),
        lambda: toggle(many, first, "# moved down\n" + first),
        # The gateway file: its MeshHealthCheck, its MeshGateway's TCP listener, its HTTP route.
        lambda: toggle(gateways, "interval: 5s\n", "interval: 7s\n"),
        lambda: toggle(gateways, "- port: 5432\n", "- port: 5433\n"),
        lambda: toggle(gateways, "value: /\n", "value: /api\n"),
        # A MeshService's and a Service's protocol.
        lambda: toggle(services, "name: http\n    appProtocol: http\n", "name: http\n    appProtocol: tcp\n"),
        lambda: toggle(services, "targetPort: http\n    appProtocol: http\n",
                       "targetPort: http\n    appProtocol: grpc\n"),
    ]


def messages(result: object, lazy: bool = False) -> list:
    """The report's items; for a lazy run, whose proxies' precedence warnings come when they are materialized,
    those of no proxy."""
    items = list(result.report.items)  # type: ignore[attr-defined]
    return [d for d in items if not (d.scope and d.scope[0] == "proxy")] if lazy else items


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                  HealthCheck.too_slow])
@given(steps=st.lists(st.tuples(st.integers(0, 12), st.sets(st.integers(0, 51), max_size=12),
                                st.sampled_from(["static", "eds"])), min_size=1, max_size=8))
def test_incremental_reloads_equal_fresh_renders_wider(gateway_mesh: Path,
                                                       tmp_path_factory: pytest.TempPathFactory,
                                                       steps: list[tuple[int, set[int], str]]) -> None:
    """As above, with edits to one policy of a multi-policy file (and line moves there), to builtin gateways'
    MeshGateway, route and policy, to a MeshService and a Service; the report's messages are equal too."""
    root = tmp_path_factory.mktemp("edited") / "mesh"
    shutil.copytree(gateway_mesh, root)
    manifest = Manifest.read(root)
    change = wider_edits(root, manifest)
    lazy_cache, eager_cache = RunCache(), RunCache()
    everyone = sorted(snapshots.build(run([str(root)])).proxies)
    lazy_snap, _ = snapshot_of(run([str(root)], cache=lazy_cache, lazy=True), None, "static", ())
    eager_snap = snapshots.build(run([str(root)], cache=eager_cache))
    for edit, connected, endpoints in steps:
        change[edit]()
        keys = {everyone[i % len(everyone)] for i in connected}
        fresh_result = run([str(root)])
        fresh = snapshots.build(fresh_result, None, endpoints)
        eager = run([str(root)], cache=eager_cache)
        assert messages(eager) == messages(fresh_result)
        eager_snap = snapshots.build(eager, eager_snap, endpoints)
        assert wire(eager_snap) == wire(fresh)
        lazy = run([str(root)], cache=lazy_cache, lazy=True)
        assert messages(lazy) == messages(fresh_result, lazy=True)
        lazy_snap, _ = snapshot_of(lazy, lazy_snap, endpoints, keys)
        assert wire(lazy_snap) == wire(fresh, keys)
        more = keys | {everyone[len(keys) * 7 % len(everyone)]}
        lazy_snap, _ = snapshot_of(lazy_snap.result, lazy_snap, endpoints, more)
        assert wire(lazy_snap) == wire(fresh, more)
