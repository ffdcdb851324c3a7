import subprocess
import sys


def test_ruff_clean():
    """One docstring convention and import order, checked by a tool (pyproject: [tool.ruff])."""
    proc = subprocess.run([sys.executable, "-m", "ruff", "check", "stages", "landmark_datasets",
                           "tests", "dev.py", "benchmarks", ".ci/pr_comment.py"],
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
