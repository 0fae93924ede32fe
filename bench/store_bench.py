"""The store benchmark: ``kumahc apply -f MESH --store URL`` against ``kumahc validate MESH`` of the same files,
each a fresh CLI process (start-up included in both), on a PostgreSQL server started for the run
(bench/pgserver.py). Target: apply ≤ 2× validate.

Rows: apply into an empty store (every resource created), apply of the same files again (everything unchanged:
read, merge, validate, nothing written), apply after one policy edit (one resource configured), and validate of
the store itself (the read path ``serve --store`` will use: stored resources need no YAML parsing or schema
checks)."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

from bench import report
from bench.generator import Manifest, apply_edit
from bench.pgserver import PgServer
from bench.report import ratio, secs

ROOT = Path(__file__).resolve().parent.parent
KUMAHC = str(ROOT / ".venv" / "bin" / "kumahc")


def _timed(*args: str) -> float:
    started = time.monotonic()
    proc = subprocess.run([KUMAHC, *args], capture_output=True, text=True, timeout=1800, check=False)
    elapsed = time.monotonic() - started
    if proc.returncode != 0:
        raise RuntimeError(f"kumahc {' '.join(args)} failed ({proc.returncode}):\n{proc.stderr[-4000:]}")
    return elapsed


def store_bench(mesh: Path, manifest: Manifest, size: str, repeat: int) -> str:
    """Median of ``repeat`` runs of each row on the generated ``mesh`` (edited in place, then restored)."""
    server = PgServer()
    try:
        validate, created, unchanged, edited, from_store = [], [], [], [], []
        for i in range(repeat):
            url = server.create_database(f"bench{i}")
            _timed("store", "migrate", "--store", url)
            validate.append(_timed("validate", str(mesh)))
            created.append(_timed("apply", "-f", str(mesh), "--store", url))
            unchanged.append(_timed("apply", "-f", str(mesh), "--store", url))
            apply_edit(mesh, manifest.edit_one, forward=True)
            edited.append(_timed("apply", "-f", str(mesh), "--store", url))
            from_store.append(_timed("validate", "--store", url))
            apply_edit(mesh, manifest.edit_one, forward=False)
    finally:
        server.close()
    base = report.median(validate)

    def row(name: str, values: list[float]) -> list[str]:
        return [name, secs(report.median(values)), f"{min(values):.3f}-{max(values):.3f}",
                ratio(report.median(values), base)]

    rows = [row("kumahc validate MESH", validate), row("kumahc apply (empty store: all created)", created),
            row("kumahc apply (same files: all unchanged)", unchanged),
            row("kumahc apply (one policy edited: 1 configured)", edited),
            row("kumahc validate --store (no YAML, no schema)", from_store)]
    return report.table(f"store apply vs validate ({size}, {manifest.counts}, {repeat} runs each)",
                        ["command", "median", "min-max", "vs validate"], rows,
                        ["target: apply <= 2x validate; each figure is one CLI process (start-up included)"])
