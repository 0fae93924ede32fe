"""``kumahc serve --store`` benchmarks, on a PostgreSQL server started for the run (bench/pgserver.py).

* **store fan-out**: R replicas (``serve --store``) on one store, N simulated xDS clients each (the fan-out
  bench's client workers: one CDS SotW stream per client, every response ACKed). The change is one commit of the
  edited Mesh-wide MeshHealthCheck (``edit_mesh``: every proxy's version changes) — the same ``UPDATE`` that
  ``kumahc apply`` commits after validating — and the time runs from just before the commit to the last client's
  ACK, over all R × N clients. The floor, in the same run: R bare servers (``bare_server.py``: serialize-once
  ``grpc.aio`` fan-out of the post-edit bytes) with the same clients, all sent ``SIGUSR1`` at once. Target:
  kumahc ≤ 1.5× floor + 50 ms.
* **store start-up**: process start → ``/ready`` 200 of ``serve --store URL`` against ``serve PATH`` on the same
  mesh (the store holding what ``kumahc apply -f PATH`` wrote). Target: ≤ 25 %.
"""

from __future__ import annotations

import math
import pickle
import shutil
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

from bench import procs, report
from bench.fanout import _Run, snapshot_states
from bench.generator import SIZES, Edit, Manifest, around_edit, generate
from bench.pgserver import PgServer
from bench.report import mb, ms, ratio, secs

ROOT = Path(__file__).resolve().parent.parent
KUMAHC = str(ROOT / ".venv" / "bin" / "kumahc")


def _kumahc(*args: str) -> None:
    proc = subprocess.run([KUMAHC, *args], capture_output=True, text=True, timeout=3600, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"kumahc {' '.join(args)} failed ({proc.returncode}):\n{proc.stderr[-4000:]}")


def _store(server: PgServer, name: str, mesh: Path) -> str:
    url = server.create_database(name)
    _kumahc("store", "migrate", "--store", url)
    _kumahc("apply", "-f", str(mesh), "--store", url)
    return url


def _commits(mesh: Path, edit: Edit) -> list[Any]:
    """[forward, backward]: the edited file's resources after and before the edit, as ``kumahc apply`` reads them
    (each committed through :func:`kumahc.apply.prepare`: the same rows and rendered parts apply commits)."""
    from kumahc.diagnostics import Report
    from kumahc.sources import files

    def loaded() -> Any:
        return files.read([str(mesh / edit.path)], Report())

    before, after = around_edit(mesh, edit, loaded)
    return [after, before]


def _prepare(conn: Any, loaded: Any) -> Any:
    """Validate and render the change now (apply's work before its commit), so that only the commit is timed."""
    from kumahc.apply import prepare
    from kumahc.diagnostics import Report

    prepared = prepare(conn, loaded, Report())
    if not prepared.writes:
        raise RuntimeError("the edit changes nothing in the store")
    return prepared


def _commit(conn: Any, prepared: Any) -> None:
    if prepared.commit(conn) is None:
        raise RuntimeError("conflict: another writer committed")


