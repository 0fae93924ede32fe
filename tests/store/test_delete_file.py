"""``kumahc delete -f FILE`` against a real PostgreSQL store: it deletes exactly the resources the files name (by
kind, mesh, namespace and name), all or none; names what the store does not hold (``--ignore-not-found`` skips
it); and, like every write, only leaves a state that passes validation."""

from __future__ import annotations

from pathlib import Path

import psycopg
import pytest
from store_cli import kumahc

from kumahc.sources.store import connection, state

DATA = Path(__file__).resolve().parent / "data"
UNIVERSAL = str(DATA / "universal.yaml")
KUBERNETES = str(DATA / "kubernetes.yaml")
# Only the identities count: the documents need not match what is stored.
NAMED = """\
type: MeshHealthCheck
name: web-to-backend
mesh: default
spec:
  targetRef: {kind: Mesh}
  to: [{targetRef: {kind: Mesh}, default: {interval: 99s, tcp: {}}}]
---
apiVersion: kuma.io/v1alpha1
kind: MeshCircuitBreaker
metadata:
  name: db-limits
  namespace: kuma-system
spec:
  targetRef: {kind: Mesh}
  to: [{targetRef: {kind: Mesh}, default: {}}]
"""
MISSING = "type: MeshCircuitBreaker\nname: nope\nmesh: other\nspec:\n  targetRef: {kind: Mesh}\n  to: []\n"


def stored(url: str) -> tuple[int, list[str]]:
    """The store's revision and its resources as KIND/DISPLAY."""
    with connection.session(url) as conn:
        snapshot = state.read(conn)
    return snapshot.revision, [f"{row.kind}/{row.display}" for row in snapshot.rows]


@pytest.fixture
def both(store: str) -> str:
    """The store holding both data files (their Mesh "default" is one resource)."""
    assert kumahc("apply", "-f", UNIVERSAL, "--store", store).code == 0
    assert kumahc("apply", "-f", KUBERNETES, "--store", store).code == 0
    return store


def test_deletes_exactly_what_the_file_names(both: str, tmp_path: Path) -> None:
    revision, before = stored(both)
    path = tmp_path / "named.yaml"
    path.write_text(NAMED)
    r = kumahc("delete", "-f", str(path), "--store", both)
    assert (r.code, r.out) == (0, "meshhealthcheck default/web-to-backend deleted\n"
                                  "meshcircuitbreaker kuma-system/db-limits deleted\n")
    after = [x for x in before if x not in ("MeshHealthCheck/default/web-to-backend",
                                            "MeshCircuitBreaker/kuma-system/db-limits")]
    assert stored(both) == (revision + 1, after)  # one commit; the namesakes in other meshes/namespaces stay
    assert "MeshHealthCheck/kuma-system/web-to-backend" in after and "MeshCircuitBreaker/default/db-limits" in after


def test_a_whole_file_applied_then_deleted(store: str) -> None:
    assert kumahc("apply", "-f", KUBERNETES, "--store", store).code == 0
    r = kumahc("delete", "-f", KUBERNETES, "--store", store)
    assert (r.code, r.err) == (0, "")
    assert r.out.splitlines() == [
        "mesh default deleted", "dataplane shop/web-0 deleted", "dataplane shop/backend-0 deleted",
        "dataplane shop/db-0 deleted", "meshservice shop/db deleted", "service shop/backend deleted",
        "kongupstreampolicy shop/backend-hc deleted", "healthcheck web-to-db-check deleted",
        "meshhealthcheck kuma-system/web-to-backend deleted", "meshcircuitbreaker kuma-system/db-limits deleted",
        "circuitbreaker web-to-backend-limits deleted"]
    assert stored(store)[1] == []


def test_not_found_deletes_nothing(both: str, tmp_path: Path) -> None:
    path = tmp_path / "named.yaml"
    path.write_text(NAMED + "---\n" + MISSING)
    before = stored(both)
    r = kumahc("delete", "-f", str(path), "--store", both)
    assert (r.code, r.out) == (1, "")
    assert r.lines == [f"error: {path}:17: meshcircuitbreaker other/nope not found",
                       "error: nothing deleted: 1 of the resources named not found (--ignore-not-found deletes the "
                       "others)"]
    assert stored(both) == before


