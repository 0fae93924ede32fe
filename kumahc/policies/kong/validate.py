"""KongUpstreamPolicy semantic validation (spec 04 §2): Kong's ranges and Kong's words, the CRD's rule on passive
intervals, and kumahc's own tightening (timeout ≥ 1, counters ≤ 254, ``Host`` without control characters).

The structural schema (``schemas/kongupstreampolicy.schema.json``) has already checked keys and types (integers
only), so every value read here has the right type or is ``null`` (= absent). Messages print the full path
(``spec.healthchecks.active.timeout``). Problems are added in the order of the 04 §2 table, so lines that share a
line number keep that order (01 §2).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from kumahc.diagnostics import Report
from kumahc.policies.kong import api
from kumahc.resources.checker import DocumentChecker
from kumahc.resources.model import Resource

HC = ("spec", "healthchecks")

INT32_MAX_PLUS_ONE = 2147483648  # Kong's concurrency bound, written as in its schema
COUNTER_MAX = 254  # lua-resty-healthcheck rejects 255

_HEADER_NAME = re.compile(r"[a-zA-Z0-9\-_]+")
# Kong typedefs.path: the RFC 3986 unreserved and reserved characters it accepts, plus "%".
_PATH_CHARS = re.compile(r"/[A-Za-z0-9.\-_~/%:@!$&'()*+,;=]*")
_PERCENT_ESCAPE = re.compile(r"%[0-9A-Fa-f]{2}")
_HOST_CONTROL = re.compile(r"[\x01-\x1f\x7f]")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_ESCAPES = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def shown(text: str) -> str:
    """A user value inside a message, control characters escaped (``\\n``, ``\\x00``) so that every problem stays
    one line of stderr (01 §2)."""
    return _CONTROL.sub(lambda m: _ESCAPES.get(m.group(), f"\\x{ord(m.group()):02x}"), text)


def range_message(low: int, high: int) -> str:
    """Kong's range violation message."""
    return f"value should be between {low} and {high}"


def validate(res: Resource, report: Report) -> bool:
    """Check one structurally valid KongUpstreamPolicy; add every error to ``report``. True when it has none."""
    v = _Validator(res, report)
    hc = api.healthchecks_of(res)
    v.in_range(hc, (), "threshold", 0, 100)
    active = _mapping(hc.get("active"))
    if active is not None:
        v.active(active)
    passive = _mapping(hc.get("passive"))
    if passive is not None:
        v.passive(passive)
    return not v.failed


def _mapping(value: Any) -> Mapping[str, Any] | None:
    return value if isinstance(value, Mapping) else None


class _Validator(DocumentChecker):
    """Paths are relative to ``spec.healthchecks``."""

    def __init__(self, res: Resource, report: Report):
        super().__init__(res, report, HC)

    def in_range(self, block: Mapping[str, Any], at: tuple, key: str, low: int, high: int) -> None:
        value = block.get(key)
        if value is not None and not low <= value <= high:
            self.error((*at, key), range_message(low, high))

    def statuses(self, block: Mapping[str, Any], at: tuple) -> None:
        """HTTP status codes are 100–599: the KongUpstreamPolicy CRD's ``HTTPStatus`` bounds, in the API
        server's words (Kong's own schema would take up to 999, but the CRD rejects the resource first)."""
        for k, code in enumerate(block.get("httpStatuses") or ()):
            if code < 100:
                self.error((*at, "httpStatuses", k), "should be greater than or equal to 100")
            elif code > 599:
                self.error((*at, "httpStatuses", k), "should be less than or equal to 599")

    def type(self, block: Mapping[str, Any], at: tuple) -> None:
        t = block.get("type")
        if t is not None and t not in api.TYPES:
            self.error((*at, "type"), "expected one of: " + ", ".join(api.TYPES))

    def active(self, a: Mapping[str, Any]) -> None:
        at = ("active",)
        self.type(a, at)
        self.in_range(a, at, "concurrency", 1, INT32_MAX_PLUS_ONE)
        if a.get("httpPath") is not None:
            problem = path_problem(a["httpPath"])
            if problem:
                self.error((*at, "httpPath"), problem)
        if a.get("httpsSni") is not None:
            problem = sni_problem(a["httpsSni"])
            if problem:
                self.error((*at, "httpsSni"), problem)
        self.in_range(a, at, "timeout", 1, 65535)
        for name, values in (_mapping(a.get("headers")) or {}).items():
            self.header(name, values or (), (*at, "headers", name))
        healthy = _mapping(a.get("healthy")) or {}
        self.in_range(healthy, (*at, "healthy"), "interval", 0, 65535)
        self.in_range(healthy, (*at, "healthy"), "successes", 0, COUNTER_MAX)
        self.statuses(healthy, (*at, "healthy"))
        unhealthy = _mapping(a.get("unhealthy")) or {}
        self.in_range(unhealthy, (*at, "unhealthy"), "interval", 0, 65535)
        for counter in ("httpFailures", "tcpFailures", "timeouts"):
            self.in_range(unhealthy, (*at, "unhealthy"), counter, 0, COUNTER_MAX)
        self.statuses(unhealthy, (*at, "unhealthy"))

    def header(self, name: str, values: list[str] | tuple[str, ...], path: tuple) -> None:
        if not _HEADER_NAME.fullmatch(name):
            self.error(path, f"bad header name '{shown(name)}', allowed characters are A-Z, a-z, 0-9, '_', and '-'")
        is_host = name.lower() == "host"
        for i, value in enumerate(values):
            if any(c in value for c in "\x00\r\n"):
                self.error((*path, i), "must not contain NUL, CR or LF")
            elif is_host and _HOST_CONTROL.search(value):
                # It becomes http_health_check.host, which Envoy rejects with any control character.
                self.error((*path, i), "must not contain control characters")

    def passive(self, p: Mapping[str, Any]) -> None:
        at = ("passive",)
        self.type(p, at)
        healthy = _mapping(p.get("healthy")) or {}
        unhealthy = _mapping(p.get("unhealthy")) or {}
        self.in_range(healthy, (*at, "healthy"), "successes", 0, COUNTER_MAX)
        self.statuses(healthy, (*at, "healthy"))
        for block, key in ((healthy, "healthy"), (unhealthy, "unhealthy")):
            if block.get("interval") is not None:
                self.error((*at, key, "interval"), "must not be set")
        for counter in ("httpFailures", "tcpFailures", "timeouts"):
            self.in_range(unhealthy, (*at, "unhealthy"), counter, 0, COUNTER_MAX)
        self.statuses(unhealthy, (*at, "unhealthy"))


