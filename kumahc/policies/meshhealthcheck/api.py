"""MeshHealthCheck resource types (spec 02 §1–§2); target refs and entries are the engine's
(:mod:`kumahc.policies.core.targetref`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from kumahc.policies.core.targetref import Entry, TargetRef, attach_entries, is_shadow
from kumahc.resources.model import Resource

KIND = "MeshHealthCheck"

# 02 §2 defaults, applied after merge; also what ``inspect`` prints as "[default]".
DEFAULTS: dict[str, Any] = {"interval": "1m", "timeout": "15s", "unhealthyThreshold": 5, "healthyThreshold": 1}
HTTP_DEFAULT_PATH = "/"


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
    policy = MeshHealthCheck(res, order, TargetRef.of(spec.get("targetRef")), (), is_shadow(res))
    attach_entries(policy, spec)
    return policy


def fill_defaults(conf: dict[str, Any]) -> None:
    """02 §2 defaults into a merged conf, in place."""
    for k, v in DEFAULTS.items():
        conf.setdefault(k, v)
    if "http" in conf:
        conf["http"].setdefault("path", HTTP_DEFAULT_PATH)
