"""Fan-out benchmark: ``kumahc serve`` and the bare server, each with the same N simulated xDS clients.

Per server: start it (its own process), read its RSS, connect N clients (``bench.xds_clients`` worker processes,
one channel + one CDS SotW stream per client, distinct node ids, every response ACKed), wait until every client
has ACKed the initial set, let it settle, read the RSS again (→ RSS per idle stream), then change the configuration
and wait until every client has ACKed the new version:

* kumahc: the edit is a file write (``apply_edit`` of the manifest's ``edit_mesh``: the interval of the first
  Mesh-wide MeshHealthCheck, which changes every proxy's version); the time runs from just before the write;
* bare: ``SIGUSR1`` makes it push the post-edit bytes (pre-computed with kumahc, identical to what kumahc sends);
  the time runs from just before the signal.

``rounds`` > 1 repeats the change alternately forward and back.
"""

from __future__ import annotations

import math
import pickle
import queue
import shutil
import signal
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench import procs, report
from bench.generator import SIZES, Edit, Manifest, Size, apply_edit, around_edit, generate
from bench.report import kb, mb, ms, ratio, secs

SETTLE_SECONDS = 3.0  # after the last initial ACK, before reading the idle RSS


def fanout_size(n: int) -> Size:
    """The mesh for N clients: ``medium`` (2,000 proxies) up to N = 2,000, else a medium-shaped mesh with N
    dataplanes (10 replicas per service, K = 20, 100 MeshHealthChecks, 10 legacy, 10 Kong)."""
    if n <= SIZES["medium"].dataplanes:
        return SIZES["medium"]
    m = SIZES["medium"]
    return Size(f"fanout-{n}", services=max(m.services, n // 10), dataplanes=n, outbounds=m.outbounds, mhc=m.mhc,
                healthchecks=m.healthchecks, kong=m.kong, namespaces=m.namespaces)


def snapshot_states(mesh: Path, edit: Edit) -> list[dict[str, tuple[str, bytes]]]:
    """[before, after]: node id (``<mesh>.<proxy>``) → (version, SotW body) as kumahc builds them; ``mesh`` is
    edited and restored."""
    from kumahc.pipeline import run
    from kumahc.xds import snapshot

    def state() -> dict[str, tuple[str, bytes]]:
        snap = snapshot.build(run([str(mesh)]))
        return {f"{m}.{name}": (res.version, res.sotw_body) for (m, name), res in snap.proxies.items()}

    return list(around_edit(mesh, edit, state))


class _Run:
    """One server with N clients."""

    def __init__(self, server: procs.Server, nodes: list[str], states: list[dict[str, tuple[str, bytes]]],
                 procs_count: int, timeout: float):
        self.server = server
        self.nodes = nodes
        self.states = states
        self.events: queue.Queue = queue.Queue()
        self.timeout = timeout
        self.workers: list[procs.Child] = []
        self.procs_count = procs_count

    def _next(self, deadline: float) -> dict[str, Any]:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError("timed out waiting for the clients")
        try:
            name, _, line = self.events.get(timeout=remaining)
        except queue.Empty:
            raise TimeoutError("timed out waiting for the clients") from None
        if line is None:
            worker = next(w for w in self.workers if w.name == name)
            raise RuntimeError(f"{name} exited ({worker.proc.poll()}):\n{worker.stderr_text()}")
        ev = procs.parse_event(line)
        if ev is None:
            return {"ev": "noise", "line": line}
        if ev["ev"] == "error":
            raise RuntimeError(f"client error: {ev}\nserver stderr:\n{self.server.stderr_text()}")
        return ev

    def connect(self) -> dict[str, Any]:
        n = len(self.nodes)
        rss0 = procs.rss_kb(self.server.pid)
        fds0 = procs.open_fds(self.server.pid)
        started = time.monotonic()
        per = math.ceil(n / self.procs_count)
        for i in range(self.procs_count):
            chunk = self.nodes[i * per:(i + 1) * per]
            if chunk:
                self.workers.append(procs.client_worker(self.server.xds, chunk, i, self.events))
        firsts: dict[str, dict[str, Any]] = {}
        deadline = started + self.timeout
        while len(firsts) < n:
            ev = self._next(deadline)
            if ev["ev"] == "first":
                firsts[ev["node"]] = ev
        connected = max(e["t"] for e in firsts.values()) - started
        wrong = [k for k, e in firsts.items() if e["version"] != self.states[0][k][0]]
        if wrong:
            raise RuntimeError(f"{len(wrong)} clients got an unexpected initial version (e.g. {wrong[0]})")
        time.sleep(SETTLE_SECONDS)
        rss1 = procs.rss_kb(self.server.pid)
        fds1 = procs.open_fds(self.server.pid)
        return {"connect_s": connected, "rss0_kb": rss0, "rss1_kb": rss1, "per_stream_kb": (rss1 - rss0) / n,
                "fds": fds1 - fds0}

    def change(self, trigger: Callable[[], None], state: int) -> dict[str, Any]:
        n = len(self.nodes)
        expected = {k: self.states[state][k][0] for k in self.nodes}
        acked: dict[str, dict[str, Any]] = {}
        t0 = time.monotonic()
        trigger()
        deadline = t0 + self.timeout
        while len(acked) < n:
            ev = self._next(deadline)
            if ev["ev"] == "resp" and ev["version"] == expected[ev["node"]]:
                acked.setdefault(ev["node"], ev)
        recv = sorted(e["t_recv"] - t0 for e in acked.values())
        acks = sorted(e["t_ack"] - t0 for e in acked.values())
        return {"t0": t0, "first_recv_s": recv[0], "median_ack_s": acks[len(acks) // 2], "all_acked_s": acks[-1],
                "push_span_s": acks[-1] - recv[0]}

    def stop(self) -> None:
        for w in self.workers:
            w.close_stdin()
        for w in self.workers:
            w.stop(timeout=10, grace=5)


def _one_server(kind: str, mesh: Path, data: Path, manifest: Manifest, nodes: list[str],
                states: list[dict[str, tuple[str, bytes]]], rounds: int, procs_count: int,
                timeout: float) -> dict[str, Any]:
    server = procs.kumahc_serve([str(mesh)]) if kind == "kumahc" else procs.bare_server(str(data))
    run = _Run(server, nodes, states, procs_count, timeout)
    try:
        time.sleep(1.0)
        out: dict[str, Any] = run.connect()
        out["rounds"] = []
        for r in range(rounds):
            forward = r % 2 == 0
            if kind == "kumahc":
                def trigger(forward: bool = forward) -> None:
                    apply_edit(mesh, manifest.edit_mesh, forward=forward)
            else:
                def trigger() -> None:
                    server.proc.send_signal(signal.SIGUSR1)
            res = run.change(trigger, 1 if forward else 0)
            if kind == "kumahc":
                reloaded = server.stderr_after(res["t0"], "INFO reloaded:")
                res["reloaded_s"] = reloaded - res["t0"] if reloaded is not None else None
                res["generation_s"] = server.metric("kumahc_snapshot_generation_seconds")
            out["rounds"].append(res)
            time.sleep(1.0)
        out["rss_end_kb"] = procs.rss_kb(server.pid)
        return out
    finally:
        run.stop()
        server.stop()
        if rounds % 2 and kind == "kumahc":
            apply_edit(mesh, manifest.edit_mesh, forward=False)


def fanout(clients: list[int], work: Path, seed: int, rounds: int = 1, procs_count: int | None = None,
           size: str | None = None) -> str:
    """One table for every N in ``clients``."""
    procs.raise_fd_limit()
    rows: list[list[Any]] = []
    notes: list[str] = []
    meshes: dict[str, tuple[Path, Manifest, list[dict[str, tuple[str, bytes]]], Path]] = {}
    try:
        for n in clients:
            sz = SIZES[size] if size else fanout_size(n)
            if sz.name not in meshes:
                mesh = work / f"fanout-{sz.name}"
                shutil.rmtree(mesh, ignore_errors=True)
                manifest = generate(mesh, sz, seed)
                states = snapshot_states(mesh, manifest.edit_mesh)
                data = work / f"fanout-{sz.name}.pickle"
                with open(data, "wb") as fh:
                    pickle.dump({"states": states}, fh, protocol=pickle.HIGHEST_PROTOCOL)
                meshes[sz.name] = (mesh, manifest, states, data)
            mesh, manifest, states, data = meshes[sz.name]
            changed = [k for k in manifest.proxies if states[0][k][0] != states[1][k][0]]
            if len(changed) < n:
                raise RuntimeError(f"mesh {sz.name}: only {len(changed)} proxies change with the edit; need {n}")
            nodes = [changed[i * len(changed) // n] for i in range(n)]  # spread over the mesh
            pc = procs_count or max(1, min(4, math.ceil(n / 1000)))
            timeout = 300.0 + n * 0.1
            res = {kind: _one_server(kind, mesh, data, manifest, nodes, states, rounds, pc, timeout)
                   for kind in ("kumahc", "bare")}
            k, b = res["kumahc"], res["bare"]
            k_all = report.median([r["all_acked_s"] for r in k["rounds"]])
            b_all = report.median([r["all_acked_s"] for r in b["rounds"]])
            for kind, r in (("kumahc serve", k), ("bare grpc.aio", b)):
                all_acked = report.median([x["all_acked_s"] for x in r["rounds"]])
                rows.append([kind, n, sz.name, secs(r["connect_s"]), mb(r["rss0_kb"]), mb(r["rss1_kb"]),
                             kb(r["per_stream_kb"]), r["fds"],
                             ms(report.median([x["first_recv_s"] for x in r["rounds"]])),
                             ms(report.median([x["push_span_s"] for x in r["rounds"]])),
                             ms(report.median([x["median_ack_s"] for x in r["rounds"]])), ms(all_acked),
                             ratio(all_acked, b_all)])
            reloads = k["rounds"]
            notes.append(f"N={n} ({pc} client process(es), mesh {sz.name}, {len(manifest.proxies)} proxies): kumahc "
                         "edit -> 'reloaded' log line " + ", ".join(ms(x["reloaded_s"]) if x["reloaded_s"] is not None
                                                                  else "?" for x in reloads)
                         + " (watcher + reload); kumahc_snapshot_generation_seconds "
                         "(the reload: run + build) "
                         + ", ".join(f"{x['generation_s']:.3f} s" for x in reloads if x["generation_s"] is not None)
                         + f"; all ACKed kumahc/bare = {ratio(k_all, b_all)}")
    finally:
        for mesh, _, _, data in meshes.values():
            shutil.rmtree(mesh, ignore_errors=True)
            data.unlink(missing_ok=True)
    notes += [
        "RSS = VmRSS of the server process before the clients connect / after all N streams are open and idle "
        f"({SETTLE_SECONDS:.0f} s after the last initial ACK); per stream = difference / N (target <= 100 KB); "
        "+fds = open file descriptors added (one TCP connection per client)",
        "connect = client worker processes started -> last client ACKed its initial set; times after the change "
        "run from the file write (kumahc) or SIGUSR1 (bare): first recv = first client received the new version, "
        "push span = first receive -> last ACK, median/all ACKed = ACK sent by the median/last client",
        f"ratio = all ACKed / the bare server's (target: <= 1.5x with 5,000 streams); kumahc includes "
        f"{procs.watcher_text()} and the full re-render",
        f"{rounds} change(s) per server; figures are medians over them",
    ]
    return report.table("fan-out (CDS SotW streams, N simulated clients)",
                        ["server", "N", "mesh", "connect", "RSS before", "RSS idle", "RSS/stream", "+fds",
                         "first recv", "push span", "median ACK", "all ACKed", "ratio"], rows, notes)

