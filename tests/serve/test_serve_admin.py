"""``kumahc serve`` start-up and admin port, as a real process: listeners bind before the first render (``/ready``
503, early streams get the first snapshot), the ``Host`` check against DNS rebinding, the bearer token and its
rotation."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from envoy.service.discovery.v3 import discovery_pb2
from kumahc_serve import atomic_write, first_response, serve, web_and_backend, write_mesh

from bench.generator import generate, with_size
from kumahc.pipeline import run
from kumahc.render import document, to_json
from kumahc.xds.snapshot import content_version

MESH = web_and_backend(web_labels="{app: web}")


@pytest.fixture
def inputs(tmp_path: Path) -> Path:
    return write_mesh(tmp_path, MESH)


def kumahc(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", "from kumahc.cli import main; main()", *args],
                          capture_output=True, text=True, timeout=60)


def metric_lines(s) -> list[str]:
    return s.get("/metrics")[2].splitlines()


# The first render of a ``kumahc serve`` child is held at a gate: its first input read waits until the test opens
# a FIFO for writing. The race "the render is still running" is then arranged, whatever the machine's speed.
# Loaded by the child's interpreter at start (sitecustomize on its PYTHONPATH); kumahc itself is unchanged.
GATE_MODULE = """\
import os

from kumahc.resources import files

_read_bytes = files.read_bytes


def read_bytes(f, *args, **kwargs):
    gate = os.environ.pop("KUMAHC_TEST_RENDER_GATE", None)  # the first read only
    if gate:
        with open(gate, "rb"):  # blocks until the test opens the FIFO for writing
            pass
    return _read_bytes(f, *args, **kwargs)


files.read_bytes = read_bytes
"""
STOP_TIMEOUT = 60  # s: a generous wait for the exit after SIGTERM; how fast it comes is not what is tested


@pytest.fixture
def render_gate(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The FIFO the next ``serve`` child's first render waits on; open it for writing to let the render go."""
    site = tmp_path / "gate-site"
    site.mkdir()
    (site / "sitecustomize.py").write_text(GATE_MODULE)
    fifo = tmp_path / "render.gate"
    os.mkfifo(fifo)
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [str(site), os.environ.get("PYTHONPATH")])))
    monkeypatch.setenv("KUMAHC_TEST_RENDER_GATE", str(fifo))
    return fifo


def release(gate: Path) -> None:
    """Let the held render go: opening the FIFO for writing completes the child's open for reading."""
    opened = threading.Thread(target=lambda: os.close(os.open(gate, os.O_WRONLY)), daemon=True)
    opened.start()
    opened.join(120)
    assert not opened.is_alive(), "the render never reached its gate"


def test_listeners_bind_first_and_early_streams_get_the_first_snapshot(tmp_path: Path, render_gate: Path) -> None:
    """While the first render runs (held at its gate), /ready is 503, a stream opened then waits (no error) and
    gets the first snapshot as its first response."""
    mesh = tmp_path / "mesh"
    manifest = generate(mesh, with_size("medium", dataplanes=600, services=60), seed=3)
    node = manifest.proxies[0]

    async def early(s) -> tuple[list[str], discovery_pb2.DiscoveryResponse]:
        task = asyncio.ensure_future(first_response(s.xds, node))
        seen: list[str] = []
        deadline = time.monotonic() + 120  # until the stream is open on the server
        while time.monotonic() < deadline and 'kumahc_xds_streams{api="sotw"} 1.0' not in seen:
            assert not task.done(), task  # no response (nor error) while the render is held
            seen = await asyncio.to_thread(metric_lines, s)
            await asyncio.sleep(0.05)
        # One scrape shows the stream open while nothing is served yet: it was opened before the first snapshot.
        assert 'kumahc_xds_streams{api="sotw"} 1.0' in seen and "kumahc_ready 0.0" in seen
        assert not task.done(), task
        await asyncio.to_thread(release, render_gate)
        return seen, await task

    with serve(str(mesh), ready=False, timeout=120) as s:
        assert s.get("/ready") == (503, "text/plain; charset=utf-8", "not ready\n")
        assert s.get("/config_dump")[::2] == (503, "not ready\n")
        assert s.get("/status")[::2] == (503, "not ready\n")
        seen, resp = asyncio.run(early(s))
        s.wait_ready(120)
        mesh_name, _, proxy = node.partition(".")
        expected = document(run([str(mesh)]), f"{mesh_name}/{proxy}")["proxies"][0]["clusters"]
        assert (resp.version_info, resp.nonce) == (content_version(expected), "1")
        assert len(resp.resources) == len(expected)
        metrics = metric_lines(s)
        assert "kumahc_ready 1.0" in metrics and "kumahc_snapshot_stale 0.0" in metrics
        s.wait_log("INFO loaded: 600 proxies")


