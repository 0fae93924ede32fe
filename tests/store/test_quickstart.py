"""The store quick start of docs/store.md, run as written: the PostgreSQL steps without Docker (initdb, pg_ctl,
psql with the page's kumahc-roles.sql), then every kumahc command with its output exactly as shown. Only the port
(5433, a free one here), the directory (``~/kumahc-pg``, a temporary one) and the binaries' directory are
substituted; the package installation and the long-running ``serve`` are not run (``serve --store`` has tests of
its own). As root (CI), initdb, pg_ctl and psql run as the ``postgres`` system user, which initdb requires."""

from __future__ import annotations

import os
import pwd
import re
import shutil
import socket
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from helpers import REPO

from bench.pgserver import bin_dir

DOC = REPO / "docs" / "store.md"
MARK = "@@kumahc-quickstart-exit "
# Run as the postgres system user when the test runs as root (initdb refuses root).
AS_POSTGRES = """\
if [ "$(id -u)" = 0 ]; then
  for tool in initdb pg_ctl psql; do
    eval "$tool() { runuser -u postgres -- \\"\\$(type -P $tool)\\" \\"\\$@\\"; }"
  done
fi
"""


def quick_start() -> tuple[str, list[tuple[str, list[str]]]]:
    """The section's SQL file and its (command, shown output lines) in order, from the non-Docker block on."""
    text = DOC.read_text(encoding="utf-8")
    section = text[text.index("## Quick start\n"):text.index("\n## ", text.index("## Quick start\n") + 1)]
    (sql,) = re.findall(r"^```sql\n(.*?)^```", section, re.S | re.M)
    steps: list[tuple[str, list[str]]] = []
    start = section.index("**PostgreSQL without Docker**")
    for block in re.findall(r"^```console\n(.*?)^```", section[start:], re.S | re.M):
        for line in block.splitlines():
            if line.startswith("$ "):
                steps.append((line[2:], []))
            else:
                steps[-1][1].append(line)
    return sql, steps


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def scratch() -> Iterator[Path]:
    """A directory the postgres system user may use (pytest's tmp_path is root's only), linking the repository's
    entries (``examples/``…) and ``.venv`` (the interpreter under test); the server in it stopped at the end."""
    root = Path(tempfile.mkdtemp(prefix="kumahc-quickstart-"))
    for entry in REPO.iterdir():
        if entry.name not in (".git", ".venv"):
            (root / entry.name).symlink_to(entry)
    (root / ".venv").symlink_to(sys.prefix)
    if os.geteuid() == 0:
        user = pwd.getpwnam("postgres")
        os.chown(root, user.pw_uid, user.pw_gid)
    try:
        yield root
    finally:
        data = root / "kumahc-pg"
        if (data / "postmaster.pid").exists():
            as_user = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
            subprocess.run([*as_user, os.path.join(bin_dir(), "pg_ctl"), "-D", str(data), "-m", "immediate", "-w",
                            "stop"], capture_output=True, timeout=120, check=False)
        shutil.rmtree(root, ignore_errors=True)


def test_the_quick_start_runs_as_written(scratch: Path) -> None:
    sql, steps = quick_start()
    assert [c.split()[0] for c, _ in steps][:6] == ["sudo", "export", "initdb", "pg_ctl", "psql", "export"]
    (scratch / "kumahc-roles.sql").write_text(sql)
    port = str(_free_port())

    def local(text: str) -> str:
        return (text.replace("~/kumahc-pg", f"{scratch}/kumahc-pg").replace("$HOME/kumahc-pg", f"{scratch}/kumahc-pg")
                .replace("/usr/lib/postgresql/15/bin", bin_dir()).replace("5433", port))

    run = [(local(c), [local(line) for line in out]) for c, out in steps
           if not c.startswith(("sudo ", ".venv/bin/kumahc serve "))]
    script = AS_POSTGRES + "".join(f"{c} 2>&1; echo \"{MARK}$?\"\n" for c, _ in run)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("KUMAHC_", "PG"))}
    proc = subprocess.run(["bash", "-c", script], cwd=scratch, env=env, stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, text=True, timeout=600, check=False)
    outputs = re.split(rf"^{MARK}(\d+)\n", proc.stdout, flags=re.M)
    got = [(outputs[i].splitlines(), int(outputs[i + 1])) for i in range(0, len(outputs) - 1, 2)]
    assert len(got) == len(run), proc.stdout
    for (command, shown), (printed, code) in zip(run, got, strict=True):
        assert (command, code, printed) == (command, 0, shown)
