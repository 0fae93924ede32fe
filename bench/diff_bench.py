"""``diff``: how long ``kumahc diff BEFORE AFTER`` takes against one ``kumahc render`` of the same mesh.

The target (docs/cli.md): a CI gate may run ``diff`` on the ``large`` mesh, so it must cost at most 2× one render.
Both are measured as users run them — fresh ``kumahc`` processes, output to a file — alternately, ``repeat``
times each, on the mesh and a copy with the manifest's ``edit_one`` (one per-service MeshHealthCheck's interval)
or ``edit_mesh`` (the first Mesh-wide one) applied. Wall time only; the ratio is diff / render in the same run.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from pathlib import Path

from bench import report
from bench.generator import Manifest, apply_edit


def _timed(args: list[str], out: Path) -> tuple[float, int, str]:
    started = time.monotonic()
    with out.open("w") as fh:
        proc = subprocess.run([sys.executable, "-m", "kumahc", *args], stdout=fh, stderr=subprocess.DEVNULL,
                              check=False)
    elapsed = time.monotonic() - started
    last = out.read_text().rstrip("\n").rsplit("\n", 1)[-1] if args[0] == "diff" else ""
    return elapsed, proc.returncode, last


def _spread(median: float, values: list[float]) -> str:
    return f"{report.secs(median)} ({report.secs(min(values))}–{report.secs(max(values))})"


def diff_bench(mesh: Path, size: str, repeat: int, work: Path) -> str:
    manifest = Manifest.read(mesh)
    rows = []
    for label, edit in (("edit_one", manifest.edit_one), ("edit_mesh", manifest.edit_mesh)):
        after = work / f"after-{size}-{label}"
        shutil.rmtree(after, ignore_errors=True)
        shutil.copytree(mesh, after)
        apply_edit(after, edit)
        renders, diffs = [], []
        summary = ""
        for _ in range(repeat):
            t, code, _ = _timed(["render", str(mesh), "--output-file", str(work / "render.json")], work / "render.out")
            if code != 0:
                raise RuntimeError(f"render exited {code}")
            renders.append(t)
            t, code, summary = _timed(["diff", str(mesh), str(after)], work / "diff.out")
            if code != 3:
                raise RuntimeError(f"diff exited {code}, expected 3 (changes)")
            diffs.append(t)
        r, d = report.median(renders), report.median(diffs)
        rows.append([size, label, summary, _spread(r, renders), _spread(d, diffs), report.ratio(d, r)])
        shutil.rmtree(after, ignore_errors=True)
    return report.table(f"diff vs render ({size}, {repeat} runs each, fresh processes, median (min–max))",
                        ["size", "change", "diff summary", "render wall", "diff wall", "diff / render"], rows,
                        ["target: diff / render ≤ 2×"])
