"""The resource model (spec 01 §3, §5): what every later stage reads. Frozen dataclasses; ``body`` keeps the
structurally valid document so each policy family can read its own fields (its ``api`` module)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from kumahc.diagnostics import Location, Report
from kumahc.resources.fieldpath import format_path
from kumahc.resources.yaml.marks import RawDocument

KINDS = ("CircuitBreaker", "Dataplane", "HealthCheck", "KongUpstreamPolicy", "Mesh", "MeshCircuitBreaker",
         "MeshGateway", "MeshHTTPRoute", "MeshHealthCheck", "MeshService", "MeshTCPRoute", "Service")
CLUSTER_SCOPED = frozenset({"Mesh", "HealthCheck", "CircuitBreaker", "MeshGateway"})
KUBERNETES_ONLY = frozenset({"KongUpstreamPolicy", "Service"})
NO_MESH = frozenset({"Mesh", "KongUpstreamPolicy", "Service"})  # identity mesh is "" (01 §3)
STRICT = frozenset({"HealthCheck", "MeshHealthCheck", "KongUpstreamPolicy", "MeshCircuitBreaker", "CircuitBreaker"})
# Universal fields at top level, not under spec
LEGACY = frozenset({"Mesh", "Dataplane", "HealthCheck", "CircuitBreaker", "MeshGateway"})

API_VERSIONS = {
    "Mesh": "kuma.io/v1alpha1", "Dataplane": "kuma.io/v1alpha1", "MeshService": "kuma.io/v1alpha1",
    "HealthCheck": "kuma.io/v1alpha1", "MeshHealthCheck": "kuma.io/v1alpha1",
    "CircuitBreaker": "kuma.io/v1alpha1", "MeshCircuitBreaker": "kuma.io/v1alpha1",
    "KongUpstreamPolicy": "configuration.konghq.com/v1beta1", "Service": "v1",
    "MeshGateway": "kuma.io/v1alpha1", "MeshHTTPRoute": "kuma.io/v1alpha1", "MeshTCPRoute": "kuma.io/v1alpha1",
}

UNIVERSAL = "universal"
KUBERNETES = "kubernetes"


@dataclass(frozen=True, slots=True, eq=False)
class Source:
    """A resource's document: location for messages, line lookup for any field path."""

    loc: Location
    doc: RawDocument

    def line(self, path: tuple) -> int:
        return self.doc.line(path)

    def error(self, report: Report, path: tuple, message: str) -> None:
        report.error(self.loc, self.line(path), format_path(path) or None, message)

    def warning(self, report: Report, path: tuple, message: str) -> None:
        report.warning(self.loc, self.line(path), format_path(path) or None, message)

    def info(self, report: Report, path: tuple, message: str) -> None:
        report.info(self.loc, self.line(path), format_path(path) or None, message)

    @property
    def where(self) -> str:
        """``FILE:LINE`` of the document root."""
        return self.where_of(())

    def where_of(self, path: tuple) -> str:
        """``FILE:LINE`` of ``path``; for a stored resource (no lines) ``store: KIND NAME``."""
        line = self.line(path)
        return f"{self.loc.file}: {self.loc.subject}" if line is None else f"{self.loc.file}:{line}"


@dataclass(frozen=True, slots=True, eq=False)
class Resource:
    """One document of a kumahc kind, structurally valid.

    ``mesh`` is the resource's mesh (``default`` when unset; for a Service its ``kuma.io/mesh`` label or
    annotation); identity uses ``""`` for the kinds of :data:`NO_MESH`. ``base`` is the path prefix of the kind's
    fields as written (``()`` or ``("spec",)``)."""

    kind: str
    format: str
    name: str
    namespace: str
    mesh: str
    labels: dict[str, str]
    annotations: dict[str, str]
    creation_time: datetime | None
    base: tuple
    src: Source = field(repr=False)

    @property
    def body(self) -> dict[str, Any]:
        """The structurally valid document (None once released: typed Dataplanes, see
        :attr:`kumahc.pipeline.Options.keep_documents`)."""
        return self.src.doc.value

    @property
    def display_name(self) -> str:
        """``namespace/name`` for namespaced Kubernetes kinds, else ``name`` (01 §2)."""
        return f"{self.namespace}/{self.name}" if self.namespace else self.name

    @property
    def kuma_display_name(self) -> str:
        """Label ``kuma.io/display-name``, else ``name`` / ``metadata.name`` (02 §6 key 4)."""
        return self.labels.get("kuma.io/display-name", self.name)

    @property
    def identity(self) -> tuple[str, str, str, str]:
        return (self.kind, "" if self.kind in NO_MESH else self.mesh, self.namespace, self.name)

    def fields(self) -> dict[str, Any]:
        """The kind's fields: the document itself, or its ``spec``."""
        node: Any = self.body
        for step in self.base:
            node = node.get(step, {})
        return node

    def at(self, *path: Any) -> tuple:
        """A field path from the document root: ``res.at("conf", "interval")`` → ``("spec", "conf", "interval")``
        for a Kubernetes HealthCheck."""
        return (*self.base, *path)
