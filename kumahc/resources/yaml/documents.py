"""YAML/JSON documents with a line number for every node (spec 01 §1).

PyYAML composes the node graph (safe-loader semantics, YAML 1.1); the builder makes plain Python values from it
and, beside them, a :class:`~kumahc.resources.yaml.marks.Mark` tree so any field path can be turned into the line a
message should name. Timestamps stay strings (the schema checks RFC 3339), mapping keys must be strings, duplicate
keys are reported, merge keys (``<<``) and aliases work within a document. Alias expansion and nesting depth are
bounded so hostile input ends in an error line, never in a hang or a traceback. Texts the native parser can read
take the fast path (:mod:`kumahc.resources.yaml.native`); their lines are found only when a message needs one.
"""

from __future__ import annotations

import zlib

import yaml

from kumahc.resources.yaml import words
from kumahc.resources.yaml.builder import Builder, expand, roots
from kumahc.resources.yaml.errors import TooLarge, TooManyDocuments, YamlSyntaxError
from kumahc.resources.yaml.loaders import MAX_DEPTH, Loader, PyLoader
from kumahc.resources.yaml.marks import Mark, RawDocument
from kumahc.resources.yaml.native import native, read_native  # noqa: F401 - native: the differential tests' entry


class LazyMarks:
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


def _line_of_position(text: str, position: int) -> int:
    return text.count("\n", 0, max(position, 0)) + 1


def parse(text: str, marks: bool = False, max_documents: int | None = None) -> list[RawDocument]:
    """Split ``text`` into expanded documents (01 §1): empty/null ones skipped, a root sequence or a core
    ``List`` gives one document per element. ``marks``: build every line mark now; by default only the roots'
    (and the rest on first use, :class:`RawDocument`). ``max_documents`` bounds the YAML documents and expanded
    elements read, empty ones included.

    Raises :class:`YamlSyntaxError` (with the documents read before the problem) on any YAML problem, and
    :class:`TooManyDocuments` past ``max_documents``. The whole text is parsed natively before documents are
    counted: callers bound memory with :func:`~kumahc.resources.yaml.cutting.cut` first."""
    documents: list[RawDocument] = []
    lazy = None if marks else LazyMarks(text)
    if not marks:
        try:
            fast = read_native(text, max_documents)
        except TooManyDocuments as exc:
            lazy.native = True
            exc.documents = [RawDocument(v, None, i + 1, [], lazy) for i, v in enumerate(exc.documents)]
            raise
        if fast is not None:
            lazy.native = True
            return [RawDocument(v, None, i + 1, [], lazy, fast.plain) for i, v in enumerate(fast.values)]
    loader = Loader(text)
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
            builder = Builder(loader, marks)
            value, children, _ = builder.build(node, (), 0)
            root = Mark(node.start_mark.line + 1, children if marks else roots(node))
            first = True
            for v, m, problems in expand(value, root, builder.problems):
                if budget is not None and not first:
                    budget -= 1
                    if budget < 0:
                        raise TooManyDocuments(m.line, documents)
                first = False
                documents.append(RawDocument(v, m, len(documents) + 1, problems, lazy))
    except TooLarge as exc:
        raise YamlSyntaxError(exc.line, exc.problem, documents) from None
    except yaml.MarkedYAMLError as exc:
        if exc.problem == _LIBYAML_NESTING:
            raise YamlSyntaxError(_nesting_line(text, exc), f"nesting deeper than {MAX_DEPTH} levels",
                                  documents) from None
        line, problem = words.syntax_error(text, exc)
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
    loader = PyLoader(text)
    try:
        while loader.check_node():
            loader.get_node()
    except TooLarge as found:
        return found.line
    except (yaml.YAMLError, RecursionError):
        pass
    finally:
        loader.dispose()
    mark = exc.problem_mark or exc.context_mark
    return mark.line + 1 if mark else 1


def _reader_problem(exc: yaml.reader.ReaderError) -> str:
    if isinstance(exc.character, int):
        return f"unacceptable character #x{exc.character:04x}: {exc.reason}"
    return str(exc.reason)


_NULL_TAG = "tag:yaml.org,2002:null"


def _composed_marks(text: str) -> list[Mark]:
    """The marks of every expanded document of ``text``, for a text the native parser read (no anchors, aliases,
    merge keys or duplicate keys; nesting within :data:`MAX_DEPTH`): libyaml composes the nodes, which is about ten
    times faster than the bounded Python composer and builder, and gives the same lines."""
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
    """The items of a core ``List`` document (as :func:`~kumahc.resources.yaml.builder.expand` expands it), else
    None."""
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
