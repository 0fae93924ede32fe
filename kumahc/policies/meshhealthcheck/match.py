"""Which proxies a MeshHealthCheck selects (02 §4), which destinations an entry matches (02 §5), and the priority
sort and RFC 7386 merge of matching entries (02 §6). Pure functions over the mesh view."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from kumahc.mesh.view import Destination, Proxy
from kumahc.policies.meshhealthcheck.api import (
    DEFAULTS,
    HTTP_DEFAULT_PATH,
    TO_RANK,
    TOP_RANK,
    Entry,
    MeshHealthCheck,
    TargetRef,
)
from kumahc.resources.model import UNIVERSAL
from kumahc.resources.tags import SERVICE, selector_matches

K8S_NAME = re.compile(r"^([^_]+)_([^_]+)_svc_([0-9]+)$")


def selects(policy: MeshHealthCheck, proxy: Proxy) -> bool:
    """02 §4: does the top-level targetRef select ``proxy``? Only proxies of the policy's mesh; shadow
    policies select nothing."""
    if policy.shadow or proxy.mesh != policy.res.mesh:
        return False
    ref = policy.target_ref
    kind = ref.kind
    if kind in ("Mesh", "MeshSubset"):
        if ref.proxy_types is not None and "Sidecar" not in ref.proxy_types:
            return False
        if kind == "Mesh" or not ref.tags:
            return True
        return any(selector_matches(dict(ref.tags), tags) for tags in proxy.inbound_tags)
    if kind == "Dataplane":
        if ref.labels is not None:
            return all(proxy.labels.get(k) == v for k, v in ref.labels)
        if ref.name is None:
            return True
        if proxy.format == UNIVERSAL:
            return ref.namespace is None and proxy.dp_name == ref.name
        return proxy.dp_name == ref.name and proxy.namespace == (ref.namespace or policy.res.namespace)
    if kind == "MeshService":
        return any(tags.get(SERVICE) == ref.name for tags in proxy.inbound_tags)
    if kind == "MeshServiceSubset":
        want = {**dict(ref.tags or ()), SERVICE: ref.name}
        return any(selector_matches(want, tags) for tags in proxy.inbound_tags)
    return False  # MeshGateway


def entry_matches(entry: Entry, dest: Destination) -> bool:
    """02 §5: does ``to[i].targetRef`` match destination ``dest`` (identity of 01 §6.1)?"""
    ref = entry.target_ref
    if ref.kind == "Mesh":
        return True
    if ref.kind != "MeshService":
        return False
    if ref.labels is not None:
        if not all(dest.labels.get(k) == v for k, v in ref.labels):
            return False
        return ref.section_name is None or dest.section == ref.section_name
    m = K8S_NAME.match(ref.name or "")
    if m and ref.section_name is None:
        return dest.id_name == m.group(1) and dest.namespace == m.group(2) and dest.port == int(m.group(3))
    namespace = ref.namespace if ref.namespace is not None else entry.policy.res.namespace
    if dest.id_name != ref.name or dest.namespace != namespace:
        return False
    return ref.section_name is None or dest.section == ref.section_name


def sort_key(entry: Entry) -> tuple:
    """Keys 1–3 of 02 §6 (ascending = lower priority first); key 4 is applied by :func:`sorted_entries`."""
    top = entry.policy.target_ref
    dp_name_based = 1 if top.kind == "Dataplane" and top.name is not None and top.labels is None else 0
    to = entry.target_ref
    return (TOP_RANK.get(top.kind, 1), dp_name_based, TO_RANK.get(to.kind, 5),
            1 if to.kind == "MeshService" and to.section_name is not None else 0)


def sorted_entries(entries: Iterable[Entry]) -> list[Entry]:
    """Stable sort of matching entries, lowest priority first (merged first). Input order, then ``to`` index,
    breaks ties; the Kuma display name sorts descending (``zzz`` first, ``aaa`` last and winning)."""
    base = sorted(entries, key=lambda e: (e.policy.order, e.index))
    by_name = sorted(base, key=lambda e: e.policy.res.kuma_display_name, reverse=True)
    return sorted(by_name, key=sort_key)


@dataclass(frozen=True, slots=True)
class Merged:
    """The merged conf (02 §2 defaults filled) and, for ``inspect``, the entry that last set each leaf path
    (absent from ``origins`` = a default)."""

    conf: dict[str, Any]
    origins: dict[tuple[str, ...], Entry]
    key: str  # the conf as canonical JSON: equal confs, equal keys (translation cache)


def merge(entries: Sequence[Entry]) -> Merged:
    """RFC 7386 merge of the entries' ``default`` objects in order (later wins): objects merge recursively,
    scalars and lists are replaced wholesale, unset fields never erase. Then 02 §2 defaults fill the gaps."""
    conf: dict[str, Any] = {}
    origins: dict[tuple[str, ...], Entry] = {}
    for e in entries:
        _patch(conf, e.default, (), e, origins)
    for k, v in DEFAULTS.items():
        conf.setdefault(k, v)
    if "http" in conf:
        conf["http"].setdefault("path", HTTP_DEFAULT_PATH)
    return Merged(conf, origins, json.dumps(conf, sort_keys=True))


def _patch(target: dict[str, Any], patch: dict[str, Any], path: tuple, entry: Entry,
           origins: dict[tuple[str, ...], Entry]) -> None:
    for k, v in patch.items():
        p = (*path, k)
        if isinstance(v, dict):
            child = target.get(k)
            if not isinstance(child, dict):
                child = target[k] = {}
            if not v:
                origins.setdefault(p, entry)  # an empty object is a leaf until something is set inside it
            _patch(child, v, p, entry, origins)
        else:
            target[k] = list(v) if isinstance(v, list) else v
            origins[p] = entry


def ref_text(ref: TargetRef) -> str:
    """``Mesh`` / ``MeshService backend section http`` / ``MeshService labels k=v`` (for ``inspect``)."""
    if ref.kind != "MeshService":
        return ref.kind
    if ref.labels is not None:
        text = "MeshService labels " + ",".join(f"{k}={v}" for k, v in ref.labels)
    else:
        text = f"MeshService {ref.name}"
    return text + (f" section {ref.section_name}" if ref.section_name else "")

