"""YAML/JSON documents with a line number for every node (spec 01 §1).

PyYAML composes the node graph (safe-loader semantics, YAML 1.1); this module builds plain Python values from it
and, beside them, a :class:`Mark` tree so any field path can be turned into the line a message should name.
Timestamps stay strings (the schema checks RFC 3339), mapping keys must be strings, duplicate keys are reported,
merge keys (``<<``) and aliases work within a document. Alias expansion and nesting depth are bounded so hostile
input ends in an error line, never in a hang or a traceback.
"""

from __future__ import annotations

import re
import sys
import zlib
from dataclasses import dataclass
from typing import Any

import yaml

try:  # the native parser of the fast path
    import yaml_rs
except ImportError:  # pragma: no cover - yaml-rs is a dependency; the fast path only saves time
    yaml_rs = None
from kumahc.resources import yamlwords

MAX_DEPTH = 64  # deeper than any policy needs; keeps recursion far from Python's limit
MAX_NODES = 200_000  # per document after alias expansion ("billion laughs" guard)
MAX_INT_DIGITS = 1000  # far beyond any field's range; Python refuses int <-> str beyond 4300 digits

try:  # libyaml's parser when PyYAML was built with it: same events, much faster on large meshes
    from yaml.cyaml import CParser as _CParser
except ImportError:  # pragma: no cover - PyYAML without libyaml
    _CParser = None

if _CParser is not None:

    class _Base(_CParser, yaml.composer.Composer, yaml.constructor.SafeConstructor,  # type: ignore[misc]
                yaml.resolver.Resolver):
        """libyaml's parser (fast, not recursive) under PyYAML's Python composer. libyaml's own composer recurses
        in C without any limit, so deeply nested input (``[[[[…``) would crash the process; the Python composer
        is bounded by :meth:`_Loader.compose_node`."""

        def __init__(self, stream: str):
            _CParser.__init__(self, stream)
            yaml.composer.Composer.__init__(self)
            yaml.constructor.SafeConstructor.__init__(self)
            yaml.resolver.Resolver.__init__(self)

        check_node = yaml.composer.Composer.check_node
        get_node = yaml.composer.Composer.get_node
        get_single_node = yaml.composer.Composer.get_single_node

else:  # pragma: no cover - PyYAML without libyaml
    _Base = yaml.SafeLoader


class _Bounded:
    """Composer bound: nesting deeper than :data:`MAX_DEPTH` ends composing with kumahc's own error instead of
    exhausting the stack (or reaching a parser's own, differently worded, limit)."""

    _depth = 0

    def compose_node(self, parent: yaml.Node | None, index: Any) -> yaml.Node:
        self._depth += 1
        try:
            # Same depth as the builder's (root = 0); a mapping key gets one level more so that the value, not
            # the key, is the node reported, as the builder does.
            key = parent is not None and index is None
            if self._depth > MAX_DEPTH + (2 if key else 1):
                raise _TooLarge(self.peek_event().start_mark.line + 1, f"nesting deeper than {MAX_DEPTH} levels")
            return super().compose_node(parent, index)  # type: ignore[misc]
        finally:
            self._depth -= 1


class _Loader(_Bounded, _Base):  # type: ignore[misc, valid-type]
    """Safe loader whose timestamps stay strings: ``creationTime`` is validated as RFC 3339 text, and a value
    such as ``2024-01-01`` in a string field must not turn into a ``date``."""


class _PyLoader(_Bounded, yaml.SafeLoader):
    """The pure-Python parser under the same bound. Used only to place kumahc's nesting error when libyaml's
    scanner (which looks ahead on a flow line) stops first with its own limit (libyaml >= 0.2.6: 1,000 levels)."""


for _cls in (_Loader, _PyLoader):
    _cls.yaml_implicit_resolvers = {
        first: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:timestamp"]
        for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
    }
    _cls.add_constructor("tag:yaml.org,2002:timestamp", yaml.SafeLoader.construct_yaml_str)


