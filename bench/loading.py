"""Loading benchmarks (issue 21, "loading at native speed"): each figure is a ratio measured in one run.

* native floor: whole render (``run`` + ``snapshot.build``, in a fresh ``python -m bench.measure`` process) ÷
  (yaml-rs parse of every file + jsonschema-rs validation of every document + the construct floor of
  :mod:`bench.floor`), medians over ``repeat`` processes each, interleaved;
* ``kumahc validate DIR`` ÷ a plain libyaml parse of the same files (``yaml.load_all`` with ``CSafeLoader``): both
  fresh processes as a user starts them (interpreter start-up and imports included), interleaved, wall-clock
  medians over ``repeat`` runs each.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

from bench import report
from bench.generation import ROOT, measure
from bench.report import ratio, secs

# The reference: every file read and parsed by libyaml's safe loader, nothing else.
_CSAFE = ("import sys, yaml\n"
          "for path in sys.argv[1:]:\n"
          "    with open(path, encoding='utf-8') as fh:\n"
          "        for _ in yaml.load_all(fh.read(), Loader=yaml.CSafeLoader):\n"
          "            pass\n")


def floor_row(mesh: Path, size: str, work: Path, repeat: int) -> list[object]:
    """The row "whole render ÷ native floor" (see the module's docstring)."""
    data = work / f"floor-{size}"
    try:
        measure("prepare", str(mesh), str(data))
        whole, native, construct = [], [], []
        for _ in range(repeat):  # interleaved: the machine's load changes over a run
            whole.append(measure("kumahc", str(mesh)))
            native.append(measure("native", str(mesh)))
            construct.append(measure("floor", str(data), "construct"))
    finally:
        Path(f"{data}.construct").unlink(missing_ok=True)
        Path(f"{data}.parsedict").unlink(missing_ok=True)
    w = report.median([r["wall_s"] for r in whole])
    parse = report.median([r["parse_s"] for r in native])
    validate = report.median([r["validate_s"] for r in native])
    floor = report.median([r["wall_s"] for r in construct])
    return [f"{size}: whole render ÷ native floor", ratio(w, parse + validate + floor), "≤ 4x",
            f"render {secs(w)} (run {secs(report.median([r['run_s'] for r in whole]))}); floor = parse "
            f"{secs(parse)} + validate {secs(validate)} + construct {secs(floor)}; peak "
            f"{report.mb(max(r['peak_kb'] for r in whole))}"]


def _wall(args: list[str]) -> float:
    started = time.perf_counter()
    proc = subprocess.run(args, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, check=False)
    wall = time.perf_counter() - started
    if proc.returncode != 0:
        raise RuntimeError(f"{args[:4]} failed: {proc.stderr.decode(errors='replace')[-500:]}")
    return wall


def csafe_row(mesh: Path, size: str, repeat: int) -> list[object]:
    """The row "``kumahc validate`` ÷ ``CSafeLoader`` parse" (see the module's docstring)."""
    from kumahc.diagnostics import Report
    from kumahc.resources import files

    paths = [f.path for f in files.discover([str(mesh)], Report())]  # exactly the files validate reads
    validate: list[float] = []
    csafe: list[float] = []
    for _ in range(repeat):
        validate.append(_wall([sys.executable, "-m", "kumahc", "validate", str(mesh)]))
        csafe.append(_wall([sys.executable, "-c", _CSAFE, *paths]))
    v, c = report.median(validate), report.median(csafe)
    return [f"{size}: kumahc validate ÷ CSafeLoader parse", ratio(v, c), "≤ 1.15x",
            f"validate {secs(v)} ({secs(min(validate))}–{secs(max(validate))}), CSafeLoader {secs(c)} "
            f"({secs(min(csafe))}–{secs(max(csafe))}); {len(paths)} files, fresh processes, interleaved"]


def loading(mesh: Path, size: str, work: Path, repeat: int) -> str:
    """Both rows for ``mesh`` (one size), as a table."""
    rows = [csafe_row(mesh, size, repeat), floor_row(mesh, size, work, repeat)]
    notes = [f"size {size}; {repeat} measurement(s) per figure, medians; fresh processes"]
    return report.table(f"loading ({size})", ["figure", "measured", "target", "details"], rows, notes)
