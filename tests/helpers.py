"""Test helpers: write inputs into a temporary directory and run the CLI in-process (click's CliRunner)."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import socket
import textwrap
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from kumahc.cli import main

REPO = Path(__file__).resolve().parent.parent
DATA = Path(__file__).resolve().parent / "data"
# A MeshHealthCheck document (Universal) with a name to fill in: the smallest valid policy, for tests that need many.
MESH_WIDE_MHC = """\
type: MeshHealthCheck
name: {name}
spec:
  targetRef: {{kind: Mesh}}
  to:
  - targetRef: {{kind: Mesh}}
    default: {{interval: 10s, tcp: {{}}}}
"""
SKIPPED = ("kumahc reads CircuitBreaker, Dataplane, HealthCheck, KongUpstreamPolicy, Mesh, MeshCircuitBreaker, "
           "MeshGateway, MeshHTTPRoute, MeshHealthCheck, MeshService, MeshTCPRoute, Service")


@dataclass(frozen=True)
class Run:
    """Exit code, stdout and stderr of one CLI run."""

    code: int
    out: str
    err: str

    @property
    def lines(self) -> list[str]:
        return self.err.splitlines()

    @property
    def json(self) -> Any:
        return json.loads(self.out)


@contextlib.contextmanager
def refusing_port(port: int = 0) -> Iterator[int]:
    """A 127.0.0.1 TCP port that refuses connections while the block runs: bound but never listening, so no other
    process can take it meanwhile (a port bound, closed and then reused can be given to anyone in between).
    ``port`` 0: any free port; else that port (SO_REUSEADDR: a server that just closed it may leave TIME_WAIT
    connections on it). Raises OSError when the port is taken."""
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", port))
        yield sock.getsockname()[1]


def run(*args: str) -> Run:
    """Run ``kumahc ARGS`` in-process. A Python exception escaping the CLI fails the test; so does a traceback or
    an ``error: internal`` line (07 §1: never a traceback)."""
    result = CliRunner().invoke(main, list(args), catch_exceptions=True)
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    assert "Traceback" not in result.stderr
    assert "error: internal" not in result.stderr
    return Run(result.exit_code, result.stdout, result.stderr)


def file_modes_apply(cmd: list[str]) -> list[str]:
    """``cmd`` made to run so that file modes apply to it, e.g. a mode-0 file owned by the caller is unreadable.
    Root reads any file (capabilities CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH), so as root (as in CI) ``cmd`` runs
    under util-linux ``setpriv`` with those two dropped from its bounding set: still uid 0, so it still reaches an
    interpreter in a directory only root may enter. Skips the test as root without ``setpriv``."""
    if os.geteuid() != 0:
        return cmd
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        pytest.skip("running as root without setpriv (util-linux): no way to drop the capability to read any file")
    return [setpriv, "--bounding-set", "-dac_override,-dac_read_search", "--", *cmd]


def summary(lines: list[str]) -> str:
    """The ``found N errors`` line for the error lines among ``lines`` (07 §1)."""
    n = sum(1 for line in lines if not line.startswith(("warning: ", "info: ")))
    return "found 1 error" if n == 1 else f"found {n} errors"


class Workspace:
    """A temporary directory that is also the working directory, so file names in messages are short."""

    def __init__(self, root: Path):
        self.root = root

    def write(self, name: str, text: str) -> Path:
        path = self.root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text), encoding="utf-8")
        return path

    def write_bytes(self, name: str, data: bytes) -> Path:
        path = self.root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        return path

    def run(self, *args: str) -> Run:
        return run(*args)

    def fails(self, *args: str) -> list[str]:
        """Run a command expected to fail on its inputs: exit 1, nothing on stdout, ``found N errors`` last.
        Returns the stderr lines before the summary."""
        r = run(*args)
        assert r.code == 1, r.err
        assert r.out == ""
        lines = r.lines
        assert lines[-1] == summary(lines[:-1]), lines
        return lines[:-1]

    def ok(self, *args: str) -> Run:
        r = run(*args)
        assert r.code == 0, r.err
        return r


def dataplane(name: str, address: str, service: str, port: int = 20000, protocol: str | None = None,
              labels: dict[str, str] | None = None, outbound: str | None = None, mesh: str | None = None) -> str:
    """A Universal Dataplane document (one inbound) in block style."""
    lines = ["type: Dataplane", f"name: {name}"]
    if mesh:
        lines.append(f"mesh: {mesh}")
    if labels:
        lines.append("labels: {" + ", ".join(f"{k}: {v}" for k, v in labels.items()) + "}")
    tags = {"kuma.io/service": service}
    if protocol:
        tags["kuma.io/protocol"] = protocol
    lines += ["networking:", f"  address: {address}", "  inbound:", f"  - port: {port}",
              "    tags: {" + ", ".join(f"{k}: {v}" for k, v in tags.items()) + "}"]
    if outbound is not None:
        lines.append(f"  outbound: {outbound}")
    return "\n".join(lines) + "\n"


def docs(*documents: str) -> str:
    return "---\n".join(textwrap.dedent(d) for d in documents)