def _construct_int(loader: yaml.constructor.SafeConstructor, node: yaml.ScalarNode) -> int:
    """PyYAML's integer, bounded: a decimal of more than 4300 digits makes ``int()`` raise, and a long hex or
    binary literal gives an integer that ``str()`` refuses later (in a message). Either ends in an error line."""
    line = node.start_mark.line + 1
    if len(node.value) > 4 * MAX_INT_DIGITS:
        raise _TooLarge(line, f"integer larger than {MAX_INT_DIGITS} digits")
    try:
        value = yaml.SafeLoader.construct_yaml_int(loader, node)
    except ValueError:
        raise _TooLarge(line, f"integer larger than {MAX_INT_DIGITS} digits") from None
    if abs(value) >= 10**MAX_INT_DIGITS:
        raise _TooLarge(line, f"integer larger than {MAX_INT_DIGITS} digits")
    return value


_Loader.add_constructor("tag:yaml.org,2002:int", _construct_int)
_PyLoader.add_constructor("tag:yaml.org,2002:int", _construct_int)

_MERGE_TAG = "tag:yaml.org,2002:merge"
_MAP_TAG = "tag:yaml.org,2002:map"
_SEQ_TAG = "tag:yaml.org,2002:seq"


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
    while building it (duplicate keys, non-string keys). ``mark`` always knows the root's line; the marks below
    it come from ``lazy`` (a second parse of the file) the first time a deeper line is asked for: a mesh's
    Dataplanes are rarely named in a message, and their marks would cost as much memory as their values."""

    value: Any
    root: Mark | None  # None: read by the native parser, which gives no lines; ``lazy`` finds them
    number: int
    problems: list[Problem]
    lazy: _LazyMarks | None = None

    @property
    def mark(self) -> Mark:
        """The root's mark (computed from ``lazy`` on first use after a native parse)."""
        if self.root is None:
            self._resolve()
        return self.root  # type: ignore[return-value]

    def _resolve(self) -> None:
        self.root = self.lazy.mark(self.number) if self.lazy is not None else Mark(1)
        self.lazy = None

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


class _LazyMarks:
    """The full marks of one file's documents, computed on first use by parsing the same text again. The text is
    kept compressed meanwhile (YAML compresses about tenfold; most files are never asked for a line)."""

    def __init__(self, text: str):
        self._packed = zlib.compress(text.encode("utf-8", "surrogatepass"), 1)
        self._marks: list[Mark] | None = None
        self.native = False  # the documents came from the native parser: libyaml's composer may place them

    def mark(self, number: int) -> Mark:
        if self._marks is None:
            text = zlib.decompress(self._packed).decode("utf-8", "surrogatepass")
            if self.native:
                self._marks = _composed_marks(text)
            else:
                try:
                    documents = parse(text, marks=True)
                except YamlSyntaxError as exc:
                    documents = exc.documents
                self._marks = [d.mark for d in documents]
            self._packed = b""
        # The native parser and this one read the same documents (a differential test checks it); should they
        # ever differ, a message names line 1 rather than fail.
        return self._marks[number - 1] if number <= len(self._marks) else Mark(1)


class YamlSyntaxError(Exception):
    """``FILE:LINE: invalid YAML: <problem>``; documents before it in the file are still returned."""

    def __init__(self, line: int, problem: str, documents: list[RawDocument]):
        super().__init__(problem)
        self.line = line
        self.problem = problem
        self.documents = documents


class _TooLarge(Exception):
    def __init__(self, line: int, problem: str):
        super().__init__(problem)
        self.line = line
        self.problem = problem


