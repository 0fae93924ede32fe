"""PyYAML loaders under kumahc's bounds: libyaml's parser (when PyYAML has it) under the Python composer, nesting
bounded by :data:`MAX_DEPTH`, integers by :data:`MAX_INT_DIGITS`, timestamps kept as strings (safe-loader
semantics, YAML 1.1)."""

from __future__ import annotations

from typing import Any

import yaml

from kumahc.resources.yaml.errors import TooLarge

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
        is bounded by :meth:`Loader.compose_node`."""

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
                raise TooLarge(self.peek_event().start_mark.line + 1, f"nesting deeper than {MAX_DEPTH} levels")
            return super().compose_node(parent, index)  # type: ignore[misc]
        finally:
            self._depth -= 1


class Loader(_Bounded, _Base):  # type: ignore[misc, valid-type]
    """Safe loader whose timestamps stay strings: ``creationTime`` is validated as RFC 3339 text, and a value
    such as ``2024-01-01`` in a string field must not turn into a ``date``."""


class PyLoader(_Bounded, yaml.SafeLoader):
    """The pure-Python parser under the same bound. Used only to place kumahc's nesting error when libyaml's
    scanner (which looks ahead on a flow line) stops first with its own limit (libyaml >= 0.2.6: 1,000 levels)."""


for _cls in (Loader, PyLoader):
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
        raise TooLarge(line, f"integer larger than {MAX_INT_DIGITS} digits")
    try:
        value = yaml.SafeLoader.construct_yaml_int(loader, node)
    except ValueError:
        raise TooLarge(line, f"integer larger than {MAX_INT_DIGITS} digits") from None
    if abs(value) >= 10**MAX_INT_DIGITS:
        raise TooLarge(line, f"integer larger than {MAX_INT_DIGITS} digits")
    return value


Loader.add_constructor("tag:yaml.org,2002:int", _construct_int)
PyLoader.add_constructor("tag:yaml.org,2002:int", _construct_int)
