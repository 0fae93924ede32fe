"""The parts ``apply`` and ``delete`` render and store beside the resources (migration 0003): a replica serving
them serves byte for byte what it would render from the rows itself, and falls back to rendering when the parts do
not render the store's revision (another writer's options or version)."""

from __future__ import annotations

from pathlib import Path

import pytest
from test_store_cli import KUBERNETES, UNIVERSAL, kumahc, write

from bench.generator import generate
from kumahc.pipeline import Options
from kumahc.sources.store import connection, rendered
from kumahc.sources.store.rendered import Stored
from kumahc.sources.store.replica import Replica
from kumahc.xds import snapshot as snapshots

ROOT = Path(__file__).resolve().parents[2]


def served(store: str) -> snapshots.Snapshot:
    """What a default replica serves: the stored parts (asserted: it renders nothing)."""
    out = Replica(store, Options()).produce()
    assert isinstance(out, Stored), "the replica rendered instead of serving the stored parts"
    return snapshots.from_parts(snapshots.Parts(out.clusters, out.proxies))


def rendered_here(store: str) -> snapshots.Snapshot:
    """What a replica renders from the rows (as under --protocol or another kumahc version)."""
    replica = Replica(store, Options())
    replica.serves_parts = False
    return snapshots.build(replica.produce())


def assert_same(a: snapshots.Snapshot, b: snapshots.Snapshot) -> None:
    assert a.proxies.keys() == b.proxies.keys()
    for key in a.proxies:
        x, y = a.proxies[key], b.proxies[key]
        assert (x.version, x.names, x.versions, x.delta_entries, x.sotw_body) == (
            y.version, y.names, y.versions, y.delta_entries, y.sotw_body), key
    assert a.meshes == b.meshes
    assert a.document == b.document


def stored_tables(store: str) -> tuple[set[bytes], set[bytes]]:
    """(the stored cluster digests, the digests stored proxies refer to)."""
    with connection.session(store) as conn:
        digests = {bytes(d) for (d,) in conn.execute("SELECT digest FROM kumahc_rendered_clusters")}
        lists = [bytes(c) for (c,) in conn.execute("SELECT clusters FROM kumahc_rendered_proxies")]
    return digests, {ks[i:i + 32] for ks in lists for i in range(0, len(ks), 32)}


@pytest.mark.parametrize("inputs", [UNIVERSAL, KUBERNETES, "examples/complete/mesh",
                                    "examples/kong/seed-004-active-passive.yaml",
                                    "examples/meshcircuitbreaker/outlier-detection.yaml",
                                    "examples/circuitbreaker/precedence.yaml", "bench-small"])
def test_stored_parts_are_what_a_replica_renders(store: str, tmp_path: Path, inputs: str) -> None:
    if inputs == "bench-small":
        generate(tmp_path / "mesh", "small")
        inputs = str(tmp_path / "mesh")
    elif not inputs.startswith("/"):
        inputs = str(ROOT / inputs)
    assert kumahc("apply", "-f", inputs, "--store", store).code == 0
    parts = served(store)
    assert parts.proxies
    assert_same(parts, rendered_here(store))
    digests, referenced = stored_tables(store)
    assert digests == referenced


def test_every_change_keeps_the_parts_in_step(store: str, tmp_path: Path) -> None:
    """Apply, edit, delete, add: after each commit the stored parts are the replica's own render, and the stored
    clusters are exactly those the stored proxies refer to (so replicas may read only what a commit wrote)."""
    text = Path(UNIVERSAL).read_text()
    assert kumahc("apply", "-f", UNIVERSAL, "--store", store).code == 0
    steps = [
        ("apply", "-f", write(tmp_path, "a.yaml", text.replace("interval: 5s", "interval: 9s"))),
        ("delete", "healthcheck", "web-to-backend-check", "--mesh", "default"),
        ("delete", "dataplane", "db-01", "--mesh", "default"),
        ("apply", "-f", UNIVERSAL),
    ]
    for step in steps:
        assert kumahc(*step, "--store", store).code == 0, step
        assert_same(served(store), rendered_here(store))
        digests, referenced = stored_tables(store)
        assert digests == referenced


