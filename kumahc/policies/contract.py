"""The interface every policy family (MeshHealthCheck, HealthCheck, KongUpstreamPolicy) offers the pipeline.

A family folder (``kumahc/<family>/``) holds its API types, validator, matching and Envoy translation side by
side, and exposes one class implementing :class:`PolicyFamily`. The pipeline never looks inside a family.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from typing import Protocol

from kumahc.diagnostics import Report
from kumahc.mesh.view import Destination, MeshView, PreviewDestination, PreviewProxy, Proxy
from kumahc.policies.combine import Contribution
from kumahc.resources.core import Service
from kumahc.resources.model import Resource


class PolicyFamily(Protocol):
    """One policy kind's part in the pipeline. Orders are positions in input order (01 §1)."""

    KIND: str  # the resource kind this family reads, e.g. "MeshHealthCheck"

    @classmethod
    def load(cls, resources: Sequence[tuple[int, Resource]], report: Report, preview: bool,
             services: Sequence[Service]) -> PolicyFamily:
        """Validate the family's resources (``(input order, resource)``), report problems, keep the valid ones.
        ``services`` are the validated core/v1 Services (Kong attachment)."""
        ...

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
