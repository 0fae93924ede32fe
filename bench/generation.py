"""Generation and incremental benchmarks: each measurement in a fresh ``python -m bench.measure`` process."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

from bench import report
from bench.report import mb, ratio, secs

ROOT = Path(__file__).resolve().parent.parent
MEASURE_TIMEOUT = 3600.0  # seconds for one measurement process (large renders take minutes)


def measure(*args: str, timeout: float = MEASURE_TIMEOUT) -> dict[str, Any]:
    """Run ``python -m bench.measure ARGS`` (killed on timeout) and return its JSON line."""
    proc = subprocess.run([sys.executable, "-m", "bench.measure", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=timeout, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"bench.measure {' '.join(args)} failed ({proc.returncode}):\n{proc.stderr[-4000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _spread(values: list[float]) -> str:
    if len(values) == 1:
        return secs(values[0])
    return f"{secs(report.median(values))} ({min(values):.3f}-{max(values):.3f})"


def generation(mesh: Path, size: str, repeat: int, work: Path) -> str:
    data = work / f"floor-{size}"
    try:
        prep = measure("prepare", str(mesh), str(data))
        runs: dict[str, list[dict[str, Any]]] = {"kumahc": [], "construct": [], "parsedict": []}
        for _ in range(repeat):  # interleaved, so that a noisy moment hits every row
            runs["kumahc"].append(measure("kumahc", str(mesh)))
            runs["construct"].append(measure("floor", str(data), "construct"))
            runs["parsedict"].append(measure("floor", str(data), "parsedict"))
    finally:
        for method in ("construct", "parsedict"):
            Path(f"{data}.{method}").unlink(missing_ok=True)
    k = runs["kumahc"]
    first = k[0]
    wall = {name: report.median([r["wall_s"] for r in rs]) for name, rs in runs.items()}

    def memory(rs: list[dict[str, Any]]) -> list[str]:
        peak = max(r["peak_kb"] for r in rs)
        start = min(r.get("start_kb", r["baseline_kb"]) for r in rs)
        return [mb(peak), mb(start), mb(peak - start)]

    rows = [
        ["kumahc: run + snapshot.build", _spread([r["wall_s"] for r in k]), *memory(k), "1.00x"],
        ["  of which pipeline.run", _spread([r["run_s"] for r in k]), "", "", "", ""],
        ["  of which snapshot.build", _spread([r["build_s"] for r in k]), "", "", "", ""],
        ["floor: Cluster(**kwargs) + serialize", _spread([r["wall_s"] for r in runs["construct"]]),
         *memory(runs["construct"]), ratio(wall["kumahc"], wall["construct"])],
        ["floor: json_format.ParseDict + serialize", _spread([r["wall_s"] for r in runs["parsedict"]]),
         *memory(runs["parsedict"]), ratio(wall["kumahc"], wall["parsedict"])],
    ]
    notes = [
        f"size {size}: {first['proxies']} proxies, {first['clusters']} clusters "
        f"({first['unique_clusters']} unique ClusterResults, floor built {prep['unique_clusters']}; "
        f"{prep['cluster_lists']} distinct cluster lists), {first['bytes'] / 1e6:.1f} MB of SotW bodies summed "
        f"over proxies; {repeat} fresh process(es) per row, wall = median (min-max)",
        "wall ratio = kumahc / floor (target for large: <= 2x the construct floor); peak RSS = VmHWM of the "
        "measuring process (target for large: <= 1 GB)",
        "start RSS = VmRSS before the timed work (after imports; the floor has also loaded its pre-built inputs); "
        "peak - start = memory the timed work added",
        "floor = per unique cluster: build the message from pre-built inputs, serialize, wrap in Any, then one "
        "body per distinct cluster list (b''.join); no YAML, no policy logic, no version hashing (bench/floor.py)",
    ]
    return report.table(f"generation ({size})",
                        ["measurement", "wall", "peak RSS", "start RSS", "peak - start", "wall ratio"], rows, notes)


def incremental(mesh: Path, size: str, repeat: int, work: Path) -> str:
    copy = work / f"incremental-{size}"
    shutil.rmtree(copy, ignore_errors=True)
    shutil.copytree(mesh, copy)
    try:
        r = measure("incremental", str(copy), str(repeat))
    finally:
        shutil.rmtree(copy, ignore_errors=True)
    edits = [e["wall_s"] for e in r["edits"]]
    med = report.median(edits)
    changed = sorted({e["proxies_changed"] for e in r["edits"]})
    rows = [
        ["full render, cold (first in the process; fills serve's RunCache)", secs(r["cold_s"]), "", ""],
        ["full render, warm (same inputs, no cache)", secs(r["warm_s"]), "100%", ""],
        ["reload after editing one policy (RunCache + previous snapshot)", _spread(edits),
         f"{100 * med / r['warm_s']:.0f}%", "/".join(str(c) for c in changed)],
    ]
    notes = [
        f"size {size}: {r['proxies']} proxies; render = pipeline.run + snapshot.build (what serve does on reload); "
        f"edit = interval of {r['edit']} (one per-service MeshHealthCheck), {repeat} edits, alternately forward "
        "and back, in one process; like serve, each render after the first runs while the previous snapshot is "
        "still held",
        "% = re-render / warm full render (target for large: <= 10%); proxies changed = proxies whose version "
        "differs after the edit",
        f"peak RSS of the process {mb(r['peak_kb'])}",
    ]
    return report.table(f"incremental ({size})", ["measurement", "wall", "% of full", "proxies changed"], rows,
                        notes)


def profile(mesh: Path, size: str, work: Path, top: int = 15) -> str:
    import io
    import pstats

    out = work / f"profile-{size}.prof"
    r = measure("profile", str(mesh), str(out))
    text = io.StringIO()
    stats = pstats.Stats(str(out), stream=text)
    stats.sort_stats("tottime").print_stats(top)
    body = text.getvalue()
    text2 = io.StringIO()
    pstats.Stats(str(out), stream=text2).sort_stats("cumulative").print_stats(top + 10)
    return (f"profile ({size}): cProfile of one full render (run + snapshot.build), {secs(r['wall_s'])} under the "
            f"profiler; stats in {out}\n--- top {top} by own time ---\n{_trim(body)}\n"
            f"--- top {top + 10} by cumulative time ---\n{_trim(text2.getvalue())}")


def _trim(text: str) -> str:
    lines = text.splitlines()
    for i, line in enumerate(lines):
        if line.strip().startswith("ncalls"):
            return "\n".join(lines[i - 1:]).rstrip()
    return text.rstrip()
