"""Progress on standard error while it is a terminal (issue 23): files read, resources validated, proxies rendered,
each with a count, a rate and an ETA (tqdm), for ``render``, ``validate``, ``diff``, ``apply``, ``store migrate``
and ``serve``'s first load.

The pipeline reports through a plain callback, ``report(stage, done, total)`` (:data:`Report`): ``stage`` one of
the names below, ``done`` and ``total`` counts of that stage's items. :func:`shown` gives that callback, or None
when nothing is to be shown: standard error is not a terminal, or ``-q/--quiet`` was given (:data:`quiet_option`,
accepted before the command like a global flag and after it like kubectl's persistent flags). Nothing is ever
written to standard output, and every bar is erased when :func:`shown`'s block ends, before the command prints its
warnings, errors or summary."""

from __future__ import annotations

import contextlib
import os
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from typing import IO, Any

import click

Report = Callable[[str, int, int], None]
"""``report(stage, done, total)``: ``done`` of ``total`` items of ``stage`` are finished (counts, not percent)."""

FILES_READ = "files read"
RESOURCES_VALIDATED = "resources validated"
PROXIES_RENDERED = "proxies rendered"
MIGRATIONS_APPLIED = "migrations applied"
PROXIES_WRITTEN = "proxies written"
# The unit tqdm shows in the rate ("1,234 proxies/s"), by stage.
UNITS = {FILES_READ: "files", RESOURCES_VALIDATED: "resources", PROXIES_RENDERED: "proxies",
         MIGRATIONS_APPLIED: "migrations", PROXIES_WRITTEN: "proxies"}

DELAY_S = 0.5  # a run that ends sooner shows nothing: no flicker on small inputs
DELAY_ENV = "KUMAHC_PROGRESS_DELAY"  # seconds; 0 draws every bar at once (what the tests use: no race with a clock)


def _delay() -> float:
    """:data:`DELAY_S`, or ``$KUMAHC_PROGRESS_DELAY`` (seconds, ≥ 0) when it is a number."""
    try:
        return max(0.0, float(os.environ.get(DELAY_ENV, DELAY_S)))
    except ValueError:
        return DELAY_S
DEFAULT_SIZE = os.terminal_size((80, 24))
REFRESH_S = 0.2  # at most five redraws a second (tqdm's mininterval)
QUIET = "kumahc.quiet"  # the click context's meta key (meta is shared by the group's and the command's contexts)


def _set_quiet(ctx: click.Context, _param: click.Parameter, value: bool) -> None:
    if value:
        ctx.meta[QUIET] = True


quiet_option = click.option(
    "-q", "--quiet", is_flag=True, expose_value=False, callback=_set_quiet,
    help="Show no progress on standard error (shown only while it is a terminal; stdout is never touched).")


def wanted(stream: IO[str] | None = None) -> bool:
    """True when progress is to be shown: ``stream`` (standard error by default) is a terminal and neither the
    ``kumahc`` group nor the command was given ``-q/--quiet``."""
    stream = sys.stderr if stream is None else stream
    ctx = click.get_current_context(silent=True)
    if ctx is not None and ctx.meta.get(QUIET):
        return False
    try:
        return stream.isatty()
    except (AttributeError, ValueError):  # replaced or closed stream
        return False


def _sized(stream: IO[str]) -> bool:
    try:
        size = os.get_terminal_size(stream.fileno())
    except (OSError, ValueError, AttributeError):
        return False
    return size.columns > 0 and size.lines > 0


class Bars:
    """One tqdm bar at a time on ``stream``, for the stage being reported; a new stage erases the previous bar
    (``leave=False``). Nothing is drawn before :data:`DELAY_S` (or ``$KUMAHC_PROGRESS_DELAY``) after creation."""

    def __init__(self, stream: IO[str]) -> None:
        self._stream = stream
        self._start = time.monotonic()
        self._stage: str | None = None
        self._bar: Any = None

    def __call__(self, stage: str, done: int, total: int) -> None:
        if stage != self._stage:
            self.close()
            from tqdm import tqdm

            self._stage = stage
            # A terminal that reports no size (a fresh pseudo-terminal: 0x0) would get no bar at all from tqdm.
            width: dict[str, Any] = ({"dynamic_ncols": True} if _sized(self._stream)
                                     else {"ncols": DEFAULT_SIZE.columns, "nrows": DEFAULT_SIZE.lines})
            self._bar = tqdm(total=total, desc=stage, unit=f" {UNITS.get(stage, 'items')}", file=self._stream,
                             leave=False, mininterval=REFRESH_S, **width,
                             delay=max(0.0, self._start + _delay() - time.monotonic()))
        bar = self._bar
        if bar.total != total:
            bar.total = total
        if done > bar.n:
            bar.update(done - bar.n)

    def close(self) -> None:
        """Erase the current bar (if any was drawn)."""
        if self._bar is not None:
            self._bar.close()
            self._bar = None
            self._stage = None


@contextlib.contextmanager
def drawn(stream: IO[str] | None = None) -> Iterator[Report]:
    """A progress callback drawing on ``stream`` (standard error by default) while the block runs, whatever
    :func:`wanted` says (for a caller that asked it before: ``serve`` loads in another thread). The bar is erased
    when the block ends, however it ends."""
    bars = Bars(sys.stderr if stream is None else stream)
    try:
        yield bars
    finally:
        bars.close()


def shown(stream: IO[str] | None = None) -> contextlib.AbstractContextManager[Report | None]:
    """:func:`drawn` when progress is :func:`wanted`, else a block that gives None (nothing to report to)."""
    return drawn(stream) if wanted(stream) else contextlib.nullcontext(None)


def written(chunks: Iterable[str], proxies: int) -> Iterator[str]:
    """``chunks`` (a document written piece by piece: a head, one piece per proxy, a tail) passed through, with a
    "proxies written" bar while standard output is not the terminal progress is drawn on (a document printed on
    the terminal would be torn by the bar). The bar is erased when the last piece has been handed on, or when the
    writer stops early."""
    if not wanted() or _is_terminal(sys.stdout):
        yield from chunks
        return
    bars = Bars(sys.stderr)
    try:
        for number, chunk in enumerate(chunks):
            yield chunk
            bars(PROXIES_WRITTEN, min(number, proxies), proxies)
    finally:
        bars.close()


def _is_terminal(stream: IO[str]) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False
