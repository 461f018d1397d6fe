"""The issue-9 plug-ins are written against bench's public API only: no private module, no underscore name."""

import ast
from pathlib import Path

import pytest

from methods import METHODS, PairwiseMethod

REPO = Path(__file__).resolve().parents[2]
PLUGINS = ("slic", "mpo", "iterative")


def _private_imports(path: Path) -> list[str]:
    bad = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names = [(a.name, None) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                bad.append(f"relative import from line {node.lineno}")
            if node.module == "__future__":
                continue
            names = [(node.module or "", a.name) for a in node.names]
        else:
            continue
        for module, name in names:
            if any(part.startswith("_") for part in module.split(".")) or (name or "").startswith("_"):
                bad.append(f"{module}:{name}" if name else module)
    return bad


@pytest.mark.parametrize("plugin", PLUGINS)
def test_plugin_imports_only_public_names(plugin):
    assert _private_imports(REPO / "methods" / f"{plugin}.py") == []


def test_the_check_catches_private_imports(tmp_path):
    f = tmp_path / "m.py"
    f.write_text("from methods._train import TokGroup\nfrom methods import _base\nimport bench._registry\n")
    assert len(_private_imports(f)) == 3


@pytest.mark.parametrize("name", ["slic", "mpo", "sail"])
def test_registered_as_pairwise_methods(name):
    assert issubclass(METHODS.get(name), PairwiseMethod)
