"""Kong ``KongUpstreamPolicy`` health checks (spec 04): API types with Kong's defaults, Kong's validation,
the Envoy mapping (active → ``health_checks[0]``, passive → ``outlier_detection``, threshold → panic settings),
the approximation warnings K1–K19, and the policy family the pipeline asks."""
