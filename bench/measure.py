"""One measurement per process (``python -m bench.measure WHAT ...``), printing one JSON line on stdout.

Run in a fresh interpreter so that the peak RSS (``VmHWM`` of ``/proc/self/status``) belongs to that
measurement alone:

* ``kumahc DIR`` — full render of every proxy to serialized bytes, as ``serve`` does it at start and on reload:
  ``pipeline.run([DIR])`` then ``kumahc.xds.snapshot.build(result)``.
* ``prepare DIR OUT`` — the floor's inputs (:mod:`bench.floor`), untimed: ``OUT.construct``, ``OUT.parsedict``.
* ``floor OUT construct|parsedict`` — the floor (reads ``OUT.<method>``).
* ``incremental DIR REPEAT`` — full render twice (cold, then warm while the first snapshot is still held, as
  ``serve`` holds its current snapshot during a reload), then REPEAT times: edit one policy file (manifest
  ``edit_one``, alternately forward and back) and render again. Edits DIR in place.
* ``profile DIR OUT.prof`` — cProfile of one full render (``run`` + ``snapshot.build``).
"""

from __future__ import annotations

import json
import pickle
import sys
import time
from typing import Any


def status_kb(field: str, pid: str = "self") -> int:
    """A ``kB`` field of ``/proc/<pid>/status`` (``VmRSS``, ``VmHWM``)."""
    with open(f"/proc/{pid}/status", encoding="ascii") as fh:
        for line in fh:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise KeyError(field)


def _render(paths: list[str], cache: Any = None, previous: Any = None) -> tuple[Any, Any, float, float]:
    """One render as ``serve`` does it: ``run`` (with serve's RunCache on reloads) then ``snapshot.build`` (with
    the previous snapshot on reloads)."""
    from kumahc.pipeline import run
    from kumahc.xds import snapshot

    t0 = time.perf_counter()
    result = run(paths, cache=cache)
    t1 = time.perf_counter()
    snap = snapshot.build(result, previous)
    t2 = time.perf_counter()
    return result, snap, t1 - t0, t2 - t1


def kumahc(directory: str) -> dict[str, Any]:
    import kumahc.pipeline  # noqa: F401 - imports are not part of the measurement
    import kumahc.xds.snapshot  # noqa: F401

    baseline = status_kb("VmRSS")
    result, snap, t_run, t_build = _render([directory])
    clusters = sum(len(v) for v in result.clusters.values())
    unique = len({id(cr) for v in result.clusters.values() for cr in v})
    out = {"wall_s": t_run + t_build, "run_s": t_run, "build_s": t_build, "proxies": len(result.clusters),
           "clusters": clusters, "unique_clusters": unique, "baseline_kb": baseline,
           "bytes": sum(len(p.sotw_body) for p in snap.proxies.values())}
    out["peak_kb"] = status_kb("VmHWM")
    return out


def prepare(directory: str, out: str) -> dict[str, Any]:
    from bench import floor

    data = floor.prepare([directory])
    for method, key in (("construct", "kwargs"), ("parsedict", "json")):  # one file each: load only what is used
        with open(f"{out}.{method}", "wb") as fh:
            pickle.dump({key: data[key], "proxies": data["proxies"]}, fh, protocol=pickle.HIGHEST_PROTOCOL)
    return {"unique_clusters": len(data["kwargs"]), "proxies": len(data["proxies"]),
            "cluster_lists": len({tuple(p) for p in data["proxies"]})}


def run_floor(path: str, method: str) -> dict[str, Any]:
    from bench import floor

    baseline = status_kb("VmRSS")
    with open(f"{path}.{method}", "rb") as fh:
        data = pickle.load(fh)
    loaded = status_kb("VmRSS")
    seconds, bodies = floor.build(data, method)
    return {"wall_s": seconds, "baseline_kb": baseline, "inputs_kb": loaded - baseline, "start_kb": loaded,
            "proxies": len(bodies), "bytes": sum(len(b) for b in bodies), "peak_kb": status_kb("VmHWM")}


def incremental(directory: str, repeat: int) -> dict[str, Any]:
    """Like ``serve``: a cold full render fills serve's RunCache; a warm full render (no cache) is the reference;
    each edit is then re-rendered with the cache and the previous snapshot, as a reload does."""
    from bench.generator import Manifest, apply_edit
    from kumahc.pipeline import RunCache

    manifest = Manifest.read(directory)
    cache = RunCache()
    _, current, r0, b0 = _render([directory], cache)
    _, _, r1, b1 = _render([directory])
    noops = []
    for _ in range(max(repeat, 3)):  # nothing changed: what SIGHUP costs
        _, after, r, b = _render([directory], cache, current)
        noops.append(r + b)
        current = after
    edits = []
    for i in range(repeat):
        apply_edit(directory, manifest.edit_one, forward=i % 2 == 0)
        _, after, r, b = _render([directory], cache, current)
        changed = sum(1 for k, v in after.proxies.items() if current.proxies[k].version != v.version)
        edits.append({"wall_s": r + b, "run_s": r, "build_s": b, "proxies_changed": changed})
        current = after
    if repeat % 2:
        apply_edit(directory, manifest.edit_one, forward=False)
    return {"cold_s": r0 + b0, "warm_s": r1 + b1, "warm_run_s": r1, "warm_build_s": b1, "edits": edits,
            "noops": noops,
            "proxies": len(current.proxies), "edit": manifest.edit_one.path, "peak_kb": status_kb("VmHWM")}


