"""House rules that hold for every library file of the collection."""

import ast
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
LIBRARIES = ["bert4keras", "accum_optimizer", "vqvae", "bidir_seq2seq", "new_words", "rope_curve"]
PRESENT = [name for name in LIBRARIES if (REPO / f"{name}.py").exists()]


def _imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


@pytest.mark.parametrize("name", PRESENT)
def test_library_file_imports_no_sibling(name):
    siblings = set(LIBRARIES) - {name}
    assert not (_imported_modules(REPO / f"{name}.py") & siblings)


@pytest.mark.parametrize("name", PRESENT)
def test_library_file_has_header_and_version(name):
    tree = ast.parse((REPO / f"{name}.py").read_text(encoding="utf-8"))
    assert ast.get_docstring(tree), f"{name}.py needs a module docstring"
    assigned = {t.id for node in tree.body if isinstance(node, ast.Assign)
                for t in node.targets if isinstance(t, ast.Name)}
    assert {"__version__", "__all__"} <= assigned

