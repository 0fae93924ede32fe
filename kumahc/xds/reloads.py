"""What ``serve`` did last, for the operator page (:mod:`kumahc.ui`): the last load or reload (when, whether it was
served, its errors and warnings as logged) and the store connection. The same facts are logged and counted in
metrics; this keeps the last of them readable."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

LINES_KEPT = 200  # lines of one reload kept for the page; the log has them all


@dataclass(frozen=True, slots=True)
class Reload:
    """One load or reload: ``ok`` when its snapshot is served; ``lines``: its errors and warnings as logged
    (``error: FILE:LINE: ...``, ``warning: FILE:LINE: ...``); ``at`` in UTC."""

    at: datetime
    ok: bool
    lines: tuple[str, ...]


@dataclass(slots=True)
class ServeLog:
    """The last :class:`Reload` (None before the first render ends) and, with ``--store``, whether the store is
    connected and its last connection message."""

    last: Reload | None = None
    store_connected: bool | None = None
    store_message: str = ""

    def reloaded(self, ok: bool, lines: list[str]) -> None:
        """Record a load or reload; at most :data:`LINES_KEPT` of its lines are kept."""
        self.last = Reload(datetime.now(UTC), ok, tuple(lines[:LINES_KEPT]))

    def store(self, connected: bool, message: str) -> None:
        self.store_connected = connected
        self.store_message = message
