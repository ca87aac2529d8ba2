"""The layout's rules, read from the code's own imports: the core is pure (the standard library,
itself and the two pure helpers), each third-party library is imported in one module, and the
quick `status` path and the simulated agent load no heavy library."""

from __future__ import annotations

import ast
import sys
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "orchestrator"
PURE_HELPERS = {"orchestrator.blocks", "orchestrator.text"}
THIRD_PARTY = {"libtmux", "watchdog", "pydantic", "typer", "rich", "yaml"}
# What the core may not import: it is given the time and what was seen, and returns actions.
DOES_IO = {
    "os", "io", "time", "subprocess", "socket", "select", "signal", "threading", "queue",
    "sqlite3", "shutil", "fcntl", "logging", "tempfile", "glob", "asyncio", "urllib", "http",
}  # fmt: skip


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports(path: Path, top_only: bool = False) -> set[str]:
    """Every module the file imports (absolute names): anywhere in it, `if TYPE_CHECKING:`
    included, or with `top_only` those its top level runs."""
    here = module_name(path).split(".")
    package = here if path.name == "__init__.py" else here[:-1]
    tree = ast.parse(path.read_text(encoding="utf-8"))
    nodes = list(_run_at_import(tree)) if top_only else ast.walk(tree)
    found: set[str] = set()
    for node in nodes:
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = package[: len(package) - node.level + 1] if node.level else []
            stem = ".".join([*base, *([node.module] if node.module else [])])
            if node.module is None:  # `from . import x`: x is a module
                found |= {f"{stem}.{alias.name}" for alias in node.names}
            else:
                found.add(stem)
    return found


def _run_at_import(node: ast.AST) -> Iterator[ast.AST]:
    """The nodes that importing the module runs: not function bodies, nor what is under
    `if TYPE_CHECKING:`."""
    for child in ast.iter_child_nodes(node):
        if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda):
            continue
        if isinstance(child, ast.If) and ast.unparse(child.test) == "TYPE_CHECKING":
            yield from (n for c in child.orelse for n in [c, *_run_at_import(c)])
            continue
        yield child
        yield from _run_at_import(child)


def files() -> list[Path]:
    return sorted(PACKAGE.rglob("*.py"))


def test_the_core_imports_only_the_standard_library_itself_and_the_pure_helpers() -> None:
    core = [f for f in files() if f.parent.name == "core"]
    assert len(core) >= 9
    for path in core:
        for name in imports(path):
            top = name.split(".")[0]
            ours = name.startswith("orchestrator.core") or name in PURE_HELPERS
            assert ours or (top in sys.stdlib_module_names and top != "orchestrator"), (
                f"{module_name(path)} imports {name}"
            )
            assert top not in DOES_IO, f"{module_name(path)} imports {name}: the core does no I/O"
    for helper in PURE_HELPERS:
        path = PACKAGE / f"{helper.split('.')[-1]}.py"
        assert all(n.split(".")[0] in sys.stdlib_module_names for n in imports(path)), helper


def test_each_third_party_library_is_imported_in_one_module() -> None:
    users: dict[str, set[str]] = defaultdict(set)
    for path in files():
        for name in imports(path):
            if name.split(".")[0] in THIRD_PARTY:
                users[name.split(".")[0]].add(module_name(path))
    assert set(users) == THIRD_PARTY
    assert {lib: len(mods) for lib, mods in users.items()} == dict.fromkeys(THIRD_PARTY, 1), users


# Where each outside library may be imported: the I/O borders, and the views that draw.
HOMES = {
    "libtmux": "orchestrator.adapters",
    "watchdog": "orchestrator.adapters",
    "sqlite3": "orchestrator.adapters",
    "rich": "orchestrator.views",
}


def test_the_outside_world_is_reached_through_the_adapters_and_drawn_by_the_views() -> None:
    for path in files():
        for name in imports(path):
            home = HOMES.get(name.split(".")[0])
            assert home is None or module_name(path).startswith(home + "."), (
                f"{module_name(path)} imports {name}: only {home} may"
            )


def reached(start: str) -> set[str]:
    """The package's modules that importing `start` runs, transitively (top-level imports:
    what a module imports inside a function is loaded only when that runs); fails if one
    of them imports a third-party library."""
    seen: set[str] = set()
    todo = [start]
    while todo:
        name = todo.pop()
        path = PACKAGE.parent / (name.replace(".", "/") + ".py")
        if name in seen or not path.exists():
            continue
        seen.add(name)
        found = imports(path, top_only=True)
        heavy = {n for n in found if n.split(".")[0] in THIRD_PARTY}
        assert not heavy, f"{name} imports {heavy}, reached from {start}"
        todo += [n for n in found if n.startswith("orchestrator")]
    return seen


def test_the_quick_status_path_reaches_no_heavy_library() -> None:
    """The full CLI and the dashboard are imported inside functions, when the quick path
    cannot answer or must draw."""
    seen = reached("orchestrator.cli.entry")
    assert "orchestrator.cli.quick" in seen and "orchestrator.cli.commands" not in seen


def test_the_simulated_agent_starts_with_the_standard_library_alone() -> None:
    """It starts several times in every test and demo: neither the settings nor the CLI."""
    seen = reached("orchestrator.sim.command")
    assert "orchestrator.sim.agent" in seen and "orchestrator.config.settings" not in seen


MAX_MODULE_LINES = 420  # "about 400": one idea per module
MAX_CLASS_LINES = 300  # "about 250": a class past it is probably two ideas


def test_no_module_or_class_grows_past_its_size() -> None:
    for path in files():
        lines = path.read_text(encoding="utf-8").count("\n")
        assert lines <= MAX_MODULE_LINES, f"{module_name(path)}: {lines} lines"
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ClassDef):
                size = (node.end_lineno or node.lineno) - node.lineno + 1
                assert size <= MAX_CLASS_LINES, f"{module_name(path)}.{node.name}: {size} lines"
