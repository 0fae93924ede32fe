"""``kumahc diff --store URL PATH...`` against a real PostgreSQL store: what ``apply -f PATH...`` would change, as
``diff`` prints it for files (same bytes, same exit codes: 3 when some cluster changes), written nowhere; and
``apply --dry-run``'s summary, which is the same count."""

from __future__ import annotations

from pathlib import Path

import pytest
from store_cli import kumahc

from kumahc.sources.store import connection, rendered, state

DATA = Path(__file__).resolve().parent / "data"
UNIVERSAL = str(DATA / "universal.yaml")
KUBERNETES = str(DATA / "kubernetes.yaml")


def snapshot(url: str) -> tuple[int, list, object]:
    """Everything a write would touch: the revision, the rows, the rendered parts' index."""
    with connection.session(url) as conn:
        found = state.read(conn)
        return found.revision, list(found.rows), rendered.index(conn)


@pytest.fixture
def changed(tmp_path: Path) -> str:
    """universal.yaml with its MeshHealthCheck's interval changed, and one more policy."""
    path = tmp_path / "changed.yaml"
    path.write_text(Path(UNIVERSAL).read_text().replace("interval: 5s", "interval: 7s") + """\
---
type: MeshCircuitBreaker
name: web-limits
mesh: default
spec:
  targetRef: {kind: Mesh}
  to:
  - targetRef: {kind: MeshService, name: web}
    default: {connectionLimits: {maxConnections: 7}}
""")
    return str(path)


@pytest.mark.parametrize("fmt", ["text", "json"])
def test_same_output_as_diffing_the_files(store: str, changed: str, fmt: str) -> None:
    assert kumahc("apply", "-f", UNIVERSAL, "--store", store).code == 0
    before = snapshot(store)
    files = kumahc("diff", UNIVERSAL, changed, "-o", fmt)
    assert files.code == 3 and files.out
    r = kumahc("diff", "--store", store, changed, "-o", fmt)
    assert (r.code, r.out, r.err) == (files.code, files.out, files.err)
    assert snapshot(store) == before  # nothing written
    # --proxy narrows it the same way.
    files = kumahc("diff", UNIVERSAL, changed, "--proxy", "web-01")
    r = kumahc("diff", "--store", store, changed, "--proxy", "web-01")
    assert (r.code, r.out) == (files.code, files.out)


def test_several_paths(store: str, tmp_path: Path) -> None:
    """PATH... as apply -f takes them: several files (and - for standard input) applied together."""
    mesh = tmp_path / "mesh.yaml"
    mesh.write_text("type: Mesh\nname: default\n")
    assert kumahc("apply", "-f", str(mesh), "--store", store).code == 0
    rest = Path(UNIVERSAL).read_text().split("---\n", 2)
    first, second = tmp_path / "first.yaml", "---\n".join(rest[:2])
    first.write_text(rest[2])
    files = kumahc("diff", str(mesh), UNIVERSAL)
    r = kumahc("diff", "--store", store, str(first), "-", stdin=second)
    assert (r.code, r.out, r.err) == (3, files.out, files.err)


def test_no_change_exits_0(store: str) -> None:
    assert kumahc("apply", "-f", UNIVERSAL, "--store", store).code == 0
    r = kumahc("diff", "--store", store, UNIVERSAL)
    assert (r.code, r.out) == (0, "no cluster changes\n")
    r = kumahc("diff", "--store", store, "-", stdin=Path(UNIVERSAL).read_text())
    assert (r.code, r.out) == (0, "no cluster changes\n")


def test_added_on_an_empty_store(store: str) -> None:
    r = kumahc("diff", "--store", store, UNIVERSAL)
    assert r.code == 3
    assert r.out.splitlines()[0] == "proxy default/backend-01: added"
    assert r.out.splitlines()[-1] == "8 clusters on 3 proxies change"
    assert snapshot(store)[:2] == (0, [])


def test_dry_run_ends_with_the_same_summary(store: str, changed: str) -> None:
    assert kumahc("apply", "-f", UNIVERSAL, "--store", store).code == 0
    before = snapshot(store)
    summary = kumahc("diff", "--store", store, changed).out.splitlines()[-1]
    assert summary == "5 clusters on 3 proxies change"
    r = kumahc("apply", "-f", changed, "--dry-run", "--store", store)
    assert (r.code, r.out.splitlines()) == (0, [
        "mesh default unchanged (dry run)", "dataplane default/web-01 unchanged (dry run)",
        "dataplane default/backend-01 unchanged (dry run)", "dataplane default/db-01 unchanged (dry run)",
        "meshservice default/db unchanged (dry run)", "healthcheck default/web-to-backend-check unchanged (dry run)",
        "meshhealthcheck default/web-to-backend configured (dry run)",
        "meshcircuitbreaker default/db-limits unchanged (dry run)",
        "circuitbreaker default/web-to-backend-limits unchanged (dry run)",
        "meshcircuitbreaker default/web-limits created (dry run)", f"{summary} (dry run)"])
    r = kumahc("apply", "-f", UNIVERSAL, "--dry-run", "--store", store)
    assert r.out.splitlines()[-1] == "no cluster changes (dry run)"
    assert snapshot(store) == before


def test_invalid_result_is_apply_s_error(store: str, tmp_path: Path) -> None:
    stored = tmp_path / "a.yaml"
    stored.write_text("type: Dataplane\nname: web-0.shop\nmesh: default\n"
                      "networking: {address: 10.2.0.1, inbound: [{port: 1, tags: {kuma.io/service: a}}]}\n")
    assert kumahc("apply", "-f", str(stored), "--store", store).code == 0
    r = kumahc("diff", "--store", store, KUBERNETES)
    assert (r.code, r.out) == (1, "")
    assert r.lines[-2:] == [
        f'{KUBERNETES}:7: Dataplane shop/web-0: duplicate proxy name "web-0.shop" in mesh "default": also '
        "defined at store: Dataplane default/web-0.shop", "found 1 error"]
    assert kumahc("apply", "-f", KUBERNETES, "--dry-run", "--store", store).lines == r.lines


@pytest.mark.parametrize("args, message", [
    (("--store", "postgresql://kumahc@127.0.0.1:1/kumahc"),
     "Missing argument 'PATH...': the files to compare with the store."),
    ((UNIVERSAL,), "give BEFORE and AFTER (or --store URL PATH...)"),
    ((UNIVERSAL, UNIVERSAL, UNIVERSAL), "give BEFORE and AFTER (or --store URL PATH...)"),
])
def test_usage_errors(args: tuple[str, ...], message: str) -> None:
    r = kumahc("diff", *args)
    assert (r.code, r.lines[-1]) == (2, f"Error: {message}")


def test_kumahc_store_does_not_turn_a_file_diff_into_a_store_diff(store: str, changed: str) -> None:
    files = kumahc("diff", UNIVERSAL, changed)
    assert kumahc("diff", UNIVERSAL, changed, env={"KUMAHC_STORE": store}).out == files.out
