"""kumahc: Kuma MeshHealthCheck / HealthCheck and Kong KongUpstreamPolicy health checks → Envoy clusters."""

__version__ = "0.1.0"