class _Builder:
    """Turns one composed document into (value, Mark) with memoised aliases: a node reached twice is built once
    and shared, so expansion costs memory only once; ``size`` bounds what later passes will walk."""

    def __init__(self, constructor: yaml.constructor.SafeConstructor, marks: bool):
        self.constructor = constructor
        self.marks = marks
        self.values: dict[int, Any] = {}
        self.children: dict[int, Any] = {}
        self.sizes: dict[int, int] = {}
        self.active: set[int] = set()
        self.problems: list[Problem] = []

    def build(self, node: yaml.Node, path: tuple, depth: int) -> tuple[Any, Any, int]:
        key = id(node)
        if key in self.values:
            return self.values[key], self.children[key], self.sizes[key]
        line = node.start_mark.line + 1
        if key in self.active:
            raise _TooLarge(line, "recursive alias")
        if depth > MAX_DEPTH:
            raise _TooLarge(line, f"nesting deeper than {MAX_DEPTH} levels")
        self.active.add(key)
        try:
            if isinstance(node, yaml.MappingNode):
                value, children, size = self._mapping(node, path, depth)
            elif isinstance(node, yaml.SequenceNode):
                value, children, size = [], [] if self.marks else None, 1
                for i, item in enumerate(node.value):
                    v, c, s = self.build(item, (*path, i), depth + 1)
                    value.append(v)
                    if children is not None:
                        children.append(Mark(item.start_mark.line + 1, c))
                    size += s
            else:
                value, children, size = _intern(self.constructor.construct_object(node, deep=True)), None, 1
        finally:
            self.active.discard(key)
        if size > MAX_NODES:
            raise _TooLarge(line, f"document larger than {MAX_NODES} nodes after alias expansion")
        self.values[key], self.children[key], self.sizes[key] = value, children, size
        return value, children, size

    def _mapping(self, node: yaml.MappingNode, path: tuple, depth: int) -> tuple[dict, dict | None, int]:
        value: dict[str, Any] = {}
        children: dict[str, Mark] = {}
        seen: set[str] = set()  # keys written here, null values included (duplicates, merge precedence)
        size = 1
        merged: list[yaml.MappingNode] = []
        for key_node, value_node in node.value:
            key_line = key_node.start_mark.line + 1
            if key_node.tag == _MERGE_TAG:
                merged.extend(self._merge_sources(value_node))
                continue
            if not isinstance(key_node, yaml.ScalarNode):
                self.problems.append(Problem(path, key_line, "mapping keys must be strings"))
                continue
            k = self.constructor.construct_object(key_node, deep=True)
            if not isinstance(k, str):
                self.problems.append(Problem(path, key_line, f"mapping key {key_node.value!r} must be a string"))
                continue
            if k in seen:
                self.problems.append(Problem(path, key_line, f'duplicate key "{k}"'))
                continue
            k = sys.intern(k)  # field names and tag keys repeat in every document
            seen.add(k)
            v, c, s = self.build(value_node, (*path, k), depth + 1)
            if self.marks:
                children[k] = Mark(key_line, c)
            if v is not None:  # a YAML null means "absent" (01 §4); its line stays known for messages
                value[k] = v
            size += s
        # YAML 1.1 merge: explicit keys win, then earlier merged mappings over later ones; never duplicates.
        for source in merged:
            v, c, s = self.build(source, path, depth + 1)
            for k in v:
                if k not in seen:
                    seen.add(k)
                    value[k] = v[k]
                    if self.marks:
                        children[k] = c[k]
            size += s
        return value, children if self.marks else None, size

    def _merge_sources(self, node: yaml.Node) -> list[yaml.MappingNode]:
        if isinstance(node, yaml.MappingNode):
            return [node]
        if isinstance(node, yaml.SequenceNode) and all(isinstance(n, yaml.MappingNode) for n in node.value):
            return list(node.value)
        raise _TooLarge(node.start_mark.line + 1, "a merge key (<<) needs a mapping or a list of mappings")


def _line_of_position(text: str, position: int) -> int:
    return text.count("\n", 0, max(position, 0)) + 1


class TooManyDocuments(Exception):
    """The file holds more documents than the run may still read; ``line`` is where the first one too many
    starts, ``documents`` those read before it."""

    def __init__(self, line: int, documents: list[RawDocument]):
        super().__init__(line)
        self.line = line
        self.documents = documents


