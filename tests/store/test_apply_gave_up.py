"""``kumahc apply`` and ``kumahc delete`` losing every revision-checked commit (real PostgreSQL, real CLI process):
after exactly 50 attempts they give up with one error line, exit 1, and the store is unchanged.

The contention is made deterministic by a trigger the test installs on ``kumahc_state``: it skips every update of
the store revision (as if another writer had always committed first, the update finds no row at the read
revision) and counts the attempts in a sequence (sequences are not rolled back with the losing transaction)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from kumahc.apply import ATTEMPTS
from kumahc.sources.store import connection, state

GAVE_UP = "error: gave up after 50 attempts: other writers kept changing the store; nothing written\n"
PREFIX = "t24cov_gave_up"  # the objects this test creates, dropped at the end

INSTALL = f"""
CREATE SEQUENCE {PREFIX}_attempts;
CREATE FUNCTION {PREFIX}_lose() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM nextval('{PREFIX}_attempts');
    RETURN NULL;  -- the row is not updated: the writer's UPDATE ... RETURNING finds nothing
END $$;
CREATE TRIGGER {PREFIX}_lose BEFORE UPDATE ON kumahc_state FOR EACH ROW EXECUTE FUNCTION {PREFIX}_lose();
"""
DROP = f"""
DROP TRIGGER IF EXISTS {PREFIX}_lose ON kumahc_state;
DROP FUNCTION IF EXISTS {PREFIX}_lose();
DROP SEQUENCE IF EXISTS {PREFIX}_attempts;
"""

MESH = "type: Mesh\nname: {name}\n"


def kumahc(*args: str) -> subprocess.CompletedProcess:
    """``kumahc ARGS`` as its own process (KUMAHC_STORE unset)."""
    env = {k: v for k, v in os.environ.items() if k != "KUMAHC_STORE"}
    return subprocess.run([sys.executable, "-m", "kumahc", *args], capture_output=True, text=True, env=env,
                          timeout=600)


def attempts(url: str) -> int:
    with connection.session(url) as conn:
        last, called = conn.execute(f"SELECT last_value, is_called FROM {PREFIX}_attempts").fetchone()
    return last if called else 0


@pytest.fixture
def losing(store: str) -> Iterator[str]:
    """The store, with every revision-checked commit losing while the test runs."""
    with connection.session(store) as conn:
        with conn.transaction():
            conn.execute(INSTALL)
    try:
        yield store
    finally:
        with connection.session(store) as conn:
            with conn.transaction():
                conn.execute(DROP)


def test_apply_gives_up_after_50_attempts(losing: str, tmp_path: Path) -> None:
    assert ATTEMPTS == 50
    before = _stored(losing)
    path = tmp_path / "mesh.yaml"
    path.write_text(MESH.format(name="t24cov-apply"))
    r = kumahc("apply", "--store", losing, "-f", str(path))
    assert (r.returncode, r.stdout, r.stderr) == (1, "", GAVE_UP)
    assert attempts(losing) == 50
    assert _stored(losing) == before


def test_delete_gives_up_after_50_attempts(store: str, tmp_path: Path) -> None:
    path = tmp_path / "mesh.yaml"
    path.write_text(MESH.format(name="t24cov-delete"))
    applied = kumahc("apply", "--store", store, "-f", str(path))
    assert (applied.returncode, applied.stdout) == (0, "mesh t24cov-delete created\n"), applied.stderr
    before = _stored(store)
    with connection.session(store) as conn:
        with conn.transaction():
            conn.execute(INSTALL)
    try:
        r = kumahc("delete", "mesh", "t24cov-delete", "--store", store)
        assert (r.returncode, r.stdout, r.stderr) == (1, "", GAVE_UP)
        assert attempts(store) == 50
        assert _stored(store) == before
    finally:
        with connection.session(store) as conn:
            with conn.transaction():
                conn.execute(DROP)
    # Without the trigger the same delete commits at once: the failure came from the lost commits only.
    r = kumahc("delete", "mesh", "t24cov-delete", "--store", store)
    assert (r.returncode, r.stdout, r.stderr) == (0, "mesh t24cov-delete deleted\n", "")


def _stored(url: str) -> tuple[int, tuple[tuple[str, str], ...]]:
    """The store revision and its (kind, name) rows."""
    with connection.session(url) as conn:
        snapshot = state.read(conn)
    return snapshot.revision, tuple((row.kind, row.name) for row in snapshot.rows)