def test_sigterm_during_the_first_render_exits_without_waiting_for_it(tmp_path: Path, render_gate: Path) -> None:
    """SIGTERM while the first render runs (held at its gate, never released): kumahc stops at once (the render
    thread is not waited for), exit 0, "shutting down" its last line, nothing loaded."""
    mesh = write_mesh(tmp_path, MESH)
    with serve(str(mesh), ready=False, timeout=120) as s:
        assert s.get("/ready")[0] == 503
        s.proc.send_signal(signal.SIGTERM)
        assert s.proc.wait(STOP_TIMEOUT) == 0
        s.wait_log("INFO shutting down")
        assert s.stderr().splitlines()[-1].endswith("INFO shutting down"), s.stderr()
        assert "loaded:" not in s.stderr()


def test_admin_host_check_against_dns_rebinding(inputs: Path) -> None:
    with serve(str(inputs), args=("--admin-allowed-host", "kumahc.internal")) as s:
        port = s.admin.rsplit(":", 1)[1]
        for host in ("attacker.example", f"attacker.example:{port}", "127.0.0.2", "kumahc.internal.evil", ""):
            status, _, body = s.get("/config_dump", {"Host": host})
            assert status == 403, host
            assert body == (f'forbidden: Host "{host}" is not one of 127.0.0.1, kumahc.internal, localhost '
                            "(add names with --admin-allowed-host)\n")
        for path in ("/ready", "/metrics", "/status"):
            assert s.get(path, {"Host": "attacker.example"})[0] == 403
        for host in (f"127.0.0.1:{port}", "127.0.0.1", f"localhost:{port}", "LOCALHOST", "kumahc.internal",
                     f"kumahc.internal:{port}", "kumahc.internal."):
            assert s.get("/config_dump", {"Host": host})[::2] == (200, to_json(document(run([str(inputs)])))), host
        assert 'kumahc_admin_requests_denied_total{reason="host"} 8.0' in metric_lines(s)
        s.wait_log('WARNING admin request refused: Host "attacker.example" is not allowed path=/config_dump')


def test_admin_token(inputs: Path, tmp_path: Path) -> None:
    token = tmp_path / "admin.token"
    token.write_text("s3cret-token\n")
    with serve(str(inputs), args=("--admin-token-file", str(token))) as s:
        for path in ("/config_dump", "/config_dump?proxy=web-01", "/status"):
            for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": "Basic s3cret-token"},
                            {"Authorization": "Bearer s3cret-token-and-more"}):
                status, _, body = s.get(path, headers)
                assert (status, body) == (401, "unauthorized: send Authorization: Bearer <token>\n"), (path, headers)
            assert s.get(path, {"Authorization": "Bearer s3cret-token"})[0] == 200
        # Probes and Prometheus need no token.
        assert s.get("/ready")[0] == 200
        assert s.get("/metrics")[0] == 200
        # The Host check comes first: the right token from a rebinding page is still refused.
        assert s.get("/status", {"Authorization": "Bearer s3cret-token", "Host": "evil.example"})[0] == 403
        assert 'kumahc_admin_requests_denied_total{reason="token"} 12.0' in metric_lines(s)


def test_bad_token_file_is_one_line_at_start(inputs: Path, tmp_path: Path) -> None:
    empty = tmp_path / "empty.token"
    empty.write_text("\n")
    missing = tmp_path / "missing.token"
    for path, message in ((missing, f"error: --admin-token-file {missing}: cannot read: No such file or directory"),
                          (empty, f"error: --admin-token-file {empty}: must hold one token (no spaces), got an "
                                  "empty file")):
        proc = kumahc("serve", str(inputs), "--xds-address", "127.0.0.1:0", "--admin-address", "127.0.0.1:0",
                      "--admin-token-file", str(path))
        assert (proc.returncode, proc.stdout, proc.stderr) == (1, "", message + "\n")


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def token_status(s, token: str) -> int:
    return s.get("/status", bearer(token))[0]


def token_reloads(s) -> list[str]:
    return [line for line in metric_lines(s) if line.startswith("kumahc_admin_token_reloads_total{")]


def reloads(success: int, failure: int) -> list[str]:
    return [f'kumahc_admin_token_reloads_total{{result="success"}} {success}.0',
            f'kumahc_admin_token_reloads_total{{result="failure"}} {failure}.0']


