"""Every module a stage runs is one of its deps in dvc.yaml, so no code change leaves a stale
dataset behind ``dvc status`` saying everything is up to date.

Each stage's ``cmd`` names its entry module (``python -m stages.<name>``); the modules it
imports, transitively and including imports inside functions, are read from the source with
:mod:`ast` (nothing is imported or run). Each one's file must be a dep of the stage itself or
lie under a folder that is.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("stages", "landmark_datasets")  # the entry points and the library


def module_file(name: str) -> Path | None:
    """The project file of module ``name`` (``landmark_datasets.storage``), or None."""
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
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
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


def closure(entry: str) -> set[Path]:
    """The files of ``entry`` and of every project module it imports, transitively.

    Importing ``a.b`` runs ``a/__init__.py`` first, so parent packages count too.
    """
    todo, seen = [entry], set()
    while todo:
        name = todo.pop()
        parts = name.split(".")
        for i in range(1, len(parts) + 1):
            path = module_file(".".join(parts[:i]))
            if path is None or path in seen:
                continue
            seen.add(path)
            todo.extend(imports(path))
    return seen


def stages() -> dict[str, dict]:
    """The stages of dvc.yaml; a ``foreach`` stage as its ``do`` template."""
    return {name: stage.get("do", stage)
            for name, stage in yaml.safe_load((ROOT / "dvc.yaml").read_text())["stages"].items()}


def entry_module(stage: dict) -> str:
    match = re.fullmatch(r"python -m ([\w.]+)( [\w${}.]+)*", stage["cmd"])
    assert match, f"cmd {stage['cmd']!r} is not `python -m <module> [args]`"
    return match.group(1)


def covered(path: Path, deps: list[str]) -> bool:
    rel = path.relative_to(ROOT)
    return any(rel == Path(d) or Path(d) in rel.parents for d in deps)


@pytest.mark.parametrize("name", sorted(stages()))
def test_every_module_a_stage_runs_is_one_of_its_deps(name):
    stage = stages()[name]
    deps = [str(d) for d in stage.get("deps", [])]
    missing = sorted(str(p.relative_to(ROOT)) for p in closure(entry_module(stage))
                     if not covered(p, deps))
    assert not missing, f"dvc.yaml: stage {name} runs these modules but does not list them " \
                        f"as deps: {', '.join(missing)}"


def test_the_import_reader_follows_function_level_and_package_imports():
    """The reader itself, on a stage known to import through functions and the package."""
    files = {str(p.relative_to(ROOT)) for p in closure("stages.report")}
    assert "stages/__init__.py" in files  # the entry package, imported first
    assert "landmark_datasets/__init__.py" in files
    assert "landmark_datasets/report.py" in files
    assert "landmark_datasets/params.py" in files  # imported inside main()
    assert "landmark_datasets/schema.py" in files
    assert "landmark_datasets/landmarks.py" not in files  # report never opens pixels


# --- paths: written once, in paths.yaml ---------------------------------------------------------

def test_dvc_yaml_and_the_code_read_their_paths_from_paths_yaml():
    from landmark_datasets import paths

    declared = yaml.safe_load((ROOT / "paths.yaml").read_text())["paths"]
    text = (ROOT / "dvc.yaml").read_text()
    assert yaml.safe_load(text)["vars"] == ["paths.yaml"]
    used = set(re.findall(r"\$\{paths\.(\w+)\}", text))
    assert used <= set(declared), used - set(declared)
    for key, value in declared.items():  # every name is a Path of landmark_datasets.paths
        assert getattr(paths, key.upper()) == Path(value), key
    # what dvc.yaml lists is what the code writes
    for modality in ("hands", "faces", "holistic"):
        assert f"${{paths.plots}}/{paths.confusion_plot(modality).name}" in text
    # no path is written a second time in code: no stage module spells an artifact folder
    for module in sorted([*(ROOT / "stages").glob("*.py"),
                          *(ROOT / "landmark_datasets").glob("*.py")]):
        if module.name in ("paths.py", "sample.py"):
            continue
        for value in {v for v in declared.values() if "/" in v}:
            assert f'"{value}' not in module.read_text(), f"{module.name} spells {value}"


def test_stages_are_entry_points_over_the_library():
    """A stage entry point imports the library, never another stage; the library never imports
    an entry point, and importing it sets nothing (no environment variable, no logging)."""
    entries = {entry_module(s) for s in stages().values()}
    assert entries == {f"stages.{p.stem}" for p in (ROOT / "stages").glob("*.py")
                       if p.stem != "__init__"}
    for module in sorted(entries):
        others = {m for m in imports(module_file(module)) if m.startswith("stages.")}
        assert not others, f"{module} imports stage {', '.join(sorted(others))}"
    for path in sorted((ROOT / "landmark_datasets").glob("*.py")):
        assert not any(m.startswith("stages") for m in imports(path)), path.name
    import os
    import subprocess
    import sys

    probe = ("import os, logging; before = dict(os.environ); import landmark_datasets, "
             "landmark_datasets.schema, landmark_datasets.paths; "
             "assert dict(os.environ) == before; assert not logging.getLogger().handlers")
    subprocess.run([sys.executable, "-c", probe], cwd=ROOT, check=True,
                   env={k: v for k, v in os.environ.items()
                        if k not in ("GLOG_minloglevel", "TF_CPP_MIN_LOG_LEVEL",
                                     "OPENCV_FFMPEG_LOGLEVEL")})


def test_the_library_has_no_import_cycle():
    """No module imports, even inside a function, one that imports it back."""
    graph = {p: {module_file(m) for m in imports(p)} - {p}
             for p in (ROOT / "landmark_datasets").rglob("*.py")}
    done: set[Path] = set()

    def visit(path: Path, trail: list[Path]) -> None:
        if path in trail:
            cycle = trail[trail.index(path):] + [path]
            raise AssertionError("import cycle: " + " -> ".join(p.stem for p in cycle))
        if path in done:
            return
        for nxt in sorted(graph.get(path, ())):
            if nxt.name != "__init__.py":  # the package itself imports nothing back
                visit(nxt, [*trail, path])
        done.add(path)

    for path in sorted(graph):
        visit(path, [])
