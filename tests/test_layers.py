"""Module boundaries: no module of liftlab reaches into another module's private names.

A name with a leading underscore is private to the module that defines it. Another module may
neither import it (``from liftlab.present import _pct``), nor rename a public name into a
private-looking alias (``from liftlab.theme import level as _level``), nor read it as an
attribute (``present._pct``, ``liftlab.format._scale``).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

LIB = Path(__file__).resolve().parents[1] / "lib"
MODULES = sorted((LIB / "liftlab").rglob("*.py"))


def _module_name(path: Path) -> str:
    parts = path.relative_to(LIB).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def _absolute(module: str, node: ast.ImportFrom, path: Path) -> str:
    """The absolute module of ``from <module> import`` (relative imports resolved)."""
    if not node.level:
        return node.module or ""
    package = module.split(".") if path.name == "__init__.py" else module.split(".")[:-1]
    base = package[: len(package) - node.level + 1]
    return ".".join(base + ([node.module] if node.module else []))


def violations(source: str, module: str, path: Path) -> list[str]:
    """Each private name of another liftlab module that ``source`` imports, aliases or reads."""
    tree = ast.parse(source)
    found: list[str] = []
    modules: dict[str, str] = {}  # local name → the liftlab module it stands for
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            origin = _absolute(module, node, path)
            if origin.split(".")[0] != "liftlab" or origin == module:
                continue
            for alias in node.names:
                local = alias.asname or alias.name
                if _private(alias.name) or _private(local):
                    found.append(f"{node.lineno}: from {origin} import {alias.name} as {local}")
                modules[local] = f"{origin}.{alias.name}"
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] == "liftlab":
                    local = alias.asname or alias.name.split(".")[0]
                    modules[local] = alias.name if alias.asname else "liftlab"
                    if _private(local):
                        found.append(f"{node.lineno}: import {alias.name} as {local}")
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and _private(node.attr):
            chain, value = [node.attr], node.value
            while isinstance(value, ast.Attribute):
                chain.append(value.attr)
                value = value.value
            if isinstance(value, ast.Name) and value.id in modules:
                dotted = ".".join([value.id, *reversed(chain)])
                found.append(f"{node.lineno}: {dotted}")
    return found


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(LIB)))
def test_no_module_uses_another_modules_private_names(path: Path) -> None:
    module = _module_name(path)
    assert violations(path.read_text(encoding="utf-8"), module, path) == []


def test_the_check_finds_each_way_of_reaching_a_private_name() -> None:
    source = "\n".join(
        [
            "from liftlab.present import _pct, md_text",
            "from liftlab.theme import level as _level",
            "from liftlab import present",
            "import liftlab.format",
            "from . import _helpers",
            "x = present._prob(0.5)",
            "y = liftlab.format._scale([1.0])",
            "z = present.md_text('ok')",
            "w = self._cache",  # not a module: allowed
            "v = present.__name__",  # dunder: allowed
        ]
    )
    path = LIB / "liftlab" / "kinds" / "example.py"
    got = violations(source, "liftlab.kinds.example", path)
    assert got == [
        "1: from liftlab.present import _pct as _pct",
        "2: from liftlab.theme import level as _level",
        "5: from liftlab.kinds import _helpers as _helpers",
        "6: present._prob",
        "7: liftlab.format._scale",
    ]
    # a module's own private names are its own business
    own = "from liftlab.kinds.example import _local\nx = _local()"
    assert violations(own, "liftlab.kinds.example", path) == []


def test_layer_contracts_hold() -> None:
    """The import-linter contracts of pyproject.toml: stats imports only stats (and the leaf
    JSON cleaner), the data layer knows no kind, analysis, verdict or report, and report
    code runs no queries (no engine module, no Ibis, no DuckDB)."""
    from importlinter.cli import lint_imports

    root = LIB.parent
    assert lint_imports(config_filename=str(root / "pyproject.toml"), no_cache=True) == 0


def test_no_import_cycles() -> None:
    """No module of liftlab imports, directly or through others, a module that imports it
    (imports for type checking only aside): each layer can be read, tested and replaced
    from the bottom up. Checked on the import graph import-linter builds (grimp)."""
    import grimp

    graph = grimp.build_graph("liftlab", exclude_type_checking_imports=True)
    cycles = sorted(
        f"{a} -> {b} -> ... -> {a}"
        for a in graph.modules
        for b in graph.find_modules_directly_imported_by(a)
        if graph.chain_exists(importer=b, imported=a)
    )
    assert cycles == []
