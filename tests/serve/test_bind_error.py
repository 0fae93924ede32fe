"""A listener of ``kumahc serve`` whose port is taken (issue 23 item 7): a real process on a port the test holds
(bound on 127.0.0.1 port 0 and listening) prints exactly one line on stderr, in the chosen log format, and none
of grpc core's own (``E1207 … add_port.cc:…] Failed to add port …``); nothing on stdout; exit 1."""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from certs import CA
from kumahc_serve import web_and_backend, write_mesh

CLEAN_ENV = {k: v for k, v in os.environ.items() if not k.startswith("KUMAHC_")}
STAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")


@pytest.fixture
def inputs(tmp_path: Path) -> Path:
    return write_mesh(tmp_path, web_and_backend())


@pytest.fixture
def held() -> Iterator[str]:
    """``127.0.0.1:PORT`` of a socket listening for the whole test."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield f"127.0.0.1:{sock.getsockname()[1]}"


def start(inputs: Path, listener: str, address: str, *args: str) -> subprocess.CompletedProcess[str]:
    """``kumahc serve`` with ``listener`` (xds|admin) on ``address`` and the other one on port 0; it must exit."""
    xds, admin = (address, "127.0.0.1:0") if listener == "xds" else ("127.0.0.1:0", address)
    return subprocess.run([sys.executable, "-m", "kumahc", "serve", str(inputs), "--xds-address", xds,
                           "--admin-address", admin, *args], capture_output=True, text=True, timeout=600,
                          env=CLEAN_ENV)


def tls_args(root: Path) -> tuple[str, ...]:
    ca = CA("mesh-ca")
    cert, key = ca.server().write(root / "server")
    return "--xds-tls-cert", str(cert), "--xds-tls-key", str(key), "--xds-client-ca", str(ca.write(root / "ca.crt"))


@pytest.mark.parametrize("listener, tls", [("xds", False), ("xds", True), ("admin", False)])
def test_port_in_use_is_one_text_line(inputs: Path, held: str, tmp_path: Path, listener: str, tls: bool) -> None:
    proc = start(inputs, listener, held, *(tls_args(tmp_path) if tls else ()))
    assert (proc.returncode, proc.stdout) == (1, "")
    assert proc.stderr == f"error: cannot listen on {held}: Address already in use\n"


@pytest.mark.parametrize("listener, tls", [("xds", False), ("xds", True), ("admin", False)])
def test_port_in_use_is_one_json_line(inputs: Path, held: str, tmp_path: Path, listener: str, tls: bool) -> None:
    proc = start(inputs, listener, held, "--log-format", "json", *(tls_args(tmp_path) if tls else ()))
    assert (proc.returncode, proc.stdout) == (1, "")
    assert proc.stderr.count("\n") == 1 and proc.stderr.endswith("\n"), proc.stderr
    line = json.loads(proc.stderr)
    assert STAMP.match(line.pop("time"))
    assert line == {"level": "ERROR", "msg": f"cannot listen on {held}: Address already in use",
                    "event": "listen_failed", "listener": listener, "address": held,
                    "reason": "Address already in use"}


def test_port_in_use_under_log_level_error(inputs: Path, held: str) -> None:
    """The line is an ERROR: ``--log-level error`` keeps it."""
    proc = start(inputs, "xds", held, "--log-format", "json", "--log-level", "error")
    assert (proc.returncode, proc.stdout) == (1, "")
    assert json.loads(proc.stderr)["msg"] == f"cannot listen on {held}: Address already in use"
