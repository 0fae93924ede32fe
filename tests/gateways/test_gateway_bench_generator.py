"""The bench generator's gateways (``--gateways N``): the inputs pass ``kumahc validate`` without warnings, every
gateway gets 8 clusters (4 HTTP and 2 TCP backends, an HTTP and a TCP listener: the HTTP route attaches to the HTTP
listener, the TCP route to both), all health-checked by its MeshHealthCheck, and the mesh without gateways is
unchanged byte for byte."""

from __future__ import annotations

import sys
from pathlib import Path

from helpers import REPO, run

if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from bench.generator import generate, with_size  # noqa: E402


def test_generated_gateways(tmp_path: Path) -> None:
    plain = generate(tmp_path / "plain", "medium", seed=1)
    m = generate(tmp_path / "gw", with_size("medium", gateways=2), seed=1)
    assert m.proxies[-2:] == ["default.gw-00-0.gateways", "default.gw-01-0.gateways"]
    for p in sorted((tmp_path / "plain").rglob("*.yaml")):
        assert p.read_bytes() == (tmp_path / "gw" / p.relative_to(tmp_path / "plain")).read_bytes()
    assert plain.counts["gateways"] == 0 and m.counts["gateways"] == 2
    r = run("validate", str(tmp_path / "gw"))
    assert (r.code, r.lines) == (0, [])
    for proxy in ("gw-00-0.gateways", "gw-01-0.gateways"):
        r = run("render", str(tmp_path / "gw"), "--proxy", proxy, "-o", "table")
        rows = [line.split() for line in r.out.splitlines()[1:]]
        assert {row[0] for row in rows} == {f"default/{proxy}"}
        assert len(rows) == 8
        assert all(row[2] in ("http", "tcp") for row in rows)  # every cluster checked
