"""A reconnect burst: 1,500 xDS clients (three worker processes, one TCP connection each) open their streams at
the same moment against ``kumahc serve``; every one gets its first response on the first try. Without the raised
pending-call limits of ``kumahc.xds.server.make_server`` some of them get CANCELLED / INTERNAL from grpc core
(bench/ measures 5,000 the same way: ``python -m bench run --bench burst``)."""

from __future__ import annotations

from pathlib import Path

from harness import wait_until
from kumahc_serve import serve

from bench.burst import burst_mesh, run_burst

N = 1500


def test_burst_of_1500_clients_all_succeed_first_try(tmp_path: Path) -> None:
    nodes = burst_mesh(tmp_path / "mesh", N)
    with serve(str(tmp_path / "mesh"), timeout=120) as s:
        res = run_burst(s.xds, nodes, procs_count=3)
        assert (res["ok"], res["errors"]) == (N, {})
        assert len(res["first_s"]) == N
        # Every stream is closed again once the clients are gone.
        wait_until(lambda: 'kumahc_xds_streams{api="sotw"} 0.0' in s.get("/metrics")[2].splitlines(), 30, 0.2,
                   "every stream closed")