def _collect(runs: list[_Run], states: list[dict[str, tuple[str, bytes]]], state_index: int, t0: float,
             timeout: float) -> dict[str, Any]:
    """Wait until every client of every run ACKed the version of ``states[state_index]``."""
    acked: dict[tuple[int, str], dict[str, Any]] = {}
    total = sum(len(r.nodes) for r in runs)
    deadline = t0 + timeout
    while len(acked) < total:
        for i, run in enumerate(runs):
            while True:
                try:
                    ev = run._next(min(deadline, time.monotonic() + 0.01))
                except TimeoutError:
                    if time.monotonic() >= deadline:
                        raise
                    break
                if ev["ev"] == "resp" and ev["version"] == states[state_index][ev["node"]][0]:
                    acked.setdefault((i, ev["node"]), ev)
    recv = sorted(e["t_recv"] - t0 for e in acked.values())
    acks = sorted(e["t_ack"] - t0 for e in acked.values())
    return {"first_recv_s": recv[0], "median_ack_s": acks[len(acks) // 2], "all_acked_s": acks[-1]}


def _side(kind: str, replicas: int, url: str, data: Path, nodes: list[str], states: list, commits: list,
          rounds: int, timeout: float) -> dict[str, Any]:
    servers: list[procs.Server] = []
    runs: list[_Run] = []
    try:
        for _ in range(replicas):
            servers.append(procs.kumahc_serve(["--store", url]) if kind == "kumahc"
                           else procs.bare_server(str(data)))
        time.sleep(1.0)
        pc = max(1, min(4, math.ceil(len(nodes) / 1000)))
        connect = []
        for server in servers:
            run = _Run(server, nodes, states, pc, timeout)
            runs.append(run)
            connect.append(run.connect()["connect_s"])
        out: dict[str, Any] = {"connect_s": max(connect), "rounds": []}
        from kumahc.sources.store import connection

        conn = connection.connect(url)  # connected before the clock starts: the commit alone is timed
        for r in range(rounds):
            forward = r % 2 == 0
            prepared = _prepare(conn, commits[0 if forward else 1]) if kind == "kumahc" else None
            t0 = time.monotonic()
            if kind == "kumahc":
                _commit(conn, prepared)
            else:
                for server in servers:
                    server.proc.send_signal(signal.SIGUSR1)
            committed = time.monotonic() - t0
            res = _collect(runs, states, 1 if forward else 0, t0, timeout)
            res["commit_s"] = committed
            if kind == "kumahc":
                res["reloaded_s"] = [(t - t0) if (t := s.stderr_after(t0, "INFO reloaded:")) is not None else None
                                     for s in servers]
                res["generation_s"] = [s.metric("kumahc_snapshot_generation_seconds") for s in servers]
            out["rounds"].append(res)
            time.sleep(1.0)
        out["rss_kb"] = [procs.rss_kb(server.pid) for server in servers]  # each server, after its last round
        conn.close()
        return out
    finally:
        for run in runs:
            run.stop()
        for server in servers:
            server.stop()


def store_fanout(clients: int, replicas: int, work: Path, seed: int, rounds: int = 1, size: str = "medium",
                 edit_name: str = "mesh") -> str:
    """One table: R replicas × N clients, kumahc ``serve --store`` against the bare floor. ``edit_name``: ``mesh``
    (the Mesh-wide policy: every proxy changes) or ``one`` (one per-service policy: N is capped at the proxies it
    changes)."""
    procs.raise_fd_limit()
    mesh = work / f"store-fanout-{size}"
    shutil.rmtree(mesh, ignore_errors=True)
    manifest = generate(mesh, SIZES[size], seed)
    edit = manifest.edit_mesh if edit_name == "mesh" else manifest.edit_one
    states = snapshot_states(mesh, edit)
    changed = [k for k in manifest.proxies if states[0][k][0] != states[1][k][0]]
    if edit_name == "one":
        clients = min(clients, len(changed))
    if len(changed) < clients:
        raise RuntimeError(f"only {len(changed)} proxies change with the edit; need {clients}")
    nodes = [changed[i * len(changed) // clients] for i in range(clients)]
    # Only the clients' proxies: each bare server loads the pickle (at xlarge all 50,000 bodies × R would not fit)
    states = [{k: s[k] for k in nodes} for s in states]
    data = work / f"store-fanout-{size}.pickle"
    with open(data, "wb") as fh:
        pickle.dump({"states": states}, fh, protocol=pickle.HIGHEST_PROTOCOL)
    commits = _commits(mesh, edit)
    server = PgServer()
    try:
        url = _store(server, "fanout", mesh)
        timeout = 300.0 + clients * replicas * 0.1
        k = _side("kumahc", replicas, url, data, nodes, states, commits, rounds, timeout)
        b = _side("bare", replicas, url, data, nodes, states, commits, rounds, timeout)
    finally:
        server.close()
        shutil.rmtree(mesh, ignore_errors=True)
        data.unlink(missing_ok=True)
    k_all = report.median([r["all_acked_s"] for r in k["rounds"]])
    b_all = report.median([r["all_acked_s"] for r in b["rounds"]])
    rows = []
    for name, r in ((f"kumahc serve --store ×{replicas}", k), (f"bare grpc.aio ×{replicas}", b)):
        # kumahc: the fan-out alone = the first replica's 'reloaded' line -> the last ACK
        push = report.median([x["all_acked_s"] - min(t for t in x["reloaded_s"] if t is not None)
                              for x in r["rounds"]]) if "reloaded_s" in r["rounds"][0] else report.median(
            [x["all_acked_s"] for x in r["rounds"]])
        rows.append([name, f"{replicas}×{clients}", secs(r["connect_s"]),
                     ms(report.median([x["first_recv_s"] for x in r["rounds"]])),
                     ms(report.median([x["median_ack_s"] for x in r["rounds"]])),
                     ms(report.median([x["all_acked_s"] for x in r["rounds"]])), ratio(report.median(
                         [x["all_acked_s"] for x in r["rounds"]]), b_all), ms(push)])
    target = 1.5 * b_all + 0.050
    notes = [
        f"mesh {size} ({len(manifest.proxies)} proxies); change = one commit of the edited "
        + ("Mesh-wide MeshHealthCheck (every proxy's version changes)" if edit_name == "mesh" else
           f"per-service MeshHealthCheck ({len(changed)} proxies change; the clients are on them)")
        + "; kumahc times run from just before the commit "
        f"(commit itself: {', '.join(ms(x['commit_s']) for x in k['rounds'])}), bare times from SIGUSR1 to "
        "every bare server",
        "push = kumahc: first replica's 'INFO reloaded' line -> last ACK (the fan-out without the re-render); "
        "bare: = all ACKed",
        "per round and replica: commit -> 'INFO reloaded' log line "
        + "; ".join(", ".join(ms(t) if t is not None else "?" for t in x["reloaded_s"]) for x in k["rounds"])
        + "; kumahc_snapshot_generation_seconds (catch-up render + snapshot) "
        + "; ".join(", ".join(f"{g:.3f} s" for g in x["generation_s"] if g is not None) for x in k["rounds"]),
        f"target: all ACKed <= 1.5 x floor + 50 ms = {ms(target)}: "
        + ("met" if k_all <= target else f"NOT met ({ratio(k_all - 0.050, b_all)} of the floor after the 50 ms)"),
        f"{rounds} change(s) per side, alternately forward and back; figures are medians",
        "RSS after the last round, each server: kumahc " + ", ".join(mb(x) for x in k["rss_kb"]) + "; bare "
        + ", ".join(mb(x) for x in b["rss_kb"]),
    ]
    return report.table(f"store fan-out: commit -> every client ACKed ({replicas} replicas x {clients} clients, "
                        f"edit {edit_name})",
                        ["server", "clients", "connect", "first recv", "median ACK", "all ACKed", "vs floor",
                         "push"],
                        rows, notes)


def store_startup(mesh: Path, manifest: Manifest, size: str, repeat: int = 1) -> str:
    """``serve --store`` vs ``serve PATH`` start-up (process start → /ready) on the generated ``mesh``."""
    server = PgServer()
    files_s: list[float] = []
    store_s: list[float] = []
    try:
        t = time.monotonic()
        url = _store(server, "startup", mesh)
        applied = time.monotonic() - t
        for _ in range(repeat):
            for args, sink in (([str(mesh)], files_s), (["--store", url], store_s)):
                started = time.monotonic()
                s = procs.kumahc_serve(args, start_timeout=3600)
                sink.append(time.monotonic() - started)
                s.stop()
    finally:
        server.close()
    f, st = report.median(files_s), report.median(store_s)
    rows = [["kumahc serve PATH", secs(f), "100%"], ["kumahc serve --store URL", secs(st), f"{100 * st / f:.0f}%"]]
    return report.table(f"serve start-up ({size}, {manifest.counts}, {repeat} run(s) each)",
                        ["command", "start -> /ready", "of serve PATH"], rows,
                        [f"process start (interpreter and imports included) -> /ready 200; the store was filled by "
                         f"kumahc apply -f PATH ({applied:.1f} s, migrate included); target: --store <= 25%"])
