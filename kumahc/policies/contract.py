"""The contract every policy family (MeshHealthCheck, KongUpstreamPolicy, HealthCheck, MeshCircuitBreaker,
CircuitBreaker, ...) offers the pipeline and the views.

A family folder (``kumahc/policies/<kind>/``) holds its API types, validator, Envoy translation and one class
implementing :class:`PolicyFamily`; it uses the shared engine (:mod:`kumahc.policies.core`) and never another
family. The pipeline and the views never look inside a family nor branch on its kind: adding a family is its
folder plus one line in :mod:`kumahc.policies.registry`.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from typing import Any, Protocol

from kumahc.diagnostics import Report
from kumahc.mesh.model import Destination, MeshView, PreviewDestination, PreviewProxy, Proxy
from kumahc.policies.combine import Attachment, Combined, Contribution
from kumahc.resources.core import Service
from kumahc.resources.model import Resource

__all__ = ["Attachment", "PolicyFamily"]


class PolicyFamily(Protocol):
    """One policy kind's part in the pipeline and the views. Orders are positions in input order (01 §1)."""

    KIND: str  # the resource kind this family reads, e.g. "MeshHealthCheck"
    MESH_TYPOS: bool  # a policy naming a mesh no proxy is in (others have proxies) gets a "did you mean" warning

    @classmethod
    def load(cls, resources: Sequence[tuple[int, Resource]], report: Report, preview: bool,
             services: Sequence[Service]) -> PolicyFamily:
        """Validate the family's resources (``(input order, resource)``), report problems, keep the valid ones.
        ``services`` are the validated core/v1 Services (Kong attachment)."""
        ...

    # --- pipeline ------------------------------------------------------------------------------------------------

    def preview_proxies(self) -> list[tuple[int, PreviewProxy]]:
        """Synthetic proxies asked for in preview mode (01 §7), with the asking policy's input order."""
        ...

    def preview_destinations(self) -> list[tuple[int, PreviewDestination]]:
        """Synthetic destinations asked for in preview mode (01 §7)."""
        ...

    def preview_votes(self, dest: Destination) -> set[str]:
        """Protocols (``grpc``, ``http``) the family's entries ask of a preview destination (01 §7)."""
        ...

    def proxy_key(self, proxy: Proxy) -> Hashable:
        """Everything about ``proxy`` that this family's contributions depend on (e.g. which policies select it).
        Proxies with equal keys for every family, in the same mesh with the same destinations, get the same
        clusters, so the pipeline computes them once."""
        ...

    def destination_key(self, proxy: Proxy, dest: Destination) -> Hashable:
        """Everything this family's contribution to one cluster depends on besides the destination (policy
        resources, not per-run objects). Equal keys for every family, same destination: same cluster, so a reload
        reuses it."""
        ...

    def contribute(self, proxy: Proxy, dest: Destination) -> Contribution | None:
        """The family's field groups for one cluster (03 §5), or None."""
        ...

    def mesh_warnings(self, view: MeshView, report: Report) -> None:
        """Warnings that need the whole mesh (e.g. a policy matching no proxy)."""
        ...

    # --- views ---------------------------------------------------------------------------------------------------

    def held(self) -> list[Resource]:
        """The valid policies' resources, in input order (``inspect --policy KIND/NAME`` looks names up here)."""
        ...

    def explain(self, proxy: Proxy, dest: Destination) -> dict[str, Any]:
        """``inspect --proxy``: this family's fields of one cluster's explanation (plain data, JSON-ready), keyed
        by their JSON names."""
        ...

    @staticmethod
    def explain_lines(fields: dict[str, Any]) -> list[str]:
        """``inspect --proxy`` text: this family's lines of one cluster, from the fields :meth:`explain` gave."""
        ...

    def attach(self, res: Resource, proxy: Proxy, dest: Destination, groups: Combined,
               lost: list[str]) -> Attachment | None:
        """``inspect --policy``: what ``res`` (one of this family's policies) does on one cluster, or None when it
        does not reach it. ``groups`` = the cluster's combine result; ``lost`` = the precedence warnings that name
        ``res`` for this cluster."""
        ...

    def merged(self, proxy: Proxy, dest: Destination) -> list[str] | None:
        """Display names of this family's policies merged into its groups on one cluster, in merge order, once
        each; None when the family's groups come from one policy (the group's ``source``)."""
        ...

