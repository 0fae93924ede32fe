"""YAML syntax errors in kumahc's words: what is wrong and what to write instead, with the column.

The parser's own texts (``mapping values are not allowed in this context``) name grammar productions; these say
what a person editing a policy file usually did (a value with ``: `` not quoted, a tab, an unclosed ``[``). A
problem without a wording here keeps the parser's text, prefixed ``YAML syntax:``.
"""

from __future__ import annotations

import re
from typing import Any

# (parser problem prefix, context prefix or None, kumahc's words)
_WORDS: tuple[tuple[str, str | None, str], ...] = (
    ("mapping values are not allowed", None,
     '": " where no new key can start (quote a value that contains ": ", or fix the indentation)'),
    ("did not find expected ',' or ']'", None, '"[" list not closed: expected "," or "]"'),
    ("did not find expected ',' or '}'", None, '"{" mapping not closed: expected "," or "}"'),
    # libyaml and PyYAML report an early end of the stream only inside a quoted scalar.
    ("found unexpected end of stream", "while scanning a quoted scalar",
     "quoted string not closed before the end of the file"),
    ("did not find expected key", None, "expected a key at this indentation (check the indentation of this line)"),
    ("did not find expected '-' indicator", None,
     'expected a list item ("- ...") at this indentation (check the indentation of this line)'),
    ("could not find expected ':'", None, 'expected ": " after a key (a key without a value, or a line broken '
                                          'inside a key)'),
    ("found unknown escape character", None,
     'unknown escape in a double-quoted string (use single quotes, or write "\\\\" for a backslash)'),
    ("did not find expected node content", None, "expected a value here"),
    ("block sequence entries are not allowed", None,
     'a list item ("- ") cannot start here (check the indentation of this line)'),
    ("did not find expected <document start>", None,
     'text after the end of a document (start a new document with "---")'),
    # The composer puts "found duplicate anchor …; first occurrence" in the context, "second occurrence" in the
    # problem (its mark: the second anchor).
    ("second occurrence", "found duplicate anchor", "anchor defined twice"),
    ("found a tab character", None, "tab used for indentation; indent with spaces"),
    ("found character that cannot start any token", None, None),  # worded from the character, below
)

_ALIAS = re.compile(r"found undefined alias '?([^']*)'?")


def syntax_error(text: str, exc: Any) -> tuple[int, str]:
    """(line, message) for a parser error ``exc`` (a ``yaml.MarkedYAMLError``) raised on ``text``; the message
    names the column (1-based) when the parser gave one: ``column 5: "[" list not closed: …``."""
    mark = exc.problem_mark or exc.context_mark
    line = mark.line + 1 if mark else 1
    where = f"column {mark.column + 1}: " if mark else ""
    return line, where + _words(text, exc, mark)


def _words(text: str, exc: Any, mark: Any) -> str:
    problem = exc.problem or exc.context or "syntax error"
    context = exc.context or ""
    found = _ALIAS.match(problem)
    if found:
        name = found.group(1)
        return f'alias "*{name}" used before any anchor "&{name}" in this document'
    for prefix, ctx, words in _WORDS:
        if problem.startswith(prefix) and (ctx is None or context.startswith(ctx)):
            if words is not None:
                return words
            char = _char_at(text, mark)
            if char == "\t":
                return "tab used for indentation; indent with spaces"
            shown = repr(char)[1:-1] if char else "?"
            return f'"{shown}" cannot start a value (quote the value)'
    return f"YAML syntax: {problem}"


def _char_at(text: str, mark: Any) -> str:
    if mark is None:
        return ""
    index = getattr(mark, "index", None)
    if isinstance(index, int) and 0 <= index < len(text):
        return text[index]
    lines = text.split("\n")
    if mark.line < len(lines) and mark.column < len(lines[mark.line]):
        return lines[mark.line][mark.column]
    return ""
