"""Child processes of the benchmarks: ``kumahc serve``, the bare server, client workers. Every one is started on
127.0.0.1 port 0, read back through its ``xds listening on`` line, and stopped (SIGTERM, then SIGKILL) by the
caller's ``finally`` through :meth:`Child.stop`. Every wait is bounded."""

from __future__ import annotations

import json
import os
import queue
import resource
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
STOP_TIMEOUT = 10.0


def watcher_text() -> str:
    """How ``kumahc serve`` notices a file change (from ``kumahc.xds.app``), for the notes of the tables."""
    try:
        from kumahc.xds import app
    except ImportError:
        return "the file watcher"
    poll, debounce = getattr(app, "POLL_MS", None), getattr(app, "DEBOUNCE_MS", None)
    if poll is None or debounce is None:
        return "the file watcher"
    return f"the file watcher (polls every {poll / 1000:g} s, reloads after {debounce / 1000:g} s of quiet)"


def raise_fd_limit(wanted: int = 65536) -> int:
    """Raise the soft RLIMIT_NOFILE towards ``wanted`` (children inherit it); returns the new soft limit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
    if soft < target:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
        soft = target
    return soft


def rss_kb(pid: int) -> int:
    """``VmRSS`` of ``/proc/<pid>/status`` in kB."""
    with open(f"/proc/{pid}/status", encoding="ascii") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise KeyError("VmRSS")


def open_fds(pid: int) -> int:
    try:
        return len(os.listdir(f"/proc/{pid}/fd"))
    except OSError:
        return -1


class Child:
    """A child process whose stdout/stderr lines are collected (with the monotonic time they arrived) by reader
    threads, so that a full pipe never blocks it."""

    def __init__(self, cmd: Sequence[str], name: str, stdin: bool = False, env: dict[str, str] | None = None,
                 sink: queue.Queue[tuple[str, float, str | None]] | None = None):
        self.name = name
        self.sink = sink
        self.proc = subprocess.Popen(list(cmd), cwd=ROOT, stdin=subprocess.PIPE if stdin else subprocess.DEVNULL,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, bufsize=1,
                                     env=dict(os.environ, PYTHONUNBUFFERED="1", **(env or {})))
        self.stdout: queue.Queue[tuple[float, str] | None] = queue.Queue()
        self.stderr: list[tuple[float, str]] = []
        self._lock = threading.Lock()
        threading.Thread(target=self._pump_out, daemon=True).start()
        threading.Thread(target=self._pump_err, daemon=True).start()

    @property
    def pid(self) -> int:
        return self.proc.pid

    def _pump_out(self) -> None:
        assert self.proc.stdout is not None
        for line in iter(self.proc.stdout.readline, ""):
            if self.sink is not None:
                self.sink.put((self.name, time.monotonic(), line.rstrip("\n")))
            else:
                self.stdout.put((time.monotonic(), line.rstrip("\n")))
        if self.sink is not None:
            self.sink.put((self.name, time.monotonic(), None))
        self.stdout.put(None)

    def _pump_err(self) -> None:
        assert self.proc.stderr is not None
        for line in iter(self.proc.stderr.readline, ""):
            with self._lock:
                self.stderr.append((time.monotonic(), line.rstrip("\n")))

    def stderr_text(self, tail: int = 40) -> str:
        with self._lock:
            return "\n".join(line for _, line in self.stderr[-tail:])

    def stderr_after(self, since: float, text: str) -> float | None:
        """Arrival time of the first stderr line after ``since`` (monotonic) containing ``text``."""
        with self._lock:
            for t, line in self.stderr:
                if t >= since and text in line:
                    return t
        return None

    def next_line(self, deadline: float) -> str:
        """The next stdout line; raises on EOF or at ``deadline``."""
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError(f"{self.name}: no output in time\n{self.stderr_text()}")
        try:
            item = self.stdout.get(timeout=remaining)
        except queue.Empty:
            raise TimeoutError(f"{self.name}: no output in time\n{self.stderr_text()}") from None
        if item is None:
            raise RuntimeError(f"{self.name} exited ({self.proc.poll()})\n{self.stderr_text()}")
        return item[1]

    def close_stdin(self) -> None:
        if self.proc.stdin is not None and not self.proc.stdin.closed:
            try:
                self.proc.stdin.close()
            except OSError:
                pass

    def stop(self, timeout: float = STOP_TIMEOUT, grace: float = 0.0) -> None:
        """Close stdin and wait up to ``grace`` seconds for the process to end by itself; then SIGTERM, wait up to
        ``timeout``, SIGKILL. Safe to call twice."""
        self.close_stdin()
        if grace > 0:
            try:
                self.proc.wait(grace)
            except subprocess.TimeoutExpired:
                pass
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout)


class Server(Child):
    """``kumahc serve`` or the bare server: waits for ``xds listening on HOST:PORT`` (and the admin line)."""

    def __init__(self, cmd: Sequence[str], name: str, start_timeout: float):
        super().__init__(cmd, name)
        self.xds = ""
        self.admin = ""
        try:
            deadline = time.monotonic() + start_timeout
            while not self.xds or (name == "kumahc" and not self.admin):
                line = self.next_line(deadline)
                if line.startswith("xds listening on "):
                    self.xds = line.split()[-1]
                elif line.startswith("admin listening on "):
                    self.admin = line.split()[-1]
        except BaseException:
            self.stop()
            raise

    def wait_ready(self, timeout: float = 1200.0) -> None:
        """Wait until the admin ``/ready`` answers 200: ``kumahc serve`` binds before its first render."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited ({self.proc.returncode})\n{self.stderr_text()}")
            try:
                self.admin_get("/ready", timeout=5)
                return
            except OSError:  # 503 (HTTPError) or not answering yet
                time.sleep(0.1)
        raise TimeoutError(f"{self.name}: not ready within {timeout} s\n{self.stderr_text()}")

    def admin_get(self, path: str, timeout: float = 10.0) -> str:
        with urllib.request.urlopen(f"http://{self.admin}{path}", timeout=timeout) as resp:  # noqa: S310 - loopback
            return resp.read().decode()

    def metric(self, name: str) -> float | None:
        for line in self.admin_get("/metrics").splitlines():
            if line.startswith(name + " ") or line.startswith(name + "{"):
                return float(line.rsplit(" ", 1)[1])
        return None


