"""Field paths as printed in messages (spec 01 §2): ``spec.to[0].default.http.path``,
``spec.targetRef.tags["kuma.io/service"]``."""

from __future__ import annotations

# Maps whose keys are user data, not field names: their keys print as ["key"].
USER_KEYED = frozenset({"tags", "labels", "annotations", "match", "dataplaneTags", "headers"})


def format_path(path: tuple) -> str:
    """``("spec", "to", 0, "default")`` → ``spec.to[0].default``; a key under a user-keyed map → ``["key"]``."""
    out: list[str] = []
    parent: object = None
    for step in path:
        if isinstance(step, int):
            out.append(f"[{step}]")
        elif parent in USER_KEYED:
            out.append(f'["{step}"]')
        else:
            out.append(("." if out else "") + step)
        parent = step
    return "".join(out)
