"""Connection-burst benchmark: N xDS clients (spread over worker processes, ``bench.burst_clients``) open their
streams at the same moment against ``kumahc serve``; every one must get its first response on the first try.

The mesh has one proxy per client (``burst_mesh``: N web proxies and a backend, one MeshHealthCheck), so each
client asks for a real, distinct proxy.
"""

from __future__ import annotations

import json
import math
import shutil
import sys
import time
from pathlib import Path
from typing import Any

from bench import procs, report
from bench.report import ms

LEAD_SECONDS = 3.0  # workers create their channels before the common start time


def burst_mesh(directory: Path, n: int) -> list[str]:
    """Write a mesh of ``n`` web proxies calling one backend; returns their node ids."""
    directory.mkdir(parents=True, exist_ok=True)
    docs = [f"type: Dataplane\nname: web-{i:05d}\nlabels: {{app: web}}\nnetworking:\n  address: 10.{i // 62500}."
            f"{i // 250 % 250}.{i % 250 + 1}\n  inbound: [{{port: 20000, tags: {{kuma.io/service: web, "
            "kuma.io/protocol: http}}]\n  outbound: [{tags: {kuma.io/service: backend}}]\n" for i in range(n)]
    docs.append("type: Dataplane\nname: backend-01\nnetworking:\n  address: 10.250.0.1\n  inbound: [{port: 20001, "
                "tags: {kuma.io/service: backend, kuma.io/protocol: http}}]\n  outbound: []\n")
    (directory / "mesh.yaml").write_text("---\n".join(docs), encoding="utf-8")
    (directory / "policy.yaml").write_text(
        "type: MeshHealthCheck\nname: backend-http\nspec:\n  targetRef: {kind: Mesh}\n  to:\n  - targetRef: "
        "{kind: MeshService, name: backend}\n    default: {interval: 10s, http: {path: /health}}\n", encoding="utf-8")
    return [f"default.web-{i:05d}" for i in range(n)]


def run_burst(target: str, nodes: list[str], procs_count: int, timeout: float = 120.0, retry_s: float = 0.0
              ) -> dict[str, Any]:
    """Start ``procs_count`` workers, let them all open their streams at one moment, gather their results:
    ``{"ok", "errors": {message: count}, "start_spread_s", "sent_spread_s", "first_s": sorted, "retried":
    {message: count}}``. ``timeout``: seconds a try waits for its first response; ``retry_s`` > 0: a failed try
    is tried again with backoff until that many seconds after the start (0, the bench: the first try only)."""
    procs.raise_fd_limit()
    per = math.ceil(len(nodes) / procs_count)
    start_at = time.monotonic() + LEAD_SECONDS + len(nodes) / 500  # connecting takes ~2 ms each
    retry_until = start_at + retry_s if retry_s > 0 else None
    workers = []
    try:
        for i in range(procs_count):
            chunk = nodes[i * per:(i + 1) * per]
            if not chunk:
                continue
            w = procs.Child([sys.executable, "-m", "bench.burst_clients"], f"burst-{i}", stdin=True)
            assert w.proc.stdin is not None
            w.proc.stdin.write(json.dumps({"target": target, "nodes": chunk, "start_at": start_at,
                                           "timeout": timeout, "retry_until": retry_until}) + "\n")
            w.proc.stdin.flush()
            workers.append(w)
        out: dict[str, Any] = {"ok": 0, "errors": {}, "start_spread_s": 0.0, "sent_spread_s": 0.0, "first_s": [],
                               "retried": {}}
        deadline = time.monotonic() + LEAD_SECONDS + len(nodes) / 500 + max(timeout, retry_s + timeout) + 60
        for w in workers:
            res = json.loads(w.next_line(deadline))
            out["ok"] += res["ok"]
            for k, v in res["errors"].items():
                out["errors"][k] = out["errors"].get(k, 0) + v
            out["start_spread_s"] = max(out["start_spread_s"], res["start_spread_s"])
            out["sent_spread_s"] = max(out["sent_spread_s"], res["sent_spread_s"])
            out["first_s"] += res["first_s"]
            for k, v in res["retried"].items():
                out["retried"][k] = out["retried"].get(k, 0) + v
        out["first_s"].sort()
        return out
    finally:
        for w in workers:
            w.stop(timeout=10, grace=2)


def burst(clients: list[int], work: Path, procs_count: int | None = None) -> str:
    """One row per N: a fresh ``kumahc serve`` on a mesh of N proxies, N clients at once."""
    procs.raise_fd_limit()
    rows: list[list[Any]] = []
    for n in clients:
        mesh = work / f"burst-{n}"
        shutil.rmtree(mesh, ignore_errors=True)
        nodes = burst_mesh(mesh, n)
        pc = procs_count or max(1, min(4, math.ceil(n / 1250)))
        server = procs.kumahc_serve([str(mesh)])
        try:
            server.wait_ready()
            res = run_burst(server.xds, nodes, pc)
        finally:
            server.stop()
            shutil.rmtree(mesh, ignore_errors=True)
        first = res["first_s"]
        errors = "; ".join(f"{v} x {k}" for k, v in sorted(res["errors"].items())) or "none"
        rows.append([n, pc, ms(res["start_spread_s"]), ms(res["sent_spread_s"]), f"{res['ok']:,}", f"{n - res['ok']:,}",
                     ms(first[len(first) // 2]) if first else "-", ms(first[-1]) if first else "-", errors])
    notes = ["every client: its own TCP connection, one CDS SotW stream, first request written at the common start "
             "time; no retry, no wait_for_ready (the first try must succeed)",
             "started / written = the last client's call started / first request handed to its transport, after "
             "the start time; median/last first = first response after it",
             "target: every client succeeds (ok = N) at N = 5,000"]
    return report.table("connection burst (N clients open their streams at once)",
                        ["N", "procs", "started", "written", "ok", "failed", "median first", "last first",
                         "errors"], rows, notes)
