"""The project's import graph, read from the source with :mod:`ast` (nothing is imported or run).

One reader for two questions: which files a stage runs (``tests/test_dependencies.py`` checks
that dvc.yaml lists each one as a dep) and which code decides a memoized result (the code part
of a memo's key, :func:`.cache.source_digest`). Imports inside functions count, and importing
``a.b`` runs ``a/__init__.py`` first, so parent packages count too.
"""

from __future__ import annotations

import ast
import functools
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("stages", "landmark_datasets")  # the entry points and the library


def module_file(name: str) -> Path | None:
    """The project file of module ``name`` (``landmark_datasets.core.storage``), or None."""
    if name.split(".")[0] not in PACKAGES:
        return None
    path = ROOT.joinpath(*name.split("."))
    if path.with_suffix(".py").is_file():
        return path.with_suffix(".py")
    if (path / "__init__.py").is_file():
        return path / "__init__.py"
    return None


def imports(path: Path) -> set[str]:
    """The project modules ``path`` imports anywhere in it (top level or in a function)."""
    package = ".".join(path.relative_to(ROOT).with_suffix("").parts[:-1])
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_bytes(), str(path))):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: from . import x / from .x import y
                parent = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                base = f"{parent}.{base}".rstrip(".")
            found.add(base)
            found.update(f"{base}.{a.name}" for a in node.names)  # `from pkg import module`
    return {name for name in found if module_file(name)}


@functools.cache
def closure(entry: str, skip: tuple[str, ...] = ()) -> frozenset[Path]:
    """The files of module ``entry`` and of every project module it imports, transitively.

    ``skip``: modules left out, with what only they import.
    """
    todo, seen = [entry], {module_file(name) for name in skip}
    while todo:
        name = todo.pop()
        parts = name.split(".")
        for i in range(1, len(parts) + 1):
            path = module_file(".".join(parts[:i]))
            if path is None or path in seen:
                continue
            seen.add(path)
            todo.extend(imports(path))
    return frozenset(seen - {module_file(name) for name in skip})
