"""Every registered family offers the whole :class:`kumahc.policies.contract.PolicyFamily` contract (the pipeline
and the views call nothing else), once per kind, and a family's ``explain_lines`` reads only the fields its
``explain`` gives."""

from __future__ import annotations

import inspect

import pytest

from kumahc.mesh.model import Destination, Proxy
from kumahc.policies.contract import PolicyFamily
from kumahc.policies.registry import FAMILIES, KINDS

MEMBERS = sorted(n for n in (*PolicyFamily.__dict__, *PolicyFamily.__annotations__)
                 if not n.startswith("_") and n not in ("KIND", "MESH_TYPOS"))


def test_contract_members() -> None:
    assert MEMBERS == ["attach", "contribute", "destination_key", "explain", "explain_lines", "held", "load",
                       "merged", "mesh_warnings", "preview_destinations", "preview_proxies", "preview_votes",
                       "proxy_key"]


def test_one_family_per_kind() -> None:
    assert KINDS == ("MeshHealthCheck", "KongUpstreamPolicy", "HealthCheck", "MeshCircuitBreaker", "CircuitBreaker")


@pytest.mark.parametrize("family", FAMILIES, ids=KINDS)
def test_family_offers_the_contract(family: type) -> None:
    missing = [m for m in MEMBERS if not callable(getattr(family, m, None))]
    assert missing == []
    assert isinstance(family.KIND, str) and isinstance(family.MESH_TYPOS, bool)

    def params(owner: type, m: str) -> list[str]:
        names = list(inspect.signature(getattr(owner, m)).parameters)
        return names[1:] if names[:1] == ["self"] else names

    assert {m: params(family, m) for m in MEMBERS} == {m: params(PolicyFamily, m) for m in MEMBERS}


@pytest.mark.parametrize("family", FAMILIES, ids=KINDS)
def test_explain_lines_of_an_empty_family(family: type) -> None:
    """A family without policies explains a cluster with its ``none`` lines."""
    empty = family()
    proxy = Proxy("default", "web-01", "web-01", "", "universal", ({"kuma.io/service": "web"},),
                  {"kuma.io/service": ("web",)}, {}, ("backend",))
    dest = Destination("default", "backend", "backend", "", 80, "80", {}, "http", "test", (), (), None)
    lines = family.explain_lines(empty.explain(proxy, dest))
    assert lines == [f"  {family.KIND}{' entries' if 'Mesh' in family.KIND else ''}: none"]
