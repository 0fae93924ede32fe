"""The gateways benchmark (issue 20): per-proxy render cost of a mesh with a few builtin gateways (each with a
MeshHTTPRoute, a MeshTCPRoute and a MeshHealthCheck targeting its MeshGateway) against the same mesh without them.
Each render is a fresh process (``bench.measure kumahc``: ``pipeline.run`` + ``snapshot.build``), the two meshes
interleaved so that a noisy moment hits both; the figure is the ratio of the medians of wall time per proxy
(target: within 5 %)."""

from __future__ import annotations

import shutil
from pathlib import Path

from bench import report
from bench.generation import measure
from bench.generator import generate, with_size


def gateways_bench(size: str, gateways: int, repeat: int, seed: int, work: Path) -> str:
    meshes = {}
    for label, n in (("without gateways", 0), (f"with {gateways} gateways", gateways)):
        mesh = work / f"mesh-{size}-gw{n}"
        shutil.rmtree(mesh, ignore_errors=True)
        generate(mesh, with_size(size, gateways=n), seed)
        meshes[label] = mesh
    runs: dict[str, list[dict]] = {label: [] for label in meshes}
    for _ in range(repeat):
        for label, mesh in meshes.items():
            runs[label].append(measure("kumahc", str(mesh)))
    per_proxy = {label: report.median([r["wall_s"] / r["proxies"] for r in rs]) for label, rs in runs.items()}
    base = next(iter(per_proxy.values()))
    rows = []
    for label, rs in runs.items():
        first = rs[0]
        rows.append([label, first["proxies"], first["clusters"], report.secs(report.median([r["wall_s"] for r in rs])),
                     f"{per_proxy[label] * 1e3:.3f} ms", f"{per_proxy[label] / base:.3f}x"])
    return report.table(f"gateways ({size}, {repeat} fresh processes each, interleaved)",
                        ["mesh", "proxies", "clusters", "render (median)", "per proxy", "ratio"], rows,
                        ["target: per-proxy ratio <= 1.05"])
