"""Extraction speed and incremental builds: the pipeline against the bare models and a naive loop.

    .venv/bin/python benchmarks/extract.py [--media DIR] [--repeat R] [--skip-dvc | --only-dvc]

MEDIA (default ../shared/testdata, else data/raw) is laid out as <modality>/<label>/<file>. On the
same images, in one run, it prints seconds, images/s and peak memory (max RSS) for:

  (a) bound:    the bare landmarkers over pre-decoded images, one process per core (inference only:
                no decoding, no model loading, no output);
  (b) naive:    one process: decode, detect, append a CSV row per image (the usual tutorial loop);
  (c) pipeline: extract.extract() with 1 and 2 local workers and with the Dask executor
                (LocalCluster), cache off, everything included (worker start, model loading,
                hashing, decoding, writing Parquet);

over the images repeated R times (default 4) as distinct items, so start-up costs are not the
whole story. Peak memory of the 2-worker pipeline is measured at R and 4R items. Then, unless
--skip-dvc, on a temporary copy of the repository with the media as ingest.raw_dir and a cold
cache:

  (d) a full `dvc repro`; a no-op `dvc repro`; a sweep step (a preprocess param changed); an
      incremental build after adding 1% more files (new images made by mirroring some); and each
      stage's own time afterwards. ``--scale K`` builds on K variants of every image (mirrored
      and re-encoded at other JPEG qualities: distinct files), to see how the shares move as
      extraction grows.

Each measured run is a fresh subprocess, best of two. Ratios printed: pipeline/bound and
pipeline/naive throughput, and each rebuild as a share of the full build.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def default_media() -> Path:
    testdata = ROOT.parent / "shared" / "testdata"
    return testdata if (testdata / "README.md").is_file() else ROOT / "data" / "raw"


def inventory(media: Path, repeat: int):
    """Ingest's items and frames for the images of ``media``, repeated as distinct items."""
    import pandas as pd

    from landmark_datasets.core.params import Params
    from landmark_datasets.ingest import ingest, layout
    from landmark_datasets.ingest import media as media_mod

    params = Params()
    params.ingest.raw_dir = str(media)
    entries, _ = layout.walk_folders(media)
    entries = [e for e in entries if media_mod.media_kind(e.path) == "image"]
    items, frames, _ = ingest.build_inventory(media, entries, params.ingest)
    copies_i, copies_f = [], []
    for r in range(repeat):
        i = items.copy()
        f = frames.copy()
        i["item"] += r * len(items)
        f["item"] += r * len(items)
        i["source_id"] = i["source_id"] + f"-{r}"
        f["source_id"] = f["source_id"] + f"-{r}"
        copies_i.append(i)
        copies_f.append(f)
    return params, pd.concat(copies_i, ignore_index=True), pd.concat(copies_f, ignore_index=True)


def peak_rss_mb() -> float:
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    kids = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return max(own, kids) / 1024


# --- one measurement per subprocess ---------------------------------------------------------

def _bound_worker(images, params, barrier, out):
    import mediapipe as mp

    from landmark_datasets.extract import models
    from landmark_datasets.ingest import media

    decoded = [(m, media.to_rgb(media.decode_image(p, 10**9))) for m, p in images]
    marks = {"hands": models.hand_landmarker(params.extract.hands, video=False),
             "faces": models.face_landmarker(params.extract.faces, video=False)}
    with marks["hands"], marks["faces"]:
        barrier.wait()
        with models.quiet_stderr():
            for modality, rgb in decoded:
                marks[modality].detect(mp.Image(image_format=mp.ImageFormat.SRGB, data=rgb))
        barrier.wait()
    out.put(peak_rss_mb())


