"""Which destinations a ``to[]`` entry matches (spec 02 §5, Kuma's ``core/matchers``) and the priority order of
matching entries (02 §6, Kuma's rule sorting): pure functions over the mesh view, the same for every targetRef
family."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from kumahc.mesh.model import K8S_NAME, Destination
from kumahc.policies.core.targetref import TO_RANK, TOP_RANK, Entry, TargetRefPolicy


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
    # Kuma ranks MeshGateway targetRefs with more listener tags higher (SortByTargetRef).
    gateway_tags = len(top.tags or ()) if top.kind == "MeshGateway" else 0
    to = entry.target_ref
    return (TOP_RANK.get(top.kind, 1), dp_name_based, gateway_tags, TO_RANK.get(to.kind, 5),
            1 if to.kind == "MeshService" and to.section_name is not None else 0)


def sorted_entries(entries: Iterable[Entry]) -> list[Entry]:
    """Stable sort of matching entries, lowest priority first (merged first). Input order, then ``to`` index,
    breaks ties; the Kuma display name sorts descending (``zzz`` first, ``aaa`` last and winning)."""
    base = sorted(entries, key=lambda e: (e.policy.order, e.index))
    by_name = sorted(base, key=lambda e: e.policy.res.kuma_display_name, reverse=True)
    return sorted(by_name, key=sort_key)


class EntryIndex:
    """The ``to[]`` entries of one selection's policies by the destination name they can match (02 §5): ``Mesh``
    entries match everything, ``MeshService`` entries by name (``<n>_<ns>_svc_<p>`` names by ``n``), label entries
    are checked one by one; :func:`entry_matches` decides."""

    def __init__(self, policies: Sequence[TargetRefPolicy]):
        self.mesh: list[Entry] = []  # match every destination
        self.labels: list[Entry] = []  # checked one by one
        self.by_name: dict[str, list[Entry]] = {}
        for p in policies:
            for e in p.entries:
                ref = e.target_ref
                if ref.kind == "Mesh":
                    self.mesh.append(e)
                elif ref.kind == "MeshService" and ref.labels is None and ref.name is not None:
                    m = K8S_NAME.match(ref.name)
                    key = m.group(1) if m and ref.section_name is None else ref.name
                    self.by_name.setdefault(key, []).append(e)
                elif ref.kind == "MeshService":
                    self.labels.append(e)

    def matching(self, dest: Destination) -> list[Entry]:
        """The matching entries in merge order (02 §6)."""
        named = self.by_name.get(dest.id_name, [])
        hits = [e for e in (*named, *self.labels) if entry_matches(e, dest)]
        return sorted_entries(self.mesh + hits if hits else self.mesh)