def parse(text: str, marks: bool = False, max_documents: int | None = None) -> list[RawDocument]:
    """Split ``text`` into expanded documents (01 §1): empty/null ones skipped, a root sequence or a core
    ``List`` gives one document per element. ``marks``: build every line mark now; by default only the roots'
    (and the rest on first use, :class:`RawDocument`). ``max_documents`` bounds the YAML documents and expanded
    elements read, empty ones included.

    Raises :class:`YamlSyntaxError` (with the documents read before the problem) on any YAML problem, and
    :class:`TooManyDocuments` past ``max_documents``. The whole text is parsed natively before documents are
    counted: callers bound memory with :func:`cut` first."""
    documents: list[RawDocument] = []
    lazy = None if marks else _LazyMarks(text)
    if not marks:
        try:
            fast = native(text, max_documents)
        except TooManyDocuments as exc:
            lazy.native = True
            exc.documents = [RawDocument(v, None, i + 1, [], lazy) for i, v in enumerate(exc.documents)]
            raise
        if fast is not None:
            lazy.native = True
            return [RawDocument(v, None, i + 1, [], lazy) for i, v in enumerate(fast)]
    loader = _Loader(text)
    budget = max_documents
    try:
        while loader.check_node():
            if budget is not None:
                budget -= 1
                if budget < 0:
                    raise TooManyDocuments(loader.peek_event().start_mark.line + 1, documents)
            node = loader.get_node()
            if node is None:
                continue
            builder = _Builder(loader, marks)
            value, children, _ = builder.build(node, (), 0)
            root = Mark(node.start_mark.line + 1, children if marks else _roots(node))
            first = True
            for v, m, problems in _expand(value, root, builder.problems):
                if budget is not None and not first:
                    budget -= 1
                    if budget < 0:
                        raise TooManyDocuments(m.line, documents)
                first = False
                documents.append(RawDocument(v, m, len(documents) + 1, problems, lazy))
    except _TooLarge as exc:
        raise YamlSyntaxError(exc.line, exc.problem, documents) from None
    except yaml.MarkedYAMLError as exc:
        if exc.problem == _LIBYAML_NESTING:
            raise YamlSyntaxError(_nesting_line(text, exc), f"nesting deeper than {MAX_DEPTH} levels",
                                  documents) from None
        line, problem = yamlwords.syntax_error(text, exc)
        raise YamlSyntaxError(line, problem, documents) from None
    except yaml.reader.ReaderError as exc:
        raise YamlSyntaxError(_line_of_position(text, exc.position), _reader_problem(exc), documents) from None
    except yaml.YAMLError as exc:  # libyaml's reader errors are plain YAMLError with text only
        raise YamlSyntaxError(1, str(exc).splitlines()[0] if str(exc) else "syntax error", documents) from None
    except RecursionError:
        raise YamlSyntaxError(1, "nesting too deep", documents) from None
    finally:
        loader.dispose()
    return documents


_LIBYAML_NESTING = "exceeded maximum nesting depth"


def _nesting_line(text: str, exc: yaml.MarkedYAMLError) -> int:
    """Line where nesting passes :data:`MAX_DEPTH`, found by the pure-Python parser under kumahc's bound, so the
    message and its line never depend on the wording or the limit of the libyaml release installed."""
    loader = _PyLoader(text)
    try:
        while loader.check_node():
            loader.get_node()
    except _TooLarge as found:
        return found.line
    except (yaml.YAMLError, RecursionError):
        pass
    finally:
        loader.dispose()
    mark = exc.problem_mark or exc.context_mark
    return mark.line + 1 if mark else 1


def _roots(node: yaml.Node) -> list[Mark] | dict[str, Mark] | None:
    """The marks :func:`_expand` needs to give expanded documents their root lines: a root sequence's items, a
    ``List``'s ``items``."""
    if isinstance(node, yaml.SequenceNode):
        return [Mark(item.start_mark.line + 1) for item in node.value]
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            if isinstance(key_node, yaml.ScalarNode) and key_node.value == "items" and isinstance(
                    value_node, yaml.SequenceNode):
                return {"items": Mark(key_node.start_mark.line + 1,
                                      [Mark(item.start_mark.line + 1) for item in value_node.value])}
    return None


