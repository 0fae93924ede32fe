"""KongUpstreamPolicy resource types with Kong's defaults applied (spec 04 §2).

KIC leaves unset fields to Kong, so the defaults of Kong's upstream schema are filled in here, before any
mapping. An empty list counts as absent (KIC drops it) and a YAML ``null`` means absent (01 §4). Which fields
were written is kept in :attr:`KongUpstreamPolicy.explicit`, because several warnings (K1, K13, K18, K19) are about
fields the user set. Times are integer seconds, as in Kong.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from kumahc.resources.model import Resource

KIND = "KongUpstreamPolicy"
ANNOTATION = "konghq.com/upstream-policy"

TYPES = ("tcp", "http", "https", "grpc", "grpcs")
GRPC_TYPES = frozenset({"grpc", "grpcs"})
TLS_TYPES = frozenset({"https", "grpcs"})
HTTP_TYPES = frozenset({"http", "https"})

# 04 §2 defaults (Kong 3.x kong/db/schema/entities/upstreams.lua).
DEFAULT_TYPE = "http"
DEFAULT_CONCURRENCY = 10
DEFAULT_HTTP_PATH = "/"
DEFAULT_TIMEOUT = 1  # seconds
ACTIVE_HEALTHY_STATUSES = (200, 302)
ACTIVE_UNHEALTHY_STATUSES = (429, 404, 500, 501, 502, 503, 504, 505)
PASSIVE_HEALTHY_STATUSES = (200, 201, 202, 203, 204, 205, 206, 207, 208, 226,
                            300, 301, 302, 303, 304, 305, 306, 307, 308)
PASSIVE_UNHEALTHY_STATUSES = (429, 500, 503)

# Spec fields that configure load balancing, not health: accepted unchecked, warned about, never translated (04 §1).
LOAD_BALANCING_FIELDS = ("algorithm", "slots", "hashOn", "hashOnFallback", "stickySessions")

# Paths relative to ``spec.healthchecks``.
Path = tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Healthy:
    """``healthy``: ``interval`` (s, active only; 0 = off), ``successes`` (count), ``http_statuses`` (as written
    or the default list, in written order so warnings can name ``httpStatuses[k]``)."""

    interval: int
    successes: int
    http_statuses: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class Unhealthy:
    """``unhealthy``: ``interval`` (s, active only; 0 = off), the three failure counters, ``http_statuses``."""

    interval: int
    http_failures: int
    tcp_failures: int
    timeouts: int
    http_statuses: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class Active:
    """``healthchecks.active`` with defaults. ``headers``: (name, values) sorted by name in byte order, names in
    their written case; a name written with an empty list keeps ``()``. ``timeout`` in seconds."""

    type: str
    concurrency: int
    http_path: str
    https_sni: str | None
    https_verify_certificate: bool
    timeout: int
    headers: tuple[tuple[str, tuple[str, ...]], ...]
    healthy: Healthy
    unhealthy: Unhealthy

    @property
    def on(self) -> bool:
        """Active checks run iff a probe interval is set (04 §2: H > 0 or U > 0)."""
        return self.healthy.interval > 0 or self.unhealthy.interval > 0

    @property
    def counters(self) -> tuple[int, ...]:
        """The failure counters the type uses: ``tcp`` cannot see HTTP statuses (04 §3)."""
        u = self.unhealthy
        if self.type == "tcp":
            return (u.tcp_failures, u.timeouts)
        return (u.http_failures, u.tcp_failures, u.timeouts)


@dataclass(frozen=True, slots=True)
class Passive:
    """``healthchecks.passive`` with defaults (intervals are rejected by validation, so they are not kept)."""

    type: str
    healthy: Healthy
    unhealthy: Unhealthy

    @property
    def on(self) -> bool:
        """Passive checks run iff a failure counter is non-zero (04 §2)."""
        u = self.unhealthy
        return u.http_failures > 0 or u.tcp_failures > 0 or u.timeouts > 0


@dataclass(frozen=True, slots=True, eq=False)
class KongUpstreamPolicy:
    """A validated KongUpstreamPolicy. ``order`` = position in input order; ``threshold`` = percent (0–100);
    ``explicit`` = paths (relative to ``spec.healthchecks``) of the fields the user wrote, empty lists, empty
    maps and nulls excluded."""

    res: Resource
    order: int
    threshold: int
    active: Active
    passive: Passive
    explicit: frozenset[Path]

    @property
    def key(self) -> tuple[str, str]:
        """(namespace, name): how a Service's annotation names it (04 §1)."""
        return (self.res.namespace, self.res.name)

    @property
    def contributes(self) -> bool:
        """A policy with neither active nor passive checks on contributes nothing, its threshold included."""
        return self.active.on or self.passive.on

    def summary(self) -> str:
        """``ns/name (active <type> on|off, passive on|off, threshold T)`` as ``inspect`` prints it (07 §4)."""
        onoff = lambda b: "on" if b else "off"  # noqa: E731
        return (f"{self.res.display_name} (active {self.active.type} {onoff(self.active.on)}, "
                f"passive {onoff(self.passive.on)}, threshold {self.threshold})")


