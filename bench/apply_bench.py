"""``kumahc apply`` at the speed of the change (issue 25): fresh CLI processes (start-up included) on a PostgreSQL
server started for the run, the store filled with the generated mesh, against ``kumahc validate MESH``.

Rows: the whole mesh applied to an empty store (no writer); then, with ``kumahc store writer`` running on the
store (started after the fill, timed to ready), ``apply -f`` of the one file of the manifest's ``edit_one`` (one
per-service MeshHealthCheck changed), of the same file again (unchanged), and of ``edit_mesh``'s file (the
Mesh-wide MeshHealthCheck changed); each edit is applied forward and back ``repeat`` times (medians). Last, the
writer stopped, the one-policy apply by ``apply`` itself (what it costs without a writer). Targets (``large``): one
changed policy ≤ 10% of validate, unchanged ≤ 1 s, Mesh-wide ≤ the whole-mesh apply."""

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


def _timed(*args: str, want: str | None = None) -> float:
    started = time.monotonic()
    proc = subprocess.run([KUMAHC, "-q", *args], capture_output=True, text=True, timeout=3600, check=False)
    elapsed = time.monotonic() - started
    if proc.returncode != 0:
        raise RuntimeError(f"kumahc {' '.join(args)} failed ({proc.returncode}):\n{proc.stderr[-4000:]}")
    if want is not None and want not in proc.stdout:
        raise RuntimeError(f"kumahc {' '.join(args)}: expected {want!r} in its output:\n{proc.stdout[-2000:]}")
    return elapsed


class _Writer:
    """``kumahc store writer`` in the background; :meth:`wait` until it answers."""

    def __init__(self, url: str, log: Path):
        self.log = log
        self.fh = open(log, "w")  # noqa: SIM115 - closed in stop()
        self.started = time.monotonic()
        self.proc = subprocess.Popen([KUMAHC, "store", "writer", "--store", url], stdout=self.fh,
                                     stderr=subprocess.STDOUT)

    def wait(self, timeout: float = 3600) -> float:
        deadline = self.started + timeout
        while "answering applies" not in self.log.read_text():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the writer did not start:\n{self.log.read_text()[-4000:]}")
            time.sleep(0.2)
        return time.monotonic() - self.started

    def answered(self) -> list[float]:
        """The writer's own time per answered request, in order (its log lines)."""
        return [float(line.split(" answered in ")[1].split(" s")[0]) for line in self.log.read_text().splitlines()
                if " answered in " in line]

    def rss_mb(self) -> float:
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
        return 0.0

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.fh.close()


def apply_bench(mesh: Path, manifest: Manifest, size: str, repeat: int, work: Path) -> str:
    server = PgServer()
    writer = None
    try:
        url = server.create_database("apply")
        _timed("store", "migrate", "--store", url)
        validate = [_timed("validate", str(mesh)) for _ in range(repeat)]
        whole = _timed("apply", "-f", str(mesh), "--store", url)
        writer = _Writer(url, work / "apply-writer.log")
        ready = writer.wait()
        one, unchanged, wide = [], [], []
        one_file = str(mesh / manifest.edit_one.path)
        wide_file = str(mesh / manifest.edit_mesh.path)
        for _ in range(repeat):
            for forward in (True, False):
                apply_edit(mesh, manifest.edit_one, forward=forward)
                one.append(_timed("apply", "-f", one_file, "--store", url, want="configured"))
                unchanged.append(_timed("apply", "-f", one_file, "--store", url, want="unchanged"))
            for forward in (True, False):
                apply_edit(mesh, manifest.edit_mesh, forward=forward)
                wide.append(_timed("apply", "-f", wide_file, "--store", url, want="configured"))
        rss = writer.rss_mb()
        inside = writer.answered()  # per round: one, unchanged, one, unchanged, then the Mesh-wide edit twice
        writer.stop()
        writer = None
        alone = []
        for forward in (True, False):
            apply_edit(mesh, manifest.edit_one, forward=forward)
            alone.append(_timed("apply", "-f", one_file, "--store", url, want="configured"))
    finally:
        if writer is not None:
            writer.stop()
        server.close()
    base = report.median(validate)

    def row(name: str, values: list[float], target: str) -> list[str]:
        return [name, secs(report.median(values)), f"{min(values):.3f}-{max(values):.3f}",
                ratio(report.median(values), base), target]

    rows = [row("kumahc validate MESH", validate, ""),
            row("apply -f MESH (empty store, no writer)", [whole], ""),
            row("apply one changed policy (writer)", one, "<= 10% of validate"),
            row("apply the same file again: unchanged (writer)", unchanged, "<= 1 s"),
            row("apply the Mesh-wide policy changed (writer)", wide, "<= the whole-mesh apply"),
            row("apply one changed policy (no writer)", alone, "")]
    o, u, w = report.median(one), report.median(unchanged), report.median(wide)
    per_round = [inside[i:i + 6] for i in range(0, len(inside), 6)]
    in_one = [r[k] for r in per_round for k in (0, 2) if len(r) == 6]
    in_unchanged = [r[k] for r in per_round for k in (1, 3) if len(r) == 6]
    in_wide = [r[k] for r in per_round for k in (4, 5) if len(r) == 6]
    notes = [f"writer: start -> answering {ready:.1f} s, RSS {rss:.0f} MB after the applies",
             "the writer's own time per answer (its log): one changed policy "
             + ", ".join(f"{x:.2f}" for x in in_one) + " s; unchanged " + ", ".join(f"{x:.2f}" for x in in_unchanged)
             + " s; Mesh-wide " + ", ".join(f"{x:.2f}" for x in in_wide) + " s",
             f"one changed policy: {100 * o / base:.1f}% of validate ({'met' if o <= 0.10 * base else 'missed'}); "
             f"unchanged: {u:.2f} s ({'met' if u <= 1.0 else 'missed'}); Mesh-wide: {w:.2f} s vs whole-mesh apply "
             f"{whole:.2f} s ({'met' if w <= whole else 'missed'})",
             f"{repeat} round(s); each edit applied forward then back per round; every figure is one CLI process"]
    return report.table(f"apply at the speed of the change ({size}, {manifest.counts})",
                        ["command", "median", "min-max", "vs validate", "target"], rows, notes)