def _intern(value: Any) -> Any:
    # Service names, protocols and tag values repeat across thousands of documents: keep one copy of each.
    return sys.intern(value) if type(value) is str and len(value) <= 128 else value


def _reader_problem(exc: yaml.reader.ReaderError) -> str:
    if isinstance(exc.character, int):
        return f"unacceptable character #x{exc.character:04x}: {exc.reason}"
    return str(exc.reason)


def _expand(value: Any, mark: Mark, problems: list[Problem]):
    """Yield (value, mark, problems) per counted document. Problems are rooted at the original document; an
    expanded element keeps those under its own index, re-rooted."""
    if value is None:
        return
    if isinstance(value, list):
        for i, item in enumerate(value):
            if item is not None:
                yield item, mark.children[i], _reroot(problems, (i,))
        return
    if isinstance(value, dict) and value.get("apiVersion") == "v1" and value.get("kind") == "List":
        items = value.get("items")
        if isinstance(items, list):
            holder = mark.children.get("items") if isinstance(mark.children, dict) else None
            # Without a mark for "items" (it came through a merge key), items report the root's line.
            item_marks = holder.children if holder is not None else [Mark(mark.line)] * len(items)
            for i, item in enumerate(items):
                if item is not None:
                    yield item, item_marks[i], _reroot(problems, ("items", i))
            return
    yield value, mark, problems


def _reroot(problems: list[Problem], prefix: tuple) -> list[Problem]:
    n = len(prefix)
    return [Problem(p.path[n:], p.line, p.message) for p in problems if p.path[:n] == prefix]


# -- the native fast path -----------------------------------------------------------------------------------------
#
# yaml-rs parses YAML 1.2 in Rust, about 15 times faster than the path above. It is used only where it cannot
# differ from it: text without anchors, aliases, tags, merge keys, directives, escapes, tabs, block scalars,
# complex keys or numbers with a leading zero, and without characters PyYAML refuses; then every value is
# checked: a string that YAML 1.1 would have resolved to another type (``yes``, ``on``, ``1:30``, ``1e3``, ``~``),
# any float, a non-string key, a huge integer or a nesting deeper than kumahc's limit sends the file to the path
# above, as does any error (duplicate keys included). Everything else gives the same values (a differential
# property test checks it); lines are found by the path above when a message needs one.

_NOT_NATIVE = re.compile(r"[&*!%<>|?@`\t\\]|(?<![\w.:/-])[-+]?0[0-9a-zA-Z_]")
_NON_PRINTABLE = re.compile("[^\x09\x0A\x0D\x20-\x7E\x85\xA0-\uD7FF\uE000-\uFFFD\U00010000-\U0010ffff]")
_RESOLVERS = _Loader.yaml_implicit_resolvers


class _Fallback(Exception):
    """The native result might differ from PyYAML's: parse with the path above."""