def measure_bound(media: Path, repeat: int, procs: int) -> dict:
    import multiprocessing

    params, items, _ = inventory(media, repeat)
    paths = [(r["modality"], str(media / r["path"])) for r in items.to_dict("records")]
    ctx = multiprocessing.get_context("fork")
    barrier, out = ctx.Barrier(procs + 1), ctx.Queue()
    workers = [ctx.Process(target=_bound_worker, args=(paths[i::procs], params, barrier, out))
               for i in range(procs)]
    for w in workers:
        w.start()
    barrier.wait()
    t = time.perf_counter()
    barrier.wait()
    seconds = time.perf_counter() - t
    rss = max(out.get() for _ in workers)
    for w in workers:
        w.join()
    return {"seconds": seconds, "images": len(paths), "rss_mb": rss}


def measure_naive(media: Path, repeat: int) -> dict:
    import csv
    import io

    import mediapipe as mp

    from landmark_datasets.extract import models
    from landmark_datasets.ingest import media as media_mod

    params, items, _ = inventory(media, repeat)
    records = items.to_dict("records")
    marks = {"hands": models.hand_landmarker(params.extract.hands, video=False),
             "faces": models.face_landmarker(params.extract.faces, video=False)}
    with marks["hands"], marks["faces"]:
        t = time.perf_counter()
        out = csv.writer(io.StringIO())
        for r in records:
            rgb = media_mod.to_rgb(media_mod.decode_image(media / r["path"], 10**9))
            with models.quiet_stderr():
                res = marks[r["modality"]].detect(
                    mp.Image(image_format=mp.ImageFormat.SRGB, data=rgb))
            lms = res.hand_landmarks if r["modality"] == "hands" else res.face_landmarks
            for lm in lms:
                out.writerow([r["label"]] + [v for p in lm for v in (p.x, p.y, p.z)])
        seconds = time.perf_counter() - t
    return {"seconds": seconds, "images": len(records), "rss_mb": peak_rss_mb()}


def measure_pipeline(media: Path, repeat: int, workers: int, executor: str) -> dict:
    from landmark_datasets.core.cache import Cache
    from landmark_datasets.extract import extract

    params, items, frames = inventory(media, repeat)
    params.extract.executor = executor
    imported = 0.0
    if executor == "dask":  # a one-off per stage run, like the interpreter's start: shown apart
        t = time.perf_counter()
        import distributed  # noqa: F401
        imported = time.perf_counter() - t
    with tempfile.TemporaryDirectory() as out:
        t = time.perf_counter()
        extract.extract(items, frames, params.extract, media, params.ingest.max_image_pixels,
                        Path(out), Cache(None), workers)
        seconds = time.perf_counter() - t
    return {"seconds": seconds, "images": len(items), "rss_mb": peak_rss_mb(),
            "import_s": imported}


def run_one(args) -> dict:
    media, repeat = Path(args.media), args.repeat
    if args.one == "bound":
        return measure_bound(media, repeat, os.cpu_count() or 1)
    if args.one == "naive":
        return measure_naive(media, repeat)
    executor, workers = args.one.split("-")
    return measure_pipeline(media, repeat, int(workers), executor)


def sub(what: str, media: Path, repeat: int, best_of: int = 2) -> dict:
    """The fastest of ``best_of`` fresh-process runs of one measurement."""
    runs = []
    for _ in range(best_of):
        proc = subprocess.run(
            [sys.executable, __file__, "--one", what, "--media", str(media), "--repeat",
             str(repeat)], capture_output=True, text=True, cwd=ROOT)
        if proc.returncode != 0:
            raise SystemExit(f"{what} failed:\n{proc.stderr[-3000:]}")
        runs.append(json.loads(proc.stdout.strip().splitlines()[-1]))
    return min(runs, key=lambda r: r["seconds"])


# --- dvc builds ------------------------------------------------------------------------------

def timed(cmd, cwd, env) -> tuple[float, float, str]:
    """Seconds, peak RSS (MB) of the biggest process, and output of one command."""
    wrapper = ("import resource, subprocess, sys\n"
               "p = subprocess.run(sys.argv[1:], capture_output=True, text=True)\n"
               "sys.stdout.write(p.stdout + p.stderr)\n"
               "print('RSS', resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)\n"
               "sys.exit(p.returncode)\n")
    t = time.perf_counter()
    proc = subprocess.run([sys.executable, "-c", wrapper, *cmd], cwd=cwd, env=env,
                          capture_output=True, text=True)
    seconds = time.perf_counter() - t
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed:\n{proc.stdout[-3000:]}")
    rss = float(proc.stdout.rsplit("RSS ", 1)[1]) / 1024
    return seconds, rss, proc.stdout