def _present(value: Any) -> bool:
    """Written and not empty: ``null``, ``[]`` and ``{}`` count as absent (KIC drops them)."""
    return value is not None and value != [] and value != {}


def _node(parent: Mapping[str, Any] | None, key: str) -> Mapping[str, Any]:
    value = (parent or {}).get(key)
    return value if isinstance(value, Mapping) else {}


def healthchecks_of(res: Resource) -> Mapping[str, Any]:
    """``spec.healthchecks`` as written (``{}`` when absent or null)."""
    return _node(res.fields(), "healthchecks")


def explicit_paths(hc: Mapping[str, Any]) -> frozenset[Path]:
    """Every leaf path (and ``active.headers``) the user wrote under ``spec.healthchecks``, ignoring absent
    values. ``active.headers`` counts as written when at least one name has a value."""
    out: set[Path] = set()
    if _present(hc.get("threshold")):
        out.add(("threshold",))
    for mode in ("active", "passive"):
        block = _node(hc, mode)
        for key, value in block.items():
            if key in ("healthy", "unhealthy"):
                for leaf, v in _node(block, key).items():
                    if _present(v):
                        out.add((mode, key, leaf))
            elif key == "headers":
                if any(_present(v) for v in _node(block, "headers").values()):
                    out.add((mode, "headers"))
            elif _present(value):
                out.add((mode, key))
    return frozenset(out)


def _int(block: Mapping[str, Any], key: str, default: int) -> int:
    value = block.get(key)
    return default if value is None else value


def _statuses(block: Mapping[str, Any], default: tuple[int, ...]) -> tuple[int, ...]:
    value = block.get("httpStatuses")
    return tuple(value) if _present(value) else default


def _healthy(block: Mapping[str, Any], default_statuses: tuple[int, ...]) -> Healthy:
    return Healthy(_int(block, "interval", 0), _int(block, "successes", 0), _statuses(block, default_statuses))


def _unhealthy(block: Mapping[str, Any], default_statuses: tuple[int, ...]) -> Unhealthy:
    return Unhealthy(_int(block, "interval", 0), _int(block, "httpFailures", 0), _int(block, "tcpFailures", 0),
                     _int(block, "timeouts", 0), _statuses(block, default_statuses))


def _headers(raw: Mapping[str, Any]) -> tuple[tuple[str, tuple[str, ...]], ...]:
    # Byte order of the names (04 §3.1); names are ASCII after validation, so str order is byte order.
    return tuple(sorted(((name, tuple(values or ())) for name, values in raw.items()),
                        key=lambda item: item[0].encode()))


def parse(res: Resource, order: int) -> KongUpstreamPolicy:
    """Type a KongUpstreamPolicy that passed :func:`kumahc.policies.kong.validate.validate`, Kong defaults applied."""
    hc = healthchecks_of(res)
    a, p = _node(hc, "active"), _node(hc, "passive")
    active = Active(
        type=a.get("type") or DEFAULT_TYPE,
        concurrency=_int(a, "concurrency", DEFAULT_CONCURRENCY),
        http_path=a["httpPath"] if a.get("httpPath") is not None else DEFAULT_HTTP_PATH,
        https_sni=a.get("httpsSni"),
        https_verify_certificate=a.get("httpsVerifyCertificate", True) is not False,
        timeout=_int(a, "timeout", DEFAULT_TIMEOUT),
        headers=_headers(_node(a, "headers")),
        healthy=_healthy(_node(a, "healthy"), ACTIVE_HEALTHY_STATUSES),
        unhealthy=_unhealthy(_node(a, "unhealthy"), ACTIVE_UNHEALTHY_STATUSES),
    )
    passive = Passive(
        type=p.get("type") or DEFAULT_TYPE,
        healthy=_healthy(_node(p, "healthy"), PASSIVE_HEALTHY_STATUSES),
        unhealthy=_unhealthy(_node(p, "unhealthy"), PASSIVE_UNHEALTHY_STATUSES),
    )
    return KongUpstreamPolicy(res, order, _int(hc, "threshold", 0), active, passive, explicit_paths(hc))