def native(text: str, max_documents: int | None = None) -> list[Any] | None:
    """The non-null documents of ``text`` (expanded as :func:`parse` expands them) read by the native parser, or
    None when the file must take the path above (see the comment above). Raises :class:`TooManyDocuments` (its
    ``documents`` the values of those before) past ``max_documents`` YAML documents."""
    if yaml_rs is None or _NOT_NATIVE.search(text) or _NON_PRINTABLE.search(text):
        return None
    try:
        loaded = yaml_rs.loads(text, parse_datetime=False)
    except Exception:  # noqa: BLE001 - any problem is worded by the path above
        return None
    # One document comes back as its value, several as a list of them: a list whose items are lists cannot be
    # told apart, so it goes the other way.
    several = isinstance(loaded, list)
    roots = loaded if several else [loaded]
    if several and any(isinstance(r, list) or _is_list_kind(r) for r in roots):
        return None
    overflow = None
    if max_documents is not None and len(roots) > max_documents:
        overflow = _document_start(text, max_documents + 1)
        if overflow is None:  # one root sequence, not many documents: the path above places the line
            return None
        roots = roots[:max_documents]
    del loaded
    values = []
    try:
        for i, root in enumerate(roots):
            roots[i] = None  # the parser's value is dropped as its checked copy is made: the peak holds one copy
            values.append(_checked(root, 0))
    except _Fallback:
        return None
    if overflow is not None:
        kept = [v for v in values if v is not None]
        if any(isinstance(v, list) or _is_list_kind(v) for v in kept):
            return None  # expanded documents: the path above counts them
        raise TooManyDocuments(overflow, kept)
    out: list[Any] = []
    for value in values:
        if value is None:
            continue
        if isinstance(value, list):
            out.extend(v for v in value if v is not None)
        elif _is_list_kind(value):
            out.extend(v for v in value["items"] if v is not None)
        else:
            out.append(value)
    if max_documents is not None and len(out) > max_documents:
        return None
    return out


_NULL_TAG = "tag:yaml.org,2002:null"


def _composed_marks(text: str) -> list[Mark]:
    """The marks of every expanded document of ``text``, for a text the native parser read (no anchors, aliases,
    merge keys or duplicate keys; nesting within :data:`MAX_DEPTH`): libyaml composes the nodes, which is about ten
    times faster than the bounded Python composer and builder above, and gives the same lines."""
    out: list[Mark] = []
    for node in yaml.compose_all(text, Loader=yaml.CSafeLoader if hasattr(yaml, "CSafeLoader") else yaml.SafeLoader):
        if node is None or _is_null(node):
            continue
        items = node.value if isinstance(node, yaml.SequenceNode) else _list_items(node)
        if items is None:
            out.append(Mark(node.start_mark.line + 1, _node_children(node)))
        else:
            out.extend(Mark(item.start_mark.line + 1, _node_children(item)) for item in items if not _is_null(item))
    return out


def _is_null(node: yaml.Node) -> bool:
    return isinstance(node, yaml.ScalarNode) and node.tag == _NULL_TAG


def _list_items(node: yaml.Node) -> list[yaml.Node] | None:
    """The items of a core ``List`` document (as :func:`_expand` expands it), else None."""
    if not isinstance(node, yaml.MappingNode):
        return None
    fields = {k.value: v for k, v in node.value if isinstance(k, yaml.ScalarNode)}
    api, kind, items = fields.get("apiVersion"), fields.get("kind"), fields.get("items")
    if (isinstance(api, yaml.ScalarNode) and api.value == "v1" and isinstance(kind, yaml.ScalarNode)
            and kind.value == "List" and isinstance(items, yaml.SequenceNode)):
        return items.value
    return None


def _node_children(node: yaml.Node) -> dict[str, Mark] | list[Mark] | None:
    if isinstance(node, yaml.MappingNode):
        return {k.value: Mark(k.start_mark.line + 1, _node_children(v)) for k, v in node.value}
    if isinstance(node, yaml.SequenceNode):
        return [Mark(item.start_mark.line + 1, _node_children(item)) for item in node.value]
    return None


def cut(text: str, max_documents: int) -> tuple[str, int | None]:
    """Bound what :func:`parse` will hold in memory by ``max_documents``, not by the size of ``text``: ``(text,
    None)`` when it holds at most ``max_documents`` YAML documents (or may, being invalid YAML: :func:`parse`
    words the problem), else ``(the text before document max_documents + 1, the line where that document
    starts)``. Nothing is built: a cheap upper bound (:func:`_may_exceed`) lets almost every text through at once,
    the others are counted by libyaml's events, in constant memory."""
    if not _may_exceed(text, max_documents):
        return text, None
    found = _document_cut(text, max_documents + 1)
    if found is None:
        return text, None
    line, offset = found
    return text[:offset], line


