"""Progress on standard error (issue 23): drawn while stderr is a terminal (a real pseudo-terminal here), never
into a pipe, never with ``-q``/``--quiet``; standard output is byte for byte the same either way, and the bars are
erased before the command's own stderr lines (here a warning), which come out exactly as without a terminal.

The mesh is generated (bench/generator.py) large enough that each run lasts well past the bars' display delay."""

from __future__ import annotations

import fcntl
import hashlib
import os
import pty
import re
import struct
import subprocess
import sys
import termios
import threading
from pathlib import Path

import pytest
from helpers import REPO, SKIPPED

if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from bench.generator import generate, with_size  # noqa: E402

KUMAHC = [sys.executable, "-m", "kumahc"]
WAIT_S = 900  # generous: the machine may be loaded; a hang still ends the test
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


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def screen(err: bytes) -> bytes:
    """What a terminal shows after ``err``: on each line, text after a carriage return overwrites the line from its
    first column (in characters: the bars draw with multi-byte block characters); trailing spaces (an erased bar)
    are not seen."""
    lines = []
    for line in err.decode().split("\n"):
        shown: list[str] = []
        for part in line.split("\r"):
            shown[:len(part)] = part
        lines.append("".join(shown).rstrip(" "))
    return "\n".join(lines).encode()


def on_pipe(*args: str) -> tuple[int, str, bytes]:
    """Exit code, stdout's SHA-256 and stderr of ``kumahc ARGS`` with both streams on pipes."""
    done = subprocess.run([*KUMAHC, *args], capture_output=True, cwd=REPO, stdin=subprocess.DEVNULL,
                          timeout=WAIT_S)
    return done.returncode, _digest(done.stdout), done.stderr


def on_terminal(*args: str) -> tuple[int, str, bytes]:
    """As :func:`on_pipe`, with stderr on a 100x30 pseudo-terminal (stdout stays a pipe). The terminal's output
    processing turns "\\n" into "\\r\\n": undone here, so the bytes compare with a pipe's."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 30, 100, 0, 0))
    err = bytearray()

    def drain() -> None:
        while True:
            try:
                data = os.read(master, 65536)
            except OSError:  # EIO: the last writer closed the terminal
                return
            if not data:
                return
            err.extend(data)

    reader = threading.Thread(target=drain, daemon=True)
    proc = subprocess.Popen([*KUMAHC, *args], stdout=subprocess.PIPE, stderr=slave, stdin=subprocess.DEVNULL,
                            cwd=REPO)
    os.close(slave)
    reader.start()
    try:
        out, _ = proc.communicate(timeout=WAIT_S)
        reader.join(WAIT_S)
        assert not reader.is_alive()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        os.close(master)
    return proc.returncode, _digest(out), bytes(err).replace(b"\r\n", b"\n")


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
