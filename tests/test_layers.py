"""Which part of kumahc may import which (issue 19): an AST walk over every module of the package, so the layout
stays true as code is added. Lower layers never import higher ones, a policy family imports the shared engine
(``kumahc.policies.core``) and the contract, never another family, the views and the pipeline reach families only
through the registry and the contract, no module imports another module's private name, and module-level imports
have no cycle."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "kumahc"
POLICIES = "kumahc.policies"
ENGINE_PARTS = {"core", "contract", "combine", "registry"}  # kumahc/policies/* that are not families

# The bottom layer: input reading, the resource model, the mesh view and small helpers.
BASE = ("kumahc.diagnostics", "kumahc.durations", "kumahc.gcpause", "kumahc.jsontext", "kumahc.memo",
        "kumahc.payload", "kumahc.resources", "kumahc.mesh")
SHARED = (f"{POLICIES}.contract", f"{POLICIES}.combine")


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {_module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}
FAMILIES = sorted(p.name for p in (PACKAGE / "policies").iterdir()
                  if p.is_dir() and p.name not in ENGINE_PARTS and not p.name.startswith("_"))


def _under(name: str, prefix: str) -> bool:
    return name == prefix or name.startswith(prefix + ".")


def _imports(module: str, top_level_only: bool = False) -> list[tuple[int, str, tuple[str, ...]]]:
    """(line, imported kumahc module, names taken from it) for every import of ``module``; relative imports are
    resolved. ``top_level_only``: only the statements run at import time (not inside functions or
    ``TYPE_CHECKING``)."""
    tree = ast.parse(MODULES[module].read_text(encoding="utf-8"))
    package = module if MODULES[module].name == "__init__.py" else module.rpartition(".")[0]
    nodes = tree.body if top_level_only else list(ast.walk(tree))
    out = []
    for node in nodes:
        if isinstance(node, ast.Import):
            out += [(node.lineno, a.name, ()) for a in node.names if _under(a.name, "kumahc")]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            if _under(base, "kumahc"):
                names = tuple(a.name for a in node.names)
                # ``from kumahc.policies import combine`` imports the module kumahc.policies.combine.
                subs = [f"{base}.{n}" for n in names if f"{base}.{n}" in MODULES]
                out += [(node.lineno, s, ()) for s in subs] or [(node.lineno, base, names)]
    return out


def _allowed(module: str) -> tuple[str, ...] | None:
    """The prefixes ``module`` may import, or None when its layer is not restricted here (the command line and
    serving, which sit on top of everything)."""
    own = module.split(".")
    if _under(module, f"{POLICIES}.core"):
        return (*BASE, f"{POLICIES}.core", f"{POLICIES}.combine")
    if _under(module, f"{POLICIES}.combine"):
        return BASE
    if _under(module, f"{POLICIES}.contract"):
        return (*BASE, f"{POLICIES}.combine")
    if _under(module, f"{POLICIES}.registry"):
        return (f"{POLICIES}.contract", *(f"{POLICIES}.{f}.family" for f in FAMILIES))
    if len(own) > 2 and own[1] == "policies" and own[2] in FAMILIES:
        return (*BASE, "kumahc.envoy", f"{POLICIES}.core", *SHARED, f"{POLICIES}.{own[2]}")
    if module == POLICIES:
        return ()
    if _under(module, "kumahc.envoy"):
        return (*BASE, "kumahc.envoy", f"{POLICIES}.combine")  # the cluster skeleton reads combine's groups
    if _under(module, "kumahc.resources.yaml"):
        return ("kumahc.resources.yaml",)  # the YAML reader reads text: it knows no resource, kind or message file
    if any(_under(module, b) for b in BASE):
        return BASE
    if module == "kumahc.incremental":  # the reloads' dependency index reads what the engine selects and matches
        return (*BASE, f"{POLICIES}.core", *SHARED)
    if module in ("kumahc.pipeline", "kumahc.render"):
        return (*BASE, "kumahc.envoy", "kumahc.pipeline", "kumahc.render", "kumahc.incremental",
                f"{POLICIES}.registry", *SHARED)
    if _under(module, "kumahc.views"):
        return (*BASE, "kumahc.pipeline", "kumahc.render", "kumahc.views", f"{POLICIES}.registry",
                f"{POLICIES}.core", *SHARED)
    if _under(module, UI):
        # The operator pages read what /status and inspect read: the views and the xDS server's state, never
        # serve's start-up (kumahc.xds.app mounts them) nor the commands.
        return (*BASE, "kumahc.pipeline", "kumahc.render", "kumahc.views", f"{POLICIES}.registry",
                f"{POLICIES}.core", *SHARED, *(f"kumahc.xds.{m}" for m in UI_READS), UI)
    return None


UI = "kumahc.ui"
UI_READS = ("admin", "cache", "reloads", "server", "snapshot", "streams")
UI_USERS = ("kumahc.xds.app",)  # serve's start-up builds the pages and hands them to the admin app


@pytest.mark.parametrize("module", sorted(m for m in MODULES if not _under(m, UI)))
def test_nothing_below_the_ui_imports_it(module: str) -> None:
    """The ui package sits above the views and the xDS server state: only serve's start-up imports it (the admin
    app takes it as a parameter), so the JSON endpoints and the views cannot come to depend on it."""
    wrong = [f"{line}: {target}" for line, target, _ in _imports(module) if _under(target, UI)]
    assert wrong == [] or module in UI_USERS


def test_the_ui_is_found() -> None:
    assert sorted(m for m in MODULES if _under(m, UI)) == [UI, f"{UI}.details", f"{UI}.model", f"{UI}.web"]


def test_the_families_are_found() -> None:
    assert FAMILIES == ["circuitbreaker", "healthcheck", "kong", "meshcircuitbreaker", "meshhealthcheck"]


@pytest.mark.parametrize("module", sorted(m for m in MODULES if _allowed(m) is not None))
def test_layer(module: str) -> None:
    allowed = _allowed(module)
    assert allowed is not None
    wrong = [f"{MODULES[module].relative_to(PACKAGE.parent)}:{line}: imports {target}"
             for line, target, _ in _imports(module)
             if target != "kumahc" and not any(_under(target, a) for a in allowed)]
    assert wrong == [], f"{module} may import only {', '.join(allowed) or 'nothing of kumahc'}"


@pytest.mark.parametrize("module", sorted(m for m in MODULES if _allowed(m) is None))
def test_top_layer_reaches_families_only_for_migration(module: str) -> None:
    """The command line and serving use a family only through the pipeline, except ``migrate``, which lives with
    the kind it migrates."""
    wrong = [f"{line}: {target}" for line, target, _ in _imports(module)
             if any(_under(target, f"{POLICIES}.{f}") and not _under(target, f"{POLICIES}.{f}.migrate")
                    for f in FAMILIES)]
    assert wrong == []


COMMANDS = "kumahc.commands"
ENTRY = ("kumahc.cli", "kumahc.__main__")  # the entry points: the click group and ``python -m kumahc``


def test_the_commands_are_found() -> None:
    assert sorted(m for m in MODULES if _under(m, COMMANDS)) == [
        COMMANDS, *(f"{COMMANDS}.{m}" for m in ("apply", "completion", "delete", "diff", "get", "golden", "guard",
                                                 "inspect", "migrate", "options", "output", "progress", "render",
                                                 "serve", "settings", "store", "validate", "version"))]


@pytest.mark.parametrize("module", sorted(m for m in MODULES if _under(m, COMMANDS)))
def test_commands_import_nothing_above_them(module: str) -> None:
    """A command module may import every layer below, and the shared command modules, never the entry point."""
    wrong = [f"{line}: {target}" for line, target, _ in _imports(module) if any(_under(target, e) for e in ENTRY)]
    assert wrong == []


@pytest.mark.parametrize("module", sorted(m for m in MODULES if not _under(m, COMMANDS) and m not in ENTRY))
def test_nothing_below_imports_the_commands(module: str) -> None:
    """Only the entry points assemble the commands; the layers below never call back up into the command line."""
    wrong = [f"{line}: {target}" for line, target, _ in _imports(module)
             if _under(target, COMMANDS) or any(_under(target, e) for e in ENTRY)]
    assert wrong == []


def test_the_entry_point_imports_only_commands() -> None:
    """``kumahc.cli`` is the group and one ``add_command`` per verb: it takes the commands, the shared command
    modules and the registry's kind list (its help), nothing else of kumahc."""
    allowed = (COMMANDS, f"{POLICIES}.registry")
    wrong = [f"{line}: {target}" for line, target, _ in _imports("kumahc.cli")
             if target != "kumahc" and not any(_under(target, a) for a in allowed)]
    assert wrong == []


