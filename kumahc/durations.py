"""Go ``time.ParseDuration`` syntax (Kuma's durations, spec 01 §4) to nanoseconds, and nanoseconds to protobuf
``Duration`` fields."""

from __future__ import annotations

import re

from google.protobuf.duration_pb2 import Duration

NS_PER_SECOND = 1_000_000_000
_UNITS = {"ns": 1, "us": 1_000, "µs": 1_000, "μs": 1_000, "ms": 1_000_000, "s": NS_PER_SECOND,
          "m": 60 * NS_PER_SECOND, "h": 3600 * NS_PER_SECOND}
_PART = re.compile(r"([0-9]*)(?:\.([0-9]*))?(ns|us|µs|μs|ms|s|m|h)")

# Envoy rejects health-check durations from here on ("Duration out-of-range"), well below protobuf's own limit.
ENVOY_LIMIT_NS = 9_223_372_036 * NS_PER_SECOND
# Digits that can still matter: a whole part beyond 30 digits is past the limit in any unit, a fraction beyond 30
# digits is below a nanosecond in any unit (Go drops such digits too). Python refuses int() beyond 4300 digits.
_MAX_DIGITS = 30


class DurationError(ValueError):
    """The text is not a duration, or is too large for Envoy; ``str()`` is the spec 01 §4 message."""


def parse_duration(text: str) -> int:
    """Parse ``"10s"``, ``"1m30s"``, ``"500ms"``, ``"1.5s"``, ``"0"``, ``"-5s"`` into nanoseconds (int).

    Fractions below a nanosecond are truncated as Go does. Raises :class:`DurationError` with
    ``must be a duration (e.g. "10s", "1m30s")`` for bad syntax and ``must be less than 9223372036s`` for a
    positive value at or above Envoy's limit."""
    if not isinstance(text, str):
        raise DurationError('must be a duration (e.g. "10s", "1m30s")')
    s = text
    sign = 1
    if s[:1] in "+-" and s:
        sign = -1 if s[0] == "-" else 1
        s = s[1:]
    if s == "0":
        return 0
    if not s:
        raise DurationError('must be a duration (e.g. "10s", "1m30s")')
    total = 0
    pos = 0
    while pos < len(s):
        m = _PART.match(s, pos)
        if not m or (not m.group(1) and not m.group(2)):
            raise DurationError('must be a duration (e.g. "10s", "1m30s")')
        whole, frac, unit = m.group(1).lstrip("0") or "0", (m.group(2) or "")[:_MAX_DIGITS], _UNITS[m.group(3)]
        if len(whole) > _MAX_DIGITS:
            whole = "1" + "0" * _MAX_DIGITS
        total += int(whole) * unit + (int(frac) * unit // 10 ** len(frac) if frac else 0)
        pos = m.end()
    if sign > 0 and total >= ENVOY_LIMIT_NS:
        raise DurationError("must be less than 9223372036s")
    return sign * total


def to_proto(ns: int) -> Duration:
    """Nanoseconds → ``google.protobuf.Duration`` (JSON ``"10s"``, ``"0.500s"``)."""
    return Duration(seconds=ns // NS_PER_SECOND, nanos=ns % NS_PER_SECOND)
