"""The lazy public API is what type checkers see: each package's TYPE_CHECKING imports mirror it."""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

import pytest

PACKAGES = ["ollama_forge", "ollama_forge.hub", "ollama_forge.ollama"]


def _type_checking_imports(package: str) -> dict[str, str]:
    """name -> "absolute.module:attribute" for the imports under ``if TYPE_CHECKING:`` in the __init__."""
    module = importlib.import_module(package)
    tree = ast.parse(Path(str(module.__file__)).read_text(encoding="utf-8"))
    out: dict[str, str] = {}
    for node in tree.body:
        if (
            isinstance(node, ast.If)
            and isinstance(node.test, ast.Name)
            and node.test.id == "TYPE_CHECKING"
        ):
            for imp in node.body:
                assert isinstance(imp, ast.ImportFrom) and imp.level >= 1 and imp.module
                base = package.split(".")[: len(package.split(".")) - (imp.level - 1)]
                for alias in imp.names:
                    out[alias.asname or alias.name] = (
                        f"{'.'.join([*base, imp.module])}:{alias.name}"
                    )
    return out


@pytest.mark.parametrize("package", PACKAGES)
def test_type_checking_block_mirrors_the_lazy_exports(package: str) -> None:
    module = importlib.import_module(package)
    lazy = {}
    for name, target in module._LAZY.items():
        mod, _, attr = target.partition(":")
        lazy[name] = (
            f"{mod if mod.startswith('ollama_forge.') else f'{package}.{mod}'}:{attr or name}"
        )
    assert _type_checking_imports(package) == lazy


@pytest.mark.parametrize("package", PACKAGES)
def test_every_lazy_name_resolves(package: str) -> None:
    module = importlib.import_module(package)
    for name in module._LAZY:
        assert getattr(module, name) is not None, name
        assert name in dir(module)
