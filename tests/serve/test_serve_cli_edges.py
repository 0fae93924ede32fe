"""``kumahc serve`` as a real process at the edges of its command line: IPv6 loopback listeners, a bad
``HOST:PORT`` (usage error, exit 2), SIGINT handled as SIGTERM, and ``--log-level error``."""

from __future__ import annotations

import asyncio
import re
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from kumahc_serve import (
    WEB_ONLY,
    ServeProcess,
    atomic_write,
    backend_http_check,
    first_response,
    serve,
    web_and_backend,
    write_mesh,
)

from kumahc.pipeline import run
from kumahc.render import document
from kumahc.xds.snapshot import CLUSTER_TYPE, content_version

MESH = web_and_backend(web_labels="{app: web}")
STAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ ")


@pytest.fixture
def inputs(tmp_path: Path) -> Path:
    return write_mesh(tmp_path, MESH, backend_http_check("10s", WEB_ONLY))


def has_ipv6_loopback() -> bool:
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as s:
            s.bind(("::1", 0))
    except OSError:
        return False
    return True


def log_lines(s: ServeProcess) -> list[str]:
    """stderr without the timestamps."""
    return [STAMP.sub("", line) for line in s.stderr().splitlines()]


@pytest.mark.skipif(not has_ipv6_loopback(), reason="no IPv6 loopback on this machine")
def test_serve_on_ipv6_loopback(inputs: Path) -> None:
    version = content_version(document(run([str(inputs)]), "web-01")["proxies"][0]["clusters"])
    with serve(str(inputs), xds="[::1]:0", args=("--admin-address", "[::1]:0"), timeout=120) as s:
        assert re.fullmatch(r"\[::1\]:\d+", s.xds), s.xds
        assert re.fullmatch(r"\[::1\]:\d+", s.admin), s.admin
        assert s.get("/ready") == (200, "text/plain; charset=utf-8", "ready\n")
        assert "kumahc_ready 1.0" in s.get("/metrics")[2].splitlines()
        resp = asyncio.run(first_response(s.xds, "default.web-01"))
        assert resp.version_info == version
        assert [r.type_url for r in resp.resources] == [CLUSTER_TYPE]


@pytest.mark.parametrize("option, value", [
    ("--xds-address", "nope"),
    ("--xds-address", "127.0.0.1"),
    ("--admin-address", "[::1:0"),
    ("--admin-address", "127.0.0.1:65536"),
    ("--xds-address", ":8080"),
])
def test_bad_host_port_is_a_usage_error(inputs: Path, option: str, value: str) -> None:
    r = subprocess.run([sys.executable, "-m", "kumahc", "serve", str(inputs), option, value],
                       capture_output=True, text=True, timeout=600)
    assert (r.returncode, r.stdout) == (2, "")
    assert r.stderr == ("Usage: python -m kumahc serve [OPTIONS] [PATH...]\n"
                        "Try 'python -m kumahc serve --help' for help.\n\n"
                        f"Error: Invalid value for '{option}': \"{value}\" is not HOST:PORT\n")


def stopped_by(inputs: Path, signum: signal.Signals) -> tuple[int, list[str]]:
    """Exit code and log lines (timings masked) of a ready serve stopped by ``signum``."""
    with serve(str(inputs), timeout=120) as s:
        s.proc.send_signal(signum)
        code = s.proc.wait(120)
        s.wait_log("INFO shutting down", timeout=30)
    return code, [re.sub(r"in \d+\.\d\d s", "in T s", line) for line in log_lines(s)]


def test_sigint_stops_cleanly_like_sigterm(inputs: Path) -> None:
    expected = ["INFO loaded: 2 proxies, 3 clusters in T s; ready", "INFO watching the inputs (inotify)",
                "INFO shutting down"]
    term = stopped_by(inputs, signal.SIGTERM)
    interrupt = stopped_by(inputs, signal.SIGINT)
    assert term[0] == 0
    # The watcher's mode is the machine's (inotify or polling); both runs use the same one.
    assert [line.replace("(polling)", "(inotify)") for line in term[1]] == expected, term[1]
    assert interrupt == term


def test_log_level_error_keeps_only_errors(inputs: Path) -> None:
    with serve(str(inputs), args=("--log-level", "error"), timeout=120) as s:
        atomic_write(str(inputs / "policy.yaml"), backend_http_check("-1s", WEB_ONLY))
        s.wait_log("ERROR reload failed; keeping the last good snapshot", timeout=120)
        problem = (f"ERROR {inputs / 'policy.yaml'}:7: MeshHealthCheck backend-http: spec.to[0].default.interval: "
                   "must be greater than zero when defined")
        s.wait_log(problem, timeout=60)
        assert 'kumahc_reloads_total{result="failure"} 1.0' in s.get("/metrics")[2].splitlines()
        s.proc.send_signal(signal.SIGTERM)
        assert s.proc.wait(120) == 0
    # No INFO (loaded, watching, shutting down) and no WARNING: only the two ERROR lines.
    assert log_lines(s) == ["ERROR reload failed; keeping the last good snapshot", problem]
