"""Progress on standard error (issue 23): drawn while stderr is a terminal (a real pseudo-terminal here), never
into a pipe, never with ``-q``/``--quiet``; standard output is byte for byte the same either way, and the bars are
erased before the command's own stderr lines (here a warning), which come out exactly as without a terminal.

The mesh is generated (bench/generator.py) large enough that each run lasts well past the bars' display delay."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from helpers import REPO, SKIPPED
from shellrun import KUMAHC, WAIT_S, on_pipe, on_terminal, open_terminal, screen

if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from bench.generator import generate, with_size  # noqa: E402

ERASE = re.compile(rb"\r {20,}\r")  # tqdm erasing its line (leave=False): spaces over the bar
EXTRA = "kind: ConfigMap\napiVersion: v1\nmetadata: {name: x}\n"  # a skipped document: one warning line


def _bar(stage: str, unit: str, total: int) -> re.Pattern[bytes]:
    """One drawn state of a stage's bar: "stage:  42%|████   | 840/2000 [00:01<00:01, 812.40 proxies/s]"."""
    return re.compile(rf"{stage}: +\d+%\|[^|]*\| *\d+/{total} \[\d\d:\d\d<(\d\d:\d\d|\?), +([\d.]+|\?) "
                      rf"{unit}/s\]".encode())


@pytest.fixture(scope="module")
def mesh(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, int, Path]:
    """(generated mesh directory, its proxies, a file with one skipped document)."""
    root = tmp_path_factory.mktemp("progress")
    manifest = generate(root / "mesh", with_size("medium", outbounds=4))
    extra = root / "extra.yaml"
    extra.write_text(EXTRA)
    return root / "mesh", manifest.counts["dataplanes"], extra


def test_render_shows_progress_on_a_terminal_and_erases_it_before_warnings(mesh: tuple[Path, int, Path]) -> None:
    directory, proxies, extra = mesh
    code, out, err = on_pipe("render", str(directory), str(extra))
    warning = f'warning: {extra}:1: document 1: kind: skipped kind "ConfigMap" ({SKIPPED})\n'.encode()
    assert (code, err) == (0, warning)  # no progress into a pipe
    tty_code, tty_out, tty_err = on_terminal("render", str(directory), str(extra))
    assert (tty_code, tty_out) == (0, out)  # stdout: the same bytes
    for stage, unit, total in (("files read", "files", len(list(directory.rglob("*.yaml"))) + 1),
                               ("resources validated", "resources", None), ("proxies rendered", "proxies", proxies),
                               ("proxies written", "proxies", proxies)):
        pattern = _bar(stage, unit, total) if total is not None else re.compile(
            rf"{stage}: +\d+%\|[^|]*\| *\d+/\d+ \[".encode())
        assert pattern.search(tty_err), (stage, tty_err[-2000:])
    # The bars of reading and rendering were erased just before the warning (the bar of writing comes after it),
    # and what the terminal finally shows is exactly what a pipe gets.
    assert any(m.end() == tty_err.index(warning) for m in ERASE.finditer(tty_err))
    assert tty_err.rstrip(b" \r").endswith(b"]")  # the line erased last was a bar
    assert screen(tty_err) == warning


@pytest.mark.parametrize("quiet", [["-q", "render"], ["render", "--quiet"]], ids=["global -q", "render --quiet"])
def test_quiet_shows_nothing(mesh: tuple[Path, int, Path], quiet: list[str]) -> None:
    directory, _, _ = mesh
    code, out, err = on_pipe("render", str(directory))
    assert (code, err) == (0, b"")
    assert on_terminal(*quiet, str(directory)) == (0, out, b"")


def test_a_run_shorter_than_the_delay_draws_nothing() -> None:
    """Bars wait (half a second by default; ``$KUMAHC_PROGRESS_DELAY``) so a quick run does not flicker: with a
    wait no run reaches nothing is drawn, with none every stage is."""
    example = "examples/complete/mesh"
    out = on_pipe("render", example)[1]
    assert on_terminal("render", example, delay="3600") == (0, out, b"")
    code, tty_out, err = on_terminal("render", example, delay="0")
    assert (code, tty_out) == (0, out)
    assert b"files read" in err and b"proxies rendered" in err
    assert screen(err) == b""


def test_validate_and_diff_show_progress_too(mesh: tuple[Path, int, Path]) -> None:
    directory, proxies, _ = mesh
    code, out, err = on_terminal("validate", str(directory))
    assert code == 0
    assert _bar("proxies rendered", "proxies", proxies).search(err)
    assert screen(err) == b""
    assert on_pipe("validate", str(directory)) == (0, out, b"")
    code, out, err = on_terminal("diff", str(directory), str(directory))
    assert code == 0
    assert len(_bar("proxies rendered", "proxies", proxies).findall(err)) >= 2  # once per side
    assert on_pipe("diff", str(directory), str(directory)) == (0, out, b"")


def _serve_until_ready(directory: Path, stderr_on_terminal: bool, *extra: str) -> bytes:
    """stderr of ``kumahc serve DIRECTORY EXTRA`` from its start until its first load is logged (then SIGTERM)."""
    args = [*KUMAHC, "serve", str(directory), "--xds-address", "127.0.0.1:0", "--admin-address", "127.0.0.1:0",
            *extra]
    if stderr_on_terminal:
        read_fd, write_target = open_terminal()
    else:
        read_fd, write_fd = os.pipe()
        write_target = write_fd
    err = bytearray()
    ready = threading.Event()

    def drain() -> None:
        while True:
            try:
                data = os.read(read_fd, 65536)
            except OSError:
                break
            if not data:
                break
            err.extend(data)
            if b"; ready" in err:
                ready.set()
        ready.set()

    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=write_target, stdin=subprocess.DEVNULL, cwd=REPO,
                            env={**os.environ, "KUMAHC_PROGRESS_DELAY": "0"})
    os.close(write_target)
    reader = threading.Thread(target=drain, daemon=True)
    reader.start()
    try:
        assert ready.wait(WAIT_S)
        proc.terminate()
        assert proc.wait(WAIT_S) == 0
        reader.join(WAIT_S)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        os.close(read_fd)
    return bytes(err).replace(b"\r\n", b"\n")


def test_serve_shows_progress_of_its_first_load_only_on_a_terminal(mesh: tuple[Path, int, Path]) -> None:
    directory, proxies, _ = mesh
    log_line = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ INFO .*")
    # --render all: every proxy is rendered at the first load (the default renders connected proxies only).
    piped = _serve_until_ready(directory, False, "--render", "all")
    assert b"\r" not in piped and b"proxies rendered" not in piped
    err = _serve_until_ready(directory, True, "--render", "all")
    assert _bar("proxies rendered", "proxies", proxies).search(err), err[-2000:]
    # Erased before the first load is logged; what the terminal shows is log lines only, as in the pipe.
    loaded = err.index(b"INFO loaded: ")
    stamp = len("2026-01-01T00:00:00Z ")
    assert any(m.end() == loaded - stamp for m in ERASE.finditer(err)), err[loaded - 300:loaded + 50]
    shown = screen(err).decode().splitlines()
    assert shown and all(log_line.fullmatch(line) for line in shown), shown
    assert [line[stamp:].split(" in ")[0] for line in shown] == [
        line[stamp:].split(" in ")[0] for line in piped.decode().splitlines()]  # "loaded: … in 1.23 s" varies
    # --render connected renders no proxy before one connects: its first load reads and validates, nothing more.
    err = _serve_until_ready(directory, True)
    assert b"resources validated" in err and b"proxies rendered" not in err
