"""What ``kumahc migrate`` shares between legacy kinds (spec 07 §7): a legacy source selector becomes a top-level
targetRef, the produced policy keeps the legacy policy's format, YAML is written one way."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import yaml

from kumahc.policies.core.connection import WILDCARD, Selector
from kumahc.resources.model import KUBERNETES

API_VERSION = "kuma.io/v1alpha1"
SYSTEM_NAMESPACE = "kuma-system"  # Kuma's system namespace: where mesh-wide policies live on Kubernetes
MESH_LABEL = "kuma.io/mesh"
NOTE_MESH_SUBSET = ("# note: MeshSubset is deprecated since Kuma 2.10; prefer a Dataplane labels selector if your "
                    "proxies carry labels")


def dump(body: Mapping[str, Any]) -> str:
    """The body as 07 §7 writes it: block style, keys in insertion order, never wrapped."""
    return yaml.safe_dump(body, sort_keys=False, default_flow_style=False, allow_unicode=True, width=1000000)


def envelope(policy: Any, name: str, spec: dict[str, Any], kind: str) -> dict[str, Any]:
    """Same format family as the legacy ``policy``: Universal ``type/name/mesh/spec``; Kubernetes ``apiVersion/
    kind/metadata/spec`` with the policy in ``kuma-system`` and its mesh as the ``kuma.io/mesh`` label."""
    mesh = policy.res.mesh
    if policy.res.format == KUBERNETES:
        metadata = {"name": name, "namespace": SYSTEM_NAMESPACE, "labels": {MESH_LABEL: mesh}}
        return {"apiVersion": API_VERSION, "kind": kind, "metadata": metadata, "spec": spec}
    return {"type": kind, "name": name, "mesh": mesh, "spec": spec}


def split_source(source: Selector) -> tuple[dict[str, str], list[str]]:
    """``sources[i].match`` → (MeshSubset tags = the exact entries, keys sorted; the wildcard keys dropped)."""
    tags = {k: v for k, v in source.tags if v != WILDCARD}
    dropped = [k for k, v in source.tags if v == WILDCARD]
    return tags, dropped


def target_ref(source: Selector) -> dict[str, Any]:
    """Every value ``*`` → ``{kind: Mesh}``; else ``{kind: MeshSubset, tags}`` without the ``*`` entries, because
    MeshSubset tags cannot hold wildcards."""
    tags, _ = split_source(source)
    return {"kind": "MeshSubset", "tags": tags} if tags else {"kind": "Mesh"}


def destination_ref(destination: Selector) -> dict[str, Any]:
    """``destinations[j].match`` → ``to[j].targetRef``: ``kuma.io/service: X`` → MeshService X, ``*`` → Mesh."""
    service = destination.service
    return {"kind": "Mesh"} if service == WILDCARD else {"kind": "MeshService", "name": service}


def policies_of(families: Iterable[Any], family: type) -> list[Any]:
    """The validated policies of the ``family`` object among a pipeline run's ``families``, in input order."""
    for fam in families:
        if isinstance(fam, family):
            return sorted(fam.policies, key=lambda p: p.order)
    return []