@pytest.mark.parametrize("module", sorted(MODULES))
def test_no_private_names_of_another_module(module: str) -> None:
    """``from kumahc.x import _name`` and ``x._name`` on an imported kumahc module: a private name is its module's
    business. Dunder names (``__version__``) are public."""
    private = lambda n: n.startswith("_") and not n.startswith("__")  # noqa: E731
    wrong = [f"{line}: {target} {n}" for line, target, names in _imports(module) for n in names
             if private(n) and target != module]
    tree = ast.parse(MODULES[module].read_text(encoding="utf-8"))
    aliases = {(a.asname or a.name).split(".")[0] for node in ast.walk(tree)
               if isinstance(node, (ast.Import, ast.ImportFrom))
               and (isinstance(node, ast.Import) or _under(node.module or "", "kumahc"))
               for a in node.names if isinstance(node, ast.ImportFrom) or _under(a.name, "kumahc")}
    wrong += [f"{node.lineno}: {node.value.id}.{node.attr}" for node in ast.walk(tree)
              if isinstance(node, ast.Attribute) and private(node.attr) and isinstance(node.value, ast.Name)
              and node.value.id in aliases]
    assert wrong == []


def test_no_import_cycle() -> None:
    """Module-level imports form no cycle (imports inside functions may point back up, e.g. to report a
    lookup failure)."""
    graph = {m: {t for _, t, _ in _imports(m, top_level_only=True) if t in MODULES and t != m} for m in MODULES}
    state: dict[str, int] = {}  # 1 = on the current path, 2 = done
    cycles: list[list[str]] = []

    def visit(m: str, path: list[str]) -> None:
        state[m] = 1
        for t in sorted(graph[m]):
            if state.get(t) == 1:
                cycles.append([*path[path.index(t):], t] if t in path else [m, t])
            elif t not in state:
                visit(t, [*path, t])
        state[m] = 2

    for m in sorted(graph):
        if m not in state:
            visit(m, [m])
    assert cycles == []
