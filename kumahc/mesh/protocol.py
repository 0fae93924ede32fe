"""Destination protocols (spec 01 §6.3): normalisation and how endpoint protocols combine."""

from __future__ import annotations

from collections.abc import Iterable

KNOWN = ("tcp", "tls", "http", "http2", "grpc", "kafka", "mysql")
UNKNOWN = "unknown"

# A protocol's stack: what it can also be treated as, most specific first. mysql has none.
_STACKS = {"grpc": ("grpc", "http2", "tcp"), "http2": ("http2", "tcp"), "http": ("http", "tcp"),
           "kafka": ("kafka", "tcp"), "tcp": ("tcp",), "tls": ("tcp",), "mysql": ()}


def normalise(text: str | None) -> str:
    """Lowercase, strip ``kuma.io/``, ``kubernetes.io/h2c`` → ``http2``; anything not in :data:`KNOWN` →
    ``unknown``."""
    if text is None:
        return UNKNOWN
    p = text.lower()
    if p == "kubernetes.io/h2c":
        return "http2"
    p = p.removeprefix("kuma.io/")
    return p if p in KNOWN else UNKNOWN


def combine(a: str, b: str) -> str:
    """Equal → a; either unknown → unknown; else the first of a's stack that is in b's stack (none → unknown).
    http+http2 → tcp, grpc+http2 → http2, tls+tcp → tcp."""
    if a == b:
        return a
    if UNKNOWN in (a, b):
        return UNKNOWN
    other = _STACKS[b]
    return next((p for p in _STACKS[a] if p in other), UNKNOWN)


def of_endpoints(tags: Iterable[str | None]) -> str:
    """Combine the endpoints' ``kuma.io/protocol`` tags pairwise in endpoint order; no endpoints or an endpoint
    without the tag → unknown."""
    result: str | None = None
    for t in tags:
        p = normalise(t) if t is not None else UNKNOWN
        result = p if result is None else combine(result, p)
    return result or UNKNOWN
