"""The store's writer with two serving replicas and real Envoys (issue 25): an apply answered by the writer reaches
both Envoys, both replicas serve the parts the writer committed with the resources (they render nothing), and they
serve identical bytes — what a fresh render of the store gives."""

from __future__ import annotations

from pathlib import Path

from bootstraps import xds_bootstrap
from harness import Envoy, wait_until
from test_serve_store import (
    MESH,
    _document,
    apply,
    envoy_binary,
    expected_version,
    http_path,
    metric,
    policy,
    serve_store,
    wait_version,
)
from test_writer import Running

__all__ = ["envoy_binary"]  # the module-scoped fixture, shared with test_serve_store


def test_an_apply_through_the_writer_reaches_two_replicas_from_its_parts(store: str, tmp_path: Path,
                                                                          envoy_binary: str) -> None:
    apply(store, tmp_path, "mesh.yaml", MESH + "---\n" + policy("/health"))
    with Running(store) as running, serve_store(store) as a, serve_store(store) as b, \
            Envoy(xds_bootstrap("ads", "default.web-01", a.xds_port)) as on_a, \
            Envoy(xds_bootstrap("delta", "default.web-01", b.xds_port)) as on_b:
        v1 = expected_version(store)
        wait_version(on_a, v1)
        wait_version(on_b, v1)
        for n, path in enumerate(("/writer", "/again"), start=2):
            apply(store, tmp_path, f"p{n}.yaml", policy(path))
            assert running.writer.answered == n - 1
            v = expected_version(store)
            assert v != v1
            wait_version(on_a, v)
            wait_version(on_b, v)
            assert (http_path(on_a), http_path(on_b)) == (path, path)
            for s in (a, b):
                wait_until(lambda s=s: metric(s, "kumahc_store_rendered_parts") == "1.0", 20, 0.05,
                           "the replica serving the writer's parts")
            wait_until(lambda: _document(a) == _document(b), 20, 0.05, "replicas equal")
            v1 = v
        for s in (a, b):
            assert "rendering the stored resources here" not in s.stderr()
            assert on_a.stats("cluster_manager.cds")["cluster_manager.cds.update_rejected"] == 0
