"""The engine shared by every policy family (Kuma keeps it in ``pkg/plugins/policies/core``): target refs and
their checker (``targetref``, ``checks``), which proxies a top-level targetRef selects (``selection``), which
destinations a ``to[]`` entry matches and the priority order (``matching``), the RFC 7386 merge (``merge``), preview
synthesis (``preview``), the legacy selector/connection-policy selection HealthCheck and CircuitBreaker share
(``connection``), the legacy → targetRef migration helpers (``migration``), what ``inspect`` shows of entries and
merged confs (``explain``) and the load step and facade bases (``load``, ``selection.TargetRefFamily``,
``connection.ConnectionFamily``). Nothing here knows a family.
"""
