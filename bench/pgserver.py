"""A throwaway PostgreSQL server for tests and benchmarks: initdb + pg_ctl in a temporary directory, listening on
a free 127.0.0.1 port, removed at :meth:`PgServer.close`.

Binaries: ``$KUMAHC_PG_BIN`` or the newest ``/usr/lib/postgresql/*/bin`` (Debian's ``postgresql-NN`` packages;
``.ci/run`` installs one when missing). initdb refuses to run as root, so as root the server runs as the
``postgres`` system user (created when missing) through ``runuser``.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time

USER = "postgres"


def bin_dir() -> str:
    found = os.environ.get("KUMAHC_PG_BIN")
    if found:
        return found
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"),
                        key=lambda p: int(p.split("/")[4]) if p.split("/")[4].isdigit() else 0)
    if not candidates:
        raise RuntimeError("PostgreSQL server binaries not found (/usr/lib/postgresql/*/bin/initdb): "
                           "apt-get install postgresql-15, or set KUMAHC_PG_BIN")
    return os.path.dirname(candidates[-1])


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _ensure_user() -> pwd.struct_passwd:
    try:
        return pwd.getpwnam(USER)
    except KeyError:
        subprocess.run(["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", USER],
                       check=True, capture_output=True)
        return pwd.getpwnam(USER)


class PgServer:
    """One server. ``url(dbname)`` is a libpq URL for user ``postgres`` (trust authentication, loopback only).
    :meth:`stop`/:meth:`start` stop and restart it on the same port and data (store-down tests)."""

    def __init__(self) -> None:
        self.bin = bin_dir()
        self.root = tempfile.mkdtemp(prefix="kumahc-pg-")
        self.data = os.path.join(self.root, "data")
        self.log = os.path.join(self.root, "server.log")
        self._as: list[str] = []
        if os.geteuid() == 0:
            user = _ensure_user()
            os.chown(self.root, user.pw_uid, user.pw_gid)
            self._as = ["runuser", "-u", USER, "--"]
        self._run("initdb", "-D", self.data, "-U", "postgres", "--auth=trust", "-E", "UTF8", "--locale=C",
                  "--no-sync", "--no-instructions")
        self.port = 0
        self.start()

    def _run(self, tool: str, *args: str, timeout: float = 60) -> None:
        proc = subprocess.run([*self._as, os.path.join(self.bin, tool), *args], capture_output=True, text=True,
                              timeout=timeout, cwd=self.root)
        if proc.returncode != 0:
            raise RuntimeError(f"{tool} failed ({proc.returncode}): {proc.stderr.strip() or proc.stdout.strip()}")

    def start(self) -> None:
        """Start (again); a new free port the first time, the same port afterwards."""
        for _ in range(5):
            port = self.port or _free_port()
            options = (f"-p {port} -c listen_addresses=127.0.0.1 -k {self.root} -c fsync=off "
                       "-c synchronous_commit=off -c full_page_writes=off -c max_connections=200")
            try:
                self._run("pg_ctl", "-D", self.data, "-o", options, "-l", self.log, "-w", "-t", "30", "start")
            except RuntimeError:
                if self.port:  # a restart must keep its port
                    raise
                continue
            self.port = port
            return
        raise RuntimeError(f"PostgreSQL did not start; see {self.log}")

    def stop(self) -> None:
        self._run("pg_ctl", "-D", self.data, "-m", "fast", "-w", "-t", "30", "stop")

    def url(self, dbname: str = "postgres") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{dbname}"

    def create_database(self, name: str) -> str:
        import psycopg

        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def close(self) -> None:
        try:
            self.stop()
        except (RuntimeError, subprocess.TimeoutExpired):
            subprocess.run([*self._as, os.path.join(self.bin, "pg_ctl"), "-D", self.data, "-m", "immediate",
                            "stop"], capture_output=True, timeout=30)
        finally:
            deadline = time.monotonic() + 10
            while os.path.exists(os.path.join(self.data, "postmaster.pid")) and time.monotonic() < deadline:
                time.sleep(0.05)
            shutil.rmtree(self.root, ignore_errors=True)
