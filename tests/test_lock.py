"""The lock file and pyproject.toml agree: every declared dependency is locked at a version its range allows, and
every package the lock says was asked for by kumahc is still declared. The README's install commands use the lock."""

from __future__ import annotations

import re
import tomllib
from importlib.metadata import version

from helpers import REPO
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

import kumahc

LOCK = REPO / "requirements.lock"
_PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)(?:\[[^\]]*\])?==([^\s\\;]+)")


def _declared() -> dict[str, Requirement]:
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    requirements = list(project["dependencies"])
    for extra in project.get("optional-dependencies", {}).values():
        requirements.extend(extra)
    return {canonicalize_name(r.name): r for r in map(Requirement, requirements)}


def _locked(text: str) -> tuple[dict[str, str], set[str]]:
    """(name → pinned version, names whose ``# via`` block names kumahc's pyproject.toml)."""
    pins: dict[str, str] = {}
    direct: set[str] = set()
    current = None
    for line in text.splitlines():
        m = _PIN.match(line)
        if m:
            current = canonicalize_name(m.group(1))
            pins[current] = m.group(2)
        elif current and "kumahc (pyproject.toml)" in line:
            direct.add(current)
    return pins, direct


def check(declared: dict[str, Requirement], lock_text: str) -> list[str]:
    """Every disagreement between pyproject.toml's requirements and the lock file, one line each."""
    pins, direct = _locked(lock_text)
    problems = []
    for name, req in sorted(declared.items()):
        if name not in pins:
            problems.append(f"{name}: in pyproject.toml, not in requirements.lock")
        elif not req.specifier.contains(pins[name], prereleases=True):
            problems.append(f"{name}: locked {pins[name]} is outside pyproject.toml's {req.specifier}")
    for name in sorted(direct - declared.keys()):
        problems.append(f"{name}: locked as a kumahc dependency, not in pyproject.toml")
    return problems


def test_lock_matches_pyproject() -> None:
    assert check(_declared(), LOCK.read_text()) == []


def test_every_lock_entry_has_hashes() -> None:
    blocks = re.split(r"\n(?=[A-Za-z0-9])", LOCK.read_text())
    pinned = [b for b in blocks if _PIN.match(b)]
    assert pinned and all("--hash=sha256:" in b for b in pinned)


def test_check_finds_each_kind_of_disagreement() -> None:
    declared = {canonicalize_name(r.name): r for r in map(Requirement, ["PyYAML>=6.0", "click>=9", "new-thing"])}
    lock = ("click==8.5.1 \\\n    --hash=sha256:00\n    # via kumahc (pyproject.toml)\n"
            "pyyaml==6.0.4 \\\n    --hash=sha256:00\n    # via kumahc (pyproject.toml)\n"
            "gone==1.0 \\\n    --hash=sha256:00\n    # via\n    #   kumahc (pyproject.toml)\n    #   other\n"
            "transitive==2.0 \\\n    --hash=sha256:00\n    # via click\n")
    assert check(declared, lock) == [
        "click: locked 8.5.1 is outside pyproject.toml's >=9",
        "new-thing: in pyproject.toml, not in requirements.lock",
        "gone: locked as a kumahc dependency, not in pyproject.toml",
    ]


def test_readme_installs_from_the_lock_file() -> None:
    readme = (REPO / "README.md").read_text()
    assert readme.startswith("# kumahc\n\n```console\n")  # the README starts with the two commands
    install, tests = readme.split("```console\n", 1)[1].splitlines()[:2]
    assert "pip install -q -r requirements.lock" in install
    assert "--no-deps -e ." in install
    ci = (REPO / ".ci" / "run").read_text().splitlines()
    assert install in ci and tests in ci  # CI runs exactly the README's commands


def test_version_comes_from_package_metadata() -> None:
    declared = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["version"]
    assert kumahc.__version__ == version("kumahc") == declared
