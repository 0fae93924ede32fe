"""Checks every targetRef family shares: Kuma's ``ValidateTargetRef`` with options instead of subclass overrides,
and the small value rules several validators apply (numbers written as strings, NUL/CR/LF, Envoy's stdev factor).

Paths and messages are Kuma v2.14's (spec 02 §3.1); a family's validator subclasses :class:`TargetRefChecker` and
adds its conf rules.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from kumahc.diagnostics import Report
from kumahc.policies.core.targetref import is_shadow
from kumahc.resources.checker import DocumentChecker
from kumahc.resources.model import Resource
from kumahc.resources.tags import selector_problems, tag_problems

TOP_KINDS = ("Mesh", "MeshSubset", "MeshGateway", "MeshService", "MeshServiceSubset", "Dataplane")
TO_KINDS = ("Mesh", "MeshService", "MeshExternalService", "MeshMultiZoneService")

RESOURCE_NAME = re.compile(r"^[0-9a-z.\-_]*$")  # a Kubernetes-style resource name a targetRef may hold
NUMBER = re.compile(r"^[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)$")  # Kuma's IntOrString decimal written as a string
UINT32_MAX = 2**32 - 1
FACTOR_TOO_BIG = "must be at most 4294967.295 (Envoy's success_rate_stdev_factor is thousandths in 32 bits)"


def number(v: int | str) -> Decimal | None:
    """Kuma's int-or-string decimal (``30``, ``"30.2"``); None when the string is not a number."""
    if isinstance(v, int):
        return Decimal(v)
    return Decimal(v) if NUMBER.match(v) else None


def has_nul_crlf(s: str) -> bool:
    """NUL, CR or LF in a header key or value: Envoy rejects them (``HeaderValue``)."""
    return any(c in s for c in "\x00\r\n")


@dataclass(frozen=True, slots=True)
class TargetRefOptions:
    """How one ``targetRef`` is checked (Kuma's ``ValidateTargetRefOpts``): ``kinds`` supported, ``top`` = the
    top-level one (absent = Mesh; kind warnings), ``preview`` = no Dataplane in the inputs (``_port`` is used),
    ``inbound`` = the policy has inbound entries (a top-level Dataplane may name a ``sectionName``),
    ``list_kinds`` = an unsupported kind's message lists the supported ones."""

    kinds: tuple[str, ...]
    top: bool
    preview: bool = False
    inbound: bool = False
    list_kinds: bool = True


TOP = TargetRefOptions(TOP_KINDS, top=True)
FROM = TargetRefOptions(("Mesh",), top=False, list_kinds=False)  # inbound ``from[]`` entries: Mesh only


def to_options(preview: bool) -> TargetRefOptions:
    """Options for a ``to[]`` entry's targetRef."""
    return TargetRefOptions(TO_KINDS, top=False, preview=preview)


class TargetRefChecker(DocumentChecker):
    """A document checker that knows Kuma's targetRef rules (spec 02 §3.1 and the §3.3 kind warnings)."""

    def target_ref(self, ref: dict[str, Any] | None, p: tuple, opts: TargetRefOptions) -> None:
        """Check ``ref`` at path ``p``; errors and warnings go to the report."""
        top = opts.top
        if ref is None and top:
            return  # absent top-level targetRef = Mesh
        ref = ref or {}
        kind = ref.get("kind")
        if not kind:
            self.error((*p, "kind"), "must be defined")
            return
        if kind not in opts.kinds:
            allowed = f" (allowed: {', '.join(opts.kinds)})" if opts.list_kinds else ""
            self.error((*p, "kind"), f"value '{kind}' is not supported{allowed}")
            return
        if top and opts.inbound and kind == "Dataplane" and "sectionName" in ref:
            ref = {k: v for k, v in ref.items() if k != "sectionName"}  # Kuma allows an inbound's sectionName
        has = lambda f: f in ref  # noqa: E731

        def forbid(*fields: str) -> None:
            for f in fields:
                if has(f):
                    self.error((*p, f), f"must not be set with kind {kind}")

        for k, pt in enumerate(ref.get("proxyTypes") or ()):
            if pt not in ("Sidecar", "Gateway"):
                self.error((*p, "proxyTypes", k), "must be one of: Sidecar, Gateway")
        if kind == "Mesh":
            if has("name"):
                self.error((*p, "name"), "using name with kind Mesh is not yet supported")
            forbid("mesh", "tags", "labels", "namespace", "sectionName")
        if kind in ("Mesh", "MeshSubset") and ref.get("proxyTypes") == []:
            self.error((*p, "proxyTypes"), "must be undefined or have at least one element")
        if kind == "Dataplane":
            forbid("tags", "mesh", "proxyTypes")
        if kind in ("Dataplane", "MeshService") and has("labels") and (has("name") or has("namespace")):
            self.error((*p, "labels"), "either labels or name and namespace must be specified")
        if kind == "Dataplane" and has("sectionName"):
            self.error((*p, "sectionName"), "can only be used with inbound policies")
        if kind == "MeshSubset":
            forbid("name", "mesh", "labels", "namespace", "sectionName")
            for key, message in tag_problems(ref.get("tags") or {}, require_service=False):
                self.error((*p, "tags") if key is None else (*p, "tags", key), message)
        if kind in ("MeshService", "MeshServiceSubset", "MeshGateway", "MeshExternalService") and has("name") \
                and not RESOURCE_NAME.match(ref["name"]):
            self.error((*p, "name"), "invalid characters: must consist of lower case alphanumeric characters, "
                                     "'-', '.' and '_'.")
        if kind in ("MeshService", "MeshExternalService"):
            forbid("mesh", "tags", "proxyTypes")
        if not top and kind in ("MeshService", "MeshExternalService") and not has("name") and not has("labels"):
            self.error(p, f"name or labels must be set when kind is {kind}")
        if kind == "MeshExternalService":
            if has("labels") and has("name"):
                self.error((*p, "labels"), "either labels or name must be specified")
            forbid("sectionName")
        if (kind in ("MeshServiceSubset", "MeshGateway") or (top and kind == "MeshService")) and not has("name"):
            self.error((*p, "name"), f"must be set when kind is {kind}")
        if kind in ("MeshServiceSubset", "MeshGateway"):
            forbid("mesh", "proxyTypes", "labels", "namespace", "sectionName")
            for key, message in selector_problems(ref.get("tags") or {}):
                self.error((*p, "tags") if key is None else (*p, "tags", key), message)
        if has("_port"):
            if kind != "MeshService":
                self.error((*p, "_port"), f"must not be set with kind {kind}")
            elif not 1 <= ref["_port"] <= 65535:
                self.error((*p, "_port"), "port must be in the range [1, 65535]")
            elif not opts.preview:
                self.warning((*p, "_port"), "documentation-only field; ignored")
        # 02 §3.3 warnings about kinds
        if top and kind in ("MeshSubset", "MeshService", "MeshServiceSubset"):
            self.warning((*p, "kind"), f"{kind} value for 'targetRef.kind' is deprecated, use Dataplane with "
                                       "labels instead")
        if not top and kind in ("MeshExternalService", "MeshMultiZoneService"):
            self.warning((*p, "kind"), f"{kind} is not supported yet; the entry matches no destination")


def note_shadow(res: Resource, report: Report) -> None:
    """The note every shadow targetRef policy gets, on the whole document (no path: its root line; the subject
    already reads ``KIND NAME``)."""
    if is_shadow(res):
        res.src.info(report, (), "shadow policy (kuma.io/effect: shadow); not applied")
