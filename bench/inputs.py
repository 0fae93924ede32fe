"""Input benchmarks (issue "inputs that cannot hurt it, loaded at native speed"): each figure is a ratio measured
in one run, in fresh ``python -m bench.measure`` processes where memory is reported.

* native floor: whole render (``run`` + ``snapshot.build``) ÷ (yaml-rs parse of every file + jsonschema-rs
  validation of every document + the construct floor of :mod:`bench.floor`);
* CLI: ``kumahc render DIR --output-file FILE`` ÷ ``kumahc validate DIR`` in wall time and peak RSS (fresh processes,
  interleaved);
* reloads: a no-op reload and a one-policy edit reload ÷ a warm full render (``serve``'s RunCache and previous
  snapshot, :func:`bench.measure.incremental`);
* watch latency: a completed write (rename into place) → the reload callback of :class:`kumahc.resources.watch
  .Watcher`;
* churn: RSS growth of reloads of distinct contents (one policy's interval changes every time) after the first 100;
* serve RSS: ``kumahc serve`` VmRSS after 10 edits (the ``edit_one`` policy, forward and back).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from bench import report
from bench.generation import ROOT, measure
from bench.loading import floor_row
from bench.report import mb, ratio, secs


def _cli(mesh: Path, work: Path, repeat: int) -> tuple[list[str], list[dict[str, float]]]:
    out = work / "render.json"
    rows: dict[str, list[tuple[float, int]]] = {"render": [], "validate": []}
    for _ in range(repeat):
        for cmd in ("render", "validate"):
            args = [sys.executable, "-c", "from kumahc.cli import main; main()", cmd, str(mesh)]
            if cmd == "render":
                args += ["--output-file", str(out)]
            started = time.perf_counter()
            proc = subprocess.Popen(args, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            _, status, usage = os.wait4(proc.pid, 0)
            wall = time.perf_counter() - started
            if os.waitstatus_to_exitcode(status) != 0:
                raise RuntimeError(f"kumahc {cmd} failed")
            rows[cmd].append((wall, usage.ru_maxrss))
    out.unlink(missing_ok=True)
    r_t = report.median([w for w, _ in rows["render"]])
    v_t = report.median([w for w, _ in rows["validate"]])
    r_m = max(m for _, m in rows["render"])
    v_m = max(m for _, m in rows["validate"])
    return [secs(r_t), secs(v_t), ratio(r_t, v_t), mb(r_m), mb(v_m), ratio(r_m, v_m)], []


def inputs(mesh: Path, size: str, work: Path, repeat: int, churn: int, serve_edits: int) -> str:
    rows: list[list[object]] = []
    notes: list[str] = []
    # 1. native floor
    rows.append(floor_row(mesh, size, work, repeat))
    # 2. CLI render ÷ validate
    cli, _ = _cli(mesh, work, repeat)
    rows.append([f"{size}: kumahc render ÷ validate (time)", cli[2], "≤ 1.4x", f"render {cli[0]}, validate {cli[1]}"])
    rows.append([f"{size}: kumahc render ÷ validate (peak RSS)", cli[5], "≤ 2x", f"render {cli[3]}, validate {cli[4]}"])
    # 3. reloads
    copy = work / f"reload-{size}"
    shutil.rmtree(copy, ignore_errors=True)
    shutil.copytree(mesh, copy)
    try:
        inc = measure("incremental", str(copy), str(repeat))
    finally:
        shutil.rmtree(copy, ignore_errors=True)
    noop = report.median(inc["noops"])
    edit = report.median([e["wall_s"] for e in inc["edits"]])
    rows.append([f"{size}: no-op reload ÷ full render", f"{100 * noop / inc['warm_s']:.1f}%", "≤ 1%",
                 f"no-op {secs(noop)}, full (warm) {secs(inc['warm_s'])}"])
    rows.append([f"{size}: one-policy edit reload ÷ full render", f"{100 * edit / inc['warm_s']:.1f}%", "≤ 4%",
                 f"edit {secs(edit)} ({inc['edit']})"])
    # 4. watch latency
    lat = measure("latency", str(work / "latency"), "20")
    rows.append(["file write → reload start", secs(report.median(lat["latencies"])), "≤ 0.1 s",
                 f"median of {len(lat['latencies'])} (min {secs(min(lat['latencies']))}, max "
                 f"{secs(max(lat['latencies']))}), mode {lat['mode']}"])
    # 5. churn
    ch = measure("churn", str(work / "churn"), str(churn))
    rows.append([f"{churn:,} reloads of distinct contents, RSS growth after the first 100",
                 f"{(ch['rss_end_kb'] - ch['rss_100_kb']) / 1024:+.1f} MB", "≤ +5 MB",
                 f"RSS {mb(ch['rss_start_kb'])} → {mb(ch['rss_100_kb'])} (100) → {mb(ch['rss_end_kb'])} "
                 f"({churn:,}); small mesh"])
    # 6. serve RSS after edits
    if serve_edits:
        sv = serve_rss(mesh, work, serve_edits)
        rows.append([f"{size}: serve RSS after {serve_edits} edits", mb(sv["rss_kb"]), "≤ 1 GB",
                     f"after start {mb(sv['start_kb'])}; peak {mb(sv['peak_kb'])}"])
    notes.append(f"size {size}; {repeat} measurement(s) per row, medians; fresh processes (bench/measure.py)")
    return report.table(f"inputs ({size})", ["figure", "measured", "target", "details"], rows, notes)


def serve_rss(mesh: Path, work: Path, edits: int) -> dict[str, Any]:
    from bench.generator import Manifest, apply_edit
    from bench.procs import kumahc_serve, rss_kb

    copy = work / "serve-rss"
    shutil.rmtree(copy, ignore_errors=True)
    shutil.copytree(mesh, copy)
    manifest = Manifest.read(copy)
    server = kumahc_serve([str(copy)])
    try:
        pid = server.proc.pid
        start = rss_kb(pid)
        for i in range(edits):
            before = server.metric('kumahc_reloads_total{result="success"}') or 0.0
            apply_edit(copy, manifest.edit_one, forward=i % 2 == 0)
            deadline = time.monotonic() + 600
            while (server.metric('kumahc_reloads_total{result="success"}') or 0.0) <= before:
                if time.monotonic() > deadline:
                    raise RuntimeError("no reload within 600 s")
                time.sleep(0.2)
        rss = rss_kb(pid)
        with open(f"/proc/{pid}/status", encoding="ascii") as fh:
            peak = next(int(line.split()[1]) for line in fh if line.startswith("VmHWM:"))
        return {"start_kb": start, "rss_kb": rss, "peak_kb": peak}
    finally:
        server.stop()
        shutil.rmtree(copy, ignore_errors=True)
