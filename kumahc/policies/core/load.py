"""The load step every family shares: validate each resource of the family's kind, keep the valid ones typed;
and the base of the engine-based family facades."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, TypeVar

from kumahc.diagnostics import Report
from kumahc.resources.model import Resource

P = TypeVar("P")


def valid_policies(resources: Sequence[tuple[int, Resource]], check: Callable[[Resource], bool],
                   parse: Callable[[Resource, int], P]) -> list[P]:
    """``(input order, resource)`` pairs → the typed policies whose ``check`` (which reports the problems) passed,
    in input order."""
    return [parse(res, order) for order, res in resources if check(res)]


@dataclass(slots=True)
class FamilyBase:
    """What every engine-based family facade shares: ``policies`` (the valid ones, input order), loading them,
    and handing their resources to the views; ``selection`` is the run's selection state. A subclass says how a
    resource is validated (:meth:`valid`) and which selection it uses (:meth:`selection_of`); a family declares
    ``KIND``, ``parse`` and its validator."""

    KIND: ClassVar[str]
    MESH_TYPOS: ClassVar[bool] = False
    parse: ClassVar[Callable[[Resource, int], Any]]
    policies: Sequence[Any] = ()
    selection: Any = None  # a subclass narrows it to its selection type

    @classmethod
    def load(cls, resources: Sequence[tuple[int, Resource]], report: Report, preview: bool,
             services: Sequence[Any] = ()) -> Any:
        """Validate every policy of the kind (``(input order, resource)`` pairs); keep the valid ones, typed."""
        policies = valid_policies(resources, lambda res: cls.valid(res, report, preview), cls.parse)
        return cls(policies, cls.selection_of(policies))

    @classmethod
    def valid(cls, res: Resource, report: Report, preview: bool) -> bool:
        """Validate one resource, reporting its problems; True when it has no error."""
        raise NotImplementedError

    @classmethod
    def selection_of(cls, policies: Sequence[Any]) -> Any:
        """This run's selection state over ``policies``."""
        raise NotImplementedError

    def held(self) -> list[Resource]:
        return [p.res for p in self.policies]
