"""``kumahc serve`` watching its inputs (spec 06 §7): completed writes only, 50 ms debounce, 1 s maximum wait,
and hostile files in a served directory (FIFO, endless device) that must never block a reload or shutdown."""

from __future__ import annotations

import asyncio
import json
import os
import re
import time
from pathlib import Path

import pytest
from kumahc_serve import WEB_ONLY, atomic_write, backend_http_check, serve, web_and_backend, write_mesh

from kumahc.resources import watch
from kumahc.resources.watch import Watcher

MESH = web_and_backend(web_labels="{app: web}")
RELOADED = "INFO reloaded: 2 proxies, 3 clusters"
WAIT = 120  # s: generous waits for events; how fast they come is not what is tested
STOP_TIMEOUT = 60  # s: a generous wait for the exit after SIGTERM; how fast it comes is not what is tested


@pytest.fixture
def inputs(tmp_path: Path) -> Path:
    return write_mesh(tmp_path, MESH, backend_http_check("10s", WEB_ONLY))


def interval(s) -> str:
    doc = json.loads(s.get("/config_dump?proxy=web-01")[2])
    return doc["proxies"][0]["clusters"][0]["health_checks"][0]["interval"]


def test_watching_uses_inotify(inputs: Path) -> None:
    assert Watcher([str(inputs)]).mode == "inotify"
    with serve(str(inputs)) as s:
        assert "INFO watching the inputs (inotify)" in s.wait_log("watching the inputs")


