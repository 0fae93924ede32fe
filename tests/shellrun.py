"""Running the real ``kumahc`` (the venv's: this checkout) the way a shell user does: TAB completion through the
bash script ``kumahc completion bash`` prints, and stderr on a pseudo-terminal (``pty``) for the progress bars."""

from __future__ import annotations

import fcntl
import hashlib
import os
import pty
import struct
import subprocess
import sys
import termios
import threading
from pathlib import Path

from helpers import REPO

KUMAHC = [sys.executable, "-m", "kumahc"]
BIN = Path(sys.prefix) / "bin"
WAIT_S = 900  # generous: the machine may be loaded; a hang still ends the test
# Load the script, set the words as bash does on TAB (the last word is the one being completed), call the function
# `complete -p` names for kumahc, print the candidates one per line.
DRIVER = """\
source <(kumahc completion bash) || exit 9
COMP_WORDS=("$@")
COMP_CWORD=$(( ${#COMP_WORDS[@]} - 1 ))
COMPREPLY=()
function=$(complete -p kumahc | sed -E 's/.* -F ([^ ]+) .*/\\1/')
"$function" kumahc "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD-1]}"
printf '%s\\n' "${COMPREPLY[@]}"
"""


def venv_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "KUMAHC_STORE"}
    env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '')}"
    env.update(extra)
    return env


def complete(*words: str, cwd: Path = REPO, **env: str) -> list[str]:
    """The candidates bash offers for ``kumahc WORDS…`` (the last word is being completed); asserts that nothing
    was printed on stderr and that the completion function succeeded."""
    done = subprocess.run(["bash", "--norc", "--noprofile", "-c", DRIVER, "bash", "kumahc", *words], cwd=cwd,
                          env=venv_env(**env), capture_output=True, text=True, timeout=WAIT_S,
                          stdin=subprocess.DEVNULL)
    assert (done.returncode, done.stderr) == (0, "")
    return [line for line in done.stdout.splitlines() if line]


def digest(data: bytes) -> str:
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


def open_terminal() -> tuple[int, int]:
    """A pseudo-terminal of 30 rows and 100 columns (a fresh one reports 0x0): (master fd, slave fd)."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 30, 100, 0, 0))
    return master, slave


def on_pipe(*args: str) -> tuple[int, str, bytes]:
    """Exit code, stdout's SHA-256 and stderr of ``kumahc ARGS`` with both streams on pipes."""
    done = subprocess.run([*KUMAHC, *args], capture_output=True, cwd=REPO, stdin=subprocess.DEVNULL,
                          timeout=WAIT_S)
    return done.returncode, digest(done.stdout), done.stderr


def on_terminal(*args: str, delay: str = "0") -> tuple[int, str, bytes]:
    """As :func:`on_pipe`, with stderr on a 100x30 pseudo-terminal (stdout stays a pipe). The terminal's output
    processing turns "\\n" into "\\r\\n": undone here, so the bytes compare with a pipe's. ``delay``: the
    progress bars' wait (``$KUMAHC_PROGRESS_DELAY``); 0 by default, so whether a bar is drawn never depends on how
    fast this machine is."""
    master, slave = open_terminal()
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
                            cwd=REPO, env={**os.environ, "KUMAHC_PROGRESS_DELAY": delay})
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
    return proc.returncode, digest(out), bytes(err).replace(b"\r\n", b"\n")
