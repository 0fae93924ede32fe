"""The load step every family shares: validate each resource of the family's kind, keep the valid ones typed."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TypeVar

from kumahc.resources.model import Resource

P = TypeVar("P")


def valid_policies(resources: Sequence[tuple[int, Resource]], check: Callable[[Resource], bool],
                   parse: Callable[[Resource, int], P]) -> list[P]:
    """``(input order, resource)`` pairs → the typed policies whose ``check`` (which reports the problems) passed,
    in input order."""
    return [parse(res, order) for order, res in resources if check(res)]
