"""Legacy HealthCheck resource types (spec 03 §1): the typed conf; selectors are the engine's
(:mod:`kumahc.policies.core.connection`).

Only documents that passed :func:`kumahc.policies.healthcheck.validate.validate` are parsed, so every required field is
present and every payload decodes."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from types import MappingProxyType
from typing import Any

from kumahc.payload import decode_payload
from kumahc.policies.core.connection import Selector, selectors
from kumahc.resources.model import Resource

KIND = "HealthCheck"

# conf fields handed as written (Kuma names) to the shared builders of kumahc.envoy.healthcheck (02 §8).
COMMON_FIELDS = ("interval", "timeout", "unhealthyThreshold", "healthyThreshold", "initialJitter", "intervalJitter",
                 "intervalJitterPercent", "healthyPanicThreshold", "failTrafficOnPanic", "noTrafficInterval",
                 "eventLogPath", "alwaysLogHealthCheckFailures", "reuseConnection")


@dataclass(frozen=True, slots=True)
class Header:
    """``requestHeadersToAdd[k]``: ``append`` absent = True, the documented default (README difference #5)."""

    key: str
    value: str
    append: bool


@dataclass(frozen=True, slots=True)
class Http:
    """``conf.http``; ``expected_statuses`` as written (each becomes the range [s, s+1))."""

    path: str
    headers: tuple[Header, ...]
    expected_statuses: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class Tcp:
    """``conf.tcp`` with its base64 payloads decoded; ``send`` None = nothing sent."""

    send: bytes | None
    receive: tuple[bytes, ...]


@dataclass(frozen=True, slots=True, eq=False)
class Conf:
    """``conf``: ``common`` = the fields of :data:`COMMON_FIELDS` that are set, Kuma names and values as written
    (durations are Go duration strings, ``healthyPanicThreshold`` an int or float percent), read-only; at most one
    of ``tcp`` and ``http`` (validation); neither = TCP connect-only check."""

    common: Mapping[str, Any]
    tcp: Tcp | None
    http: Http | None


@dataclass(frozen=True, slots=True, eq=False)
class HealthCheck:
    """A validated HealthCheck. ``order`` = position in input order (03 §3 tie-break); ``created`` = its
    ``creationTime`` / ``metadata.creationTimestamp`` (None = older than any timestamp)."""

    res: Resource
    order: int
    sources: tuple[Selector, ...]
    destinations: tuple[Selector, ...]
    conf: Conf

    @property
    def created(self) -> datetime | None:
        return self.res.creation_time

    @property
    def has_http(self) -> bool:
        return self.conf.http is not None


def parse(res: Resource, order: int) -> HealthCheck:
    """Type a HealthCheck that passed validation."""
    f = res.fields()
    return HealthCheck(res, order, selectors(f["sources"]), selectors(f["destinations"]), _conf(f["conf"]))


def _conf(raw: Mapping[str, Any]) -> Conf:
    common = {k: raw[k] for k in COMMON_FIELDS if raw.get(k) is not None}
    # Kuma's field is a plain string where "" means unset: no event sink (Envoy would reject an empty path).
    if common.get("eventLogPath") == "":
        del common["eventLogPath"]
    tcp = raw.get("tcp")
    http = raw.get("http")
    return Conf(MappingProxyType(common), _tcp(tcp) if tcp is not None else None,
                _http(http) if http is not None else None)


def _tcp(raw: Mapping[str, Any]) -> Tcp:
    send = raw.get("send")
    return Tcp(decode_payload(send) if send is not None else None,
               tuple(decode_payload(r) for r in raw.get("receive") or ()))


def _http(raw: Mapping[str, Any]) -> Http:
    headers = tuple(Header(item["header"]["key"], item["header"].get("value") or "", item.get("append") is not False)
                    for item in raw.get("requestHeadersToAdd") or ())
    return Http(raw["path"], headers, tuple(raw.get("expectedStatuses") or ()))
