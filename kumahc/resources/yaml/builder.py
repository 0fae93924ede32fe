"""The pure-Python marked builder: one composed PyYAML document to (value, marks), with aliases built once, merge
keys, duplicate and non-string keys reported, and the size after alias expansion bounded; then the expansion of a
root sequence or a core ``List`` into one counted document per element (spec 01 §1)."""

from __future__ import annotations

import sys
from typing import Any

import yaml

from kumahc.resources.yaml.errors import TooLarge
from kumahc.resources.yaml.loaders import MAX_DEPTH, MAX_NODES
from kumahc.resources.yaml.marks import Mark, Problem

_MERGE_TAG = "tag:yaml.org,2002:merge"


class Builder:
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
            raise TooLarge(line, "recursive alias")
        if depth > MAX_DEPTH:
            raise TooLarge(line, f"nesting deeper than {MAX_DEPTH} levels")
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
                value, children, size = intern(self.constructor.construct_object(node, deep=True)), None, 1
        finally:
            self.active.discard(key)
        if size > MAX_NODES:
            raise TooLarge(line, f"document larger than {MAX_NODES} nodes after alias expansion")
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
        raise TooLarge(node.start_mark.line + 1, "a merge key (<<) needs a mapping or a list of mappings")


def roots(node: yaml.Node) -> list[Mark] | dict[str, Mark] | None:
    """The marks :func:`expand` needs to give expanded documents their root lines: a root sequence's items, a
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


def intern(value: Any) -> Any:
    """``value``, a short string interned (one copy for the whole run)."""
    # Service names, protocols and tag values repeat across thousands of documents: keep one copy of each.
    return sys.intern(value) if type(value) is str and len(value) <= 128 else value


def expand(value: Any, mark: Mark, problems: list[Problem]):
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
