"""The exceptions of the YAML reader: a syntax error (its line, kumahc's words, the documents before it), too many
documents, and the bound an input passed (nesting, size, integer length) while it is being read."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the documents model raises none of these
    from kumahc.resources.yaml.marks import RawDocument


class YamlSyntaxError(Exception):
    """``FILE:LINE: invalid YAML: <problem>``; documents before it in the file are still returned."""

    def __init__(self, line: int, problem: str, documents: list[RawDocument]):
        super().__init__(problem)
        self.line = line
        self.problem = problem
        self.documents = documents


class TooLarge(Exception):
    """Input past one of kumahc's bounds at ``line``: reading stops and ``problem`` becomes a syntax error line."""

    def __init__(self, line: int, problem: str):
        super().__init__(problem)
        self.line = line
        self.problem = problem


class TooManyDocuments(Exception):
    """The file holds more documents than the run may still read; ``line`` is where the first one too many
    starts, ``documents`` those read before it."""

    def __init__(self, line: int, documents: list[RawDocument]):
        super().__init__(line)
        self.line = line
        self.documents = documents
