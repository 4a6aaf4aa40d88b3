"""The package layout is the architecture (``docs/architecture.md``): data flows one way.

Every module of ``klynge_opt`` belongs to a layer; a module may import from its own layer and
the layers below it, never from a layer above (imports under ``TYPE_CHECKING`` are type hints
only and do not count). The independent checker imports nothing from the model or from the
code that builds results, so a mistake there cannot hide in the check as well.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

import klynge_opt

PACKAGE = Path(klynge_opt.__file__).parent

#: Lowest first. A module's layer is its subpackage, or its own name at the top level.
LAYERS: tuple[tuple[str, ...], ...] = (
    ("problems", "cells", "fsio", "frames", "progress", "wording"),
    ("data",),
    ("model",),
    ("results",),
    ("api", "denmark"),
    ("batch",),
    ("studies",),
    ("reporting",),
    ("cli", "__main__", "__init__"),
)
LAYER_OF = {name: i for i, names in enumerate(LAYERS) for name in names}


def _modules() -> dict[str, Path]:
    return {".".join(p.relative_to(PACKAGE).with_suffix("").parts): p
            for p in sorted(PACKAGE.rglob("*.py"))}


def _unit(module: str) -> str:
    return module.split(".")[0]


def _runtime_imports(module: str, path: Path) -> set[str]:
    """Modules of klynge_opt imported by ``module`` outside ``if TYPE_CHECKING:`` blocks."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = module.split(".")[:-1] if path.name != "__init__.py" else module.split(".")
    if path.name == "__init__.py" and module == "__init__":
        package = []
    found: set[str] = set()

    def visit(node: ast.AST) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and "TYPE_CHECKING" in ast.unparse(child.test):
                continue
            if isinstance(child, ast.ImportFrom):
                if child.level:
                    base = package[:len(package) - (child.level - 1)]
                    target = [*base, *(child.module.split(".") if child.module else [])]
                    if child.module is None:
                        found.update(".".join([*target, a.name]) for a in child.names)
                    else:
                        found.add(".".join(target))
                elif child.module and child.module.startswith("klynge_opt."):
                    found.add(child.module.removeprefix("klynge_opt."))
            elif isinstance(child, ast.Import):
                found.update(a.name.removeprefix("klynge_opt.") for a in child.names
                             if a.name.startswith("klynge_opt."))
            visit(child)

    visit(tree)
    return {f for f in found if f}


def test_every_module_has_a_layer():
    missing = sorted(m for m in _modules() if _unit(m) not in LAYER_OF)
    assert not missing, f"modules outside every layer: {missing}"


@pytest.mark.parametrize("module", sorted(_modules()))
def test_imports_flow_one_way(module):
    path = _modules()[module]
    own = LAYER_OF[_unit(module)]
    upward = sorted(i for i in _runtime_imports(module, path)
                    if _unit(i) in LAYER_OF and LAYER_OF[_unit(i)] > own)
    assert not upward, f"{module} (layer {own}) imports from a layer above: {upward}"


def test_checker_is_independent_of_model_and_result_builders():
    imports = _runtime_imports("results.check", _modules()["results.check"])
    forbidden = sorted(i for i in imports if _unit(i) in ("model", "api", "studies")
                       or i == "results.result")
    assert not forbidden, f"the checker imports {forbidden}"


def test_light_imports_stay_light():
    """Reading data and the CLI's help need neither Pyomo nor HiGHS."""
    code = ("import sys, klynge_opt, klynge_opt.data.dataset, klynge_opt.cli\n"
            "heavy = sorted(m for m in ('pyomo', 'highspy', 'pyomo.environ') if m in sys.modules)\n"
            "print(','.join(heavy))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "", f"heavy modules imported: {out.stdout.strip()}"