def path_problem(path: str) -> str | None:
    """Kong's ``typedefs.path`` on ``active.httpPath``: the first failing rule's message, or None."""
    if not path.startswith("/"):
        return "should start with: /"
    if "//" in path:
        return "must not have empty segments"
    if not _PATH_CHARS.fullmatch(path):
        return f"invalid path: '{shown(path)}' (characters outside of the reserved list of RFC 3986 found)"
    # Kong replaces every valid escape, then shows the first stray "%" with up to two following characters.
    raw = _PERCENT_ESCAPE.sub("___", path)
    stray = raw.find("%")
    if stray >= 0:
        return f"invalid url-encoded value: '{shown(raw[stray:stray + 3])}'"
    return None


# --- Kong typedefs.sni (kong/tools/ip.lua normalize_ip / check_hostname) -----------------------------------------

_HOSTNAME_CHARS = re.compile(r"[0-9A-Za-z\-._]+")
_IPV4 = re.compile(r"([0-9]{1,3})\.([0-9]{1,3})\.([0-9]{1,3})\.([0-9]{1,3})(?::([0-9]+))?")
_IPV6_GROUPS = re.compile(r"[0-9A-Fa-f]{1,4}(:[0-9A-Fa-f]{1,4}){7}")
_INVALID_PORT = "invalid port number"


def sni_problem(sni: str) -> str | None:
    """Kong's SNI rule: an IP literal → ``must not be an IP``, a port → ``must not have a port``, anything else
    that is not a hostname → ``invalid value: <v>``; None for a valid hostname."""
    host_type = _hostname_type(sni)
    parse = {"ipv4": _ipv4, "ipv6": _ipv6}.get(host_type, _hostname)
    ok, port_or_error = parse(sni)
    if not ok and port_or_error != _INVALID_PORT:
        return f"invalid value: {shown(sni)}"
    if ok and host_type != "name":
        return "must not be an IP"
    if port_or_error == _INVALID_PORT or isinstance(port_or_error, int):
        return "must not have a port"
    return None


def _hostname_type(name: str) -> str:
    if name.count(":") > 1:
        return "ipv6"
    if re.fullmatch(r"[0-9.]+", name.replace(":", "")):
        return "ipv4"
    return "name"


def _port(text: str) -> int | str:
    port = int(text)
    return _INVALID_PORT if port > 65535 else port


def _ipv4(address: str) -> tuple[bool, int | str | None]:
    m = _IPV4.fullmatch(address)
    if not m or any(int(g) > 255 for g in m.groups()[:4]):
        return False, "invalid ipv4 address"
    if m.group(5) is None:
        return True, None
    port = _port(m.group(5))
    return (False, port) if port == _INVALID_PORT else (True, port)


def _ipv6(address: str) -> tuple[bool, int | str | None]:
    m = re.fullmatch(r"(\[[^\]]*\])(.*)", address, re.DOTALL)
    port: int | str | None = None
    if m:
        check, rest = m.group(1)[1:-1], m.group(2)
        if rest:
            pm = re.fullmatch(r":([0-9]*)", rest)
            if not pm or not pm.group(1):
                return False, "invalid ipv6 address"
            port = _port(pm.group(1))
            if port == _INVALID_PORT:
                return False, port
    else:
        check = address
    if check.startswith(":"):
        check = "0" + check
    if check.endswith(":"):
        check += "0"
    if "::" in check:
        check = check.replace("::", ":" + "0:" * (8 - check.count(":")), 1)
    if not _IPV6_GROUPS.fullmatch(check):
        return False, "invalid ipv6 address"
    return True, port


def _hostname(address: str) -> tuple[bool, int | str | None]:
    name, port = address, None
    m = re.search(r":([0-9]+)\Z", address)
    if m:
        name = address[: m.start()]
        port = _port(m.group(1))
        if port == _INVALID_PORT:
            return False, port
    if not _HOSTNAME_CHARS.fullmatch(name):
        return False, "invalid hostname"
    segments = name.split(".")
    for index, segment in enumerate(segments):
        if segment.endswith("-") or (segment == "" and index != len(segments) - 1):
            return False, "invalid hostname"
    return True, port
