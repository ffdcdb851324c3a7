"""What a normalization sweep point costs at the scale of real datasets, stage by stage.

    .venv/bin/python benchmarks/sweep.py [--photos 1000,10000] [--media DIR] [--keep DIR]

Makes ``--photos`` distinct JPEG variants of the photos of MEDIA (default ../shared/testdata:
its hands/ and faces/ labels; each variant a random crop, scale, brightness and JPEG quality of
one photo, seeded, so every run makes the same files), then, on a temporary copy of the
repository with them as ``ingest.raw_dir`` and a cold cache, measures in one run:

  - a full ``dvc repro``;
  - a no-op ``dvc repro``;
  - two sweep points: ``preprocess.scheme`` changed (the hands tables change; the faces are
    preprocessed, validated and evaluated from the memos), then ``preprocess.face_scheme``
    too (the faces change);
  - each stage alone afterwards (``python -m stages.<name>``; extract with its cache off, so
    it extracts again, preprocess, validate, evaluate and report with their memos off):
    seconds, share of the full build and of extract, and peak memory (RSS of its largest
    process).

and prints them as a table per size, with each sweep point's share of the full build, the
no-op's seconds and each stage against the issue's targets (evaluate <= 25% of extract;
validate, split and report <= 5% each). With two sizes or more, it projects each stage's peak
memory to a million published rows along the line through the two largest.
``--keep DIR`` keeps the variants in DIR/<photos> (reused when present).
"""

from __future__ import annotations

import argparse
import json
import re
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


def measure(raw: Path) -> dict:
    """One size: the full build, the no-op, the two sweep points and each stage alone."""
    tmp, env = repo_copy(raw)
    dvc = [sys.executable, "-m", "dvc"]
    params = tmp / "params.yaml"
    try:
        full = timed([*dvc, "repro"], tmp, env)
        scores = json.loads((tmp / "reports/evaluation.json").read_text())
        noop = timed([*dvc, "repro"], tmp, env)
        params.write_text(params.read_text().replace("scheme: wrist_palm", "scheme: bbox"))
        hand_sweep = timed([*dvc, "repro"], tmp, env)
        params.write_text(params.read_text().replace("face_scheme: interocular",
                                                      "face_scheme: none"))
        face_sweep = timed([*dvc, "repro"], tmp, env)
        # extract alone with the cache off: what extracting costs, not reading the cache;
        # the stages with memos (preprocess, validate, evaluate, report's figures) alone with
        # them off: what they cost on new tables
        rows = {s: timed([sys.executable, "-m", f"stages.{s}"], tmp,
                         {**env, "LANDMARK_CACHE_DIR": "off"}
                         if s in ("extract", "preprocess", "validate", "evaluate", "report")
                         else env)[:2]
                for s in STAGES}
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    published = sum(int(n) for line in full[2].splitlines() if line.startswith("split: ")
                    for n in re.findall(r"(\d+) (?:train|test)", line.split(";")[0]))
    return {"photos": len(list(raw.glob("*/*/*.jpg"))), "rows": published, "full": full,
            "noop": noop, "hand_sweep": hand_sweep, "face_sweep": face_sweep, "stages": rows,
            "scores": scores}


def print_size(m: dict) -> None:
    """The per-stage table of one size, against the issue's targets."""
    full, extract = m["full"][0], m["stages"]["extract"][0]
    print(f"\n{m['photos']} photos, {m['rows']} published rows")
    print(f"{'run':<22}{'seconds':>9}{'% full':>8}{'% extract':>11}{'peak MB':>9}  target")
    targets = {"evaluate": 25, "validate": 5, "split": 5, "report": 5}
    print(f"{'full repro':<22}{full:>9.1f}{100:>8.0f}{'':>11}{m['full'][1]:>9.0f}")
    for stage, (s, mb) in m["stages"].items():
        goal = f"<= {targets[stage]}% of extract" if stage in targets else ""
        ok = "" if stage not in targets else (" ok" if 100 * s / extract <= targets[stage]
                                              else " MISSED")
        print(f"{stage:<22}{s:>9.1f}{100 * s / full:>8.1f}{100 * s / extract:>11.1f}"
              f"{mb:>9.0f}  {goal}{ok}")
    for name, what in (("hand_sweep", "sweep: hand scheme"), ("face_sweep", "sweep: face scheme")):
        s, mb = m[name][:2]
        print(f"{what:<22}{s:>9.1f}{100 * s / full:>8.1f}{'':>11}{mb:>9.0f}"
              f"  <= 15% of full{' ok' if s <= 0.15 * full else ' MISSED'}")
    print("test accuracy of the full build: " + "; ".join(
        f"{table} " + ", ".join(f"{model} {r[model]['test']['accuracy']}" for model in r
                                 if isinstance(r[model], dict) and "test" in r[model])
        for table, r in m["scores"].items() if r.get("rows_train")))
    print(f"{'no-op':<22}{m['noop'][0]:>9.1f}{100 * m['noop'][0] / full:>8.1f}{'':>11}"
          f"{m['noop'][1]:>9.0f}  < 3 s{' ok' if m['noop'][0] < 3 else ' MISSED'}")


def print_projection(sizes: list[dict], target_rows: int = 1_000_000) -> None:
    """Each stage's peak memory as a line through the two largest sizes, at ``target_rows``."""
    a, b = sorted(sizes, key=lambda m: m["rows"])[-2:]
    print(f"\npeak memory per stage: a line through {a['rows']} and {b['rows']} rows, "
          f"projected to {target_rows:,} rows (24 GB machine)")
    print(f"{'stage':<12}{'MB @' + str(a['rows']):>12}{'MB @' + str(b['rows']):>12}"
          f"{'KB/row':>9}{'GB @1M':>9}")
    for stage in STAGES:
        ma, mb = a["stages"][stage][1], b["stages"][stage][1]
        slope = (mb - ma) / max(1, b["rows"] - a["rows"])  # MB per row
        at = mb + slope * (target_rows - b["rows"])
        print(f"{stage:<12}{ma:>12.0f}{mb:>12.0f}{1024 * slope:>9.1f}{at / 1024:>9.1f}"
              f"{'' if at < 24 * 1024 else '  over 24 GB'}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--photos", default="10000",
                        help="photo counts, comma-separated (two or more: memory projection)")
    parser.add_argument("--media", type=Path, default=default_media())
    parser.add_argument("--keep", type=Path, help="keep (and reuse) the variants here")
    args = parser.parse_args()
    sizes = []
    for n in (int(x) for x in args.photos.split(",")):
        raw = (args.keep / str(n)) if args.keep else Path(tempfile.mkdtemp(prefix="bench-v-"))
        t = time.perf_counter()
        if not any(raw.glob("*/*/*.jpg")):
            make_variants(args.media, raw, n)
            print(f"made {n} variants in {time.perf_counter() - t:.0f} s", flush=True)
        try:
            sizes.append(measure(raw))
        finally:
            if not args.keep:
                shutil.rmtree(raw, ignore_errors=True)
        print_size(sizes[-1])
    if len(sizes) > 1:
        print_projection(sizes)


if __name__ == "__main__":
    main()
