"""MeshHealthCheck resource types (spec 02 §1–§2)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from kumahc.resources.model import Resource

# 02 §2 defaults, applied after merge; also what ``inspect`` prints as "[default]".
DEFAULTS: dict[str, Any] = {"interval": "1m", "timeout": "15s", "unhealthyThreshold": 5, "healthyThreshold": 1}
HTTP_DEFAULT_PATH = "/"

# Top-level kind rank (02 §6 key 1) and `to` kind rank (key 3).
TOP_RANK = {"Mesh": 1, "Dataplane": 2, "MeshSubset": 3, "MeshGateway": 4, "MeshService": 5, "MeshServiceSubset": 8}
TO_RANK = {"Mesh": 1, "MeshService": 5}


@dataclass(frozen=True, slots=True)
class TargetRef:
    """A ``targetRef`` as written; absent fields are None. ``port`` is kumahc's ``_port``."""

    kind: str
    name: str | None = None
    namespace: str | None = None
    labels: tuple[tuple[str, str], ...] | None = None
    tags: tuple[tuple[str, str], ...] | None = None
    section_name: str | None = None
    proxy_types: tuple[str, ...] | None = None
    port: int | None = None

    @staticmethod
    def of(raw: dict[str, Any] | None) -> TargetRef:
        raw = raw or {"kind": "Mesh"}

        def items(key: str) -> tuple[tuple[str, str], ...] | None:
            v = raw.get(key)
            return None if v is None else tuple(sorted(v.items()))

        proxy_types = raw.get("proxyTypes")
        return TargetRef(raw.get("kind") or "", raw.get("name"), raw.get("namespace"), items("labels"), items("tags"),
                         raw.get("sectionName"), None if proxy_types is None else tuple(proxy_types), raw.get("_port"))


@dataclass(frozen=True, slots=True, eq=False)
class Entry:
    """``spec.to[index]``: its destination selector and its conf (``default``, nulls already dropped)."""

    policy: MeshHealthCheck
    index: int
    target_ref: TargetRef
    default: dict[str, Any]

    @property
    def label(self) -> str:
        """``<policy display name> to[<i>]``, as ``inspect`` names an entry."""
        return f"{self.policy.res.display_name} to[{self.index}]"


@dataclass(frozen=True, slots=True, eq=False)
class MeshHealthCheck:
    """A validated MeshHealthCheck. ``order`` = position in input order (ties of 02 §6 keep it)."""

    res: Resource
    order: int
    target_ref: TargetRef
    entries: tuple[Entry, ...]
    shadow: bool


def parse(res: Resource, order: int) -> MeshHealthCheck:
    """Type a MeshHealthCheck that passed :func:`kumahc.policies.meshhealthcheck.validate.validate`."""
    spec = res.fields()
    policy = MeshHealthCheck(res, order, TargetRef.of(spec.get("targetRef")), (),
                             res.labels.get("kuma.io/effect") == "shadow")
    entries = tuple(Entry(policy, i, TargetRef.of(item.get("targetRef")), item.get("default") or {})
                    for i, item in enumerate(spec.get("to") or ()))
    object.__setattr__(policy, "entries", entries)  # entries point back at their policy
    return policy