def native(directory: str) -> dict[str, Any]:
    """The native floor's first two parts: yaml-rs parse of every input file, jsonschema-rs validation of every
    document of a kumahc kind (the compiled validators built before timing)."""
    import yaml_rs

    from kumahc.diagnostics import Report
    from kumahc.resources import files, schema
    from kumahc.resources.loader import _recognise

    inputs = files.discover([directory], Report())
    texts = [files.read_text(f) for f in inputs]
    for kind in schema.SCHEMA_FILES:
        for fmt in ("universal", "kubernetes"):
            try:
                schema._gate(kind, fmt)
            except KeyError:
                pass
    t0 = time.perf_counter()
    docs = []
    for text in texts:
        loaded = yaml_rs.loads(text, parse_datetime=False)
        docs.extend(loaded if isinstance(loaded, list) else [loaded])
    t1 = time.perf_counter()
    valid = 0
    for doc in docs:
        if isinstance(doc, dict):
            fmt, kind = _recognise(doc)
            if fmt is not None:
                valid += schema._gate(kind, fmt).is_valid(doc)
    t2 = time.perf_counter()
    return {"parse_s": t1 - t0, "validate_s": t2 - t1, "documents": len(docs), "valid": valid,
            "peak_kb": status_kb("VmHWM")}


def latency(directory: str, count: int) -> dict[str, Any]:
    """Completed write (a file renamed into place) → the Watcher's reload callback, ``count`` times."""
    import asyncio
    import os
    import shutil

    from kumahc.resources.watch import Watcher

    shutil.rmtree(directory, ignore_errors=True)
    os.makedirs(directory)
    target = os.path.join(directory, "policy.yaml")
    with open(target, "w") as fh:
        fh.write("a: 0\n")

    async def main() -> tuple[list[float], str]:
        w = Watcher([directory])
        stop, force = asyncio.Event(), asyncio.Event()
        got: asyncio.Queue[float] = asyncio.Queue()

        async def reload() -> None:
            got.put_nowait(time.perf_counter())

        task = asyncio.ensure_future(w.run(reload, stop, force))
        await asyncio.sleep(0.2)
        out = []
        for i in range(count):
            tmp = os.path.join(directory, ".tmp")
            with open(tmp, "w") as fh:
                fh.write(f"a: {i}\n")
            started = time.perf_counter()
            os.replace(tmp, target)
            done = await asyncio.wait_for(got.get(), 10)
            out.append(done - started)
            await asyncio.sleep(0.1)
        stop.set()
        await task
        return out, w.mode

    latencies, mode = asyncio.run(main())
    shutil.rmtree(directory, ignore_errors=True)
    return {"latencies": latencies, "mode": mode}


def churn(directory: str, count: int) -> dict[str, Any]:
    """``count`` reloads (RunCache + previous snapshot) of a small mesh whose one policy gets a new interval
    every time; VmRSS at the start, after 100 reloads and at the end."""
    import gc
    import shutil

    from bench.generator import Manifest, generate
    from kumahc.pipeline import RunCache

    shutil.rmtree(directory, ignore_errors=True)
    generate(directory, "small", 1)
    manifest = Manifest.read(directory)
    path = f"{directory}/{manifest.edit_one.path}"
    with open(path, encoding="utf-8") as fh:
        original = fh.read()
    old = f"interval: {manifest.edit_one.old}"
    assert old in original
    cache = RunCache()
    _, current, _, _ = _render([directory], cache)
    start = rss_100 = status_kb("VmRSS")
    for i in range(count):
        with open(path, "w", encoding="utf-8") as fh:  # distinct contents every time
            fh.write(original.replace(old, f"interval: {i + 1}ms"))
        _, current, _, _ = _render([directory], cache, current)
        if i == 99:
            gc.collect()
            rss_100 = status_kb("VmRSS")
    gc.collect()
    end = status_kb("VmRSS")
    shutil.rmtree(directory, ignore_errors=True)
    return {"rss_start_kb": start, "rss_100_kb": rss_100, "rss_end_kb": end, "reloads": count}


def profile(directory: str, out: str) -> dict[str, Any]:
    import cProfile

    import kumahc.pipeline  # noqa: F401
    import kumahc.xds.snapshot  # noqa: F401

    prof = cProfile.Profile()
    t0 = time.perf_counter()
    prof.enable()
    _render([directory])
    prof.disable()
    wall = time.perf_counter() - t0
    prof.dump_stats(out)
    return {"wall_s": wall}


def main(argv: list[str]) -> int:
    what, args = argv[0], argv[1:]
    if what == "kumahc":
        out = kumahc(args[0])
    elif what == "prepare":
        out = prepare(args[0], args[1])
    elif what == "floor":
        out = run_floor(args[0], args[1])
    elif what == "incremental":
        out = incremental(args[0], int(args[1]))
    elif what == "native":
        out = native(args[0])
    elif what == "latency":
        out = latency(args[0], int(args[1]))
    elif what == "churn":
        out = churn(args[0], int(args[1]))
    elif what == "profile":
        out = profile(args[0], args[1])
    else:
        print(f"unknown measurement {what!r}", file=sys.stderr)
        return 2
    print(json.dumps(out), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
