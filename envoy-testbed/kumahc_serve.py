"""Start ``kumahc serve`` as a real process on 127.0.0.1 port 0, read its two address lines, stop it after; and
write the small meshes the serve tests give it."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import grpc
from envoy.service.cluster.v3 import cds_pb2_grpc
from envoy.service.discovery.v3 import ads_pb2_grpc, discovery_pb2

from kumahc.xds.snapshot import CLUSTER_TYPE


@dataclass
class ServeProcess:
    proc: subprocess.Popen
    xds: str
    admin: str
    _stderr: list[str] = field(default_factory=list)

    @property
    def xds_port(self) -> int:
        return int(self.xds.rsplit(":", 1)[1])

    def stderr(self) -> str:
        return "".join(self._stderr)

    def get(self, path: str, headers: dict[str, str] | None = None) -> tuple[int, str, str]:
        """(status, content type, body) of an admin GET (``headers`` added, e.g. ``Host``, ``Authorization``)."""
        req = urllib.request.Request(f"http://{self.admin}{path}", headers=headers or {})
        try:
            with urllib.request.urlopen(req, timeout=30) as resp:
                return resp.status, resp.headers.get("Content-Type", ""), resp.read().decode()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.headers.get("Content-Type", ""), exc.read().decode()

    def wait_log(self, text: str, timeout: float = 60.0, after: int = 0) -> str:
        """Wait until stderr (from character ``after``) contains ``text``; return all of stderr."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if text in self.stderr()[after:]:
                return self.stderr()
            time.sleep(0.05)
        raise AssertionError(f"{text!r} not logged within {timeout}s; stderr:\n{self.stderr()}")

    def wait_ready(self, timeout: float = 120.0) -> None:
        """Wait until ``/ready`` answers 200 (the first snapshot is served)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"serve exited with {self.proc.returncode}; stderr:\n{self.stderr()}")
            if self.get("/ready")[0] == 200:
                return
            time.sleep(0.05)
        raise AssertionError(f"serve not ready within {timeout}s; stderr:\n{self.stderr()}")

    def stop(self, timeout: float = 60.0) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            return self.proc.wait(5)


def _pump(stream, sink: list[str]) -> None:
    for line in iter(stream.readline, ""):
        sink.append(line)


@contextlib.contextmanager
def serve(*paths: str, args: tuple[str, ...] = (), xds: str = "127.0.0.1:0", timeout: float = 120.0,
          ready: bool = True, admin: str = "127.0.0.1:0",
          preexec_fn: Callable[[], None] | None = None) -> Iterator[ServeProcess]:
    """``kumahc serve PATHS --xds-address XDS --admin-address ADMIN ARGS``; always stopped on exit. The listeners
    bind before the first render: with ``ready`` (default) this also waits for ``/ready`` = 200. The addresses
    the child reports are reached on loopback whatever it listens on (``0.0.0.0`` included); ``preexec_fn``
    runs in the child before kumahc (e.g. a lower open-files limit)."""
    cmd = [sys.executable, "-c", "from kumahc.cli import main; main()", "serve", *paths,
           "--xds-address", xds, "--admin-address", admin, *args]
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
                            preexec_fn=preexec_fn)
    sp = ServeProcess(proc, "", "")
    threading.Thread(target=_pump, args=(proc.stderr, sp._stderr), daemon=True).start()
    try:
        lines: list[str] = []
        reader = threading.Thread(target=lambda: lines.extend(proc.stdout.readline() for _ in range(2)), daemon=True)
        reader.start()
        reader.join(timeout)
        if len(lines) < 2 or not all(lines):
            raise AssertionError(f"serve did not start: stdout={lines!r} stderr={sp.stderr()}")
        assert lines[0].startswith("xds listening on "), lines
        assert lines[1].startswith("admin listening on "), lines
        sp.xds = _reachable(lines[0].split()[-1])
        sp.admin = _reachable(lines[1].split()[-1])
        if ready:
            sp.wait_ready(timeout)
        yield sp
    finally:
        sp.stop()


def _reachable(address: str) -> str:
    """A wildcard listening address as a loopback target: tests connect to loopback only."""
    host, _, port = address.rpartition(":")
    return f"127.0.0.1:{port}" if host in ("0.0.0.0", "[::]") else address


async def first_response(target: str, node: str, timeout: float = 120.0, ads: bool = False
                         ) -> discovery_pb2.DiscoveryResponse:
    """The first SotW Cluster response to ``node`` from the xDS server at ``target`` (CDS, or ADS with
    ``ads``); the stream is cancelled after it."""
    async with grpc.aio.insecure_channel(target) as channel:
        req = discovery_pb2.DiscoveryRequest(type_url=CLUSTER_TYPE)
        req.node.id = node
        if ads:
            call = ads_pb2_grpc.AggregatedDiscoveryServiceStub(channel).StreamAggregatedResources(iter([req]))
        else:
            call = cds_pb2_grpc.ClusterDiscoveryServiceStub(channel).StreamClusters(iter([req]))
        try:
            return await asyncio.wait_for(call.read(), timeout)
        finally:
            call.cancel()


def atomic_write(path: str, text: str) -> None:
    """Replace a watched file in one step (readers never see half a file)."""
    directory = os.path.dirname(path)
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=".tmp-")
    with os.fdopen(fd, "w") as fh:
        fh.write(text)
    os.replace(tmp, path)


# The small meshes the serve tests feed it, built from one Dataplane and one MeshHealthCheck shape so each test
# file states only how its mesh differs.

WEB_ONLY = "{kind: Dataplane, labels: {app: web}}"  # a targetRef to the proxies labelled app: web


def dataplane(name: str, address: str, port: int, service: str, outbound: tuple[str, ...] | None = None,
              labels: str | None = None) -> str:
    """One Dataplane YAML document: an HTTP inbound ``port`` of ``service``, one outbound per service named in
    ``outbound`` (``()`` writes ``outbound: []``, ``None`` leaves the key out), ``labels`` a YAML flow mapping."""
    lines = ["type: Dataplane", f"name: {name}"]
    if labels is not None:
        lines.append(f"labels: {labels}")
    lines += ["networking:", f"  address: {address}",
              f"  inbound: [{{port: {port}, tags: {{kuma.io/service: {service}, kuma.io/protocol: http}}}}]"]
    if outbound is not None:
        lines.append("  outbound: [" + ", ".join(f"{{tags: {{kuma.io/service: {o}}}}}" for o in outbound) + "]")
    return "\n".join(lines) + "\n"


def web_and_backend(web_labels: str | None = None, backend_outbound: tuple[str, ...] | None = None) -> str:
    """Two Dataplanes: web-01 (10.0.0.1, inbound 20000, outbound backend) and backend-01 (10.0.0.2, inbound
    20001)."""
    return (dataplane("web-01", "10.0.0.1", 20000, "web", ("backend",), labels=web_labels) + "---\n"
            + dataplane("backend-01", "10.0.0.2", 20001, "backend", backend_outbound))


def mesh_health_check(name: str, to: str, default: str, target: str = "{kind: Mesh}") -> str:
    """One MeshHealthCheck YAML document: ``target``, one ``to`` entry and its ``default`` (YAML flow mappings)."""
    return (f"type: MeshHealthCheck\nname: {name}\nspec:\n  targetRef: {target}\n  to:\n  - targetRef: {to}\n"
            f"    default: {default}\n")


def backend_http_check(interval: str, target: str = "{kind: Mesh}") -> str:
    """MeshHealthCheck ``backend-http``: HTTP ``/health`` every ``interval`` to the MeshService backend."""
    return mesh_health_check("backend-http", "{kind: MeshService, name: backend}",
                             f"{{interval: {interval}, http: {{path: /health}}}}", target)


def write_mesh(root: Path, mesh: str, policy: str | None = None) -> Path:
    """``root/mesh`` holding ``mesh.yaml`` (and ``policy.yaml`` when given); returns that directory."""
    d = root / "mesh"
    d.mkdir()
    (d / "mesh.yaml").write_text(mesh)
    if policy is not None:
        (d / "policy.yaml").write_text(policy)
    return d