def test_half_written_file_is_not_served_while_its_writer_keeps_it_open(inputs: Path) -> None:
    text = backend_http_check("3s", WEB_ONLY)
    with serve(str(inputs)) as s:
        s.wait_log("watching the inputs")
        mark = len(s.stderr())
        with open(inputs / "policy.yaml", "w") as fh:  # truncates: the file is now empty, then half-written
            fh.write(text[: len(text) // 2])
            fh.flush()
            time.sleep(1.5)  # longer than the debounce and the maximum wait
            assert "reload" not in s.stderr()[mark:]  # no reload (and no error) while it is open for writing
            assert interval(s) == "10s"
            fh.write(text[len(text) // 2:])
        # Closing it is the known event: the first reload logged since the first write must be the one it brings
        # (a reload of the half file, even one come late on a loaded machine, would be logged before it).
        s.wait_log(RELOADED, after=mark, timeout=WAIT)
        reloads = [line for line in s.stderr()[mark:].splitlines() if "reload" in line]
        assert len(reloads) == 1 and reloads[0].endswith(RELOADED), reloads
        assert "ERROR" not in s.stderr()[mark:]
        assert interval(s) == "3s"


def test_write_storm_reloads_while_it_goes_on_and_ends_on_the_last_write(inputs: Path) -> None:
    """A completed write every 20 ms (faster than the 50 ms debounce): the 1 s maximum wait lets reloads through
    while the storm goes on; it ends in at most one reload per write, none of a half file, the last write served."""
    with serve(str(inputs)) as s:
        s.wait_log("watching the inputs")
        mark = len(s.stderr())
        n = 0
        while RELOADED not in s.stderr()[mark:] and n < 1_000:  # a storm until a reload comes (bounded count)
            n += 1
            atomic_write(str(inputs / "policy.yaml"), backend_http_check(f"{n}s", WEB_ONLY))
            time.sleep(0.02)
        assert n < 1_000, s.stderr()[mark:]
        for _ in range(20):  # the storm goes on after that reload
            n += 1
            atomic_write(str(inputs / "policy.yaml"), backend_http_check(f"{n}s", WEB_ONLY))
            time.sleep(0.02)
        deadline = time.monotonic() + WAIT
        while interval(s) != f"{n}s" and time.monotonic() < deadline:
            time.sleep(0.05)
        assert interval(s) == f"{n}s"  # the last write is served
        log = s.stderr()[mark:]
        assert "ERROR" not in log and 2 <= log.count(RELOADED) <= n, log


def test_completed_write_reloads(inputs: Path) -> None:
    with serve(str(inputs)) as s:
        s.wait_log("watching the inputs")
        mark = len(s.stderr())
        atomic_write(str(inputs / "policy.yaml"), backend_http_check("7s", WEB_ONLY))
        s.wait_log(RELOADED, after=mark, timeout=WAIT)
        assert interval(s) == "7s"


def test_fifo_and_device_in_a_served_directory_never_block(inputs: Path) -> None:
    with serve(str(inputs)) as s:
        s.wait_log("watching the inputs")
        mark = len(s.stderr())
        os.mkfifo(inputs / "pipe.yaml")
        s.wait_log("ERROR reload failed; keeping the last good snapshot", after=mark)
        s.wait_log(f"{inputs}/pipe.yaml: cannot read: not a regular file (a FIFO)", after=mark)
        assert interval(s) == "10s"  # the last good state is still served
        mark = len(s.stderr())
        os.symlink("/dev/zero", inputs / "zero.yaml")
        s.wait_log(f"{inputs}/zero.yaml: cannot read: not a regular file (a character device)", after=mark)
        (inputs / "pipe.yaml").unlink()
        (inputs / "zero.yaml").unlink()
        mark = len(s.stderr())
        atomic_write(str(inputs / "policy.yaml"), backend_http_check("4s", WEB_ONLY))  # later valid edits apply
        s.wait_log(RELOADED, after=mark)
        assert interval(s) == "4s"
        assert s.stop(STOP_TIMEOUT) == 0  # SIGTERM: exit 0 (a kill after the timeout would give -9)
        s.wait_log("INFO shutting down")
        assert s.stderr().splitlines()[-1].endswith("INFO shutting down"), s.stderr()


def test_fifo_present_at_shutdown_does_not_delay_it(inputs: Path) -> None:
    with serve(str(inputs)) as s:
        s.wait_log("watching the inputs")
        mark = len(s.stderr())
        os.mkfifo(inputs / "pipe.yaml")
        s.wait_log("ERROR reload failed", after=mark)
        assert s.stop(STOP_TIMEOUT) == 0  # SIGTERM: exit 0 (a kill after the timeout would give -9)
        s.wait_log("INFO shutting down")
        assert s.stderr().splitlines()[-1].endswith("INFO shutting down"), s.stderr()


def test_new_subdirectory_and_symlink_loop_are_seen(inputs: Path) -> None:
    with serve(str(inputs)) as s:
        s.wait_log("watching the inputs")
        mark = len(s.stderr())
        (inputs / "sub").mkdir()
        atomic_write(str(inputs / "sub" / "extra.yaml"),
                     backend_http_check("9s", WEB_ONLY).replace("backend-http", "x"))
        s.wait_log("INFO reloaded", after=mark)
        mark = len(s.stderr())
        os.symlink("loop", inputs / "sub" / "loop")
        log = s.wait_log(f"{inputs}/sub/loop: cannot read: Too many levels of symbolic links", after=mark)
        assert re.search(r"ERROR reload failed; keeping the last good snapshot", log[mark:])


async def until(predicate, what: str, timeout: float = WAIT) -> None:
    """Wait (in the event loop the watcher runs in) until ``predicate()`` holds: a generous event wait."""
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"no {what} within {timeout} s"
        await asyncio.sleep(0.02)


def seen_interval(inputs: Path) -> str:
    """The interval policy.yaml holds now: what a reload made at this moment would serve."""
    return re.search(r"interval: (\w+)", (inputs / "policy.yaml").read_text()).group(1)


@pytest.mark.parametrize("inotify", [True, False])
def test_watcher_reloads_once_per_burst_in_both_modes(inputs: Path, monkeypatch: pytest.MonkeyPatch,
                                                       inotify: bool) -> None:
    """Each reload records what it would serve, so an extra reload shows up in the list whenever it came. The
    debounce is 1 s here: writes 10 ms apart stay one burst even on a slow, loaded machine."""
    if not inotify:
        monkeypatch.setattr(watch, "Inotify", None)  # as where inotify is unavailable

    async def main() -> list[str]:
        w = Watcher([str(inputs)], debounce=1.0, max_wait=30.0, poll=0.1)
        assert w.mode == ("inotify" if inotify else "polling")
        stop, force = asyncio.Event(), asyncio.Event()
        reloads: list[str] = []

        async def reload() -> None:
            reloads.append(seen_interval(inputs))

        task = asyncio.ensure_future(w.run(reload, stop, force))
        for i in range(3):  # one burst
            atomic_write(str(inputs / "policy.yaml"), backend_http_check(f"{i + 1}s", WEB_ONLY))
            await asyncio.sleep(0.01)
        await until(lambda: reloads, "reload after the burst")
        (inputs / "notes.txt").write_text("not an input")  # not a kumahc input: no reload
        (inputs / ".hidden.yaml").write_text("x")
        # Quiet for longer than the debounce, then a known change: the next reload must be the one it brings (one
        # the files above brought would be recorded first, as "3s").
        await asyncio.sleep(1.5)
        atomic_write(str(inputs / "policy.yaml"), backend_http_check("9s", WEB_ONLY))
        await until(lambda: len(reloads) >= 2, "reload after the 9 s edit")
        force.set()  # SIGHUP: at once, nothing changed
        await until(lambda: len(reloads) >= 3, "forced reload")
        stop.set()
        await asyncio.wait_for(task, WAIT)
        return reloads

    # The start-up (nothing changed) brings none, the burst one, the non-inputs none, the edit one, SIGHUP one.
    assert asyncio.run(main()) == ["3s", "9s", "9s"]


@pytest.mark.parametrize("inotify", [True, False])
def test_watcher_reloads_during_a_write_storm_after_the_maximum_wait(inputs: Path, monkeypatch: pytest.MonkeyPatch,
                                                                     inotify: bool) -> None:
    """Writes 20 ms apart with a 5 s debounce never leave the quiet the debounce waits for: only the maximum wait
    (0.3 s here) lets a reload through while the storm goes on (bounded: 1,000 writes, at least 20 s)."""
    if not inotify:
        monkeypatch.setattr(watch, "Inotify", None)

    async def main() -> tuple[int, list[str], int]:
        w = Watcher([str(inputs)], debounce=5.0, max_wait=0.3, poll=0.1)
        stop, force = asyncio.Event(), asyncio.Event()
        reloads: list[str] = []

        async def reload() -> None:
            reloads.append(seen_interval(inputs))

        task = asyncio.ensure_future(w.run(reload, stop, force))
        n = 0
        while not reloads and n < 1_000:
            n += 1
            atomic_write(str(inputs / "policy.yaml"), backend_http_check(f"{n}s", WEB_ONLY))
            await asyncio.sleep(0.02)
        during = list(reloads)
        stop.set()
        await asyncio.wait_for(task, WAIT)
        return n, during, len(reloads)

    n, during, total = asyncio.run(main())
    assert n < 1_000 and len(during) == 1, (n, during)  # a reload came while the storm went on
    assert during[0].endswith("s") and int(during[0][:-1]) <= n and total == 1


def test_reload_brought_by_another_file_keeps_the_last_complete_version_of_a_file_being_written(
        inputs: Path) -> None:
    text = backend_http_check("3s", WEB_ONLY)
    other = backend_http_check("8s", WEB_ONLY).replace("backend-http", "other").replace("{app: web}", "{app: nobody}")
    with serve(str(inputs)) as s:
        s.wait_log("watching the inputs")
        with open(inputs / "policy.yaml", "w") as fh:  # held open, half-written
            fh.write(text[: len(text) // 2])
            fh.flush()
            time.sleep(0.3)
            mark = len(s.stderr())
            atomic_write(str(inputs / "other.yaml"), other)  # a completed write elsewhere brings a reload
            s.wait_log(RELOADED, after=mark)
            assert "ERROR" not in s.stderr()[mark:]  # the half-written file was not read
            assert interval(s) == "10s"  # its last complete version is served
            third = other.replace("name: other", "name: third")
            with open(inputs / "new.yaml", "w") as new:  # a new file being written is not an input yet
                new.write(third[:30])
                new.flush()
                mark = len(s.stderr())
                atomic_write(str(inputs / "other.yaml"), other.replace("8s", "9s"))
                s.wait_log(RELOADED, after=mark)
                assert "ERROR" not in s.stderr()[mark:]
                new.write(third[30:])
            mark = len(s.stderr())
            fh.write(text[len(text) // 2:])
        s.wait_log(RELOADED, after=mark)
        deadline = time.monotonic() + 10
        while interval(s) != "3s" and time.monotonic() < deadline:
            time.sleep(0.05)
        assert interval(s) == "3s"


def test_watcher_falls_back_to_polling_when_inotify_fails(inputs: Path) -> None:
    async def main() -> None:
        w = Watcher([str(inputs)], poll=0.1)
        assert w.mode == "inotify"
        stop, force = asyncio.Event(), asyncio.Event()
        reloads: list[float] = []

        async def reload() -> None:
            reloads.append(time.monotonic())

        def broken() -> None:
            raise OSError(28, "No space left on device")  # as inotify_add_watch past max_user_watches

        w._rewatch = broken  # the next new directory makes the inotify side fail
        task = asyncio.ensure_future(w.run(reload, stop, force))
        await asyncio.sleep(0.2)
        (inputs / "sub").mkdir()
        await until(lambda: w.mode == "polling" and reloads, "fallback to polling")
        assert w.mode == "polling" and len(reloads) == 1  # one reload for what may have been missed
        atomic_write(str(inputs / "policy.yaml"), backend_http_check("2s", WEB_ONLY))
        await until(lambda: len(reloads) >= 2, "reload seen by polling")
        assert len(reloads) == 2  # polling sees later changes
        stop.set()
        await asyncio.wait_for(task, WAIT)

    asyncio.run(main())


@pytest.mark.parametrize("inotify", [True, False])
def test_kubernetes_configmap_update_reloads(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, inotify: bool) -> None:
    """A ConfigMap volume: policy.yaml -> ..data/policy.yaml, ..data -> ..<timestamp>; an update makes a new
    timestamped directory and renames a new ..data link over the old one, nothing else."""
    if not inotify:
        monkeypatch.setattr(watch, "Inotify", None)
    volume = tmp_path / "policies"
    volume.mkdir()

    def publish(version: str, interval: str) -> None:
        (volume / version).mkdir()
        (volume / version / "mesh.yaml").write_text(MESH)
        (volume / version / "policy.yaml").write_text(backend_http_check(interval, WEB_ONLY))
        os.symlink(version, volume / "..data_tmp")
        os.rename(volume / "..data_tmp", volume / "..data")

    publish("..2026_12_01_10_00_00.1", "10s")
    for name in ("mesh.yaml", "policy.yaml"):
        os.symlink(f"..data/{name}", volume / name)

    async def main() -> list[str]:
        w = Watcher([str(volume)], poll=0.1)
        assert w.mode == ("inotify" if inotify else "polling")
        stop, force = asyncio.Event(), asyncio.Event()
        reloads: list[str] = []

        async def reload() -> None:  # what it would serve: a reload before the update would record "10s"
            reloads.append(seen_interval(volume))

        task = asyncio.ensure_future(w.run(reload, stop, force))
        await asyncio.sleep(0.3)  # time for a (wrong) start-up reload to come first and record "10s"
        publish("..2026_12_01_10_05_00.2", "7s")
        await until(lambda: reloads, "reload after the update")
        stop.set()
        await asyncio.wait_for(task, WAIT)
        return reloads

    assert asyncio.run(main()) == ["7s"]
