"""House rules that hold for every library file of the collection."""

import ast
import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
LIBRARIES = ["bert4keras", "accum_optimizer", "vqvae", "bidir_seq2seq", "new_words", "rope_curve"]
PRESENT = [name for name in LIBRARIES if (REPO / f"{name}.py").exists()]
STYLE = REPO.parent / "shared" / "STYLE.md"


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


@pytest.mark.parametrize("name", PRESENT)
def test_library_file_carries_the_mit_notice(name):
    """A copied file is licensed on its own: its header holds LICENSE's notice word for word."""
    licence = (REPO / "LICENSE").read_text(encoding="utf-8").split()
    notice = licence[licence.index("Permission"):]  # the permission sentence to the end
    source = (REPO / f"{name}.py").read_text(encoding="utf-8")
    header = source[:source.index('"""')]
    words = " ".join(w for line in header.splitlines() for w in line.lstrip("# ").split())
    assert "Copyright (c) 2026 the keras-single-files authors" in words
    assert " ".join(notice) in words


def _ceilings() -> dict[str, int]:
    """Line ceilings from the house style: `name soft-target / ceiling` pairs in its Size part."""
    text = STYLE.read_text(encoding="utf-8")
    found = re.findall(r"(\w+) [\d,]+-[\d,]+ / ([\d,]+)", text)
    return {name: int(limit.replace(",", "")) for name, limit in found}


@pytest.mark.skipif(not STYLE.exists(), reason="../shared/STYLE.md is not beside this checkout")
@pytest.mark.parametrize("name", PRESENT)
def test_library_file_is_under_its_size_ceiling(name):
    ceilings = _ceilings()
    assert name in ceilings, f"../shared/STYLE.md names no ceiling for {name}.py"
    lines = len((REPO / f"{name}.py").read_text(encoding="utf-8").splitlines())
    assert lines <= ceilings[name], f"{name}.py has {lines} lines, ceiling {ceilings[name]}"
