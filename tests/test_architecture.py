"""The shape of the code: a package per step, public surfaces, arrows only downward.

In the spirit of httpx's ``tests/test_exported_members.py``: what one part of archiver
takes from another is listed in that part's ``__all__``, and the parts import each
other in one direction only, so none can be changed without seeing who depends on it.
"""

from __future__ import annotations

import ast
import importlib
from collections import defaultdict
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "archiver"

# Each part of archiver and its layer: a part imports only parts of lower layers.  The
# leaves (layer 0) are the vocabulary and small helpers every step may use.
LAYERS = {
    "cli": 6,
    "pipeline": 5,
    "publish": 4,
    "preserve": 4,
    "cluster": 4,
    "sources": 3,
    "resolve": 3,
    "store": 2,
    "extract": 2,
    "http": 1,
    "models": 0,
    "clock": 0,
    "urls": 0,
    "domains": 0,
    "jsontext": 0,
    "postkeys": 0,
    "vocabulary": 0,
    "__init__": 0,
    "__main__": 7,
}
STEPS = [name for name, layer in LAYERS.items() if (PACKAGE / name / "__init__.py").exists()]


def _modules() -> dict[str, Path]:
    """Return every module of archiver by its dotted name."""
    found = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(ROOT).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        found[".".join(parts)] = path
    return found


MODULES = _modules()


def _imports(module: str, path: Path) -> list[tuple[str, list[str]]]:
    """Return (imported archiver module, names taken from it) for every import of ``module``."""
    package = module if path.name == "__init__.py" else module.rsplit(".", 1)[0]
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                target = ".".join([*base, *([node.module] if node.module else [])])
            else:
                target = node.module or ""
            if not target.startswith("archiver"):
                continue
            names = [alias.name for alias in node.names]
            # ``from . import store`` imports a module, not a name of the package.
            modules = [n for n in names if f"{target}.{n}" in MODULES]
            found += [(f"{target}.{n}", []) for n in modules]
            rest = [n for n in names if n not in modules]
            if rest:
                found.append((target, rest))
        elif isinstance(node, ast.Import):
            found += [(alias.name, []) for alias in node.names if alias.name.startswith("archiver")]
    return found


def _part(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def _arrows() -> dict[tuple[str, str], list[str]]:
    """Return, for each pair of parts with an import between them, the modules importing."""
    arrows: dict[tuple[str, str], list[str]] = defaultdict(list)
    for module, path in MODULES.items():
        for target, _ in _imports(module, path):
            if _part(target) != _part(module):
                arrows[(_part(module), _part(target))].append(module)
    return arrows


def test_every_part_has_a_layer():
    parts = {_part(module) for module in MODULES}
    assert parts <= set(LAYERS), parts - set(LAYERS)


def test_parts_import_only_downward():
    upward = [
        f"{source} -> {target} ({', '.join(sorted(set(modules)))})"
        for (source, target), modules in _arrows().items()
        if LAYERS[target] >= LAYERS[source] and LAYERS[source] > 0
    ]
    assert upward == []


def test_no_circle_between_parts():
    graph: dict[str, set[str]] = defaultdict(set)
    for source, target in _arrows():
        graph[source].add(target)
    seen: dict[str, int] = {}

    def visit(part: str, path: list[str]) -> None:
        if seen.get(part) == 1:
            raise AssertionError(" -> ".join([*path, part]))
        if seen.get(part) == 2:
            return
        seen[part] = 1
        for target in sorted(graph[part]):
            visit(target, [*path, part])
        seen[part] = 2

    for part in sorted(graph):
        visit(part, [])


def test_the_store_imports_only_the_vocabulary_and_leaf_helpers():
    taken = {target for (source, target) in _arrows() if source == "store"}
    assert taken <= {name for name, layer in LAYERS.items() if layer == 0}, taken


def test_migrations_import_no_live_policy():
    path = MODULES["archiver.store.migrations"]
    assert _imports("archiver.store.migrations", path) == []


@pytest.mark.parametrize("step", STEPS)
def test_steps_take_from_each_other_only_what_the_public_surface_lists(step):
    surface = importlib.import_module(f"archiver.{step}")
    listed = set(surface.__all__)
    assert len(listed) == len(surface.__all__), "a name listed twice"
    assert all(hasattr(surface, name) for name in listed)
    taken: dict[str, list[str]] = defaultdict(list)
    for module, path in MODULES.items():
        if _part(module) == step:
            continue
        for target, names in _imports(module, path):
            if _part(target) != step:
                continue
            # Through the package itself, never one of its modules.
            assert target == f"archiver.{step}", f"{module} imports {target}"
            for name in names:
                taken[name].append(module)
    assert set(taken) <= listed, {name: taken[name] for name in set(taken) - listed}


@pytest.mark.parametrize("step", STEPS)
def test_every_name_a_step_lists_is_used_outside_it(step):
    """A public surface lists what the rest of archiver, its tests or its benchmarks use."""
    surface = importlib.import_module(f"archiver.{step}")
    outside = [
        path.read_text(encoding="utf-8")
        for path in [*MODULES.values(), *(ROOT / "tests").glob("*.py"), *(ROOT / "bench").glob("*.py")]
        if not path.is_relative_to(PACKAGE / step)
    ]
    unused = [name for name in surface.__all__ if not any(name in text for text in outside)]
    assert unused == []


@pytest.mark.parametrize("module", sorted(MODULES))
def test_every_module_lists_its_public_names(module):
    loaded = importlib.import_module(module)
    if module.endswith("__main__") or module == "archiver":
        return
    assert isinstance(getattr(loaded, "__all__", None), list), f"{module} has no __all__"


# A module longer than this is doing more than one thing (the style's ~500, with room).
MAX_MODULE_LINES = 550


@pytest.mark.parametrize("module", sorted(MODULES))
def test_no_module_grows_past_a_few_screens(module):
    lines = MODULES[module].read_text(encoding="utf-8").count("\n")
    assert lines <= MAX_MODULE_LINES, f"{module}: {lines} lines; split it by what it does"