def _may_exceed(text: str, max_documents: int) -> bool:
    """Whether ``text`` may hold more than ``max_documents`` YAML documents. Cheap (a few ms for 60 MB) and never
    wrong in the safe direction: every document after the first starts after a ``---`` or ``...`` marker. Markers
    inside scalars or comments only make it say yes more often; the event count of :func:`_document_cut` then
    decides."""
    return text.count("---") + text.count("...") + 1 > max_documents


def _line_offset(text: str, line: int) -> int:
    """Offset of the start of 1-based ``line`` in ``text`` (line breaks as YAML counts them: LF, CRLF or CR)."""
    offset = 0
    for _ in range(line - 1):
        lf, cr = text.find("\n", offset), text.find("\r", offset)
        if cr != -1 and (lf == -1 or cr < lf):
            offset = cr + 2 if text.startswith("\r\n", cr) else cr + 1
        elif lf != -1:
            offset = lf + 1
        else:
            return len(text)
    return offset


def _document_start(text: str, number: int) -> int | None:
    """Line where YAML document ``number`` (1-based) of ``text`` starts, from libyaml's events (no composing:
    about a tenth of the time the path above takes to reach it); None when the text has fewer documents."""
    found = _document_cut(text, number)
    return None if found is None else found[0]


def _document_cut(text: str, number: int) -> tuple[int, int] | None:
    """(line, offset) where YAML document ``number`` (1-based) of ``text`` starts: its 1-based line, and the
    offset in ``text`` of the start of that line (everything before it belongs to the documents before); None
    when the text has fewer documents or is not valid YAML before it. Memory stays constant: events are read
    one at a time and dropped."""
    loader = yaml.CSafeLoader(text) if hasattr(yaml, "CSafeLoader") else yaml.SafeLoader(text)
    seen = 0
    try:
        while loader.check_event():
            event = loader.get_event()
            if isinstance(event, yaml.DocumentStartEvent):
                seen += 1
                if seen == number:
                    mark = event.start_mark
                    # libyaml's index counts characters of ASCII text exactly; otherwise walk the lines.
                    offset = mark.index - mark.column if text.isascii() else _line_offset(text, mark.line + 1)
                    return mark.line + 1, offset
    except yaml.YAMLError:
        return None
    finally:
        loader.dispose()
    return None


def _checked(value: Any, depth: int) -> Any:
    """``value`` as the path above builds it (nulls in mappings dropped, short strings interned), or
    :class:`_Fallback`."""
    if depth > MAX_DEPTH:
        raise _Fallback
    t = type(value)
    if t is str:
        _plain_string(value)
        return _intern(value)
    if t is dict:
        out = {}
        for k, v in value.items():
            if type(k) is not str:
                raise _Fallback
            _plain_string(k)
            v = _checked(v, depth + 1)
            if v is not None:
                out[sys.intern(k)] = v
        return out
    if t is list:
        return [_checked(v, depth + 1) for v in value]
    if t is bool or value is None:
        return value
    if t is int and abs(value) < 10**MAX_INT_DIGITS:
        return value
    raise _Fallback  # floats, dates, huge integers


_YAML11_ONLY_BOOLEANS = frozenset("yes Yes YES no No NO on On ON off Off OFF".split())


def _plain_string(text: str) -> None:
    """Raise :class:`_Fallback` when the native parser may have read as a string what YAML 1.1 reads as another
    type. Only possible where YAML 1.2 (the native parser) has no such type for the plain text: the 1.1-only
    booleans, sexagesimal numbers, ``_`` in numbers and ``=``. Any other string a 1.1 resolver matches would have
    been typed by the native parser too, so it was quoted, and is a string for both."""
    for _tag, regexp in _RESOLVERS.get(text[:1], ()):
        if regexp.match(text) and (text in _YAML11_ONLY_BOOLEANS or "_" in text or ":" in text or text == "="):
            raise _Fallback


def _is_list_kind(value: Any) -> bool:
    return (isinstance(value, dict) and value.get("apiVersion") == "v1" and value.get("kind") == "List"
            and isinstance(value.get("items"), list))
