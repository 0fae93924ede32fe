"""kumahc: Kuma health-check and circuit-breaker policies (MeshHealthCheck, HealthCheck, MeshCircuitBreaker,
CircuitBreaker) and Kong KongUpstreamPolicy → Envoy clusters, rendered or served over xDS."""



def __getattr__(name: str) -> str:
    # The version is looked up when first read: importlib.metadata is a tenth of a command line's start-up.
    if name != "__version__":
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from importlib.metadata import PackageNotFoundError, version

    try:  # the one place the version lives is pyproject.toml; installed metadata carries it here
        found = version("kumahc")
    except PackageNotFoundError:  # pragma: no cover - imported from a source tree that was never installed
        found = "0+unknown"
    globals()["__version__"] = found
    return found
