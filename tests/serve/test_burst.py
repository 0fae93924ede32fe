"""A reconnect burst: 1,500 xDS clients (three worker processes, one TCP connection each) open their streams at
the same moment against ``kumahc serve``; every one gets its first response. Without the raised pending-call
limits of ``kumahc.xds.server.make_server`` some of them get CANCELLED / INTERNAL from grpc core (bench/ measures
5,000 the same way, first try only: ``python -m bench run --bench burst``).

A loaded machine may be slow to connect or to answer: such tries are tried again with backoff within a generous
deadline, and only the count of clients answered is asserted, never a time. The errors the pending-call limits
would cause are never retried away: any of them, on any try, fails the test."""

from __future__ import annotations

from pathlib import Path

from harness import wait_until
from kumahc_serve import serve

from bench.burst import burst_mesh, run_burst

N = 1500
# Errors of a slow machine, not of kumahc: a connection not (yet) up, a try that waited its whole timeout.
SLOW = ("UNAVAILABLE: ", "no response within ")


def test_burst_of_1500_clients_all_get_their_first_response(tmp_path: Path) -> None:
    nodes = burst_mesh(tmp_path / "mesh", N)
    with serve(str(tmp_path / "mesh"), timeout=300) as s:
        res = run_burst(s.xds, nodes, procs_count=3, timeout=300, retry_s=600)
        assert (res["ok"], res["errors"]) == (N, {}), res["errors"]
        assert len(res["first_s"]) == N
        assert [e for e in res["retried"] if not e.startswith(SLOW)] == [], res["retried"]
        # Every stream is closed again once the clients are gone.
        wait_until(lambda: 'kumahc_xds_streams{api="sotw"} 0.0' in s.get("/metrics")[2].splitlines(), 120, 0.2,
                   "every stream closed")
