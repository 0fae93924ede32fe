"""KongUpstreamPolicy as a policy family of the pipeline (spec 04): validate and parse, attachment through the
Services' ``konghq.com/upstream-policy`` annotation (04 §1), preview requests (01 §7), per-cluster contribution
(03 §5) and the warnings of 04 §1 and §6."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from kumahc.diagnostics import Report, Severity
from kumahc.mesh.model import Destination, MeshView, PreviewDestination, PreviewProxy, Proxy
from kumahc.policies.combine import Attachment, Combined, Contribution, attachment
from kumahc.policies.kong import api, translate
from kumahc.policies.kong import warnings as kwarnings
from kumahc.policies.kong.validate import validate
from kumahc.resources.core import Service
from kumahc.resources.model import Resource

KIND = api.KIND
PREVIEW_MESH = "default"  # the synthetic Service of an unreferenced policy lives in mesh default (01 §7)
ANNOTATION_PATH = ("metadata", "annotations", api.ANNOTATION)


@dataclass(slots=True)
class Family:
    """The validated KongUpstreamPolicies of the inputs by (namespace, name), the annotated Services by the
    (namespace, name) they reference (in input order), and one contribution per (policy, destination protocol)."""

    KIND = KIND
    MESH_TYPOS = False
    policies: dict[tuple[str, str], api.KongUpstreamPolicy] = field(default_factory=dict)
    references: dict[tuple[str, str], list[Service]] = field(default_factory=dict)
    _contributions: dict[tuple[int, str], Contribution | None] = field(default_factory=dict)
    _all: tuple | None = None

    @classmethod
    def load(cls, resources: Sequence[tuple[int, Resource]], report: Report, preview: bool,
             services: Sequence[Service] = ()) -> Family:
        """Validate every KongUpstreamPolicy (``(input order, resource)`` pairs) and keep the valid ones; report
        load-balancing fields, the K-warnings, Services naming a missing policy and (outside preview mode)
        policies no Service names (04 §1)."""
        fam = cls()
        for svc in services:
            if svc.upstream_policy is not None:
                fam.references.setdefault((svc.res.namespace, svc.upstream_policy), []).append(svc)
        for order, res in resources:
            for name in api.LOAD_BALANCING_FIELDS:
                if res.fields().get(name) is not None:
                    res.src.warning(report, ("spec", name), "load-balancing settings are not translated; ignored")
            if validate(res, report):
                policy = api.parse(res, order)
                fam.policies[policy.key] = policy
                for w in kwarnings.approximations(policy):
                    _emit(policy, w, report)
        known = {(res.namespace, res.name) for _, res in resources}
        for (namespace, name), referencing in fam.references.items():
            if (namespace, name) not in known:
                for svc in referencing:
                    svc.res.src.warning(report, ANNOTATION_PATH, f'{KIND} "{namespace}/{name}" not found; not applied')
        if not preview:
            for policy in fam.policies.values():
                if not fam.referencing(policy):
                    policy.res.src.warning(report, (), "not referenced by any Service")
        return fam

    def referencing(self, policy: api.KongUpstreamPolicy) -> list[Service]:
        """The Services whose annotation names ``policy`` (same namespace), in input order."""
        return self.references.get(policy.key, [])

    def attached(self, dest: Destination) -> api.KongUpstreamPolicy | None:
        """The policy applied to ``dest``: the first of its backing Services' policies that exists (a destination
        has at most one backing Service, so at most one policy in practice)."""
        for key in dest.upstream_policies:
            policy = self.policies.get(key)
            if policy is not None:
                return policy
        return None

    # --- preview mode (01 §7) ------------------------------------------------------------------------------------

    def preview_proxies(self) -> list[tuple[int, PreviewProxy]]:
        """The synthetic ``kong`` proxy of every mesh with a Service the policy is attached to (the synthetic
        Service of an unreferenced policy is in mesh ``default``)."""
        out = []
        for policy in self.policies.values():
            services = self.referencing(policy)
            meshes = [s.res.mesh for s in services] if services else [PREVIEW_MESH]
            for mesh in dict.fromkeys(meshes):
                out.append((policy.order, PreviewProxy(mesh, "kong")))
        return out

    def preview_destinations(self) -> list[tuple[int, PreviewDestination]]:
        """A synthetic Service ``<policy>`` port 80 for every policy no Service references."""
        out = []
        for policy in self.policies.values():
            if self.referencing(policy):
                continue
            key = policy.key
            matches = lambda d, key=key: key in d.upstream_policies  # noqa: E731
            out.append((policy.order, PreviewDestination(PREVIEW_MESH, "service", matches, name=policy.res.name,
                                                         namespace=policy.res.namespace, policy=policy.res.name)))
        return out

    def preview_votes(self, dest: Destination) -> set[str]:
        """01 §7: ``grpc`` for active type grpc/grpcs, ``http`` for any other type than tcp (passive-only
        included). The type that counts is ``active.type`` when active checks are on, else ``passive.type`` when
        passive checks are on, else ``active.type`` (default http)."""
        policy = self.attached(dest)
        if policy is None:
            return set()
        if policy.active.on or not policy.passive.on:
            t = policy.active.type
            if t in api.GRPC_TYPES:
                return {"grpc"}
        else:
            t = policy.passive.type
        return set() if t == "tcp" else {"http"}

    # --- translation ---------------------------------------------------------------------------------------------

    def proxy_key(self, proxy: Proxy) -> tuple:
        """Kong policies attach to destinations (Services), whichever proxy calls them: the key is every policy
        (resource) of the inputs, so that any change to one reaches every proxy class."""
        if self._all is None:
            self._all = tuple(p.res for p in self.policies.values())
        return self._all

    def destination_key(self, proxy: Proxy, dest: Destination) -> Resource | None:
        """The attached policy's resource, or None."""
        policy = self.attached(dest)
        return None if policy is None else policy.res

    def contribute(self, proxy: Proxy, dest: Destination) -> Contribution | None:
        """The attached policy's groups; the same object for every cluster of the same policy and protocol."""
        policy = self.attached(dest)
        if policy is None:
            return None
        key = (id(policy), dest.protocol)
        if key not in self._contributions:
            self._contributions[key] = translate.contribution(policy, dest.protocol)
        return self._contributions[key]

    def mesh_warnings(self, view: MeshView, report: Report) -> None:
        """K2: an active tcp check on a policy attached to an HTTP, HTTP/2 or gRPC destination."""
        protocols: dict[tuple[str, str], set[str]] = {}
        for dest in view.destinations.values():
            policy = self.attached(dest)
            if policy is not None:
                protocols.setdefault(policy.key, set()).add(dest.protocol)
        for key, found in protocols.items():
            policy = self.policies[key]
            w = kwarnings.tcp_on_http(policy, found)
            if w is not None:
                _emit(policy, w, report)

    # --- views ---------------------------------------------------------------------------------------------------

    def held(self) -> list[Resource]:
        return [p.res for p in self.policies.values()]

    def explain(self, proxy: Proxy, dest: Destination) -> dict[str, object]:
        """``kong``: the attached policy's summary, or None."""
        policy = self.attached(dest)
        return {"kong": policy.summary() if policy is not None else None}

    @staticmethod
    def explain_lines(fields: dict) -> list[str]:
        return [f"  KongUpstreamPolicy: {fields['kong'] or 'none'}"]

    def attach(self, res: Resource, proxy: Proxy, dest: Destination, groups: Combined,
               lost: list[str]) -> Attachment | None:
        policy = self.attached(dest)
        return attachment(res, policy is not None and policy.res is res, groups, lost)

    def merged(self, proxy: Proxy, dest: Destination) -> None:
        """None: a destination has one attached policy, the group's ``source``."""
        return None


def _emit(policy: api.KongUpstreamPolicy, w: kwarnings.Approximation, report: Report) -> None:
    path = ("spec", "healthchecks", *w.path)
    if w.severity == Severity.INFO:
        policy.res.src.info(report, path, w.message)
    else:
        policy.res.src.warning(report, path, w.message)
