"""Concurrent writers on a real PostgreSQL store: a stale snapshot never commits, and concurrent appliers lose no
update (every apply is one committed revision, counted in the generations)."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from kumahc.sources.store import connection, records, state

HERE = Path(__file__).resolve().parent
N = 100


def _put(name: str, interval: str) -> state.Put:
    doc = {"type": "MeshHealthCheck", "name": name, "mesh": "default",
           "spec": {"targetRef": {"kind": "Mesh"}, "to": [{"targetRef": {"kind": "Mesh"},
                                                           "default": {"interval": interval, "tcp": {}}}]}}
    return state.Put(("MeshHealthCheck", "default", "", name), "universal", records.encode(doc))


def test_a_write_on_a_stale_snapshot_commits_nothing(store: str) -> None:
    with connection.session(store) as a, connection.session(store) as b:
        seen_by_a = state.read(a)
        assert state.write(b, state.read(b).revision, [_put("p", "1s")], []) == 1
        assert state.write(a, seen_by_a.revision, [_put("p", "2s"), _put("q", "2s")], []) is None
        now = state.read(a)
        assert now.revision == 1
        assert [(r.name, r.body["spec"]["to"][0]["default"]["interval"], r.generation) for r in now.rows] == [
            ("p", "1s", 1)]
        assert state.write(a, now.revision, [_put("p", "2s")], []) == 2
        assert [(r.name, r.generation, r.revision) for r in state.read(b).rows] == [("p", 2, 2)]


def _waiting_for_a_lock(observer, procs: dict[str, subprocess.Popen], count: int) -> None:
    """Wait until ``count`` sessions of this database wait for a lock (appliers blocked on the held row); fail
    with its stderr as soon as an applier exits instead."""
    deadline = time.monotonic() + 600  # a hang guard only: the machine may be slow, never the measure
    while True:
        waiting = observer.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                                   "AND wait_event_type = 'Lock'").fetchone()[0]
        if waiting == count:
            return
        for who, proc in procs.items():
            if proc.poll() is not None:
                pytest.fail(f"applier {who} exited ({proc.returncode}) before colliding: {proc.stderr.read()}")
        if time.monotonic() > deadline:
            pytest.fail(f"{waiting} of {count} appliers waiting for the store's revision row after 600 s")
        time.sleep(0.05)


def test_two_concurrent_appliers_lose_nothing(store: str, tmp_path: Path) -> None:
    """The appliers must collide: the test holds the store's revision row (as a writer mid-commit would) until
    both have read revision 0 and wait to write it. Released, one commits revision 1; the other's commit finds
    the store moved on, writes nothing and retries on the new snapshot. Then they run freely."""
    procs = {}
    results = {}
    # Waits for the held row longer than kumahc's default 60 s lock_timeout: a slow start of the second applier
    # must not fail the first.
    patient = store + "?options=-c%20lock_timeout%3D600000%20-c%20statement_timeout%3D600000"
    with connection.session(store) as holder, connection.session(store) as observer:
        try:
            with holder.transaction():
                holder.execute("SELECT revision FROM kumahc_state WHERE id = 1 FOR UPDATE")
                for who in ("a", "b"):
                    (tmp_path / who).mkdir()
                    procs[who] = subprocess.Popen([sys.executable, str(HERE / "applier.py"), patient, who, str(N),
                                                   str(tmp_path / who)], stdout=subprocess.PIPE,
                                                  stderr=subprocess.PIPE, text=True)
                _waiting_for_a_lock(observer, procs, 2)
        except BaseException:
            for proc in procs.values():
                proc.kill()
                proc.wait()
            raise
    try:
        for who, proc in procs.items():
            out, err = proc.communicate(timeout=300)
            assert proc.returncode == 0, err
            results[who] = json.loads(out)
    finally:
        for proc in procs.values():
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    revisions = [rev for r in results.values() for rev, _ in r]
    # Every apply changed something, so every apply is exactly one commit: revisions 1..2N, none shared.
    assert sorted(revisions) == list(range(1, 2 * N + 1))
    for r in results.values():
        assert [rev for rev, _ in r] == sorted(rev for rev, _ in r)  # one applier's commits in its order
    with connection.session(store) as conn:
        final = state.read(conn)
    rows = {row.name: row for row in final.rows}
    assert final.revision == 2 * N
    assert rows["a"].body["spec"]["to"][0]["default"]["interval"] == f"{N}s"
    assert rows["b"].body["spec"]["to"][0]["default"]["interval"] == f"{N}s"
    assert (rows["a"].generation, rows["b"].generation, rows["shared"].generation) == (N, N, 2 * N)
    last = max(("a", "b"), key=lambda who: results[who][-1][0])
    assert rows["shared"].body["labels"] == {"writer": f"{last}-{N - 1}"}
    # The collision happened and was resolved: one first apply committed revision 1 at once, the other retried.
    assert sorted(r[0][1] for r in results.values())[0] == 1
    assert sorted(r[0][1] for r in results.values())[1] >= 2
    assert sorted(r[0][0] for r in results.values())[0] == 1
    retried = sum(attempts - 1 for r in results.values() for _, attempts in r)
    assert retried >= 1
    print(f"conflicts retried: {retried}")


def _apply_text(url: str, path: Path, text: str) -> str:
    """Apply ``text`` through kumahc's apply: ``ok`` or the first error line."""
    from kumahc.apply import apply
    from kumahc.diagnostics import InputError, Report
    from kumahc.sources import files

    path.write_text(text)
    with connection.session(url) as conn:
        report = Report()
        try:
            apply(conn, files.read([str(path)], report), report)
        except InputError as exc:
            return exc.report.lines()[-1]
    return "ok"


def test_concurrent_appliers_never_commit_an_invalid_state(new_database: Callable[[], str], tmp_path: Path) -> None:
    """Each of two Dataplanes is valid alone, but together their proxy names collide. Applied at the same moment
    from two threads, however they interleave, exactly one is committed and the other is refused."""
    import threading

    from kumahc.sources.store import schema

    universal = ("type: Dataplane\nname: web-0.shop\nmesh: default\n"
                 "networking: {address: 10.0.0.1, inbound: [{port: 1, tags: {kuma.io/service: a}}]}\n")
    kubernetes = ("apiVersion: kuma.io/v1alpha1\nkind: Dataplane\nmesh: default\nmetadata: {name: web-0, "
                  "namespace: shop}\nspec: {networking: {address: 10.0.0.2, inbound: [{port: 1, tags: "
                  "{kuma.io/service: b}}]}}\n")
    for _ in range(5):
        url = new_database()  # a uuid name, dropped at teardown
        with connection.session(url) as conn:
            schema.migrate(conn)
        barrier = threading.Barrier(2, timeout=30)
        outcomes: dict[str, str] = {}

        def go(name: str, text: str, url: str, barrier: threading.Barrier, outcomes: dict[str, str]) -> None:
            barrier.wait()
            outcomes[name] = _apply_text(url, tmp_path / f"{name}-{url.rsplit('/', 1)[1]}.yaml", text)

        threads = [threading.Thread(target=go, args=(name, text, url, barrier, outcomes))
                   for name, text in (("u", universal), ("k", kubernetes))]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=120)
        assert sorted(outcomes.values())[1] == "ok"
        refused = sorted(outcomes.values())[0]
        assert 'duplicate proxy name "web-0.shop" in mesh "default": also defined at store: Dataplane' in refused
        with connection.session(url) as conn:
            assert len(state.read(conn).rows) == 1