def kumahc_serve(paths: Sequence[str], start_timeout: float = 1200.0) -> Server:
    """``kumahc serve`` on port 0, returned once ``/ready`` answers 200 (its first snapshot is served)."""
    cmd = [sys.executable, "-c", "from kumahc.cli import main; main()", "serve", *paths,
           "--xds-address", "127.0.0.1:0", "--admin-address", "127.0.0.1:0"]
    server = Server(cmd, "kumahc", start_timeout)
    try:
        server.wait_ready(start_timeout)
    except BaseException:
        server.stop()
        raise
    return server


def bare_server(data: str, start_timeout: float = 120.0) -> Server:
    return Server([sys.executable, "-m", "bench.bare_server", data], "bare", start_timeout)


def client_worker(target: str, nodes: Sequence[str], index: int,
                  sink: queue.Queue[tuple[str, float, str | None]]) -> Child:
    """A ``bench.xds_clients`` process with one xDS client per node, its stdout lines going to ``sink``; ends when
    its stdin closes."""
    child = Child([sys.executable, "-m", "bench.xds_clients"], f"clients-{index}", stdin=True, sink=sink)
    assert child.proc.stdin is not None
    child.proc.stdin.write(json.dumps({"target": target, "nodes": list(nodes)}) + "\n")
    child.proc.stdin.flush()
    return child


def parse_event(line: str) -> dict[str, Any] | None:
    try:
        return json.loads(line)
    except ValueError:
        return None