def test_a_replica_follows_only_what_each_commit_wrote(store: str, tmp_path: Path) -> None:
    """Catching up reads the rendered rows newer than the replica's revision and ends with the parts a fresh read
    gives; parts of another kumahc version, or a revision written without parts (apply --protocol), are not
    served: the replica renders the rows, with the same result."""
    import asyncio

    def catch_up(replica: Replica) -> bool:
        async def go() -> bool:
            async with await connection.connect_async(store) as conn:
                return await replica.catch_up(conn)

        return asyncio.run(go())

    assert kumahc("apply", "-f", UNIVERSAL, "--store", store).code == 0
    replica = Replica(store, Options())
    first = replica.produce()
    assert isinstance(first, Stored)
    edited = Path(UNIVERSAL).read_text().replace("interval: 5s", "interval: 7s")
    assert kumahc("apply", "-f", write(tmp_path, "e.yaml", edited), "--store", store).code == 0
    assert kumahc("delete", "dataplane", "db-01", "--mesh", "default", "--store", store).code == 0
    assert catch_up(replica) is True
    caught = replica.produce()
    assert isinstance(caught, Stored)
    fresh = Replica(store, Options()).produce()
    assert isinstance(fresh, Stored)
    assert (caught.revision, caught.clusters, caught.proxies, caught.warnings) == (
        fresh.revision, fresh.clusters, fresh.proxies, fresh.warnings)
    assert ("default", "db-01") not in caught.proxies

    # Written by a writer rendering with another protocol (library use): it stores no parts, so the parts no
    # longer render the store's revision.
    from kumahc.apply import apply
    from kumahc.diagnostics import Report
    from kumahc.sources import files

    with connection.session(store) as conn:
        assert apply(conn, files.read([UNIVERSAL], Report()), Report(), Options(protocol="http")).revision == 4
    assert catch_up(replica) is True
    out = replica.produce()
    assert not isinstance(out, Stored)
    assert_same(snapshots.build(out), rendered_here(store))

    # Parts of another kumahc version are not served either.
    assert kumahc("apply", "-f", str(tmp_path / "e.yaml"), "--store", store).code == 0
    with connection.session(store) as conn:
        conn.execute("UPDATE kumahc_rendered SET renderer = 'kumahc/0.0.0'")
    assert catch_up(replica) is True
    assert not isinstance(replica.produce(), Stored)
    assert not isinstance(Replica(store, Options()).produce(), Stored)
    with connection.session(store) as conn:
        conn.execute("UPDATE kumahc_rendered SET renderer = %s", (rendered.RENDERER,))
    assert isinstance(Replica(store, Options()).produce(), Stored)


def test_a_dry_run_and_an_unchanged_apply_write_no_parts(store: str) -> None:
    assert kumahc("apply", "-f", UNIVERSAL, "--store", store).code == 0
    with connection.session(store) as conn:
        before = conn.execute("SELECT revision, renderer FROM kumahc_rendered").fetchone()
        count = conn.execute("SELECT count(*) FROM kumahc_rendered_clusters").fetchone()[0]
    assert kumahc("apply", "-f", UNIVERSAL, "--store", store).code == 0
    assert kumahc("apply", "-f", KUBERNETES, "--dry-run", "--store", store).code == 0
    with connection.session(store) as conn:
        assert conn.execute("SELECT revision, renderer FROM kumahc_rendered").fetchone() == before
        assert conn.execute("SELECT count(*) FROM kumahc_rendered_clusters").fetchone()[0] == count
    assert before == (1, rendered.RENDERER)


def test_stored_warnings_name_stored_resources(store: str, tmp_path: Path) -> None:
    """The warnings a replica logs from stored parts are the ones it would report rendering the rows itself:
    located at ``store: KIND NAME``, never at the applier's files."""
    lonely = ("type: MeshHealthCheck\nname: nobody\nmesh: default\nspec:\n  targetRef:\n    kind: Dataplane\n"
              "    labels:\n      app: nobody\n  to:\n  - targetRef:\n      kind: Mesh\n    default:\n"
              "      interval: 3s\n      tcp: {}\n")
    assert kumahc("apply", "-f", UNIVERSAL, "-f", write(tmp_path, "w.yaml", lonely), "--store", store).code == 0
    out = Replica(store, Options()).produce()
    assert isinstance(out, Stored)
    local = Replica(store, Options())
    local.serves_parts = False
    lines = [line for line in local.produce().report.lines() if not line.startswith("info: ")]
    assert list(out.warnings) == lines
    assert any("store: MeshHealthCheck default/nobody" in line for line in out.warnings)
    assert not any("w.yaml" in line for line in out.warnings)


def test_a_store_without_parts_is_rendered_by_its_replicas_until_the_next_write(store: str, tmp_path: Path) -> None:
    """A store migrated from schema version 2 holds resources and no parts: replicas render the rows; the next
    apply stores the parts of the whole state, which replicas then serve."""
    assert kumahc("apply", "-f", UNIVERSAL, "--store", store).code == 0
    with connection.session(store) as conn:
        for table in ("kumahc_rendered", "kumahc_rendered_clusters", "kumahc_rendered_proxies"):
            conn.execute(f"DELETE FROM {table}")
    assert not isinstance(Replica(store, Options()).produce(), Stored)
    edited = Path(UNIVERSAL).read_text().replace("interval: 5s", "interval: 6s")
    assert kumahc("apply", "-f", write(tmp_path, "e.yaml", edited), "--store", store).code == 0
    assert_same(served(store), rendered_here(store))
    digests, referenced = stored_tables(store)
    assert digests == referenced


def test_parts_missing_a_cluster_are_not_served(store: str) -> None:
    """A proxy row naming a cluster the store does not hold (parts not written by kumahc's rules) is never served
    as a hole: the replica renders the resources itself."""
    assert kumahc("apply", "-f", UNIVERSAL, "--store", store).code == 0
    with connection.session(store) as conn:
        conn.execute("DELETE FROM kumahc_rendered_clusters WHERE digest = (SELECT digest FROM "
                     "kumahc_rendered_clusters ORDER BY digest LIMIT 1)")
    out = Replica(store, Options()).produce()
    assert not isinstance(out, Stored)
    assert snapshots.build(out).proxies.keys() == served_keys(UNIVERSAL)


def served_keys(path: str) -> set[tuple[str, str]]:
    from kumahc.pipeline import run
    from kumahc.sources import files

    return {(p.mesh, p.name) for p in run(lambda report: files.read([path], report)).view.proxies}
