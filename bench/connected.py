"""``--bench connected``: what ``serve --render connected`` costs against ``--render all`` (issue 21's targets).

Rows, each a ratio measured in one run:

* reloads (one fresh process, ``python -m bench.connected reloads DIR K``): a one-policy edit and a Mesh-wide edit
  reloaded as ``serve`` does (RunCache + previous snapshot), eagerly (every proxy) and lazily with K proxies
  materialized, each ÷ a warm full render (``run`` + ``snapshot.build``) of the same process;
* ``serve`` RSS with K of N proxies connected ÷ all N connected (real ``serve`` processes, real grpc clients: one
  channel and one CDS SotW stream each, from ``bench.xds_clients`` workers);
* the same for a ``serve --store`` replica serving the parts ``kumahc apply`` stored (PostgreSQL started for
  the run, :mod:`bench.pgserver`);
* ``serve`` start → ``/ready`` with no proxy connected ÷ ``kumahc validate`` of the same inputs;
* first response to a proxy connecting to a warm ``serve`` (each connect a proxy not yet built): p50, p99 over
  ``connects`` sequential connects.
"""

from __future__ import annotations

import json
import queue
import random
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from bench import report

CLIENT_PROCS = 4
EDITS = 10  # reloads with every proxy connected before the last RSS row (issue 21: "after 10 edits")


def reloads(directory: str, connected: int) -> dict[str, Any]:
    """In this process: a warm full render, then each edit (one, Mesh-wide; forward) reloaded eagerly and lazily.
    Every load and reload is wrapped as ``serve`` wraps it (:func:`kumahc.gcpause.reloading`: the collector off
    until the previous result is released, then the new mesh frozen); its time is inside the figure."""
    from bench.generator import Manifest, apply_edit
    from kumahc import gcpause
    from kumahc.pipeline import RunCache, run
    from kumahc.xds import snapshot
    from kumahc.xds.materialize import snapshot_of

    manifest = Manifest.read(directory)
    out: dict[str, Any] = {}
    run([directory])  # imports, memos: the reference below is a warm render
    t0 = time.perf_counter()
    snapshot.build(run([directory]))
    out["full_s"] = time.perf_counter() - t0
    eager_cache, lazy_cache = RunCache(), RunCache()
    with gcpause.reloading():
        eager = snapshot.build(run([directory], cache=eager_cache))
    keys = sorted(eager.proxies)
    random.Random(7).shuffle(keys)
    chosen = set(keys[:connected])
    with gcpause.reloading():
        lazy, _ = snapshot_of(run([directory], cache=lazy_cache, lazy=True), None, "static", chosen)
    for name, edit in (("one", manifest.edit_one), ("mesh", manifest.edit_mesh)):
        apply_edit(directory, edit)
        before = {k: v.version for k, v in eager.proxies.items()}
        t0 = time.perf_counter()
        with gcpause.reloading():
            eager = snapshot.build(run([directory], cache=eager_cache), eager)
        out[f"{name}_eager_s"] = time.perf_counter() - t0
        out[f"{name}_changed"] = sum(1 for k, v in eager.proxies.items() if before[k] != v.version)
        t0 = time.perf_counter()
        with gcpause.reloading():
            lazy, _ = snapshot_of(run([directory], cache=lazy_cache, lazy=True), lazy, "static", chosen)
        out[f"{name}_lazy_s"] = time.perf_counter() - t0
        apply_edit(directory, edit, forward=False)
        with gcpause.reloading():
            eager = snapshot.build(run([directory], cache=eager_cache), eager)
        with gcpause.reloading():
            lazy, _ = snapshot_of(run([directory], cache=lazy_cache, lazy=True), lazy, "static", chosen)
    out["proxies"] = len(keys)
    out["full_collections"] = gcpause.HEAP.collections
    return out