def commit_copy(tmp: Path) -> dict:
    """Commit the repository copy ``tmp`` to a git repository of its own; its environment.

    The environment runs this interpreter's tools, without analytics, with a cache of its own.
    """
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}"
           f"{os.environ.get('PATH', '')}", "DVC_NO_ANALYTICS": "1",
           "GX_ANALYTICS_ENABLED": "false", "LANDMARK_CACHE_DIR": str(tmp / ".cache-bench"),
           "GIT_AUTHOR_NAME": "b", "GIT_AUTHOR_EMAIL": "b@example.com",
           "GIT_COMMITTER_NAME": "b", "GIT_COMMITTER_EMAIL": "b@example.com"}
    for cmd in (["git", "init", "-q"], ["git", "add", "-A"], ["git", "commit", "-qm", "b"]):
        subprocess.run(cmd, cwd=tmp, env=env, check=True, capture_output=True)
    return env


def mirrored_copies(raw: Path, n: int) -> list[Path]:
    """``n`` new images: mirrored copies of existing ones (new bytes, same label)."""
    import cv2

    made = []
    sources = sorted(p for p in raw.glob("*/*/*.jpg"))[:: max(len(list(raw.glob("*/*/*.jpg")))
                                                            // n, 1)][:n]
    for src in sources:
        dst = src.with_name("mirrored_" + src.name)
        cv2.imwrite(str(dst), cv2.flip(cv2.imread(str(src)), 1))
        made.append(dst)
    return made


def variants(src_dir: Path, dst_dir: Path, k: int) -> None:
    """``k`` distinct variants of each image of ``src_dir`` in ``dst_dir`` (same labels)."""
    import cv2

    for src in sorted(src_dir.rglob("*")):
        if not src.is_file() or src.suffix.lower() not in (".jpg", ".jpeg", ".png"):
            continue
        image = cv2.imread(str(src))
        if image is None:
            continue
        out = dst_dir / src.relative_to(src_dir).parent
        out.mkdir(parents=True, exist_ok=True)
        for v in range(k):
            img = cv2.flip(image, 1) if v % 2 else image
            cv2.imwrite(str(out / f"{src.stem}_v{v}.jpg"), img,
                        [cv2.IMWRITE_JPEG_QUALITY, 95 - v // 2])


def dvc_builds(media: Path, scale: int) -> dict:
    tmp = Path(tempfile.mkdtemp(prefix="bench-repo-"))
    try:
        listed = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True,
                                check=True).stdout.decode().split("\0")
        for rel in filter(None, listed):
            if (ROOT / rel).is_file():
                (tmp / rel).parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(ROOT / rel, tmp / rel)
        for d in ("reports", "data/dataset", "data/interim"):
            shutil.rmtree(tmp / d, ignore_errors=True)
        (tmp / "dvc.lock").unlink(missing_ok=True)
        raw = tmp / "data/raw"
        for modality in ("hands", "faces"):
            if (media / modality).is_dir() and scale > 1:
                variants(media / modality, raw / modality, scale)
            elif (media / modality).is_dir():
                shutil.copytree(media / modality, raw / modality)
        env = commit_copy(tmp)
        dvc = [sys.executable, "-m", "dvc"]
        n_files = len(list(raw.glob("*/*/*")))
        print(f"building on {n_files} files", flush=True)
        out: dict = {"files": n_files}
        out["full"] = timed([*dvc, "repro"], tmp, env)[:2]
        out["noop"] = timed([*dvc, "repro"], tmp, env)[:2]
        params = tmp / "params.yaml"
        params.write_text(params.read_text().replace("min_extent: 0.02", "min_extent: 0.03"))
        out["sweep"] = timed([*dvc, "repro"], tmp, env)[:2]
        added = mirrored_copies(raw, max(round(n_files / 100), 1))
        out["added"] = len(added)
        seconds, rss, log = timed([*dvc, "repro"], tmp, env)
        out["incremental"] = (seconds, rss)
        out["incremental_log"] = [line for line in log.splitlines()
                                  if line.startswith(("extract:", "ingest:"))][-2:]
        stages = {}
        for stage in ("scan", "ingest", "extract", "preprocess", "validate", "split", "report"):
            stages[stage] = timed([sys.executable, "-m", f"stages.{stage}"], tmp, env)[:2]
        out["stages_warm"] = stages
        return out
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--media", default=str(default_media()))
    parser.add_argument("--repeat", type=int, default=4)
    parser.add_argument("--skip-dvc", action="store_true", help="only (a)-(c)")
    parser.add_argument("--only-dvc", action="store_true", help="only (d)")
    parser.add_argument("--scale", type=int, default=1, help="(d) on K variants of each image")
    parser.add_argument("--one", help=argparse.SUPPRESS)
    args = parser.parse_args()
    os.chdir(ROOT)
    if args.one:
        print(json.dumps(run_one(args)))
        return
    media, repeat = Path(args.media), args.repeat
    cores = os.cpu_count() or 1
    print(f"media: {media}, images x {repeat}, {cores} cores")
    if not args.only_dvc:
        throughput(media, repeat, cores)
    if not args.skip_dvc:
        builds(media, args.scale)


def throughput(media: Path, repeat: int, cores: int) -> None:
    runs = {"bound": sub("bound", media, repeat), "naive": sub("naive", media, repeat)}
    for what in ("local-1", "local-2", "dask-2"):
        runs[what] = sub(what, media, repeat)
    print(f"{'run':10s} {'images':>6s} {'seconds':>8s} {'images/s':>9s} {'peak MB':>8s}")
    for name, r in runs.items():
        print(f"{name:10s} {r['images']:6d} {r['seconds']:8.2f} "
              f"{r['images'] / r['seconds']:9.1f} {r['rss_mb']:8.0f}")
    for name in ("local-1", "local-2", "dask-2"):
        s = runs[name]["seconds"]
        print(f"{name}: {runs['bound']['seconds'] / s:.2f}x the bound ({cores} processes), "
              f"{runs['naive']['seconds'] / s:.2f}x the naive loop")
    print(f"dask-2 vs local-2: {runs['dask-2']['seconds'] / runs['local-2']['seconds']:.2f}x "
          f"the time (plus {runs['dask-2']['import_s']:.1f} s to import distributed, once per "
          "stage run)")
    big = sub("local-2", media, repeat * 4, best_of=1)
    print(f"memory: local-2 peak {runs['local-2']['rss_mb']:.0f} MB at "
          f"{runs['local-2']['images']} images, {big['rss_mb']:.0f} MB at {big['images']} "
          f"images ({big['images'] / big['seconds']:.1f} images/s, "
          f"{runs['bound']['seconds'] * 4 / big['seconds']:.2f}x the bound)")


def builds(media: Path, scale: int) -> None:
    d = dvc_builds(media, scale)
    full = d["full"][0]
    print(f"\ndvc builds on {d['files']} files (cold cache):")
    print(f"{'build':26s} {'seconds':>8s} {'vs full':>8s} {'peak MB':>8s}")
    for name, label in (("full", "full dvc repro"), ("noop", "no-op dvc repro"),
                        ("sweep", "preprocess param changed"),
                        ("incremental", f"+{d['added']} files ({d['added'] / d['files']:.1%})")):
        s, rss = d[name]
        print(f"{label:26s} {s:8.2f} {s / full:8.1%} {rss:8.0f}")
    print("incremental: " + " | ".join(d["incremental_log"]))
    print("each stage alone (warm cache): " + ", ".join(
        f"{k} {v[0]:.1f} s" for k, v in d["stages_warm"].items()))


if __name__ == "__main__":
    main()
