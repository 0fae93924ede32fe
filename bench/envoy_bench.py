"""Envoy benchmark: one real Envoy (proxy ``client.bench`` with C outbound destinations → C clusters, CDS SotW)
following a policy edit, against ``kumahc serve`` and against the bare server.

The mesh is :func:`bench.generator.envoy_size` (every endpoint on 127.0.0.1, so Envoy's health checks stay on
loopback); the change is the manifest's ``edit_mesh`` (the interval of the Mesh-wide MeshHealthCheck, which has
``tcp``, ``http`` and ``grpc`` blocks, so nearly every cluster changes). Per round:

* kumahc: t0 just before the file write; bare: t0 just before ``SIGUSR1`` (the bare server then pushes the same
  post-edit bytes kumahc would send, pre-computed with kumahc);
* t1 = Envoy's ``cluster_manager.cds.update_time`` (its own wall-clock stamp, in ms, of the accepted update), read
  once ``cluster_manager.cds.version_text`` shows the new version (polled every 10 ms through
  ``/stats?type=TextReadouts``, which does not walk the C clusters' stats). Envoy sends the ACK right after.
"""

from __future__ import annotations

import pickle
import shutil
import signal
import sys
import time
import urllib.parse
from pathlib import Path
from typing import Any

from bench import procs, report
from bench.fanout import snapshot_states
from bench.generator import apply_edit, around_edit, envoy_size, generate
from bench.report import ms, ratio

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "envoy-testbed"))
from bootstraps import xds_bootstrap  # noqa: E402  (envoy-testbed is a folder of scripts)
from harness import Envoy, http_get  # noqa: E402

NODE = "default.client.bench"
POLL_SECONDS = 0.01
SYNC_TIMEOUT = 180.0


def _stat(envoy: Envoy, name: str, kind: str) -> str | None:
    query = urllib.parse.urlencode({"filter": f"^{name}$", "type": kind})
    body = http_get(f"{envoy.admin_url}/stats?{query}", timeout=10).body
    for line in body.splitlines():
        key, sep, value = line.partition(": ")
        if sep and key == name:
            return value.strip().strip('"')
    return None


def _version(envoy: Envoy) -> str | None:
    return _stat(envoy, "cluster_manager.cds.version_text", "TextReadouts")


