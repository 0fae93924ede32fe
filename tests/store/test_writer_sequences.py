"""Issue 25's equivalence, for random sequences of applies and deletes (answered by the store's writer): the store
they leave holds exactly what applying the final state to an empty store without a writer gives (resources,
rendered parts, warnings), and every invalid step writes nothing. Real PostgreSQL; the writer in a thread."""

from __future__ import annotations

import uuid
from pathlib import Path

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pgdatabases import drop, migrated
from test_store_cli import UNIVERSAL
from test_writer import Running, tables

from bench.pgserver import PgServer
from kumahc.apply import apply, delete_named
from kumahc.diagnostics import InputError, Report
from kumahc.sources import files
from kumahc.sources.store import connection, records, state

TARGETS = ["{kind: Mesh}", "{kind: MeshService, name: backend}", "{kind: MeshService, name: db}"]


def policy(name: str, interval: int, target: int, proxies: str) -> str:
    # interval 0 is invalid (must be > 0): a step that must write nothing.
    return (f"type: MeshHealthCheck\nname: {name}\nmesh: default\nspec:\n  targetRef: {proxies}\n"
            f"  to: [{{targetRef: {TARGETS[target]}, default: {{interval: {interval}s, tcp: {{}}}}}}]\n")


def dataplane(n: int) -> str:
    return (f"type: Dataplane\nname: extra-{n}\nmesh: default\nnetworking:\n  address: 10.0.1.{n}\n  inbound:\n"
            f"  - port: 20000\n    tags: {{kuma.io/service: backend, kuma.io/protocol: http}}\n  outbound:\n"
            f"  - tags: {{kuma.io/service: web}}\n")


names = st.sampled_from(["a", "b"])
applied_policy = st.builds(lambda n, i, t, p: ("apply", policy(n, i, t, p)), names, st.integers(0, 2),
                           st.integers(0, 2), st.sampled_from(["{kind: Mesh}", "{kind: Dataplane, labels: "
                                                                                "{app: web}}"]))
two_policies = st.builds(lambda a, b: ("apply", a[1] + "---\n" + b[1]), applied_policy, applied_policy)
applied_dataplane = st.builds(lambda n: ("apply", dataplane(n)), st.integers(1, 3))
deleted = st.builds(lambda n: ("delete", policy(n, 1, 0, "{kind: Mesh}")), names)
steps = st.lists(st.one_of(applied_policy, two_policies, applied_dataplane, deleted), min_size=1, max_size=6)


def _read(path: str) -> tuple:
    report = Report()
    return files.read([path], report), report


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(steps=steps)
def test_incremental_applies_equal_the_final_state_applied_at_once(pg: PgServer, tmp_path: Path,
                                                                    steps: list[tuple[str, str]]) -> None:
    names_ = [f"t_{uuid.uuid4().hex}" for _ in range(2)]
    incremental, fresh = (migrated(pg.create_database(n)) for n in names_)
    try:
        with connection.session(incremental) as conn:
            apply(conn, *_read(UNIVERSAL))
            with Running(incremental) as running:
                handed = 0  # applies the writer answers: those whose files read without errors
                for number, (verb, text) in enumerate(steps):
                    path = tmp_path / f"step-{uuid.uuid4().hex}-{number}.yaml"
                    path.write_text(text)
                    before = tables(incremental)
                    try:
                        loaded, report = _read(str(path))
                        if verb == "apply":
                            handed += not report.has_errors()  # a resource twice in one file: its own errors
                            assert apply(conn, loaded, report).writer
                        else:
                            handed += 1
                            assert delete_named(conn, loaded.resources, ignore_not_found=True).writer
                    except InputError:
                        assert tables(incremental) == before  # an invalid step writes nothing
                assert running.writer.answered == handed
            final = state.read(conn)
        # The final state, in store order, applied at once to an empty store (no writer there).
        whole = tmp_path / f"final-{uuid.uuid4().hex}.yaml"
        whole.write_text(yaml.safe_dump_all([records.document(row) for row in final.rows], sort_keys=False))
        with connection.session(fresh) as conn:
            apply(conn, *_read(str(whole)))
        got, want = tables(incremental), tables(fresh)
        assert [r[:6] for r in got[0]] == [r[:6] for r in want[0]]  # generations differ: edited vs created once
        assert got[1:4] == want[1:4]  # rendered head (renderer, warnings) and parts
    finally:
        for n in names_:
            drop(pg, n)
