"""Inputs that cannot hurt kumahc: non-regular files, endless devices, oversized files, millions of documents,
symbolic link loops, unreadable directories, floods of one warning, huge values, and ``--output-file`` onto things
that are not regular files. Each must end in a line naming the path, in bounded time and memory, never in a hang."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from helpers import MESH_WIDE_MHC, SKIPPED, Workspace, run

MHC = MESH_WIDE_MHC
# Only a real hang (a read blocked on a FIFO) reaches this; a slow, loaded machine never should. Speed is bounded
# by the CPU time a child uses (resource usage), which does not grow when other work shares the cores.
TIMEOUT = 600
CPU_SECONDS = 60  # s: the hostile directory below takes about 11 s of CPU


def kumahc(*args: str, cwd: Path, user: int | None = None) -> subprocess.CompletedProcess:
    """A real process, so that a read that blocks fails the test by its timeout instead of hanging it."""
    return subprocess.run([sys.executable, "-c", "from kumahc.cli import main; main()", *args], cwd=cwd,
                          capture_output=True, text=True, timeout=TIMEOUT, user=user)


def test_fifo_is_named_and_never_opened(ws: Workspace) -> None:
    ws.write("d/a.yaml", MHC.format(name="p"))
    os.mkfifo(ws.root / "d" / "pipe.yaml")
    r = kumahc("validate", "d", cwd=ws.root)  # opening a FIFO for reading would block until a writer comes
    assert (r.returncode, r.stderr) == (1, "d/pipe.yaml: cannot read: not a regular file (a FIFO)\nfound 1 error\n")
    r = kumahc("validate", "d/pipe.yaml", cwd=ws.root)
    assert r.stderr.splitlines() == ["d/pipe.yaml: cannot read: not a regular file (a FIFO)", "found 1 error"]


def test_device_behind_a_symlink_is_named(ws: Workspace) -> None:
    os.symlink("/dev/zero", ws.root / "zero.yaml")
    os.mkdir(ws.root / "d")
    os.symlink("/dev/urandom", ws.root / "d" / "random.yaml")
    assert ws.fails("validate", "zero.yaml", "d") == [
        "zero.yaml: cannot read: not a regular file (a character device)",
        "d/random.yaml: cannot read: not a regular file (a character device)"]


def test_socket_is_named(ws: Workspace) -> None:
    import socket

    with socket.socket(socket.AF_UNIX) as sock:
        sock.bind(str(ws.root / "s.yaml"))
        assert ws.fails("validate", "s.yaml") == ["s.yaml: cannot read: not a regular file (a socket)"]


def test_oversized_file_is_refused_before_it_is_read(ws: Workspace) -> None:
    ws.write("a.yaml", MHC.format(name="p"))
    big = ws.write_bytes("big.yaml", b"# padding\n" * 200)  # 2,000 bytes
    assert ws.fails("validate", "a.yaml", "big.yaml", "--max-file-size", "1KiB") == [
        "big.yaml: cannot read: larger than 1 KiB (raise the limit with --max-file-size)"]
    assert ws.ok("validate", "a.yaml", "big.yaml", "--max-file-size", "2000").out == "ok: 1 resources in 2 files\n"
    with open(big, "r+b") as fh:  # sparse: 65 MiB on disk costs nothing, reading it would
        fh.truncate(65 * 1024 * 1024)
    assert ws.fails("validate", "big.yaml") == [
        "big.yaml: cannot read: larger than 64 MiB (raise the limit with --max-file-size)"]


def test_max_file_size_usage_error(ws: Workspace) -> None:
    ws.write("a.yaml", MHC.format(name="p"))
    r = run("validate", "a.yaml", "--max-file-size", "lots")
    assert r.code == 2 and '"lots" is not a size (bytes, or a number with KiB, MiB or GiB)' in r.err


def test_millions_of_tiny_documents_stop_at_the_document_limit(ws: Workspace) -> None:
    ws.write("a.yaml", MHC.format(name="p"))
    ws.write_bytes("many.yaml", b"---\nx: 1\n" * 3000)
    ws.write("z.yaml", MHC.format(name="q"))  # after the limit: not read
    lines = ws.fails("validate", "a.yaml", "many.yaml", "z.yaml", "--max-documents", "1000")
    errors = [line for line in lines if not line.startswith("warning: ")]
    # document 1000 of the run is the 999th of many.yaml, on line 2 * 999 - 1; the next one starts after it
    assert errors == ["many.yaml:1999: more than 1,000 documents in the inputs (raise the limit with "
                      "--max-documents)"]
    # 999 skipped documents, printed 10 times and summed up once (see the flood test)
    assert lines[-2] == "warning: many.yaml:22: … and 989 more like this"


def test_document_limit_counts_empty_documents_and_list_items(ws: Workspace) -> None:
    ws.write_bytes("empty.yaml", b"---\n" * 5000)
    assert ws.fails("validate", "empty.yaml", "--max-documents", "100") == [
        "empty.yaml:101: more than 100 documents in the inputs (raise the limit with --max-documents)"]
    ws.write("list.yaml", "- {type: Foo}\n" * 200)
    lines = ws.fails("validate", "list.yaml", "--max-documents", "100")
    assert lines[-1] == "list.yaml:101: more than 100 documents in the inputs (raise the limit with --max-documents)"


def test_default_document_limit_bounds_a_file_of_tiny_documents(ws: Workspace) -> None:
    ws.write_bytes("many.yaml", b"---\n" * 200_001)
    assert ws.fails("validate", "many.yaml") == [
        "many.yaml:200001: more than 200,000 documents in the inputs (raise the limit with --max-documents)"]


def test_symlink_loops_are_named(ws: Workspace) -> None:
    ws.write("d/a.yaml", MHC.format(name="p"))
    os.symlink("loop.yaml", ws.root / "d" / "loop.yaml")
    os.symlink("b", ws.root / "d" / "a")  # a loop of two links without an extension
    os.symlink("a", ws.root / "d" / "b")
    os.symlink("..", ws.root / "d" / "up")  # a link to a directory is not followed: no loop, no message
    assert ws.fails("validate", "d") == [
        "d/a: cannot read: Too many levels of symbolic links",
        "d/b: cannot read: Too many levels of symbolic links",
        "d/loop.yaml: cannot read: Too many levels of symbolic links"]
    assert ws.fails("validate", "d/loop.yaml") == ["d/loop.yaml: cannot read: Too many levels of symbolic links"]


def _as_nobody(*args: str) -> tuple[int, str]:
    """``kumahc ARGS`` (in-process) in a forked child that runs as user "nobody": root reads any directory."""
    import json

    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        try:
            os.close(read_end)
            os.setgroups([])
            os.setgid(65534)
            os.setuid(65534)
            r = run(*args)
            os.write(write_end, json.dumps([r.code, r.err]).encode())
        finally:
            os._exit(0)
    os.close(write_end)
    with os.fdopen(read_end, "rb") as fh:
        data = fh.read()
    os.waitpid(pid, 0)
    code, err = json.loads(data)
    return code, err


@pytest.mark.skipif(os.geteuid() != 0, reason="switches to user nobody, which needs root")
def test_unreadable_subdirectory_is_named_not_the_root(monkeypatch: pytest.MonkeyPatch) -> None:
    import shutil
    import tempfile

    root = Path(tempfile.mkdtemp(prefix="kumahc-unreadable-"))  # /tmp: every user may enter it
    try:
        root.chmod(0o755)
        monkeypatch.chdir(root)
        ws = Workspace(root)
        ws.write("mesh/ok/a.yaml", MHC.format(name="p"))
        ws.write("mesh/secret/b.yaml", MHC.format(name="q"))
        (root / "mesh" / "secret").chmod(0o700)
        assert _as_nobody("validate", "mesh") == (1, "mesh/secret: cannot read: Permission denied\nfound 1 error\n")
    finally:
        shutil.rmtree(root)


def test_flood_of_one_warning_is_capped_per_file(ws: Workspace) -> None:
    ws.write("a.yaml", MHC.format(name="p"))
    ws.write("skip.yaml", "".join(f"---\nkind: Foo{i}\n" for i in range(10_000)))
    ws.write("other.yaml", "".join(f"---\nkind: Bar{i}\n" for i in range(3)))
    r = ws.ok("validate", "a.yaml", "skip.yaml", "other.yaml")
    lines = r.lines
    skip = [line for line in lines if line.startswith("warning: skip.yaml")]
    assert skip == [f'warning: skip.yaml:{2 * i + 2}: document {i + 1}: kind: skipped kind "Foo{i}" ({SKIPPED})'
                    for i in range(10)] + ["warning: skip.yaml:22: … and 9,990 more like this"]
    assert [line for line in lines if line.startswith("warning: other.yaml")] == [
        f'warning: other.yaml:{2 * i + 2}: document {i + 1}: kind: skipped kind "Bar{i}" ({SKIPPED})'
        for i in range(3)]
    assert len(r.err) < 5_000


def test_huge_name_is_cut_in_messages(ws: Workspace) -> None:
    ws.write("a.yaml", MHC.format(name="x" * 10_000_000).replace("10s", "0s"))
    assert ws.fails("validate", "a.yaml") == [
        f"a.yaml:7: MeshHealthCheck {'x' * 120}…: spec.to[0].default.interval: must be greater than zero when defined"]


def test_huge_quoted_value_is_cut_with_its_length(ws: Workspace) -> None:
    ws.write("a.yaml", f"kind: {'k' * 5000}\n")
    r = ws.ok("validate", "a.yaml")
    assert r.lines == [f'warning: a.yaml:1: document 1: kind: skipped kind "{"k" * 120}…" (5,000 characters) '
                       f"({SKIPPED})"]


def _reader(path: Path, sink: list[bytes]) -> threading.Thread:
    def read() -> None:
        with open(path, "rb") as fh:
            sink.append(fh.read())

    t = threading.Thread(target=read, daemon=True)
    t.start()
    return t


def test_output_onto_a_fifo_is_written_in_place(ws: Workspace) -> None:
    ws.write("a.yaml", MHC.format(name="p"))
    fifo = ws.root / "out.json"
    os.mkfifo(fifo)
    got: list[bytes] = []
    reader = _reader(fifo, got)
    r = kumahc("render", "a.yaml", "--output-file", "out.json", cwd=ws.root)
    reader.join(TIMEOUT)
    assert r.returncode == 0, r.stderr
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)  # still a FIFO, not replaced by a regular file
    assert got == [run("render", "a.yaml").out.encode()]
    assert [p.name for p in ws.root.iterdir() if p.name.startswith(".kumahc-")] == []


def test_output_onto_a_character_device_keeps_the_device(ws: Workspace) -> None:
    ws.write("a.yaml", MHC.format(name="p"))
    before = os.stat("/dev/null")
    assert ws.run("render", "a.yaml", "--output-file", "/dev/null").code == 0
    after = os.stat("/dev/null")
    assert stat.S_ISCHR(after.st_mode) and (after.st_ino, after.st_rdev) == (before.st_ino, before.st_rdev)


def test_output_keeps_the_mode_of_a_regular_file_and_new_files_follow_the_umask(ws: Workspace) -> None:
    ws.write("a.yaml", MHC.format(name="p"))
    out = ws.write("out.json", "old")
    out.chmod(0o640)
    assert ws.run("render", "a.yaml", "--output-file", "out.json").code == 0
    assert stat.S_IMODE(os.stat(out).st_mode) == 0o640 and out.read_text() == run("render", "a.yaml").out
    old = os.umask(0o027)
    try:
        assert ws.run("render", "a.yaml", "--output-file", "new.json").code == 0
    finally:
        os.umask(old)
    assert stat.S_IMODE(os.stat(ws.root / "new.json").st_mode) == 0o640


def test_output_through_a_symlink_replaces_the_file_it_points_to(ws: Workspace) -> None:
    ws.write("a.yaml", MHC.format(name="p"))
    target = ws.write("real.json", "old")
    target.chmod(0o604)
    os.symlink("real.json", ws.root / "link.json")
    assert ws.run("render", "a.yaml", "--output-file", "link.json").code == 0
    assert os.path.islink(ws.root / "link.json")
    assert target.read_text() == run("render", "a.yaml").out and stat.S_IMODE(os.stat(target).st_mode) == 0o604


def test_dataplane_with_ten_thousand_outbound_warnings_prints_ten(ws: Workspace) -> None:
    outbounds = "".join(f"  - {{port: {10000 + i}, backendRef: {{kind: MeshService, name: svc-{i}}}}}\n"
                        for i in range(10_000))
    ws.write("dp.yaml", "type: Dataplane\nname: web-01\nnetworking:\n  address: 10.0.0.1\n"
                        "  inbound: [{port: 1, tags: {kuma.io/service: web}}]\n  outbound:\n" + outbounds)
    r = ws.ok("validate", "dp.yaml")
    assert r.lines == [f'warning: dp.yaml:{7 + i}: Dataplane web-01: networking.outbound[{i}]: references unknown '
                       f'MeshService "svc-{i}"; skipped' for i in range(10)] + [
        "warning: dp.yaml:17: … and 9,990 more like this"]


def test_hostile_directory_is_read_in_bounded_memory_and_cpu_time(ws: Workspace) -> None:
    # A FIFO, an endless device, a 65 MiB sparse file and 200,001 tiny documents side by side: every one named,
    # the whole run in far less memory and CPU time than reading any of them would take.
    import resource
    import time

    ws.write("d/a.yaml", MHC.format(name="p"))
    os.mkfifo(ws.root / "d" / "fifo.yaml")
    os.symlink("/dev/zero", ws.root / "d" / "zero.yaml")
    with open(ws.root / "d" / "huge.yaml", "wb") as fh:
        fh.truncate(65 * 1024 * 1024)
    ws.write_bytes("d/many.yaml", b"---\nkind: Foo\n" * 200_001)

    def cpu_limit() -> None:  # an endless read spins: the kernel stops it (SIGXCPU), however loaded the machine is
        resource.setrlimit(resource.RLIMIT_CPU, (CPU_SECONDS, CPU_SECONDS + 5))

    err_path = ws.root / "err.txt"
    with open(err_path, "w") as err_file:
        proc = subprocess.Popen([sys.executable, "-c", "from kumahc.cli import main; main()", "validate", "d"],
                                cwd=ws.root, stdout=subprocess.DEVNULL, stderr=err_file, preexec_fn=cpu_limit)
    deadline = time.monotonic() + TIMEOUT
    while True:  # wait4: the peak RSS and CPU time of this child alone
        pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
        if pid:
            break
        if time.monotonic() > deadline:
            proc.kill()
            proc.wait()
            raise AssertionError(f"validate blocked for {TIMEOUT} s")
        time.sleep(0.05)
    proc.returncode = os.waitstatus_to_exitcode(status)
    err = err_path.read_text()
    lines = err.splitlines()
    assert proc.returncode == 1, (proc.returncode, err[-2000:])
    assert [line for line in lines if not line.startswith("warning: ")] == [
        "d/many.yaml:399999: more than 200,000 documents in the inputs (raise the limit with --max-documents)",
        "d/fifo.yaml: cannot read: not a regular file (a FIFO)",
        "d/huge.yaml: cannot read: larger than 64 MiB (raise the limit with --max-file-size)",
        "found 3 errors"]  # zero.yaml comes after the document limit: not read
    assert len(lines) == 4 + 11  # 10 skipped-kind warnings and their summary line
    assert usage.ru_maxrss < 600 * 1024  # kB: far below 65 MiB + an endless device + 200,001 documents' worth
    assert usage.ru_utime + usage.ru_stime < CPU_SECONDS, (usage.ru_utime, usage.ru_stime)
