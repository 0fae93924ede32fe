"""Watching the inputs for ``serve``: reload on completed writes (spec 06 §7).

inotify tells when a write is complete: ``IN_CLOSE_WRITE`` (a writer closed the file) and ``IN_MOVED_TO`` (a file
was renamed into place, as editors and atomic writers do). A file still open for writing sends neither, so a
writer that pauses half-way is never read half-written. Deletions, renames away, new directories, links and
mode changes count as changes too. A burst of changes is taken as one: the reload starts :data:`DEBOUNCE` after
the last change, and at most :data:`MAX_WAIT` after the first (a write storm still reloads once a second).

Where inotify is unavailable (not Linux, no instance or watch left) the inputs' (size, mtime in ns) are polled
every :data:`POLL` instead, with the same debounce.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import stat
import time
from collections.abc import Awaitable, Callable

from kumahc.diagnostics import Report
from kumahc.resources import files

DEBOUNCE = 0.05  # seconds of quiet after the last completed change
MAX_WAIT = 1.0  # seconds after the first change of a burst, whatever follows
POLL = 0.5  # seconds between two looks at (size, mtime) where inotify is unavailable

try:
    from asyncinotify import Inotify, Mask
except ImportError:  # pragma: no cover - not Linux
    Inotify = Mask = None  # type: ignore[assignment, misc]


def fingerprint(paths: list[str]) -> dict[str, tuple[int, int]]:
    """(size, mtime in ns) of every input file the PATH arguments name, found as the loader finds them (01 §1):
    files added, removed or changed below directories all change the result. Unreadable paths are left out (the
    reload reports them). Only ``stat`` is called: nothing is opened."""
    out: dict[str, tuple[int, int]] = {}
    for f in files.discover(paths, Report()):
        try:
            st = os.stat(f.path)
        except OSError:
            continue
        out[f.path] = (st.st_size, st.st_mtime_ns)
    return out


# A Kubernetes ConfigMap or Secret volume updates atomically: it writes a new hidden directory, then renames a new
# "..data" link over the old one; the visible files are links through "..data" and never change themselves. That
# rename is the only event an update makes, so it counts as a change although hidden names are otherwise ignored.
KUBERNETES_DATA_LINK = "..data"


class Watcher:
    """Watches the PATH arguments from the moment it is made (make it before the first load, so that a change
    made while kumahc starts is seen). :attr:`mode` is ``inotify`` or ``polling``. Not thread-safe: use it from
    one event loop."""

    def __init__(self, paths: list[str], debounce: float = DEBOUNCE, max_wait: float = MAX_WAIT,
                 poll: float = POLL):
        self.paths = paths
        self.debounce, self.max_wait, self.poll = debounce, max_wait, poll
        self._first: float | None = None  # first change of the pending burst
        self._last = 0.0
        self._changed: asyncio.Event | None = None
        self._seen: dict[str, tuple[int, int]] = {}
        self._inotify = None
        self._watches: dict[str, object] = {}
        self._trees: list[str] = []  # directory arguments, absolute
        self._files: set[str] = set()  # file arguments (and the files they link to), absolute
        self._writing: set[str] = set()  # inputs modified and not yet closed by their writer, absolute
        self.mode = "polling"
        if Inotify is not None:
            try:
                self._inotify = Inotify()
                self._rewatch()
                self.mode = "inotify"
            except OSError:  # no inotify instance or watch left (fs.inotify.max_user_*): poll instead
                self._close()
        if self._inotify is None:
            self._seen = fingerprint(paths)

    # -- inotify ----------------------------------------------------------------------------------------------

    def _rewatch(self) -> None:
        """Watch every directory of the directory arguments (hidden ones and links to directories left out, as
        the loader leaves them out) and the directory of each file argument; drop watches of directories gone."""
        trees: list[str] = []
        wanted: set[str] = set()
        names: set[str] = set()
        for arg in self.paths:
            path = os.path.abspath(arg)
            if os.path.isdir(path):
                trees.append(path)
                wanted.update(_directories(path))
            else:
                for p in {path, os.path.realpath(path)}:
                    names.add(p)
                    parent = os.path.dirname(p)
                    if os.path.isdir(parent):
                        wanted.add(parent)
        self._trees, self._files = trees, names
        for gone in set(self._watches) - wanted:
            with contextlib.suppress(OSError, ValueError, KeyError):
                self._inotify.rm_watch(self._watches.pop(gone))
            self._watches.pop(gone, None)
        mask = (Mask.CLOSE_WRITE | Mask.MOVED_TO | Mask.MOVED_FROM | Mask.DELETE | Mask.CREATE | Mask.ATTRIB
                | Mask.MODIFY | Mask.DELETE_SELF | Mask.MOVE_SELF | Mask.ONLYDIR)
        for d in sorted(wanted - set(self._watches)):
            try:
                self._watches[d] = self._inotify.add_watch(d, mask)
            except FileNotFoundError:
                continue  # removed meanwhile: its parent's event brings another rewatch
            except NotADirectoryError:
                continue

    def _relevant(self, path: str, mask: object) -> tuple[bool, bool]:
        """(is this event a change of the inputs, must the watched directories be looked at again)."""
        if Mask.Q_OVERFLOW in mask:
            return True, True
        if Mask.DELETE_SELF in mask or Mask.MOVE_SELF in mask or Mask.IGNORED in mask:
            return True, True
        is_dir = Mask.ISDIR in mask
        if path in self._files:
            return True, is_dir
        name = os.path.basename(path)
        in_tree = any(path.startswith(t + os.sep) for t in self._trees)
        if in_tree and name == KUBERNETES_DATA_LINK and (Mask.MOVED_TO in mask or Mask.CREATE in mask):
            return True, False
        if not in_tree or name.startswith("."):
            return False, False
        if is_dir:
            return True, True
        if not name.endswith(files.EXTENSIONS) and Mask.CREATE not in mask:
            return False, False
        if Mask.CREATE in mask:
            # A regular file is read once its writer closes it (CLOSE_WRITE); a link, FIFO or the like is only
            # created. A link without an extension may loop, which the loader reports.
            try:
                return not stat.S_ISREG(os.lstat(path).st_mode), False
            except OSError:
                return False, False
        return True, False

    async def _events(self) -> None:
        while True:
            event = await self._inotify.get()
            watch = event.watch
            base = str(watch.path) if watch is not None else ""
            path = os.path.join(base, str(event.name)) if event.name is not None else base
            changed, rewatch = self._relevant(path, event.mask)
            if Mask.MODIFY in event.mask:
                if changed:
                    self._writing.add(path)  # open for writing: not a change until it is closed
                continue
            if Mask.CLOSE_WRITE in event.mask or Mask.DELETE in event.mask or Mask.MOVED_FROM in event.mask:
                self._writing.discard(path)
            if rewatch:
                self._rewatch()
            if changed:
                self._mark()

    def being_written(self, path: str) -> bool:
        """``path`` (as the loader opens it) is open for writing: it was modified and its writer has not closed
        it yet. A reload then keeps what it read from it before (the loader's FileCache), never half a file.
        Always False when polling."""
        return bool(self._writing) and os.path.abspath(path) in self._writing

    # -- polling ----------------------------------------------------------------------------------------------

    async def _polls(self) -> None:
        while True:
            await asyncio.sleep(self.poll)
            now = await asyncio.to_thread(fingerprint, self.paths)
            if now != self._seen:
                self._seen = now
                self._mark()

    # -- both -------------------------------------------------------------------------------------------------

    def _mark(self) -> None:
        now = time.monotonic()
        if self._first is None:
            self._first = now
        self._last = now
        if self._changed is not None:
            self._changed.set()

    async def run(self, reload: Callable[[], Awaitable[None]], stop: asyncio.Event, force: asyncio.Event) -> None:
        """Call ``reload`` after each burst of changes (debounced) and at once when ``force`` is set (SIGHUP),
        until ``stop`` is set or the task is cancelled. Changes made during a reload bring another one."""
        self._changed = asyncio.Event()
        if self._first is not None:
            self._changed.set()  # changed between construction and now
        source = asyncio.ensure_future(self._events() if self._inotify is not None else self._polls())
        try:
            while not stop.is_set():
                waits = [asyncio.ensure_future(e.wait()) for e in (self._changed, force, stop)]
                try:
                    await asyncio.wait([*waits, source], return_when=asyncio.FIRST_COMPLETED)
                finally:
                    for w in waits:
                        w.cancel()
                if source.done() and not stop.is_set():
                    # inotify failed (no watch left for a new directory, a read error): poll from now on,
                    # and reload once, since changes may have been missed meanwhile.
                    with contextlib.suppress(Exception):
                        source.result()
                    self._close()
                    self.mode = "polling"
                    self._seen = await asyncio.to_thread(fingerprint, self.paths)
                    source = asyncio.ensure_future(self._polls())
                    self._mark()
                    continue
                if stop.is_set():
                    break
                if force.is_set():
                    force.clear()
                else:
                    await self._settle(stop)
                    if stop.is_set():
                        break
                self._changed.clear()
                self._first = None
                if self._inotify is None:
                    self._seen = await asyncio.to_thread(fingerprint, self.paths)
                await reload()
        finally:
            source.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await source
            self._close()

    async def _settle(self, stop: asyncio.Event) -> None:
        """Wait until the burst is over: :attr:`debounce` without a change, or :attr:`max_wait` after its
        first change."""
        while self._first is not None:
            now = time.monotonic()
            wait = min(self._last + self.debounce, self._first + self.max_wait) - now
            if wait <= 0:
                return
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(stop.wait(), wait)
            if stop.is_set():
                return

    def _close(self) -> None:
        if self._inotify is not None:
            with contextlib.suppress(Exception):
                self._inotify.close()
        self._inotify = None
        self._watches = {}


def _directories(root: str) -> list[str]:
    """``root`` and every directory below it that the loader walks (names starting with ``.`` left out, links
    to directories not followed). Unreadable ones are left out: the loader reports them."""
    out = [root]
    pending = [root]
    while pending:
        d = pending.pop()
        try:
            with os.scandir(d) as it:
                for entry in it:
                    if not entry.name.startswith(".") and entry.is_dir(follow_symlinks=False):
                        out.append(entry.path)
                        pending.append(entry.path)
        except OSError:
            continue
    return out

