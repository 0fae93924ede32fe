"""Target refs and the policies built on them (Kuma's ``common/v1alpha1.TargetRef``): a top-level ``targetRef``
selects proxies, each ``spec.to[i]`` entry names destinations and carries a ``default`` conf.

Every targetRef family (MeshHealthCheck, MeshCircuitBreaker, ...) types its policies as :class:`TargetRefPolicy`
with :class:`Entry` entries, so the engine's selection, matching and merge work on any of them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from kumahc.resources.model import Resource

# Top-level kind rank (Kuma's rule priority, spec 02 §6 key 1) and `to` kind rank (key 3).
TOP_RANK = {"Mesh": 1, "Dataplane": 2, "MeshSubset": 3, "MeshGateway": 4, "MeshService": 5, "MeshServiceSubset": 8}
TO_RANK = {"Mesh": 1, "MeshService": 5}
UNSUPPORTED_DESTINATIONS = ("MeshExternalService", "MeshMultiZoneService")  # entries that match no destination


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
        """Type a validated ``targetRef`` mapping; None (absent) is ``{kind: Mesh}``."""
        raw = raw or {"kind": "Mesh"}

        def items(key: str) -> tuple[tuple[str, str], ...] | None:
            v = raw.get(key)
            return None if v is None else tuple(sorted(v.items()))

        proxy_types = raw.get("proxyTypes")
        return TargetRef(raw.get("kind") or "", raw.get("name"), raw.get("namespace"), items("labels"), items("tags"),
                         raw.get("sectionName"), None if proxy_types is None else tuple(proxy_types), raw.get("_port"))


class TargetRefPolicy(Protocol):
    """What the engine reads of a validated targetRef policy: its resource, input order (ties of the priority
    sort keep it), top-level targetRef, ``to`` entries and whether it is a shadow policy (selects nothing)."""

    @property
    def res(self) -> Resource: ...

    @property
    def order(self) -> int: ...

    @property
    def target_ref(self) -> TargetRef: ...

    @property
    def entries(self) -> tuple[Entry, ...]: ...

    @property
    def shadow(self) -> bool: ...


@dataclass(frozen=True, slots=True, eq=False)
class Entry:
    """``spec.to[index]``: its destination selector and its conf (``default``, nulls already dropped)."""

    policy: TargetRefPolicy
    index: int
    target_ref: TargetRef
    default: dict[str, Any]

    @property
    def label(self) -> str:
        """``<policy display name> to[<i>]``, as ``inspect`` names an entry."""
        return f"{self.policy.res.display_name} to[{self.index}]"


def is_shadow(res: Resource) -> bool:
    """``kuma.io/effect: shadow``: validated and shown, never applied."""
    return res.labels.get("kuma.io/effect") == "shadow"


def attach_entries(policy: TargetRefPolicy, spec: dict[str, Any]) -> None:
    """Give a just-built frozen ``policy`` its ``to`` entries (they point back at it), from ``spec.to``."""
    entries = tuple(Entry(policy, i, TargetRef.of(item.get("targetRef")), item.get("default") or {})
                    for i, item in enumerate(spec.get("to") or ()))
    object.__setattr__(policy, "entries", entries)


def ref_text(ref: TargetRef) -> str:
    """``Mesh`` / ``MeshService backend section http`` / ``MeshService labels k=v`` (for ``inspect``)."""
    if ref.kind != "MeshService":
        return ref.kind
    if ref.labels is not None:
        text = "MeshService labels " + ",".join(f"{k}={v}" for k, v in ref.labels)
    else:
        text = f"MeshService {ref.name}"
    return text + (f" section {ref.section_name}" if ref.section_name else "")
