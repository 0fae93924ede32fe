"""The memo layer: pure functions' results kept while the inputs use them.

``functools.lru_cache(maxsize=N)`` keeps results of contents long gone (a ``serve`` fed new contents grows up to N
entries of each function, whatever the mesh's size). A :class:`RunMemo` keeps two generations instead: the
results used by the current run and those of the previous one. :func:`next_run` (called when a pipeline run
starts) drops whatever the previous run did not use, so the memory held is bounded by what the current inputs
need, and an unchanged input still finds its result from the run before.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from functools import update_wrapper
from typing import Any, Generic, TypeVar

T = TypeVar("T")
_MISSING = object()
_memos: list[RunMemo] = []
_lock = threading.Lock()


class RunMemo(Generic[T]):
    """``fn`` memoised by its (hashable) positional arguments for the current and the previous run."""

    def __init__(self, fn: Callable[..., T]):
        self._fn = fn
        self._current: dict[tuple, Any] = {}
        self._previous: dict[tuple, Any] = {}
        update_wrapper(self, fn)
        with _lock:
            _memos.append(self)

    def __call__(self, *args: Any) -> T:
        found = self._current.get(args, _MISSING)
        if found is _MISSING:
            found = self._previous.get(args, _MISSING)
            if found is _MISSING:
                found = self._fn(*args)
            self._current[args] = found
        return found

    def __len__(self) -> int:
        return len(self._current) + len(self._previous)

    def _next(self) -> None:
        self._previous, self._current = self._current, {}


def run_memo(fn: Callable[..., T]) -> RunMemo[T]:
    """Decorator: see :class:`RunMemo`."""
    return RunMemo(fn)


def next_run() -> None:
    """A new run starts: forget every result the previous run did not use."""
    with _lock:
        for m in _memos:
            m._next()
