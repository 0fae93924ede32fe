"""What ``inspect`` shows of a targetRef family's outcome on one cluster: the matching entries in merge order and
the merged conf with the entry that set each leaf. Plain data (JSON-ready) and its text lines."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from kumahc.policies.core.merge import Merged
from kumahc.policies.core.targetref import Entry, ref_text


@dataclass(frozen=True, slots=True)
class ConfLine:
    path: str
    value: Any
    origin: str  # "<policy> to[<i>]" or "default"


@dataclass(frozen=True, slots=True)
class EntryLine:
    entry: str  # "<policy> to[<i>]"
    target: str  # "Mesh", "MeshService backend section http", ...
    where: str  # FILE:LINE of the to[i] item


def entry_lines(entries: Sequence[Entry]) -> tuple[EntryLine, ...]:
    """One line per matching entry, in merge order."""
    return tuple(EntryLine(e.label, ref_text(e.target_ref), e.policy.res.src.where_of(("spec", "to", e.index)))
                 for e in entries)


def conf_lines(merged: Merged, orders: Mapping[str, tuple[str, ...]], known_only: bool = False) -> list[ConfLine]:
    """One line per set leaf of a merged conf: objects are descended, lists and objects without set fields
    (``tcp: {}``) are leaves. Keys of an object come in ``orders[<its key>]`` order (``orders[""]`` for the top
    level), others after them by name; ``known_only`` = top-level keys outside ``orders[""]`` are not shown.
    Origin = the entry that set the leaf last, else ``default`` (filled in by the family's defaults)."""
    out: list[ConfLine] = []

    def walk(value: Any, path: tuple[str, ...]) -> None:
        if isinstance(value, dict) and value:
            order = orders.get(path[-1] if path else "", ())
            if known_only and not path:
                keys = [k for k in order if k in value]
            else:
                keys = sorted(value, key=lambda k: (order.index(k) if k in order else len(order), k))
            for k in keys:
                walk(value[k], (*path, k))
            return
        entry = merged.origins.get(path)
        out.append(ConfLine(".".join(path), value, entry.label if entry is not None else "default"))

    walk(merged.conf, ())
    return out


def text_lines(kind: str, entries: Sequence[EntryLine], merged: Sequence[ConfLine]) -> list[str]:
    """``  KIND entries: none``, or the entries in merge order and the merged conf (two-space indents)."""
    if not entries:
        return [f"  {kind} entries: none"]
    lines = [f"  {kind} entries (merge order, lowest priority first):"]
    lines += [f"    {i}. {e.entry} -> {e.target} ({e.where})" for i, e in enumerate(entries, 1)]
    lines.append("  merged conf:")
    lines += [f"    {m.path}: {json.dumps(m.value, separators=(',', ':'), ensure_ascii=False)}  [{m.origin}]"
              for m in merged]
    return lines


def own_labels(entries: Sequence[Entry], res: Any) -> set[str]:
    """Labels of the entries that belong to the policy of resource ``res``."""
    return {e.label for e in entries if e.policy.res is res}
