"""The store's writer (``kumahc store writer``, issue 25): an apply handed to it prints what an apply without it
prints, leaves the store as it would (resources, rendered parts, warnings), writes nothing when invalid, and an
applier never waits on a writer that went away. Real PostgreSQL, the writer in a thread of the test process."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import psycopg
import pytest
from test_store_cli import KUBERNETES, UNIVERSAL, kumahc, write

from kumahc.apply import apply, delegated
from kumahc.diagnostics import Report
from kumahc.sources import files
from kumahc.sources.store import connection, requests, state
from kumahc.sources.store.errors import StoreError
from kumahc.writer import Writer

ROOT = Path(__file__).resolve().parents[2]
READY_S = 300  # hang guards only


class Running:
    """A writer answering in a thread of the test process."""

    def __init__(self, url: str):
        self.writer = Writer(url)
        self.stop = threading.Event()
        self.ready = threading.Event()
        self.thread = threading.Thread(target=self.writer.run, args=(self.stop, self.ready), daemon=True)

    def __enter__(self) -> Running:
        self.thread.start()
        assert self.ready.wait(READY_S), "the writer did not take the store's lock"
        return self

    def __exit__(self, *_: object) -> None:
        self.stop.set()
        self.thread.join(READY_S)
        assert not self.thread.is_alive()


@pytest.fixture
def writer(store: str) -> Iterator[Callable[[], Running]]:
    started: list[Running] = []

    def start() -> Running:
        started.append(Running(store).__enter__())
        return started[-1]

    try:
        yield start
    finally:
        for running in started:
            running.__exit__()


def tables(url: str) -> tuple:
    """What a store holds, minus ids and times: resources in store order, the rendered head, parts."""
    with connection.session(url) as conn:
        resources = conn.execute("SELECT kind, mesh, namespace, name, format, body::text, generation "
                                 "FROM kumahc_resources ORDER BY id").fetchall()
        head = conn.execute("SELECT renderer, warnings FROM kumahc_rendered").fetchall()
        proxies = sorted((m, n, v, bytes(c)) for m, n, v, c in conn.execute(
            "SELECT mesh, name, version, clusters FROM kumahc_rendered_proxies"))
        clusters = sorted((bytes(d), n, v, bytes(r)) for d, n, v, r in conn.execute(
            "SELECT digest, name, version, resource FROM kumahc_rendered_clusters"))
        revision = conn.execute("SELECT revision FROM kumahc_state").fetchone()[0]
        left = conn.execute("SELECT count(*) FROM kumahc_requests").fetchone()[0]
    return resources, head, proxies, clusters, revision, left


INPUTS = [UNIVERSAL, KUBERNETES, str(ROOT / "examples/complete/mesh"),
          str(ROOT / "examples/kong/seed-004-active-passive.yaml"),
          str(ROOT / "examples/circuitbreaker/precedence.yaml")]


def edited(tmp_path: Path, source: str) -> str:
    """``source`` with every ``interval`` of 10s made 7s (a changed policy), as one file."""
    paths = sorted(Path(source).rglob("*.yaml")) if Path(source).is_dir() else [Path(source)]
    text = "\n---\n".join(p.read_text() for p in paths).replace("interval: 10s", "interval: 7s")
    return write(tmp_path, "edited.yaml", text)


@pytest.mark.parametrize("inputs", INPUTS)
def test_an_apply_answered_by_the_writer_prints_and_stores_what_apply_does(
        inputs: str, store: str, new_store: Callable[[], str], writer: Callable[[], Running],
        tmp_path: Path) -> None:
    alone = new_store()
    running = writer()
    for args in (["-f", inputs], ["-f", edited(tmp_path, inputs)], ["-f", edited(tmp_path, inputs)],
                 ["-f", inputs]):
        before = running.writer.answered
        by_writer = kumahc("apply", *args, "--store", store)
        assert running.writer.answered == before + 1
        by_itself = kumahc("apply", *args, "--store", alone)
        assert (by_writer.code, by_writer.out, by_writer.err) == (by_itself.code, by_itself.out, by_itself.err)
        assert tables(store) == tables(alone)


def test_an_invalid_apply_answered_by_the_writer_writes_nothing(store: str, new_store: Callable[[], str],
                                                                 writer: Callable[[], Running],
                                                                 tmp_path: Path) -> None:
    alone = new_store()
    for url in (store, alone):
        assert kumahc("apply", "-f", UNIVERSAL, "--store", url).code == 0
    running = writer()
    # Valid on its own, invalid in the state it would make: a second Mesh-wide HealthCheck is fine, but this one
    # names a mesh in a way the state rejects as the pipeline does.
    bad = write(tmp_path, "bad.yaml", "type: MeshHealthCheck\nname: bad\nmesh: default\nspec:\n"
                                      "  targetRef: {kind: Mesh}\n  to: [{targetRef: {kind: Mesh}, default: "
                                      "{interval: 0s, tcp: {}}}]\n")
    before = tables(store)
    by_writer = kumahc("apply", "-f", bad, "--store", store)
    assert running.writer.answered == 1
    by_itself = kumahc("apply", "-f", bad, "--store", alone)
    assert by_writer.code == 1
    assert (by_writer.code, by_writer.out, by_writer.err) == (by_itself.code, by_itself.out, by_itself.err)
    assert tables(store) == before


def _loaded(path: str) -> tuple:
    report = Report()
    return files.read([path], report), report


def test_an_applier_takes_its_request_back_from_a_writer_that_does_not_answer(store: str) -> None:
    """A session holding the writer's lock that never answers (a stuck writer): the apply gives up after its
    wait, says so, and its request is gone, so nothing can commit it later."""
    loaded, report = _loaded(UNIVERSAL)
    with connection.session(store) as stuck, connection.session(store) as conn:
        assert stuck.execute("SELECT pg_try_advisory_lock(%s)", (requests.LOCK,)).fetchone()[0]
        with pytest.raises(StoreError, match=r"^the store's writer did not answer within 1 s; nothing written$"):
            delegated(conn, loaded, report, wait_s=1)
        assert conn.execute("SELECT count(*) FROM kumahc_requests").fetchone()[0] == 0
    assert tables(store)[4] == 0


def test_an_applier_whose_writer_goes_away_applies_itself(store: str) -> None:
    loaded, report = _loaded(UNIVERSAL)
    with connection.session(store) as conn:
        stuck = connection.connect(store)
        assert stuck.execute("SELECT pg_try_advisory_lock(%s)", (requests.LOCK,)).fetchone()[0]
        timer = threading.Timer(1.0, stuck.close)  # the writer's session ends: its lock with it
        timer.start()
        try:
            assert delegated(conn, loaded, report) is None
        finally:
            timer.join()
        assert conn.execute("SELECT count(*) FROM kumahc_requests").fetchone()[0] == 0
        outcome = apply(conn, loaded, report)
    assert (outcome.writer, outcome.revision) == (False, 1)


def test_no_writer_no_request(store: str) -> None:
    loaded, report = _loaded(UNIVERSAL)
    with connection.session(store) as conn:
        assert not requests.writer_live(conn)
        outcome = apply(conn, loaded, report)
        assert (outcome.writer, outcome.revision) == (False, 1)
        assert conn.execute("SELECT count(*) FROM kumahc_requests").fetchone()[0] == 0


def test_a_standby_writer_takes_over(store: str) -> None:
    with Running(store) as first:
        second = Running(store)
        second.thread.start()
        try:
            assert not second.ready.wait(2)  # standing by: the first holds the lock
            first.stop.set()
            first.thread.join(READY_S)
            assert second.ready.wait(READY_S)
            assert kumahc("apply", "-f", UNIVERSAL, "--store", store).code == 0
            assert (first.writer.answered, second.writer.answered) == (0, 1)
        finally:
            second.__exit__()


def test_a_writer_of_another_database_is_not_this_stores(store: str, new_store: Callable[[], str]) -> None:
    other = new_store()
    with Running(other), connection.session(store) as conn:
        assert not requests.writer_live(conn)
        with connection.session(other) as there:
            assert requests.writer_live(there)


def test_a_request_withdrawn_before_the_commit_is_rolled_back(store: str) -> None:
    """The applier deleted its request while the writer validated it: the writer's commit finds no request to
    answer and rolls back resources and parts with it."""
    loaded, report = _loaded(UNIVERSAL)
    w = Writer(store)
    with connection.session(store) as conn:
        w.load(conn)
        text = requests.encode_request(loaded.resources, report.items)
        rid = conn.execute("INSERT INTO kumahc_requests (request) VALUES (%s) RETURNING id", (text,)).fetchone()[0]
        real = w.catch_up

        def withdrawing(c: psycopg.Connection):  # the applier gives up just after the writer read the store
            found = real(c)
            with connection.session(store) as applier:
                assert requests.withdraw(applier, rid)
            return found

        w.catch_up = withdrawing  # type: ignore[method-assign]
        w.answer(conn, rid, text)
    assert tables(store)[4] == 0
    assert tables(store)[0] == []


def test_a_cluster_that_comes_back_is_stored_again(store: str, new_store: Callable[[], str],
                                                    writer: Callable[[], Running], tmp_path: Path) -> None:
    """The writer's kept index of the rendered tables forgets the clusters a commit deleted: when a later change
    renders one of them again, it is written again (a replica would otherwise miss it)."""
    alone = new_store()
    for url in (store, alone):
        assert kumahc("apply", "-f", UNIVERSAL, "--store", url).code == 0
    running = writer()
    first = (ROOT / "tests/store/data/universal.yaml").read_text()
    assert first.count("interval: 5s") == 1  # MeshHealthCheck web-to-backend's
    for interval in ("7s", "5s", "7s"):
        path = write(tmp_path, f"at-{interval}.yaml", first.replace("interval: 5s", f"interval: {interval}"))
        for url in (store, alone):
            assert kumahc("apply", "-f", path, "--store", url).code == 0
        assert tables(store) == tables(alone)
    assert running.writer.answered == 3


def test_concurrent_appliers_through_the_writer_lose_nothing(store: str, writer: Callable[[], Running],
                                                             tmp_path: Path) -> None:
    """Two appliers (processes) hand their applies to one writer at once: it answers them one at a time, so
    every apply is exactly one commit (revisions 1..2N, none shared, each applier's in its order) and the
    writer's own state follows every commit."""
    import json
    import subprocess
    import sys

    n = 15
    running = writer()
    procs = {}
    for who in ("a", "b"):
        (tmp_path / who).mkdir()
        procs[who] = subprocess.Popen([sys.executable, str(ROOT / "tests/store/applier.py"), store, who, str(n),
                                       str(tmp_path / who)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                      text=True)
    results = {}
    try:
        for who, proc in procs.items():
            out, err = proc.communicate(timeout=600)
            assert proc.returncode == 0, err
            results[who] = json.loads(out)
    finally:
        for proc in procs.values():
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    revisions = [rev for r in results.values() for rev, _ in r]
    assert sorted(revisions) == list(range(1, 2 * n + 1))
    for r in results.values():
        assert [rev for rev, _ in r] == sorted(rev for rev, _ in r)
    assert running.writer.answered == 2 * n
    with connection.session(store) as conn:
        rows = {row.name: row for row in state.read(conn).rows}
    assert (rows["a"].generation, rows["b"].generation, rows["shared"].generation) == (n, n, 2 * n)


def test_deletes_answered_by_the_writer_print_and_store_what_delete_does(
        store: str, new_store: Callable[[], str], writer: Callable[[], Running], tmp_path: Path) -> None:
    alone = new_store()
    for url in (store, alone):
        assert kumahc("apply", "-f", UNIVERSAL, "--store", url).code == 0
        assert kumahc("apply", "-f", KUBERNETES, "--store", url).code == 0
    running = writer()
    spec = "spec:\n  targetRef: {kind: Mesh}\n  to: [{targetRef: {kind: Mesh}, default: {interval: 5s, tcp: {}}}]\n"
    named = write(tmp_path, "named.yaml", f"type: MeshHealthCheck\nname: web-to-backend\nmesh: default\n{spec}---\n"
                                          f"type: MeshHealthCheck\nname: nobody\nmesh: default\n{spec}")
    steps = [["delete", "meshhealthcheck", "nothing-here"],  # not found
             ["delete", "meshcircuitbreaker", "db-limits", "--mesh", "default"],
             ["delete", "-f", named],  # one named resource is not stored: nothing deleted
             ["delete", "-f", named, "--ignore-not-found"],
             ["delete", "-f", named, "--ignore-not-found"]]  # nothing left to delete
    for number, args in enumerate(steps, 1):
        by_writer = kumahc(*args, "--store", store)
        assert running.writer.answered == number
        by_itself = kumahc(*args, "--store", alone)
        assert (by_writer.code, by_writer.out, by_writer.err) == (by_itself.code, by_itself.out, by_itself.err)
        assert tables(store) == tables(alone)
    assert [kumahc(*a, "--store", store).code for a in steps] == [1, 1, 1, 0, 0]


def test_a_request_the_writer_fails_on_is_handed_back_to_its_applier(store: str,
                                                                      writer: Callable[[], Running]) -> None:
    """A failure inside the writer (a bug) drops that request, logged; its applier does the work itself and the
    writer answers the next one."""
    running = writer()
    real = running.writer.answer

    def failing(*_: object) -> str:
        running.writer.answer = real  # type: ignore[method-assign]
        raise RuntimeError("boom")

    running.writer.answer = failing  # type: ignore[method-assign]
    loaded, report = _loaded(UNIVERSAL)
    with connection.session(store) as conn:
        first = apply(conn, loaded, report)
        assert (first.writer, first.revision, [c.verb for c in first.changes][:1]) == (False, 1, ["created"])
        again = apply(conn, *_loaded(UNIVERSAL))
        assert (again.writer, again.revision) == (True, None)
        assert conn.execute("SELECT count(*) FROM kumahc_requests").fetchone()[0] == 0
    assert running.thread.is_alive()