def memory(directory: str) -> dict[str, Any]:
    """In this process, what ``serve --render connected`` holds of a mesh (``python -m bench.connected memory DIR``):
    VmRSS (kB) after the imports, after the lazy load (the fixed part every mode keeps), after every proxy is built
    and snapshotted; the bytes of the snapshot's distinct SotW bodies and Delta entries; counts."""
    import os

    from bench.procs import rss_kb
    from kumahc import gcpause
    from kumahc.pipeline import run
    from kumahc.xds.materialize import snapshot_of

    pid = os.getpid()
    out: dict[str, Any] = {"imports_kb": rss_kb(pid)}
    with gcpause.reloading():
        result = run([directory], lazy=True)
    out["loaded_kb"] = rss_kb(pid)
    with gcpause.reloading():
        snap, _ = snapshot_of(result, None, "static", list(result.clusters))
    out["built_kb"] = rss_kb(pid)
    bodies = {id(p.sotw_body): len(p.sotw_body) for p in snap.proxies.values()}
    entries = {id(b): len(b) for p in snap.proxies.values() for b in p.delta_entries.values()}
    out.update(sotw_bytes=sum(bodies.values()), distinct_bodies=len(bodies), delta_bytes=sum(entries.values()),
               distinct_entries=len(entries), clusters=snap.cluster_count, proxies=len(snap.proxies))
    return out


def _serve(mesh: Path | None, *args: str) -> Any:
    from bench.procs import Server

    cmd = [sys.executable, "-c", "from kumahc.cli import main; main()", "serve", *([str(mesh)] if mesh else []),
           "--xds-address", "127.0.0.1:0", "--admin-address", "127.0.0.1:0", "--no-ui", *args]
    return Server(cmd, "kumahc", 1200.0)


def _connect_all(target: str, nodes: list[str], timeout: float = 1800.0) -> list[Any]:
    """Client workers holding one stream per node; returned once every node got its first response."""
    from bench.procs import client_worker, parse_event

    sink: queue.Queue = queue.Queue()
    workers = [client_worker(target, nodes[i::CLIENT_PROCS], i, sink) for i in range(CLIENT_PROCS)]
    firsts = 0
    deadline = time.monotonic() + timeout
    try:
        while firsts < len(nodes):
            _, _, line = sink.get(timeout=max(1.0, deadline - time.monotonic()))
            if line is None:
                raise RuntimeError("a client worker exited: " + " | ".join(w.stderr_text(5) for w in workers))
            event = parse_event(line)
            if event is not None and event.get("ev") == "first":
                firsts += 1
            elif event is not None and event.get("ev") == "error":
                raise RuntimeError(f"client error: {event}")
    except BaseException:
        for w in workers:
            w.stop()
        raise
    return workers


def serve_rss(mesh: Path | None, nodes: list[str], *args: str) -> int:
    """RSS (kB) of a ``serve`` (``--render connected``; of ``mesh``, or as ``args`` say) once every one of
    ``nodes`` holds a stream."""
    from bench.procs import rss_kb

    server = _serve(mesh, *args)
    workers: list[Any] = []
    try:
        server.wait_ready()
        workers = _connect_all(server.xds, nodes)
        time.sleep(1.0)
        return rss_kb(server.pid)
    finally:
        for w in workers:
            w.stop()
        server.stop()


def serve_rss_edits(mesh: Path, nodes: list[str], edits: int, work: Path) -> dict[str, int]:
    """RSS (kB) of a ``serve`` (``--render connected``) of a copy of ``mesh`` once every one of ``nodes`` holds a
    stream (``all_kb``), then after ``edits`` reloads with those streams open (``edited_kb``; the manifest's
    ``edit_one``, alternately forward and back, each reload waited for), and its peak (``peak_kb``, VmHWM)."""
    from bench.generator import Manifest, apply_edit
    from bench.procs import rss_kb

    copy = work / "connected-edits"
    shutil.rmtree(copy, ignore_errors=True)
    shutil.copytree(mesh, copy)
    manifest = Manifest.read(copy)
    server = _serve(copy)
    workers: list[Any] = []
    ok = 'kumahc_reloads_total{result="success"}'
    try:
        server.wait_ready()
        workers = _connect_all(server.xds, nodes)
        time.sleep(1.0)
        out = {"all_kb": rss_kb(server.pid)}
        for i in range(edits):
            before = server.metric(ok) or 0.0
            apply_edit(copy, manifest.edit_one, forward=i % 2 == 0)
            deadline = time.monotonic() + 1200
            while (server.metric(ok) or 0.0) <= before:
                if time.monotonic() > deadline:
                    raise RuntimeError("no reload within 1,200 s")
                time.sleep(0.5)
        time.sleep(2.0)
        out["edited_kb"] = rss_kb(server.pid)
        with open(f"/proc/{server.pid}/status", encoding="ascii") as fh:
            out["peak_kb"] = next(int(line.split()[1]) for line in fh if line.startswith("VmHWM:"))
        return out
    finally:
        for w in workers:
            w.stop()
        server.stop()
        shutil.rmtree(copy, ignore_errors=True)


