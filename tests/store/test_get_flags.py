"""``kumahc get``'s kubectl flags against a real PostgreSQL store: ``-o table|wide|yaml|json|name``, ``-A``,
``-l`` selectors, ``--no-headers`` and the AGE column. Ages are made deterministic by moving the stored creation
times days and hours into the past (AGE is the database's now minus the row's creation time)."""

from __future__ import annotations

from datetime import UTC, timedelta
from pathlib import Path

import psycopg
import pytest
from store_cli import kumahc

from kumahc.sources.store import records, selectors

DATA = Path(__file__).resolve().parent / "data"
UNIVERSAL = str(DATA / "universal.yaml")
KUBERNETES = str(DATA / "kubernetes.yaml")
# Per Dataplane: how long ago the store created it, and the AGE that prints.
AGES = {"web-01": ("4 days 5 hours", "4d"), "backend-01": ("3 hours 20 minutes", "3h"),
        "db-01": ("400 days", "1y"), "web-0": ("12 minutes", "12m"), "backend-0": ("2 days", "2d"),
        "db-0": ("30 days", "30d")}


@pytest.fixture
def stored(store: str) -> tuple[str, dict[str, tuple[str, str]]]:
    """The store with both data files applied, each Dataplane created AGES ago and modified an hour after; and
    each Dataplane's (creation, modification) times as RFC 3339."""
    assert kumahc("apply", "-f", UNIVERSAL, "--store", store).code == 0
    assert kumahc("apply", "-f", KUBERNETES, "--store", store).code == 0
    created = {}
    with psycopg.connect(store, autocommit=True) as conn:
        for name, (ago, _) in AGES.items():
            at = conn.execute("UPDATE kumahc_resources SET created_at = date_trunc('second', now()) - %s::interval, "
                              "modified_at = date_trunc('second', now()) - %s::interval + interval '1 hour' "
                              "WHERE kind = 'Dataplane' AND name = %s RETURNING created_at, modified_at",
                              (ago, ago, name)).fetchone()
            created[name] = tuple(t.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ") for t in at)
    return store, created


def test_table_has_age(stored: tuple[str, dict[str, tuple[str, str]]]) -> None:
    store, _ = stored
    r = kumahc("get", "dataplanes", "--store", store)
    assert (r.code, r.err) == (0, "")
    assert r.out == ("NAME                MESH     AGE\n"
                     "default/web-01      default  4d\n"
                     "default/backend-01  default  3h\n"
                     "default/db-01       default  1y\n"
                     "shop/web-0          default  12m\n"
                     "shop/backend-0      default  2d\n"
                     "shop/db-0           default  30d\n")


def test_wide_adds_the_other_columns(stored: tuple[str, dict[str, tuple[str, str]]]) -> None:
    store, times = stored
    r = kumahc("get", "dataplanes", "-o", "wide", "-n", "shop", "--store", store)
    head, *rows = r.out.splitlines()
    assert [head.split(), *(row.split() for row in rows)] == [
        ["NAME", "MESH", "AGE", "FORMAT", "GENERATION", "CREATED", "MODIFIED", "LABELS"],
        ["shop/web-0", "default", "12m", "kubernetes", "1", *times["web-0"], "app=web"],
        ["shop/backend-0", "default", "2d", "kubernetes", "1", *times["backend-0"], "<none>"],
        ["shop/db-0", "default", "30d", "kubernetes", "1", *times["db-0"], "app=db"]]
    # Columns line up: every cell starts where its header does, two spaces after the previous one.
    starts = [head.index(h) for h in ("MESH", "AGE", "FORMAT", "GENERATION", "CREATED", "MODIFIED", "LABELS")]
    for row in rows:
        assert all(row[s - 2:s] == "  " and row[s] != " " for s in starts), row


def test_no_headers(stored: tuple[str, dict[str, tuple[str, str]]]) -> None:
    store, _ = stored
    r = kumahc("get", "dataplanes", "--no-headers", "-n", "shop", "--store", store)
    assert r.out == "shop/web-0      default  12m\nshop/backend-0  default  2d\nshop/db-0       default  30d\n"
    assert kumahc("get", "dataplanes", "--no-headers", "-o", "wide", "--store", store).out.count("NAME") == 0


def test_name_output(stored: tuple[str, dict[str, tuple[str, str]]]) -> None:
    store, _ = stored
    r = kumahc("get", "dataplanes", "-o", "name", "--mesh", "default", "-l", "app", "--store", store)
    assert (r.code, r.out) == (0, "dataplane/web-01\ndataplane/db-01\ndataplane/web-0\ndataplane/db-0\n")
    assert kumahc("get", "meshcircuitbreakers", "-o", "name", "--store", store).out == (
        "meshcircuitbreaker/db-limits\nmeshcircuitbreaker/db-limits\n")


@pytest.mark.parametrize("selector, names", [
    ("app=web", ["default/web-01", "shop/web-0"]),
    ("app==web", ["default/web-01", "shop/web-0"]),
    ("app!=web", ["default/backend-01", "default/db-01", "shop/backend-0", "shop/db-0"]),  # without app too
    ("app", ["default/web-01", "default/db-01", "shop/web-0", "shop/db-0"]),
    ("!app", ["default/backend-01", "shop/backend-0"]),
    ("app!=web,app", ["default/db-01", "shop/db-0"]),
    ("app=web, app=db", []),
])
def test_label_selectors(stored: tuple[str, dict[str, tuple[str, str]]], selector: str, names: list[str]) -> None:
    store, _ = stored
    r = kumahc("get", "dataplanes", "-l", selector, "--no-headers", "--store", store)
    assert (r.code, [line.split()[0] for line in r.out.splitlines()]) == (0, names)
    assert r.lines == ([] if names else ["no Dataplane resources found"])


def test_selector_on_kubernetes_metadata_labels(stored: tuple[str, dict[str, tuple[str, str]]]) -> None:
    store, _ = stored
    r = kumahc("get", "meshservices", "-l", "kuma.io/mesh=default", "-o", "name", "--store", store)
    assert r.out == "meshservice/db\n"  # the Kubernetes one; the Universal MeshService has no labels


def test_bad_selector_is_a_usage_error(store: str) -> None:
    r = kumahc("get", "dataplanes", "-l", "app=web=x", "--store", store)
    assert (r.code, r.lines[-1]) == (2, "Error: Invalid value for '-l' / '--selector': \"app=web=x\": not KEY=VALUE, "
                                        "KEY==VALUE, KEY!=VALUE, KEY or !KEY (keys and values: letters, digits, "
                                        "'-', '_', '.', '/')")


def test_all_meshes(stored: tuple[str, dict[str, tuple[str, str]]]) -> None:
    store, _ = stored
    everything = kumahc("get", "dataplanes", "--store", store).out
    assert kumahc("get", "dataplanes", "-A", "--store", store).out == everything
    assert kumahc("get", "dataplanes", "--all-meshes", "--store", store).out == everything
    for extra in (("--mesh", "default"), ("-n", "shop"), ("web-01",)):
        r = kumahc("get", "dataplanes", "-A", *extra, "--store", store)
        assert (r.code, r.lines[-1]) == (2, "Error: -A/--all-meshes lists every mesh and namespace: leave out "
                                            "--mesh, -n and NAME")


def test_yaml_and_json_keep_their_bytes(stored: tuple[str, dict[str, tuple[str, str]]]) -> None:
    store, times = stored
    created = {name: t[0] for name, t in times.items()}
    r = kumahc("get", "dataplane", "db-01", "-o", "yaml", "--store", store)
    assert r.out == f"""\
type: Dataplane
name: db-01
mesh: default
creationTime: '{created["db-01"]}'
labels:
  app: db
networking:
  address: 10.0.0.3
  inbound:
  - port: 5432
    tags:
      kuma.io/service: db
      kuma.io/protocol: tcp
"""
    r = kumahc("get", "dataplane", "db-01", "-o", "json", "--store", store)
    assert r.out.startswith('{\n  "type": "Dataplane",\n  "name": "db-01",\n  "mesh": "default",\n'
                            f'  "creationTime": "{created["db-01"]}",\n  "labels": {{\n    "app": "db"\n  }},\n')
    # -l applies to yaml and json too.
    items = kumahc("get", "dataplanes", "-o", "json", "-l", "app=db", "--store", store).json["items"]
    assert [d.get("name") or d["metadata"]["name"] for d in items] == ["db-01", "db-0"]


def test_output_that_is_no_format_names_output_file(store: str) -> None:
    r = kumahc("get", "dataplanes", "-o", "out.txt", "--store", store)
    assert r.code == 2
    assert r.lines[-1] == ("Error: Invalid value for '-o' / '--output': 'out.txt' is not an output format (one of "
                           "table, wide, yaml, json, name); to write to a file, use --output-file out.txt")


@pytest.mark.parametrize("seconds, shown", [
    (-5, "<invalid>"), (-1, "0s"), (0, "0s"), (59, "59s"), (60, "1m"), (3599, "59m"), (3600, "1h"),
    (86399, "23h"), (86400, "1d"), (364 * 86400 + 86399, "364d"), (365 * 86400, "1y"), (3 * 365 * 86400, "3y"),
])
def test_age_is_kubectls_short_form(seconds: int, shown: str) -> None:
    assert records.age(timedelta(seconds=seconds, microseconds=0)) == shown


def test_selector_forms() -> None:
    parsed = selectors.parse("a=1,b==2,c!=3,d,!e,f=")
    assert [(r.key, r.op, r.value) for r in parsed] == [
        ("a", "=", "1"), ("b", "=", "2"), ("c", "!=", "3"), ("d", "exists", ""), ("e", "!exists", ""), ("f", "=", "")]
    assert selectors.matches(parsed, {"a": "1", "b": "2", "d": "", "f": ""})
    assert not selectors.matches(parsed, {"a": "1", "b": "2", "c": "3", "d": "", "f": ""})
    for bad in ("", "a=b=c", "!a=b", "a b=c", "=x", "a!=", "a=="):
        if bad in ("a!=", "a=="):
            assert selectors.parse(bad)[0].value == ""  # an empty value is a value, as in Kubernetes
            continue
        with pytest.raises(ValueError, match="not KEY=VALUE"):
            selectors.parse(bad)
