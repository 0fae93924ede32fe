"""The documents model: a value's line marks, the problems found while building a document, and the document
itself with its lines resolved lazily."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # the lazy marks parse again, with the reader built on this model
    from kumahc.resources.yaml.documents import LazyMarks


@dataclass(slots=True)
class Mark:
    """Line of one node as messages use it: for a mapping value the line of its key, for a list item the line
    where the item starts, for a document root the line where it starts (01 §2). ``children`` mirrors the value:
    a dict key → Mark for mappings, a list of Marks for sequences, None for scalars."""

    line: int
    children: dict[str, Mark] | list[Mark] | None = None


@dataclass(frozen=True, slots=True)
class Problem:
    """A parse-level problem inside an otherwise readable document: ``path`` is the field path (tuple of keys and
    indexes) of the mapping concerned, ``line`` the line of the offending key."""

    path: tuple
    line: int
    message: str


@dataclass(slots=True)
class RawDocument:
    """One document after expansion (01 §1): its value, marks, 1-based number in the file, and problems found
    while building it (duplicate keys, non-string keys). ``plain``: the value holds only strings, booleans, integers
    within 64 bits, nulls (as list items), mappings and lists (the native reader's unchecked values); the schema
    check then need not look for other types. ``mark`` always knows the root's line; the marks below
    it come from ``lazy`` (a second parse of the file) the first time a deeper line is asked for: a mesh's
    Dataplanes are rarely named in a message, and their marks would cost as much memory as their values."""

    value: Any
    root: Mark | None  # None: read by the native parser, which gives no lines; ``lazy`` finds them
    number: int
    problems: list[Problem]
    lazy: LazyMarks | None = None
    plain: bool = False

    @property
    def mark(self) -> Mark:
        """The root's mark (computed from ``lazy`` on first use after a native parse)."""
        if self.root is None:
            self._resolve()
        return self.root  # type: ignore[return-value]

    def _resolve(self) -> None:
        self.root = self.lazy.mark(self.number) if self.lazy is not None else Mark(1)
        self.lazy = None

    def marks(self) -> Mark:
        """The root's mark with every mark below it (the lazy ones found now)."""
        if self.lazy is not None:
            self._resolve()
        return self.mark

    def release(self) -> None:
        """Forget the value (the caller has typed it and will not read it again); lines stay available."""
        self.value = None

    def line(self, path: tuple) -> int:
        """Line of the deepest node of ``path`` present in the document."""
        if (path or self.root is None) and self.lazy is not None:
            self._resolve()
        mark = self.mark
        for step in path:
            child = _child(mark.children, step)
            if child is None:
                break
            mark = child
        return mark.line


def _child(children: dict[str, Mark] | list[Mark] | None, step: object) -> Mark | None:
    if isinstance(children, dict):
        return children.get(step) if isinstance(step, str) else None
    if isinstance(children, list) and isinstance(step, int) and 0 <= step < len(children):
        return children[step]
    return None
