"""Layers point one way (STYLE.md "Layers"): a module imports only from its own layer or below,
and never a private name (`_lock`) of another module.

Every .py module of the project (not tests, migrations, bench) is read with `ast`; its imports
(absolute, relative, and `import_module("…")` / `include("…")` strings) are mapped to layers and
each import of a higher layer is listed as `module -> imported (layer a imports layer b)`.
"""

import ast
from collections.abc import Iterator
from pathlib import Path

from django.conf import settings

# Module prefix → layer, bottom up; the longest matching prefix decides.
LAYERS: dict[str, int] = {
    # 0: shared pieces — settings, cli, exports, evidence, the append-only base, the FSM helpers.
    "pddadmin": 0,
    # 1: shops, staff, goods and orders; the feed importer, its registry and event parsing.
    "pddadmin.shops": 1,
    "pddadmin.feed": 1,
    # 2: the domain apps.
    "aftersales": 2,
    "compensation": 2,
    "customerservice": 2,
    # 3: snapshots, flags, forecast.
    "metrics": 3,
    # 4: screens over the domain services.
    "review": 4,
    "api": 4,
    # 5: the job runner, the demo world.
    "pddadmin.jobs": 5,
    "pddadmin.demo": 5,
    # The demo's command builds the demo world and runs its jobs: it is the demo's, whatever
    # folder it sits in (pddadmin/feed/management/commands/, for now).
    "pddadmin.feed.management.commands.seed_demo": 5,
    # 6: the wiring that knows every app: the URL tree, the shell's navigation, the entry points.
    "pddadmin.urls": 6,
    "pddadmin.navigation": 6,
    "pddadmin.asgi": 6,
    "pddadmin.wsgi": 6,
}
LAYER_NAMES = {0: "shared", 1: "shops/feed", 2: "domain", 3: "metrics", 4: "review", 5: "jobs/demo", 6: "wiring"}
SKIPPED_PARTS = {"migrations", "tests", "bench", "node_modules", "static", "templates", "locale"}
DYNAMIC_IMPORTERS = {"import_module", "include"}


def layer_of(module: str) -> int | None:
    parts = module.split(".")
    for end in range(len(parts), 0, -1):
        prefix = ".".join(parts[:end])
        if prefix in LAYERS:
            return LAYERS[prefix]
    return None


def project_modules(root: Path) -> Iterator[tuple[str, Path]]:
    """(dotted name, path) of every module of the project's packages."""
    for package in sorted(p.parent for p in root.glob("*/__init__.py")):
        if package.name.startswith(".") or package.name in SKIPPED_PARTS:
            continue
        for path in sorted(package.rglob("*.py")):
            relative = path.relative_to(root)
            if SKIPPED_PARTS.intersection(relative.parts[:-1]):
                continue
            parts = list(relative.with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            yield ".".join(parts), path


def imported_from(module: str, node: ast.ImportFrom, *, is_package: bool) -> str:
    """The module a `from … import …` reads, relative levels resolved against `module`."""
    package = module.split(".") if is_package else module.split(".")[:-1]
    base = package[: len(package) - node.level + 1] if node.level else []
    return ".".join([*base, *([node.module] if node.module else [])])


def imports_of(module: str, source: str, *, is_package: bool = False) -> Iterator[str]:
    """Every module `source` imports: absolute, relative (resolved against `module`), and the
    string arguments of import_module() / include() calls."""
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            target = imported_from(module, node, is_package=is_package)
            if node.module:
                yield target
            else:  # `from . import x`: each name is a module of the package
                yield from (f"{target}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Call):
            name = getattr(node.func, "id", None) or getattr(node.func, "attr", None)
            if name in DYNAMIC_IMPORTERS and node.args:
                first = node.args[0]
                if isinstance(first, ast.Constant) and isinstance(first.value, str):
                    yield first.value


def violations(modules: Iterator[tuple[str, str, bool]]) -> list[str]:
    """`module -> imported (layer a imports layer b)` for each import of a higher layer, and each
    project module that is in no layer."""
    found: list[str] = []
    for module, source, is_package in modules:
        own = layer_of(module)
        if own is None:
            found.append(f"{module}: in no layer (add its package to LAYERS)")
            continue
        for imported in sorted(set(imports_of(module, source, is_package=is_package))):
            theirs = layer_of(imported)
            if theirs is not None and theirs > own:
                found.append(
                    f"{module} -> {imported} (layer {LAYER_NAMES[own]} imports layer {LAYER_NAMES[theirs]})"
                )
    return found


def test_no_module_imports_a_higher_layer():
    root = Path(settings.BASE_DIR)
    modules = [(name, path.read_text(), path.name == "__init__.py") for name, path in project_modules(root)]
    assert len(modules) > 50  # the walk found the project
    found = violations(iter(modules))
    assert not found, "imports against the layers:\n" + "\n".join(found)


def private_imports(modules: Iterator[tuple[str, str, bool]]) -> list[str]:
    """`module -> imported._name` for each private name imported from a project module."""
    found = []
    for module, source, is_package in modules:
        for node in ast.walk(ast.parse(source)):
            if not isinstance(node, ast.ImportFrom):
                continue
            target = imported_from(module, node, is_package=is_package)
            if layer_of(target) is None:
                continue  # not the project's: Django, the standard library…
            found += [f"{module} -> {target}.{a.name}" for a in node.names if a.name.startswith("_")]
    return found


def test_no_module_imports_a_private_name_of_another():
    root = Path(settings.BASE_DIR)
    modules = [(name, path.read_text(), path.name == "__init__.py") for name, path in project_modules(root)]
    assert private_imports(iter(modules)) == []
    assert private_imports(iter([("aftersales.services.deadlines", "from .cases import _lock, apply\n", False)])) == [
        "aftersales.services.deadlines -> aftersales.services.cases._lock"
    ]


def test_the_check_sees_every_kind_of_upward_import():
    bad = (
        "import metrics.services\n"
        "from review.views import QueueView\n"
        "from ..jobs import runner\n"
        "from importlib import import_module\n"
        "handlers = import_module('aftersales.feed_handlers')\n"
        "from .models import Shop\n"  # its own layer: fine
        "from pddadmin.cli import parse_moment_option\n"  # below: fine
    )
    assert violations(iter([("pddadmin.shops.admin", bad, False)])) == [
        "pddadmin.shops.admin -> aftersales.feed_handlers (layer shops/feed imports layer domain)",
        "pddadmin.shops.admin -> metrics.services (layer shops/feed imports layer metrics)",
        "pddadmin.shops.admin -> pddadmin.jobs (layer shops/feed imports layer jobs/demo)",
        "pddadmin.shops.admin -> review.views (layer shops/feed imports layer review)",
    ]


def test_a_new_package_must_say_its_layer():
    assert violations(iter([("customer_service.models", "", False)])) == [
        "customer_service.models: in no layer (add its package to LAYERS)"
    ]


def test_relative_imports_resolve_against_the_package():
    assert list(imports_of("aftersales.services.cases", "from ..models import X\nfrom . import deadlines\n")) == [
        "aftersales.models",
        "aftersales.services.deadlines",
    ]
    package = imports_of("aftersales.models", "from .cases import X\n", is_package=True)
    assert list(package) == ["aftersales.models.cases"]
