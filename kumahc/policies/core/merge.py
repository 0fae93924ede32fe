"""The merge of matching entries' confs (spec 02 §6; Kuma's ``core/rules`` merge): RFC 7386 JSON merge patch in
priority order, recording which entry set each leaf so ``inspect`` can name it."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from kumahc.policies.core.targetref import Entry


@dataclass(frozen=True, slots=True)
class Merged:
    """The merged conf (a family's defaults filled) and, for ``inspect``, the entry that last set each leaf path
    (absent from ``origins`` = a default)."""

    conf: dict[str, Any]
    origins: dict[tuple[str, ...], Entry]
    key: str  # the conf as canonical JSON: equal confs, equal keys (translation caches)


def merge(entries: Sequence[Entry], fill: Callable[[dict[str, Any]], None] | None = None) -> Merged:
    """RFC 7386 merge of the entries' ``default`` objects in order (later wins): objects merge recursively,
    scalars and lists are replaced wholesale, unset fields never erase. ``fill`` then adds the family's defaults
    in place (MeshHealthCheck's 02 §2; MeshCircuitBreaker has none)."""
    conf: dict[str, Any] = {}
    origins: dict[tuple[str, ...], Entry] = {}
    for e in entries:
        patch(conf, e.default, (), e, origins)
    if fill is not None:
        fill(conf)
    return Merged(conf, origins, json.dumps(conf, sort_keys=True))


def patch(target: dict[str, Any], change: dict[str, Any], path: tuple, entry: Entry,
          origins: dict[tuple[str, ...], Entry]) -> None:
    """Apply one entry's ``change`` to ``target`` (under ``path``), recording ``entry`` as the origin of every
    leaf it sets. An empty object is a leaf until something is set inside it."""
    for k, v in change.items():
        p = (*path, k)
        if isinstance(v, dict):
            child = target.get(k)
            if not isinstance(child, dict):
                child = target[k] = {}
            if not v:
                origins.setdefault(p, entry)
            patch(child, v, p, entry, origins)
        else:
            target[k] = list(v) if isinstance(v, list) else v
            origins[p] = entry
