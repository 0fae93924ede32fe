"""kumahc: Kuma health-check and circuit-breaker policies (MeshHealthCheck, HealthCheck, MeshCircuitBreaker,
CircuitBreaker) and Kong KongUpstreamPolicy → Envoy clusters, rendered or served over xDS."""

from importlib.metadata import PackageNotFoundError, version

try:  # the one place the version lives is pyproject.toml; installed metadata carries it here
    __version__ = version("kumahc")
except PackageNotFoundError:  # pragma: no cover - imported from a source tree that was never installed
    __version__ = "0+unknown"
