"""The pull-request workflows: lint-clean, and safe for pull requests from forks."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import yaml

from tests.conftest import ROOT

WORKFLOWS = ROOT / ".github" / "workflows"


def _load(name: str) -> dict:
    doc = yaml.safe_load((WORKFLOWS / name).read_text())
    doc["on"] = doc.pop(True, doc.get("on"))  # YAML 1.1 reads the key `on` as True
    return doc


def _steps(doc: dict):
    for job in doc["jobs"].values():
        yield from job["steps"]


def test_actionlint_finds_nothing():
    """actionlint checks syntax, expressions, action inputs per major and script injection."""
    actionlint = Path(sys.executable).parent / "actionlint"
    proc = subprocess.run([str(actionlint), "-no-color"], cwd=ROOT, capture_output=True,
                          text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    # and it would have said so: a wrong input of a pinned major is an error
    bad = (WORKFLOWS / "pr-comment.yml").read_text().replace("run-id:", "run-idx:")
    proc = subprocess.run([str(actionlint), "-no-color", "-"], input=bad, cwd=ROOT,
                          capture_output=True, text=True)
    assert proc.returncode == 1
    assert 'input "run-idx" is not defined in action "actions/download-artifact@v8"' \
        in proc.stdout


def test_the_build_that_runs_pr_code_has_a_read_only_token():
    build = _load("pr.yml")
    assert build["on"] == {"pull_request": None}
    assert build["permissions"] == {"contents": "read"}
    assert all("permissions" not in job for job in build["jobs"].values())
    assert "secrets." not in (WORKFLOWS / "pr.yml").read_text()
    checkout = next(s for s in _steps(build) if s.get("uses", "").startswith("actions/checkout"))
    assert checkout["with"]["persist-credentials"] is False


def test_the_comment_comes_from_a_workflow_run_that_never_runs_pr_code():
    build, comment = _load("pr.yml"), _load("pr-comment.yml")
    assert comment["on"] == {"workflow_run": {"workflows": [build["name"]],
                                              "types": ["completed"]}}
    assert comment["permissions"] == {"contents": "read"}
    (job,) = comment["jobs"].values()
    assert job["permissions"] == {"actions": "read", "pull-requests": "write"}
    uses = [s.get("uses", "") for s in job["steps"]]
    assert not any(u.startswith("actions/checkout") for u in uses)  # no PR code on disk
    scripts = "\n".join(s.get("run", "") for s in job["steps"])
    assert not re.search(r"\b(python|pip|npm|dvc|\.venv|bash \.|make)\b", scripts)
    # the artifact it reads is the one the build uploads, with the marker the script writes
    handed = next(s for s in _steps(build) if s.get("with", {}).get("name") == "pr-comment")
    fetched = next(s for s in job["steps"] if "download-artifact" in s.get("uses", ""))
    assert fetched["with"]["name"] == handed["with"]["name"]
    sys.path.insert(0, str(ROOT / ".ci"))
    import pr_comment

    post = next(s for s in job["steps"] if "run" in s)
    assert post["env"]["MARKER"] == pr_comment.MARKER
    assert "startswith(env.MARKER)" in post["run"]  # one sticky comment, found by its marker
    assert "--edit-last" not in scripts


def test_caches_are_keyed_on_the_lock_file_and_the_models(monkeypatch):
    from landmark_datasets.core import cache

    build = _load("pr.yml")
    caches = {s["name"]: s["with"] for s in _steps(build)
              if s.get("uses", "").startswith("actions/cache")}
    packages = next(c for n, c in caches.items() if "packages" in n)
    landmarks = next(c for n, c in caches.items() if "landmarks" in n)
    assert "hashFiles('uv.lock')" in packages["key"]
    assert "~/.cache/uv" in packages["path"]
    assert "hashFiles('uv.lock', 'models/SHA256SUMS')" in landmarks["key"]
    # the folder the stages use on a runner (no LANDMARK_CACHE_DIR, no XDG_CACHE_HOME there)
    monkeypatch.delenv(cache.ENV, raising=False)
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
    assert landmarks["path"] == "~/" + str(cache.default_root().relative_to(Path.home()))


def test_reviewers_get_the_plots_diff_in_the_private_artifact():
    build = _load("pr.yml")
    steps = list(_steps(build))
    diff = next(s for s in steps if "dvc plots diff" in s.get("run", ""))
    out = re.search(r"--out (\S+)", diff["run"]).group(1)
    report = next(s for s in steps if s.get("with", {}).get("name") == "quality-report")
    assert f"{out}/" in report["with"]["path"]
