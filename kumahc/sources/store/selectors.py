"""Label selectors as ``kubectl get -l`` takes them: ``key=value``, ``key==value``, ``key!=value``, ``key`` (has
the label), ``!key`` (has not), joined by commas, all of which must hold (Kubernetes' equality-based selectors;
the set-based ``in``/``notin`` forms are not supported). ``key!=value`` also matches resources without ``key``,
as in Kubernetes."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

# A Kubernetes label key ([prefix/]name) or value: letters, digits, '-', '_', '.', '/'; no operator characters.
_TOKEN = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9._/-]*[A-Za-z0-9])?$")
_REQUIREMENT = re.compile(r"^(?P<neg>!)?(?P<key>[^=!]+)(?:(?P<op>==|!=|=)(?P<value>[^=!]*))?$")


@dataclass(frozen=True, slots=True)
class Requirement:
    key: str
    op: str  # = | != | exists | !exists
    value: str = ""

    def matches(self, labels: Mapping[str, str]) -> bool:
        if self.op == "exists":
            return self.key in labels
        if self.op == "!exists":
            return self.key not in labels
        if self.op == "=":
            return labels.get(self.key) == self.value
        return labels.get(self.key) != self.value


def parse(text: str) -> tuple[Requirement, ...]:
    """``text`` → its requirements. Raises ValueError naming the first requirement that is not one of the forms
    above (e.g. ``"a=b=c": not KEY=VALUE, KEY==VALUE, KEY!=VALUE, KEY or !KEY``)."""
    out = []
    for part in text.split(","):
        m = _REQUIREMENT.match(part.strip())
        key = m.group("key").strip() if m else ""
        value = (m.group("value") or "").strip() if m else ""
        if m is None or not _TOKEN.match(key) or (value and not _TOKEN.match(value)) or (
                m.group("neg") and m.group("op")):
            raise ValueError(f'"{part}": not KEY=VALUE, KEY==VALUE, KEY!=VALUE, KEY or !KEY (keys and values: '
                             "letters, digits, '-', '_', '.', '/')")
        if m.group("op") is None:
            out.append(Requirement(key, "!exists" if m.group("neg") else "exists"))
        else:
            out.append(Requirement(key, "!=" if m.group("op") == "!=" else "=", value))
    return tuple(out)


def matches(requirements: tuple[Requirement, ...], labels: Mapping[str, str]) -> bool:
    """Every requirement holds for ``labels``."""
    return all(r.matches(labels) for r in requirements)
