"""The store as a pipeline source (library level): a reload reuses the resources of unchanged rows, and a run on
them with serve's RunCache gives what a fresh run gives."""

from __future__ import annotations

from pathlib import Path

from test_store_cli import UNIVERSAL, kumahc, write

from kumahc.pipeline import RunCache, run
from kumahc.render import document, to_json
from kumahc.sources.store import source, state


def test_reload_reuses_unchanged_rows(store: str, tmp_path: Path) -> None:
    assert kumahc("apply", "-f", UNIVERSAL, "--store", store).code == 0
    resources, runs = state.ResourceCache(), RunCache()
    first = source.snapshot(store)
    before = first.resources(resources)
    run(first.loader(resources), cache=runs)
    edited = Path(UNIVERSAL).read_text().replace("interval: 5s", "interval: 9s")
    assert kumahc("apply", "-f", write(tmp_path, "u.yaml", edited), "--store", store).code == 0
    second = source.snapshot(store)
    after = second.resources(resources)
    assert [a is b for a, b in zip(before, after, strict=True)] == [True] * 6 + [False, True, True]
    assert after[6].identity == ("MeshHealthCheck", "default", "", "web-to-backend")
    reloaded = run(second.loader(resources), cache=runs)
    fresh = run(second.loader())
    assert to_json(document(reloaded, None)) == to_json(document(fresh, None))
    assert '"9s"' in to_json(document(fresh, None))


def test_replica_catches_up_on_changes_deletions_and_a_recreated_store(store: str, tmp_path: Path) -> None:
    """Reading only what was committed since the replica's revision gives the rows (in id order) and the render of
    a full read: after an edit, a delete and an addition; and after the store was emptied and filled again (its
    revision went back), when everything is read again."""
    import asyncio

    from kumahc.pipeline import Options
    from kumahc.sources.store import connection
    from kumahc.sources.store.rendered import Stored
    from kumahc.sources.store.replica import Replica
    from kumahc.xds import snapshot as snapshots

    def catch_up(replica: Replica) -> bool:
        async def go() -> bool:
            async with await connection.connect_async(store) as conn:
                return await replica.catch_up(conn)

        return asyncio.run(go())

    def rendered(out) -> str:
        """The render document of a pipeline result, or of the parts the writer stored (served as they are)."""
        if isinstance(out, Stored):
            return to_json(snapshots.from_parts(snapshots.Parts(out.clusters, out.proxies)).document)
        return to_json(document(out, None))

    assert kumahc("apply", "-f", UNIVERSAL, "--store", store).code == 0
    replica, local = Replica(store, Options()), Replica(store, Options())
    local.serves_parts = False  # renders the rows itself, as under --protocol
    assert isinstance(replica.produce(), Stored) and not isinstance(local.produce(), Stored)
    assert (replica.revision, catch_up(replica), catch_up(local)) == (1, False, False)
    edited = Path(UNIVERSAL).read_text().replace("interval: 5s", "interval: 9s")
    assert kumahc("apply", "-f", write(tmp_path, "u.yaml", edited), "--store", store).code == 0
    assert kumahc("delete", "healthcheck", "web-to-backend-check", "--mesh", "default", "--store", store).code == 0
    (mhc,) = [doc for doc in edited.split("---\n") if doc.startswith("type: MeshHealthCheck")]
    extra = mhc.replace("name: web-to-backend", "name: second")
    assert kumahc("apply", "-f", write(tmp_path, "x.yaml", extra), "--store", store).code == 0
    assert catch_up(replica) is True and catch_up(local) is True
    full = source.snapshot(store)
    assert (replica.revision, replica.rows) == (full.revision, full.rows) == (4, full.rows)
    assert [r.name for r in replica.rows][-4:] == ["web-to-backend", "db-limits", "web-to-backend-limits", "second"]
    assert isinstance(replica.produce(), Stored)
    assert rendered(replica.produce()) == rendered(local.produce()) == rendered(run(full.loader()))
    # The store recreated with a lower revision: everything is read again.
    with connection.session(store) as conn:
        conn.execute("DELETE FROM kumahc_resources")
        conn.execute("UPDATE kumahc_state SET revision = 0")
    assert kumahc("apply", "-f", UNIVERSAL, "--store", store).code == 0
    assert catch_up(replica) is True and catch_up(local) is True
    full = source.snapshot(store)
    assert (replica.revision, replica.rows) == (1, full.rows)
    assert isinstance(replica.produce(), Stored)
    assert rendered(replica.produce()) == rendered(local.produce()) == rendered(run(full.loader()))
