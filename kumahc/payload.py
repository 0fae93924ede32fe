"""TCP health-check payloads: base64 text in policies, bytes for Envoy (spec 02 §3.2, §8; 03 §2, §4).

Both Kuma kinds decode base64 in kumahc (README "Deliberate differences" #1)."""

from __future__ import annotations

import base64
import re

_B64 = re.compile(r"^[A-Za-z0-9+/\-_]*$")


def payload_problem(text: str) -> str | None:
    """(kumahc) TCP payload rule shared with the legacy HealthCheck: ``must not be empty`` for ``""`` or base64
    that decodes to no bytes, ``must be valid base64`` otherwise when it does not decode (standard or URL-safe
    alphabet, padding optional, no whitespace)."""
    stripped = text.rstrip("=")
    if not _B64.match(stripped) or len(stripped) % 4 == 1 or len(text) - len(stripped) > 2:
        return "must be valid base64" if text else "must not be empty"
    return None if decode_payload(text) else "must not be empty"


def decode_payload(text: str) -> bytes:
    """Decode a payload accepted by :func:`payload_problem` (either alphabet, padding optional)."""
    s = text.rstrip("=").replace("-", "+").replace("_", "/")
    return base64.b64decode(s + "=" * (-len(s) % 4))
