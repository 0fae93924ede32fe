"""Issue 23 against a real PostgreSQL store: TAB completion of ``get``/``delete`` names and of ``--proxy`` from the
store (``--store`` or ``$KUMAHC_STORE``), and ``apply``'s progress on a pseudo-terminal (stdout unchanged)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from shellrun import KUMAHC, WAIT_S, complete, on_pipe, on_terminal, screen

ROOT = Path(__file__).resolve().parent.parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.generator import generate, with_size  # noqa: E402


def _apply(url: str, *paths: str) -> None:
    args = [a for p in paths for a in ("-f", p)]
    subprocess.run([*KUMAHC, "apply", *args, "--store", url], cwd=ROOT, check=True, capture_output=True,
                   timeout=WAIT_S)


def test_names_from_the_store(store: str) -> None:
    _apply(store, "examples/complete/mesh")
    assert complete("get", "dataplanes", "--store", store, "") == ["backend-01", "backend-02", "web-01"]
    assert complete("get", "Dataplane", "--store", store, "w") == ["web-01"]
    assert complete("delete", "dataplane", "--mesh", "default", "--store", store, "b") == ["backend-01",
                                                                                          "backend-02"]
    assert complete("delete", "dataplane", "--mesh", "other", "--store", store, "") == []
    assert complete("get", "meshhealthchecks", "", KUMAHC_STORE=store) == ["backend-http"]
    assert complete("render", "--proxy", "w", KUMAHC_STORE=store) == ["web-01"]
    assert complete("inspect", "--store", store, "--policy", "") == ["MeshHealthCheck/backend-http"]
    # LIKE's wildcards in what is typed are taken literally.
    assert complete("get", "dataplanes", "--store", store, "%") == []
    assert complete("get", "dataplanes", "--store", store, "web_") == []


def test_apply_shows_progress_on_a_terminal(store: str, tmp_path: Path) -> None:
    manifest = generate(tmp_path / "mesh", with_size("medium", outbounds=4))
    args = ("apply", "-f", str(tmp_path / "mesh"), "--dry-run", "--store", store)
    code, out, err = on_pipe(*args)
    assert (code, err) == (0, b"")
    tty_code, tty_out, tty_err = on_terminal(*args)
    assert (tty_code, tty_out) == (0, out)
    proxies = manifest.counts["dataplanes"]
    # Reading the files, then validating and rendering the state the store would hold.
    for stage in (rb"files read: +\d+%", rf"proxies rendered: +\d+%\|[^|]*\| *\d+/{proxies} ".encode()):
        assert re.search(stage, tty_err), (stage, tty_err[-2000:])
    assert screen(tty_err) == b""