def test_admin_token_rotated_by_rewriting_the_file(inputs: Path, tmp_path: Path) -> None:
    """The file rewritten in place, then renamed over: each new token applies from the next protected request,
    the one before stops working."""
    token = tmp_path / "admin.token"
    token.write_text("first-token\n")
    with serve(str(inputs), args=("--admin-token-file", str(token))) as s:
        assert token_status(s, "first-token") == 200
        assert token_reloads(s) == reloads(0, 0)
        token.write_text("second-token\n")  # in place: same inode
        assert token_status(s, "first-token") == 401
        assert token_status(s, "second-token") == 200
        reloaded = f"INFO admin token file reloaded: {token}\n"
        mark = len(s.wait_log(reloaded))
        atomic_write(str(token), "third-token")  # renamed over: a new inode
        assert (token_status(s, "second-token"), token_status(s, "third-token")) == (401, 200)
        assert s.get("/config_dump", bearer("third-token"))[0] == 200
        assert token_reloads(s) == reloads(2, 0)
        assert s.wait_log(reloaded, after=mark).count(reloaded) == 2
        assert 'kumahc_admin_requests_denied_total{reason="token"} 2.0' in metric_lines(s)


def secret_volume(root: Path, token: str) -> Path:
    """A Kubernetes Secret volume: ``token`` → ``..data/token``, ``..data`` → a timestamped directory."""
    root.mkdir()
    version = root / "..2026_12_01_10_00_00.000000001"
    version.mkdir()
    (version / "token").write_text(token)
    os.symlink(version.name, root / "..data")
    os.symlink("..data/token", root / "token")
    return root / "token"


def swap_secret(root: Path, token: str) -> None:
    """What the kubelet does on an update: a new directory, ``..data`` re-pointed by a rename, the old one gone."""
    old = os.readlink(root / "..data")
    version = root / "..2026_12_01_10_05_00.000000002"
    version.mkdir()
    (version / "token").write_text(token)
    os.symlink(version.name, root / "..data_tmp")
    os.replace(root / "..data_tmp", root / "..data")
    (root / old / "token").unlink()
    (root / old).rmdir()


def test_admin_token_rotated_by_a_secret_volume_swap(inputs: Path, tmp_path: Path) -> None:
    volume = tmp_path / "secret"
    path = secret_volume(volume, "old-token\n")
    with serve(str(inputs), args=("--admin-token-file", str(path))) as s:
        assert token_status(s, "old-token") == 200
        swap_secret(volume, "new-token\n")
        assert token_status(s, "old-token") == 401
        assert token_status(s, "new-token") == 200
        s.wait_log(f"INFO admin token file reloaded: {path}\n")
        assert token_reloads(s) == reloads(1, 0)


def test_unusable_admin_token_file_keeps_the_last_good_token(inputs: Path, tmp_path: Path) -> None:
    """Empty, whitespace inside, gone: the token in use stays, each bad state is logged once at ERROR and counted
    once however many requests see it; a good file afterwards is loaded."""
    token = tmp_path / "admin.token"
    token.write_text("good-token\n")
    kept = "; keeping the last good token"
    with serve(str(inputs), args=("--admin-token-file", str(token))) as s:
        token.write_text("\n")
        for _ in range(3):
            assert token_status(s, "good-token") == 200
        assert token_status(s, "") == 401
        empty = (f"ERROR admin token file not reloaded (--admin-token-file {token}: must hold one token (no "
                 f"spaces), got an empty file){kept}\n")
        assert s.wait_log(empty).count(empty) == 1
        assert token_reloads(s) == reloads(0, 1)
        atomic_write(str(token), "two tokens\n")
        assert [token_status(s, "good-token") for _ in range(2)] == [200, 200]
        assert token_status(s, "two") == 401
        spaces = (f"ERROR admin token file not reloaded (--admin-token-file {token}: must hold one token (no "
                  f"spaces), got whitespace inside){kept}\n")
        assert s.wait_log(spaces).count(spaces) == 1
        token.unlink()
        assert [token_status(s, "good-token") for _ in range(2)] == [200, 200]
        gone = (f"ERROR admin token file not reloaded (--admin-token-file {token}: cannot read: No such file or "
                f"directory){kept}\n")
        assert s.wait_log(gone).count(gone) == 1
        assert token_reloads(s) == reloads(0, 3)
        assert "INFO admin token file reloaded" not in s.stderr()
        token.write_text("next-token\n")
        assert (token_status(s, "good-token"), token_status(s, "next-token")) == (401, 200)
        assert token_reloads(s) == reloads(1, 3)
        assert s.wait_log(f"INFO admin token file reloaded: {token}\n").count("ERROR admin token file") == 3
