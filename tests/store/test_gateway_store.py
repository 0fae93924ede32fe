"""The gateway kinds in the store (issue 20): MeshGateway, MeshHTTPRoute and MeshTCPRoute applied, listed, read
back, rendered and deleted with the real PostgreSQL server (conftest.py); the store renders the gateway's clusters
exactly as the files do."""

from __future__ import annotations

from pathlib import Path

from test_store_cli import kumahc

EXAMPLE = Path(__file__).resolve().parent.parent.parent / "examples" / "gateway" / "builtin"
MESH = "type: Mesh\nname: default\n"


def test_gateway_kinds_round_trip(store: str, tmp_path: Path) -> None:
    inputs = tmp_path / "in.yaml"
    inputs.write_text(MESH + "---\n" + (EXAMPLE / "mesh.yaml").read_text() + "---\n"
                      + (EXAMPLE / "policy.yaml").read_text(), encoding="utf-8")
    r = kumahc("apply", "-f", str(inputs), "--store", store)
    assert (r.code, r.out.splitlines()) == (0, [
        "mesh default created", "dataplane default/edge-gateway created", "dataplane default/web-01 created",
        "dataplane default/web-02 created", "dataplane default/db-01 created", "meshservice default/db created",
        "meshgateway default/edge created", "meshhttproute default/edge-to-web created",
        "meshtcproute default/edge-to-db created", "meshhealthcheck default/edge-health created",
        "meshcircuitbreaker default/edge-public-limits created"])
    for kind, name in (("meshgateways", "edge"), ("meshhttproutes", "edge-to-web"), ("meshtcproutes", "edge-to-db")):
        r = kumahc("get", kind, "--store", store, "-o", "yaml")
        assert r.code == 0 and f"name: {name}\n" in r.out, r.out
    from_store = kumahc("render", "--store", store, "--proxy", "edge-gateway")
    from_files = kumahc("render", str(inputs), "--proxy", "edge-gateway")
    assert from_store.code == from_files.code == 0
    assert from_store.out == from_files.out
    assert "web-fee5f77c12f90381" in from_store.out
    # Deleting the HTTP route takes its cluster away; the TCP route's stays.
    r = kumahc("delete", "meshhttproute", "edge-to-web", "--store", store)
    assert (r.code, r.out) == (0, "meshhttproute default/edge-to-web deleted\n")
    r = kumahc("render", "--store", store, "--proxy", "edge-gateway", "-o", "table")
    assert [line.split()[1] for line in r.out.splitlines()[1:]] == ["default_db___msvc_5432-fce5ec0a8444a947"]


def _served_clusters(*args: str) -> list[dict]:
    """The first CDS response ``kumahc serve ARGS`` sends the gateway's node, as render's JSON (real grpcio)."""
    import asyncio

    from google.protobuf import json_format
    from kumahc_serve import first_response, serve

    with serve(args=args) as s:
        response = asyncio.run(first_response(f"127.0.0.1:{s.xds_port}", "default.edge-gateway"))
    return [json_format.MessageToDict(r, preserving_proto_field_name=True) for r in response.resources]


def test_serve_from_store_equals_serve_from_files(store: str, tmp_path: Path) -> None:
    """``serve --store`` (the writer's stored parts, and --endpoints eds rendering the stored resources) sends the
    gateway node the clusters ``serve PATH`` sends."""
    inputs = tmp_path / "in.yaml"
    inputs.write_text(MESH + "---\n" + (EXAMPLE / "mesh.yaml").read_text() + "---\n"
                      + (EXAMPLE / "policy.yaml").read_text(), encoding="utf-8")
    assert kumahc("apply", "-f", str(inputs), "--store", store).code == 0
    for extra in ((), ("--endpoints", "eds")):
        from_files = _served_clusters(str(inputs), *extra)
        from_store = _served_clusters("--store", store, *extra)
        assert [c["name"] for c in from_files] == ["default_db___msvc_5432-fce5ec0a8444a947", "web-fee5f77c12f90381"]
        assert from_store == from_files
        assert {c["type"] for c in from_files} == ({"EDS"} if extra else {"STATIC"})
