"""What a normalization sweep point costs at the scale of real datasets, stage by stage.

    .venv/bin/python benchmarks/sweep.py [--photos 10000] [--media DIR] [--keep DIR]

Makes ``--photos`` distinct JPEG variants of the photos of MEDIA (default ../shared/testdata:
its hands/ and faces/ labels; each variant a random crop, scale, brightness and JPEG quality of
one photo, seeded, so every run makes the same files), then, on a temporary copy of the
repository with them as ``ingest.raw_dir`` and a cold cache, measures in one run:

  - a full ``dvc repro``;
  - a no-op ``dvc repro``;
  - a sweep point: ``preprocess.scheme`` changed (preprocess and every stage after it rerun);
  - each stage alone afterwards (``python -m stages.<name>``; extract with its cache off, so
    it extracts again): seconds, share of the full build and of extract, and peak memory (RSS
    of its largest process).

and prints them as a table, with the sweep point's share of the full build, the no-op's
seconds, and each stage against the issue's targets (evaluate <= 25% of extract; validate, split
and report <= 5% each). ``--keep DIR`` keeps the variants there (reused when present).
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.extract import commit_copy, default_media, timed  # noqa: E402

STAGES = ("scan", "ingest", "extract", "preprocess", "validate", "split", "evaluate", "report")


def make_variants(media: Path, out: Path, n: int, seed: int = 7) -> int:
    """``n`` distinct variants of the photos of ``media``'s hands/ and faces/, round-robin."""
    import cv2
    import numpy as np

    sources = sorted(p for m in ("hands", "faces") for p in (media / m).glob("*/*.jpg"))
    rng = np.random.default_rng(seed)
    images: dict[Path, np.ndarray] = {}
    for i in range(n):
        src = sources[i % len(sources)]
        img = images.setdefault(src, cv2.imread(str(src)))
        h, w = img.shape[:2]
        keep = rng.uniform(0.8, 1.0)
        ch, cw = int(h * keep), int(w * keep)
        y, x = int(rng.integers(0, h - ch + 1)), int(rng.integers(0, w - cw + 1))
        scale = rng.uniform(0.7, 1.3)
        size = (max(int(cw * scale), 32), max(int(ch * scale), 32))
        v = cv2.resize(img[y:y + ch, x:x + cw], size)
        v = cv2.convertScaleAbs(v, alpha=rng.uniform(0.8, 1.2), beta=rng.uniform(-20, 20))
        dst = out / src.relative_to(media).parent / f"{src.stem}_v{i:06d}.jpg"
        dst.parent.mkdir(parents=True, exist_ok=True)
        cv2.imwrite(str(dst), v, [cv2.IMWRITE_JPEG_QUALITY, int(rng.integers(70, 96))])
    return n


def repo_copy(raw: Path) -> tuple[Path, dict]:
    """A temporary git copy of the repository reading ``raw``, and its environment."""
    tmp = Path(tempfile.mkdtemp(prefix="bench-sweep-"))
    listed = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
                            cwd=ROOT, capture_output=True,
                            check=True).stdout.decode().split("\0")
    for rel in filter(None, listed):
        if (ROOT / rel).is_file() and not rel.startswith(("reports/", "data/")):
            (tmp / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / rel, tmp / rel)
    (tmp / "dvc.lock").unlink(missing_ok=True)
    params = tmp / "params.yaml"
    params.write_text(params.read_text().replace("raw_dir: data/raw", f"raw_dir: {raw}"))
    return tmp, commit_copy(tmp)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--photos", type=int, default=10_000)
    parser.add_argument("--media", type=Path, default=default_media())
    parser.add_argument("--keep", type=Path, help="keep (and reuse) the variants here")
    args = parser.parse_args()
    raw = args.keep or Path(tempfile.mkdtemp(prefix="bench-variants-"))
    t = time.perf_counter()
    if not any(raw.glob("*/*/*.jpg")):
        make_variants(args.media, raw, args.photos)
        print(f"made {args.photos} variants in {time.perf_counter() - t:.0f} s", flush=True)
    n = len(list(raw.glob("*/*/*.jpg")))
    tmp, env = repo_copy(raw)
    dvc = [sys.executable, "-m", "dvc"]
    try:
        full = timed([*dvc, "repro"], tmp, env)
        noop = timed([*dvc, "repro"], tmp, env)
        params = tmp / "params.yaml"
        params.write_text(params.read_text().replace("scheme: wrist_palm", "scheme: bbox"))
        sweep = timed([*dvc, "repro"], tmp, env)
        # extract alone with the cache off: what extracting costs, not reading the cache
        rows = {s: timed([sys.executable, "-m", f"stages.{s}"], tmp,
                         {**env, "LANDMARK_CACHE_DIR": "off"} if s == "extract" else env)[:2]
                for s in STAGES}
        kept = [line for line in full[2].splitlines() if line.startswith("split: ")]
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
        if not args.keep:
            shutil.rmtree(raw, ignore_errors=True)
    extract = rows["extract"][0]
    print(f"\n{n} photos; {'; '.join(kept[:2])}")
    print(f"{'run':<12}{'seconds':>9}{'% full':>8}{'% extract':>11}{'peak MB':>9}  target")
    targets = {"evaluate": 25, "validate": 5, "split": 5, "report": 5}
    print(f"{'full repro':<12}{full[0]:>9.1f}{100:>8.0f}{'':>11}{full[1]:>9.0f}")
    for stage, (s, mb) in rows.items():
        goal = f"<= {targets[stage]}% of extract" if stage in targets else ""
        ok = "" if stage not in targets else (" ok" if 100 * s / extract <= targets[stage]
                                              else " MISSED")
        print(f"{stage:<12}{s:>9.1f}{100 * s / full[0]:>8.1f}{100 * s / extract:>11.1f}"
              f"{mb:>9.0f}  {goal}{ok}")
    print(f"{'sweep point':<12}{sweep[0]:>9.1f}{100 * sweep[0] / full[0]:>8.1f}{'':>11}"
          f"{sweep[1]:>9.0f}  <= 15% of full{' ok' if sweep[0] <= 0.15 * full[0] else ' MISSED'}")
    print(f"{'no-op':<12}{noop[0]:>9.1f}{100 * noop[0] / full[0]:>8.1f}{'':>11}{noop[1]:>9.0f}"
          f"  < 3 s{' ok' if noop[0] < 3 else ' MISSED'}")


if __name__ == "__main__":
    main()