def _wait_version(envoy: Envoy, version: str, timeout: float) -> float:
    """Poll until Envoy shows ``version``; returns the monotonic time it was seen."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if _version(envoy) == version:
            return time.monotonic()
        envoy._check_alive()
        time.sleep(POLL_SECONDS)
    raise TimeoutError(f"Envoy did not reach version {version} in {timeout:.0f} s (at {_version(envoy)})\n"
                       f"{envoy.log_tail()}")


def _one(kind: str, mesh: Path, data: Path, manifest: Any, states: list[dict[str, tuple[str, bytes]]],
         rounds: int) -> dict[str, Any]:
    server = procs.kumahc_serve([str(mesh)]) if kind == "kumahc" else procs.bare_server(str(data))
    envoy = None
    out: dict[str, Any] = {"rounds": []}
    try:
        port = int(server.xds.rsplit(":", 1)[1])
        envoy = Envoy(xds_bootstrap("cds", NODE, port), log_level="warning", start_timeout=60)
        t_start = time.monotonic()
        envoy.start()
        _wait_version(envoy, states[0][NODE][0], SYNC_TIMEOUT)
        out["initial_s"] = time.monotonic() - t_start
        time.sleep(2.0)
        for r in range(rounds):
            forward = r % 2 == 0
            target = states[1 if forward else 0][NODE][0]
            t0_wall = time.time()
            t0 = time.monotonic()
            if kind == "kumahc":
                apply_edit(mesh, manifest.edit_mesh, forward=forward)
            else:
                server.proc.send_signal(signal.SIGUSR1)
            seen = _wait_version(envoy, target, SYNC_TIMEOUT)
            stamp = _stat(envoy, "cluster_manager.cds.update_time", "Gauges")
            applied = int(stamp) / 1000 - t0_wall if stamp else seen - t0
            res = {"applied_s": applied, "seen_s": seen - t0}
            if kind == "kumahc":
                reloaded = server.stderr_after(t0, "INFO reloaded:")
                res["reloaded_s"] = reloaded - t0 if reloaded is not None else None
                res["generation_s"] = server.metric("kumahc_snapshot_generation_seconds")
            out["rounds"].append(res)
            time.sleep(2.0)
        rejected = _stat(envoy, "cluster_manager.cds.update_rejected", "Counters")
        out["rejected"] = int(rejected or 0)
        return out
    finally:
        if envoy is not None:
            envoy.stop()
        server.stop()
        if rounds % 2 and kind == "kumahc":
            apply_edit(mesh, manifest.edit_mesh, forward=False)


def envoy_bench(clusters: int, work: Path, seed: int, rounds: int = 3) -> str:
    size = envoy_size(clusters)
    mesh = work / f"envoy-{clusters}"
    data = work / f"envoy-{clusters}.pickle"
    shutil.rmtree(mesh, ignore_errors=True)
    try:
        manifest = generate(mesh, size, seed)
        states = snapshot_states(mesh, manifest.edit_mesh)
        if states[0][NODE][0] == states[1][NODE][0]:
            raise RuntimeError("the edit does not change the client's clusters")
        with open(data, "wb") as fh:
            pickle.dump({"states": [{NODE: s[NODE]} for s in states]}, fh, protocol=pickle.HIGHEST_PROTOCOL)
        n_clusters, changed = _count_changed(mesh, manifest.edit_mesh)
        res = {kind: _one(kind, mesh, data, manifest, states, rounds) for kind in ("kumahc", "bare")}
    finally:
        shutil.rmtree(mesh, ignore_errors=True)
        data.unlink(missing_ok=True)
    k, b = res["kumahc"], res["bare"]
    b_med = report.median([r["applied_s"] for r in b["rounds"]])
    rows = []
    for kind, r in (("kumahc serve (edit -> Envoy applied)", k), ("bare server (push -> Envoy applied)", b)):
        vals = [x["applied_s"] for x in r["rounds"]]
        rows.append([kind, n_clusters, ms(r["initial_s"]), ms(report.median(vals)),
                     " ".join(f"{v * 1000:.0f}" for v in vals), ratio(report.median(vals), b_med), r["rejected"]])
    reload = ", ".join(ms(x["reloaded_s"]) if x["reloaded_s"] is not None else "?" for x in k["rounds"])
    gen = ", ".join(f"{x['generation_s']:.3f} s" for x in k["rounds"] if x["generation_s"] is not None)
    seen = {kind: ", ".join(ms(x["seen_s"]) for x in r["rounds"]) for kind, r in res.items()}
    notes = [
        f"one Envoy (node {NODE}, CDS SotW, --concurrency 1) with {n_clusters} clusters; the edit changes "
        f"{changed} of them; {rounds} rounds alternately forward and back; median and each round in ms",
        "initial = Envoy start -> first version applied; applied = change (file write / SIGUSR1) -> Envoy's own "
        "cluster_manager.cds.update_time stamp (ms) of the update; cross-check, new version_text first seen by "
        f"polling every {POLL_SECONDS * 1000:.0f} ms: kumahc {seen['kumahc']}; bare {seen['bare']}",
        f"kumahc breakdown: edit -> 'reloaded' log line {reload} (includes {procs.watcher_text()}); "
        f"reload itself (kumahc_snapshot_generation_seconds: run + build) {gen}",
        "ratio = kumahc / bare (target: <= 1.2x); rejected = cluster_manager.cds.update_rejected at the end",
    ]
    return report.table(f"Envoy ({n_clusters} clusters)", ["server", "clusters", "initial", "applied (median)",
                                                           "rounds (ms)", "ratio", "rejected"], rows, notes)


def _count_changed(mesh: Path, edit: Any) -> tuple[int, int]:
    from kumahc.pipeline import run
    from kumahc.render import cluster_json

    def clusters() -> dict[str, Any]:
        result = run([str(mesh)])
        return {cr.cluster.name: cluster_json(cr.cluster) for cr in result.clusters[("default", "client.bench")]}

    before, after = around_edit(mesh, edit, clusters)
    return len(before), sum(1 for k in before if before[k] != after.get(k))
