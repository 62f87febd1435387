"""Imports between wsps's modules flow one way, in the order drawn in docs/layout.md."""

from __future__ import annotations

import ast
import re
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
PACKAGE = REPO / "wsps"


def layers() -> dict[str, int]:
    """Each top-level module or subpackage of wsps and its level, from the fenced block that
    follows "Imports flow one way" in docs/layout.md: one level a line, `N. a, b`."""
    text = (REPO / "docs" / "layout.md").read_text()
    block = text.split("Imports flow one way", 1)[1].split("```")[1]
    level = {}
    for line in block.strip().splitlines():
        number, names = re.fullmatch(r"\s*(\d+)\.\s+(.+)", line).groups()
        for name in names.split(","):
            level[name.strip()] = int(number)
    return level


def unit(path: Path) -> str:
    """`gt` for wsps/gt/..., `io` for wsps/io.py."""
    parts = path.relative_to(PACKAGE).parts
    return parts[0] if len(parts) > 1 else Path(parts[0]).stem


def imported_units(path: Path, source: str | None = None) -> set[str]:
    """The wsps units a module imports (absolute or relative), anywhere in its body; `source`
    stands for the file's text."""
    found = set()
    package = list(path.relative_to(PACKAGE).parts[:-1])
    for node in ast.walk(ast.parse(path.read_text() if source is None else source)):
        names = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - node.level + 1]
                names = [".".join(["wsps", *base, *([node.module] if node.module else [])])]
                if not node.module:
                    names = [f"{names[0]}.{alias.name}" for alias in node.names]
            elif node.module:
                names = [node.module]
                if node.module == "wsps":  # `from wsps import gt`, not `from wsps import CONFIG_DIR`
                    names = [
                        f"wsps.{a.name}"
                        for a in node.names
                        if (PACKAGE / a.name).is_dir() or (PACKAGE / f"{a.name}.py").is_file()
                    ]
        found |= {name.split(".")[1] for name in names if name.startswith("wsps.")}
    return found


def test_every_unit_has_a_level():
    level = layers()
    units = {unit(p) for p in PACKAGE.rglob("*.py") if p.name != "__init__.py" or p.parent != PACKAGE} - {"conf"}
    assert units - set(level) == set(), "add these to the import order in docs/layout.md"
    assert set(level) - units == set(), "docs/layout.md names modules that do not exist"


def test_imports_go_down_the_levels_only():
    level = layers()
    upward = []
    for path in sorted(PACKAGE.rglob("*.py")):
        if path.parent == PACKAGE and path.name == "__init__.py":
            continue
        source = unit(path)
        for target in imported_units(path) - {source}:
            if level[target] >= level[source]:
                upward.append(
                    f"{path.relative_to(REPO)} (level {level[source]}) imports {target} (level {level[target]})"
                )
    assert upward == []


def test_the_check_reads_each_kind_of_import():
    module = PACKAGE / "gt" / "example.py"
    assert imported_units(module, "from ..models import segmenter") == {"models"}
    assert imported_units(module, "from .boxes import read_boxes") == {"gt"}
    assert imported_units(module, "def f():\n    import wsps.eval.panoptic") == {"eval"}
    assert imported_units(module, "from wsps import CONFIG_DIR, loop") == {"loop"}
    assert imported_units(module, "import numpy as np") == set()
    assert {"crops", "labels"} <= imported_units(PACKAGE / "gt" / "image_tags.py")


def test_no_module_branches_on_the_stage():
    """What a stage does beyond the shared fit and predict is in its task object (conf/stage/),
    so neither the entry point nor train() asks which stage runs."""
    for name in ("cli.py", "train.py"):
        tree = ast.parse((PACKAGE / name).read_text())
        compared = [
            node
            for node in ast.walk(tree)
            if isinstance(node, ast.Compare)
            and any(isinstance(n, ast.Attribute) and n.attr == "stage" for n in ast.walk(node))
        ]
        assert not compared, f"wsps/{name} compares the stage at line {compared[0].lineno}"