def test_ignore_not_found(both: str, tmp_path: Path) -> None:
    path = tmp_path / "named.yaml"
    path.write_text(MISSING + "---\n" + NAMED)
    revision, _ = stored(both)
    r = kumahc("delete", "-f", str(path), "--ignore-not-found", "--store", both)
    assert (r.code, r.out) == (0, "meshhealthcheck default/web-to-backend deleted\n"
                                  "meshcircuitbreaker kuma-system/db-limits deleted\n")
    assert not any(line.startswith("error") for line in r.lines)  # the state left's warnings only
    assert stored(both)[0] == revision + 1
    # All of them gone now: nothing to do, nothing written, exit 0 (kubectl's --ignore-not-found).
    r = kumahc("delete", "-f", str(path), "--ignore-not-found", "--store", both)
    assert (r.code, r.out) == (0, "")
    assert not any(line.startswith("error") for line in r.lines)
    assert stored(both)[0] == revision + 1


def test_stdin_and_several_files(both: str, tmp_path: Path) -> None:
    one = tmp_path / "one.yaml"
    one.write_text("type: CircuitBreaker\nname: web-to-backend-limits\nmesh: default\n"
                   "sources: [{match: {kuma.io/service: '*'}}]\ndestinations: [{match: {kuma.io/service: '*'}}]\n")
    r = kumahc("delete", "-f", "-", "-f", str(one), "--store", both, stdin=NAMED)
    assert (r.code, r.out) == (0, "meshhealthcheck default/web-to-backend deleted\n"
                                  "meshcircuitbreaker kuma-system/db-limits deleted\n"
                                  "circuitbreaker web-to-backend-limits deleted\n")  # named as stored (Kubernetes)
    r = kumahc("delete", "-f", "-", "--store", both, stdin=NAMED)
    assert (r.code, r.lines[0]) == (1, "error: <stdin>:1: meshhealthcheck default/web-to-backend not found")


def test_the_state_left_must_be_valid(both: str, tmp_path: Path) -> None:
    """A row altered behind kumahc's back makes any state holding it invalid: deleting something else is refused
    (nothing deleted); deleting the altered row itself leaves a valid state."""
    with psycopg.connect(both, autocommit=True) as conn:
        conn.execute("""UPDATE kumahc_resources SET body = '{"type": "MeshHealthCheck", "name": "web-to-backend", \
"mesh": "default", "spec": {"targetRef": {"kind": "Mesh"}, "to": "x"}}' WHERE kind = 'MeshHealthCheck' \
AND namespace = ''""")
    before = stored(both)
    path = tmp_path / "other.yaml"
    path.write_text(NAMED.split("---\n")[1])
    r = kumahc("delete", "-f", str(path), "--store", both)
    assert (r.code, r.out) == (1, "")
    assert r.lines == ["store: MeshHealthCheck default/web-to-backend: spec.to: must be a list", "found 1 error"]
    assert stored(both) == before
    path.write_text(NAMED.split("---\n")[0])
    r = kumahc("delete", "-f", str(path), "--store", both)
    assert (r.code, r.out) == (0, "meshhealthcheck default/web-to-backend deleted\n"), r.err


def test_invalid_or_empty_files_delete_nothing(both: str, tmp_path: Path) -> None:
    before = stored(both)
    bad = tmp_path / "bad.yaml"
    bad.write_text("type: MeshHealthCheck\nname: web-to-backend\nmesh: default\nspec: 3\n")
    r = kumahc("delete", "-f", str(bad), "--store", both)
    assert (r.code, r.out, r.lines[-1]) == (1, "", "found 1 error")
    empty = tmp_path / "empty.yaml"
    empty.write_text("")
    r = kumahc("delete", "-f", str(empty), "--store", both)
    assert (r.code, r.lines[-1]) == (1, "error: no resources to delete")
    r = kumahc("delete", "-f", str(tmp_path / "absent.yaml"), "--store", both)
    assert (r.code, r.lines) == (1, [f"{tmp_path / 'absent.yaml'}: cannot read: No such file or directory",
                                     "found 1 error"])
    assert stored(both) == before


@pytest.mark.parametrize("args, message", [
    (("meshhealthcheck", "web-to-backend", "-f", "x.yaml"), "give KIND NAME (with --mesh, -n) or -f PATH, not both"),
    (("-f", "x.yaml", "--mesh", "default"), "give KIND NAME (with --mesh, -n) or -f PATH, not both"),
    (("meshhealthcheck",), "Missing argument 'KIND NAME' (or -f PATH)."),
    ((), "Missing argument 'KIND NAME' (or -f PATH)."),
    (("mesh", "default", "--ignore-not-found"), "--ignore-not-found goes with -f PATH"),
])
def test_usage_errors(store: str, args: tuple[str, ...], message: str) -> None:
    r = kumahc("delete", *args, "--store", store)
    assert (r.code, r.lines[-1]) == (2, f"Error: {message}")
