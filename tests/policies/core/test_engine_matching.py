"""The targetRef engine (:mod:`kumahc.policies.core`) on its own testdata, as Kuma tests its matchers: each
directory of ``testdata/`` holds ``policies.yaml`` (targetRef policies of any kind; the engine does not look at the
kind), ``case.yaml`` (one proxy and its destinations) and ``golden.yaml``: which policies select the proxy, and
per destination the matching entries in merge order, the merged conf and the entry that set each leaf.
``KUMAHC_UPDATE_ENGINE=1`` rewrites the goldens (review the diff before committing)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from kumahc.diagnostics import Report
from kumahc.mesh.model import Destination, Proxy
from kumahc.policies.core.merge import merge
from kumahc.policies.core.selection import Selection
from kumahc.policies.core.targetref import Entry, TargetRef, attach_entries, is_shadow
from kumahc.resources.loader import load
from kumahc.resources.model import Resource

TESTDATA = Path(__file__).resolve().parent / "testdata"
UPDATE = os.environ.get("KUMAHC_UPDATE_ENGINE") == "1"


@dataclass(frozen=True, slots=True, eq=False)
class Policy:
    """A targetRef policy as the engine sees it, whatever its kind."""

    res: Resource
    order: int
    target_ref: TargetRef
    entries: tuple[Entry, ...]
    shadow: bool


def _policies(path: Path) -> list[Policy]:
    report = Report()
    loaded = load([str(path)], report)
    assert [d.message for d in report.items if d.severity.name == "ERROR"] == []
    out = []
    for order, res in enumerate(loaded.resources):
        spec = res.fields()
        policy = Policy(res, order, TargetRef.of(spec.get("targetRef")), (), is_shadow(res))
        attach_entries(policy, spec)
        out.append(policy)
    return out


def _proxy(raw: dict[str, Any]) -> Proxy:
    inbound = tuple(raw.get("inbound") or ())
    tags: dict[str, set[str]] = {}
    for t in inbound:
        for k, v in t.items():
            tags.setdefault(k, set()).add(v)
    return Proxy(raw.get("mesh", "default"), raw["name"], raw["name"], raw.get("namespace", ""),
                 raw.get("format", "universal"), inbound, {k: tuple(sorted(v)) for k, v in tags.items()},
                 raw.get("labels") or {}, tuple(sorted(d["name"] for d in raw.get("destinations", ()))))


def _destination(raw: dict[str, Any], mesh: str) -> Destination:
    return Destination(mesh, raw["name"], raw.get("id_name", raw["name"]), raw.get("namespace", ""),
                       raw.get("port"), raw.get("section"), raw.get("labels") or {}, "http", "test", (), (), None)


def _outcome(case: Path) -> dict[str, Any]:
    policies = _policies(case / "policies.yaml")
    raw = yaml.safe_load((case / "case.yaml").read_text(encoding="utf-8"))
    proxy = _proxy(raw["proxy"])
    selection = Selection(policies)
    _, selecting = selection.selecting(proxy)
    out: dict[str, Any] = {"selected": [p.res.display_name for p in selecting], "destinations": {}}
    for d in raw["proxy"].get("destinations", ()):
        dest = _destination(d, proxy.mesh)
        entries = selection.matching(proxy, dest)
        merged = merge(entries)
        out["destinations"][dest.name] = {
            "entries": [e.label for e in entries],
            "conf": merged.conf,
            "origins": {".".join(path): e.label for path, e in sorted(merged.origins.items())},
        }
    return out


@pytest.mark.parametrize("case", sorted(p.name for p in TESTDATA.iterdir() if p.is_dir()))
def test_engine(case: str) -> None:
    actual = _outcome(TESTDATA / case)
    golden = TESTDATA / case / "golden.yaml"
    if UPDATE:
        golden.write_text(yaml.safe_dump(actual, sort_keys=False, allow_unicode=True), encoding="utf-8")
    assert actual == yaml.safe_load(golden.read_text(encoding="utf-8"))


def test_selection_is_shared_by_alike_proxies() -> None:
    """Two replicas no policy names (same mesh, inbound tags and selected-on labels) get one selection id and
    one key; a proxy selected by other policies gets another."""
    policies = _policies(TESTDATA / "selection-kinds" / "policies.yaml")
    selection = Selection(policies)
    a = _proxy({"name": "web-02", "inbound": [{"kuma.io/service": "web"}]})
    b = _proxy({"name": "web-03", "inbound": [{"kuma.io/service": "web"}]})
    c = _proxy({"name": "db-01", "inbound": [{"kuma.io/service": "db"}]})
    assert selection.selecting(a)[0] == selection.selecting(b)[0] != selection.selecting(c)[0]
    assert selection.key(a) is selection.key(b)
    assert [r.display_name for r in selection.key(c)] == ["mesh-wide"]
