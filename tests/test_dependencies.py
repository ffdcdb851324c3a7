"""Every module a stage runs is one of its deps in dvc.yaml, so no code change leaves a stale
dataset behind ``dvc status`` saying everything is up to date.

Each stage's ``cmd`` names its entry module (``python -m stages.<name>``); the modules it
imports, transitively and including imports inside functions, are read from the source by
:mod:`landmark_datasets.core.imports` (nothing is imported or run), the reader whose closure is also
the code part of every memo key. Each one's file must be a dep of the stage itself or
lie under a folder that is.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest
import yaml

from landmark_datasets.core.imports import PACKAGES, ROOT, closure, imports, module_file


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
    assert "landmark_datasets/report/report.py" in files
    assert "landmark_datasets/core/params.py" in files  # imported inside main()
    assert "landmark_datasets/core/schema.py" in files
    assert "landmark_datasets/extract/landmarks.py" not in files  # report never opens pixels


# --- paths: written once, in paths.yaml ---------------------------------------------------------

def test_dvc_yaml_and_the_code_read_their_paths_from_paths_yaml():
    from landmark_datasets.core import paths

    declared = yaml.safe_load((ROOT / "paths.yaml").read_text())["paths"]
    text = (ROOT / "dvc.yaml").read_text()
    assert yaml.safe_load(text)["vars"] == ["paths.yaml"]
    used = set(re.findall(r"\$\{paths\.(\w+)\}", text))
    assert used <= set(declared), used - set(declared)
    for key, value in declared.items():  # every name is a Path of landmark_datasets.core.paths
        assert getattr(paths, key.upper()) == Path(value), key
    # what dvc.yaml lists is what the code writes
    for modality in ("hands", "faces", "holistic"):
        assert f"${{paths.plots}}/{paths.confusion_plot(modality).name}" in text
    # no path is written a second time in code: no stage module spells an artifact folder
    for module in sorted([*(ROOT / "stages").glob("*.py"),
                          *(ROOT / "landmark_datasets").rglob("*.py")]):
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
    for path in sorted((ROOT / "landmark_datasets").rglob("*.py")):
        assert not any(m.startswith("stages") for m in imports(path)), path.name
    import os
    import subprocess
    import sys

    probe = ("import os, logging; before = dict(os.environ); import landmark_datasets, "
             "landmark_datasets.core.schema, landmark_datasets.core.paths; "
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
            raise AssertionError("import cycle: " + " -> ".join(
                str(p.relative_to(ROOT)) for p in cycle))
        if path in done:
            return
        for nxt in sorted(graph.get(path, ())):
            visit(nxt, [*trail, path])
        done.add(path)

    for path in sorted(graph):
        visit(path, [])


#: The library's packages in pipeline order: a package imports only packages before it.
LAYERS = ("core", "ingest", "extract", "preprocess", "validate", "review", "split", "evaluate",
          "report")


def package_of(path: Path) -> str | None:
    rel = path.relative_to(ROOT / "landmark_datasets")
    return rel.parts[0] if len(rel.parts) > 1 else None


def test_the_packages_are_the_stages_in_pipeline_order():
    """Each subpackage of the library is a stage (or two) and opens with what it reads and
    writes; a package imports only packages of earlier stages, so the package graph has no
    cycle either and core imports no other package."""
    lib = ROOT / "landmark_datasets"
    found = sorted(p.name for p in lib.iterdir() if (p / "__init__.py").is_file())
    assert found == sorted(LAYERS)
    assert sorted(p.name for p in lib.glob("*.py")) == ["__init__.py", "sample.py"]
    for name in LAYERS:
        doc = ast.get_docstring(ast.parse((lib / name / "__init__.py").read_text()))
        assert doc, f"{name}/__init__.py has no docstring"
        assert "Reads" in doc or " reads " in doc, f"{name}/__init__.py: what it reads?"
        assert "writes" in doc, f"{name}/__init__.py says nothing of what it writes"
        body = ast.parse((lib / name / "__init__.py").read_text()).body
        assert len(body) == 1, f"{name}/__init__.py does more than document (importing " \
                               "a submodule would run it)"
    wrong = []
    for path in sorted(lib.rglob("*.py")):
        here = package_of(path)
        for module in imports(path):
            there = package_of(module_file(module)) if module.startswith("landmark_datasets.") \
                else None
            if here and there and LAYERS.index(there) > LAYERS.index(here):
                wrong.append(f"{path.relative_to(lib)} imports {module}")
    assert not wrong, "a package imports a later stage's: " + "; ".join(wrong)


def test_dvc_yaml_lists_the_library_by_package():
    """A stage's library deps are package folders (and the package's ``__init__.py``), never
    single modules: a module added to a package is a dep from its first commit."""
    for name, stage in stages().items():
        lib = [d for d in map(str, stage.get("deps", [])) if d.startswith("landmark_datasets/")]
        assert lib, name
        for dep in lib:
            rel = Path(dep).relative_to("landmark_datasets")
            assert len(rel.parts) == 1, f"dvc.yaml: stage {name} lists the module {dep}; " \
                                        "list its package folder"
            assert (ROOT / dep).is_dir() or dep == "landmark_datasets/__init__.py", dep


def test_a_memo_key_covers_the_code_its_stage_runs_and_only_that(tmp_path, monkeypatch):
    """The code part of a memo key is the digest of the stage's import closure: an edit to any
    module the stage runs misses the memo, an edit to the memo machinery or to another stage's
    module does not."""
    import shutil

    from landmark_datasets.core import cache
    from landmark_datasets.core import imports as imports_mod

    for package in PACKAGES:
        shutil.copytree(ROOT / package, tmp_path / package,
                        ignore=shutil.ignore_patterns("__pycache__"))

    def digest() -> str:
        imports_mod.closure.cache_clear()
        cache.source_digest.cache_clear()
        return cache.source_digest("stages.preprocess", libraries=("pandas",))

    monkeypatch.setattr(imports_mod, "ROOT", tmp_path)
    try:
        files = {p.name for p in imports_mod.closure("stages.preprocess", cache.MACHINERY)}
        assert {"preprocess.py", "filters.py", "holistic.py", "gaps.py", "normalize.py",
                "schema.py", "storage.py"} <= files
        assert not files & {"cache.py", "imports.py", "landmarks.py", "evaluate.py"}
        before = digest()
        assert digest() == before
        assert len(before) == 64
        for name, moves in (("core/cache.py", False), ("evaluate/evaluate.py", False),
                            ("preprocess/holistic.py", True), ("preprocess/filters.py", True),
                            ("core/schema.py", True)):
            path = tmp_path / "landmark_datasets" / name
            path.write_text(path.read_text() + "\n# an edit\n")
            assert (digest() != before) is moves, name
            before = digest()
    finally:
        imports_mod.closure.cache_clear()
        cache.source_digest.cache_clear()