def rss_rows(mesh: Path, work: Path, edits: int = 10) -> dict[str, int]:
    """The RSS figures alone (``python -m bench.connected rss MESH WORK [EDITS]``): ``serve`` with a tenth of the
    proxies connected and with all (then after ``edits`` edits), and the same two for a ``serve --store`` replica
    serving the parts ``kumahc apply`` stored. kB each, plus the proxy count and load averages."""
    from bench.generator import Manifest
    from bench.pgserver import PgServer
    from bench.procs import raise_fd_limit
    from bench.store_serve import _store

    raise_fd_limit()
    nodes = list(Manifest.read(mesh).proxies)
    sample = random.Random(11).sample(nodes, max(1, len(nodes) // 10))
    out: dict[str, Any] = {"proxies": len(nodes), "connected_some": len(sample), "load": [_load()]}
    out["serve_some_kb"] = serve_rss(mesh, sample)
    out["load"].append(_load())
    every = serve_rss_edits(mesh, nodes, edits, work)
    out.update({f"serve_{k}": v for k, v in every.items()})
    out["edits"] = edits
    out["load"].append(_load())
    pg = PgServer()
    try:
        url = _store(pg, "connected", mesh)
        out["replica_some_kb"] = serve_rss(None, sample, "--store", url)
        out["load"].append(_load())
        out["replica_all_kb"] = serve_rss(None, nodes, "--store", url)
        out["load"].append(_load())
    finally:
        pg.close()
    return out


def _load() -> str:
    with open("/proc/loadavg", encoding="ascii") as fh:
        return " ".join(fh.read().split()[:3])


def start_vs_validate(mesh: Path) -> tuple[float, float]:
    """(spawn → ``/ready`` of ``serve``, wall of ``kumahc validate``), in seconds."""
    t0 = time.monotonic()
    server = _serve(mesh)
    try:
        server.wait_ready()
        ready = time.monotonic() - t0
    finally:
        server.stop()
    t0 = time.monotonic()
    subprocess.run([sys.executable, "-c", "from kumahc.cli import main; main()", "validate", str(mesh)],
                   check=True, capture_output=True)
    return ready, time.monotonic() - t0


def first_responses(mesh: Path, nodes: list[str], connects: int) -> list[float]:
    """Seconds from opening a channel to the first Cluster response, for ``connects`` sequential connects to a
    warm ``serve`` (each a proxy not built yet while the nodes last; the stream is closed after)."""
    import grpc
    from envoy.service.cluster.v3 import cds_pb2_grpc
    from envoy.service.discovery.v3 import discovery_pb2

    server = _serve(mesh, "--render-grace", "3600")
    times = []
    try:
        server.wait_ready()
        for i in range(connects):
            req = discovery_pb2.DiscoveryRequest(type_url="type.googleapis.com/envoy.config.cluster.v3.Cluster")
            req.node.id = nodes[i % len(nodes)]
            t0 = time.monotonic()
            with grpc.insecure_channel(server.xds, options=[("grpc.use_local_subchannel_pool", 1),
                                                            ("grpc.max_receive_message_length", 1 << 28)]) as ch:
                call = cds_pb2_grpc.ClusterDiscoveryServiceStub(ch).StreamClusters(iter([req]))
                next(call)
                times.append(time.monotonic() - t0)
                call.cancel()
    finally:
        server.stop()
    return times


def connected_bench(mesh: Path, size: str, work: Path, connects: int = 1000) -> str:
    from bench.generator import Manifest

    manifest = Manifest.read(mesh)
    nodes = list(manifest.proxies)
    tenth = max(1, len(nodes) // 10)
    copy = work / f"connected-{size}"
    shutil.rmtree(copy, ignore_errors=True)
    shutil.copytree(mesh, copy)
    try:
        r = json.loads(subprocess.run([sys.executable, "-m", "bench.connected", "reloads", str(copy), str(tenth)],
                                      check=True, capture_output=True, text=True).stdout.splitlines()[-1])
    finally:
        shutil.rmtree(copy, ignore_errors=True)
    full = r["full_s"]
    rows: list[list[object]] = [["full render (run + snapshot.build), warm", report.secs(full), "1.00x", "", ""]]
    for name, label, target in (("one", "one-policy edit reload", "<= 4%"),
                                ("mesh", "Mesh-wide edit reload", "<= 60%")):
        rows.append([f"{label}, --render all ({r[name + '_changed']} proxies change)",
                     report.secs(r[name + "_eager_s"]), f"{100 * r[name + '_eager_s'] / full:.1f}%", target, ""])
        rows.append([f"{label}, --render connected, {tenth} of {r['proxies']} built",
                     report.secs(r[name + "_lazy_s"]), f"{100 * r[name + '_lazy_s'] / full:.1f}%", target, ""])
    sample = random.Random(11).sample(nodes, tenth)
    some = serve_rss(mesh, sample)
    edited = serve_rss_edits(mesh, nodes, EDITS, work)
    every = edited["all_kb"]
    rows.append([f"serve RSS, {tenth} of {len(nodes)} connected ÷ all connected",
                 f"{report.mb(some)} / {report.mb(every)}", f"{100 * some / every:.0f}%", "<= 40%", ""])
    rows.append([f"serve RSS, all {len(nodes)} connected, after {EDITS} one-policy edits",
                 report.mb(edited["edited_kb"]), f"{edited['edited_kb'] / every:.2f}x of before", "<= 1 GB",
                 f"peak {report.mb(edited['peak_kb'])}"])
    from bench.pgserver import PgServer
    from bench.store_serve import _store

    pg = PgServer()
    try:
        url = _store(pg, "connected", mesh)
        some_r = serve_rss(None, sample, "--store", url)
        every_r = serve_rss(None, nodes, "--store", url)
    finally:
        pg.close()
    rows.append([f"store replica RSS, {tenth} of {len(nodes)} connected ÷ all connected",
                 f"{report.mb(some_r)} / {report.mb(every_r)}", f"{100 * some_r / every_r:.0f}%", "<= 30%", ""])
    ready, validate = start_vs_validate(mesh)
    rows.append(["serve start → /ready, no proxy ÷ validate", f"{report.secs(ready)} / {report.secs(validate)}",
                 f"{ready / validate:.2f}x", "<= 1.2x", ""])
    order = random.Random(13).sample(nodes, len(nodes))
    times = sorted(first_responses(mesh, order, connects))
    p50, p99 = times[len(times) // 2], times[min(len(times) - 1, int(len(times) * 0.99))]
    rows.append([f"first response, {connects} sequential connects to a warm serve", f"p50 {report.ms(p50)}",
                 f"p99 {report.ms(p99)}", "p99 <= 100 ms", f"max {report.ms(times[-1])}"])
    notes = [f"size {size}: {len(nodes)} proxies; reload rows from one fresh process (bench.connected reloads); "
             f"RSS rows: serve --render connected with {CLIENT_PROCS} bench.xds_clients workers, VmRSS 1 s after "
             "every client got its first response",
             "first response: one new channel + CDS SotW stream per connect, from this process, to proxies not "
             "built yet (until every proxy was asked once)"]
    return report.table(f"connected ({size})", ["measurement", "wall / value", "ratio", "target", ""], rows,
                        notes)


if __name__ == "__main__":
    if sys.argv[1] == "reloads":
        print(json.dumps(reloads(sys.argv[2], int(sys.argv[3]))), flush=True)
    elif sys.argv[1] == "start":  # start → /ready ÷ validate, then first responses: python -m bench.connected start DIR
        from bench.generator import Manifest

        ready, validate = start_vs_validate(Path(sys.argv[2]))
        order = random.Random(13).sample(list(Manifest.read(sys.argv[2]).proxies),
                                         len(Manifest.read(sys.argv[2]).proxies))
        times = sorted(first_responses(Path(sys.argv[2]), order, 1000))
        print(json.dumps({"ready_s": ready, "validate_s": validate, "first_p50_s": times[len(times) // 2],
                          "first_p99_s": times[int(len(times) * 0.99)], "first_max_s": times[-1],
                          "load": _load()}), flush=True)
    elif sys.argv[1] == "memory":
        print(json.dumps(memory(sys.argv[2])), flush=True)
    elif sys.argv[1] == "rss":
        print(json.dumps(rss_rows(Path(sys.argv[2]), Path(sys.argv[3]), int(sys.argv[4]) if sys.argv[4:] else 10)),
              flush=True)
    else:
        sys.exit(f"unknown measurement {sys.argv[1]!r}")
