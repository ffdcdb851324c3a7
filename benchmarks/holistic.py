"""Holistic extraction (both landmarkers on every frame) against the bound and the seed's way.

    .venv/bin/python benchmarks/holistic.py [--media DIR] [--repeat R] [--video-fps F]

MEDIA (default ../shared/testdata) gives the items: every video of ``videos/`` sampled at
``--video-fps`` (default 10) and the first 10 photos of each ``hands/`` and ``faces/`` label, all
as holistic items, repeated R times (default 2) as distinct items. In one run it prints seconds,
frames/s and peak memory for:

  (a) bound: the bare hand and face landmarkers over pre-decoded frames (VIDEO mode for videos,
             IMAGE mode for photos, as the pipeline runs them), one process per core: inference
             only;
  (b) seed:  one process decoding each frame, running both landmarkers and appending a CSV row
             per frame: the way this project's first version did it;
  (c) pipeline: extract.extract() on the holistic items with 1 and 2 local workers and
             with Dask (LocalCluster, 2 workers), cache off, everything included;

then the ratios (pipeline-2 against the seed and against the bound) and whether 1 worker,
2 workers and Dask wrote byte-identical tables. Each measured run is a fresh subprocess, best
of two.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.extract import peak_rss_mb  # noqa: E402


def inventory(media: Path, repeat: int, video_fps: float):
    """Ingest's items and frames for the holistic items of ``media``, repeated as distinct items."""
    import pandas as pd

    from landmark_datasets.core import schema
    from landmark_datasets.core.params import IngestParams
    from landmark_datasets.ingest import ingest, layout

    params = IngestParams(raw_dir=str(media), video_fps=video_fps)
    entries = [layout.Entry(f"videos/{p.name}", "hands", "video")
               for p in sorted((media / "videos").iterdir())]
    for modality in ("hands", "faces"):
        for label in sorted(p.name for p in (media / modality).iterdir()):
            entries += [layout.Entry(f"{modality}/{label}/{p.name}", "hands", label)
                        for p in sorted((media / modality / label).iterdir())[:10]]
    items, frames, _ = ingest.build_inventory(media, entries, params)
    items = items.assign(modality=schema.HOLISTIC)
    copies_i, copies_f = [], []
    for r in range(repeat):
        i, f = items.copy(), frames.copy()
        i["item"] += r * len(items)
        f["item"] += r * len(items)
        i["source_id"] = i["source_id"] + f"-{r}"
        f["source_id"] = f["source_id"] + f"-{r}"
        copies_i.append(i)
        copies_f.append(f)
    return pd.concat(copies_i, ignore_index=True), pd.concat(copies_f, ignore_index=True)


def _work(media: Path, items, frames) -> list[tuple[str, list[tuple[int, object]]]]:
    """Per item: its media kind and its sampled frames as ``(timestamp_ms, rgb)``."""
    from landmark_datasets.ingest import media as media_mod

    out = []
    wanted = frames.groupby("item")
    for r in items.to_dict("records"):
        f = wanted.get_group(r["item"])
        stamps = dict(zip(f["frame"], f["timestamp_ms"], strict=True))
        if r["media"] == "image":
            rgb = media_mod.to_rgb(media_mod.decode_image(media / r["path"], 10**9))
            out.append(("image", [(0, rgb)]))
        else:
            out.append(("video", [(stamps[i], media_mod.to_rgb(bgr)) for i, bgr in
                                  media_mod.iter_video_frames(media / r["path"],
                                                              sorted(stamps))]))
    return out


def _detect_item(kind, frames, image_marks, params, on_result=None):
    import mediapipe as mp

    from landmark_datasets.extract import models

    def run(marks):
        for ts, rgb in frames:
            image = mp.Image(image_format=mp.ImageFormat.SRGB, data=rgb)
            with models.quiet_stderr():
                if kind == "image":
                    res = [m.detect(image) for m in marks]
                else:
                    res = [m.detect_for_video(image, int(ts)) for m in marks]
            if on_result:
                on_result(res)

    if kind == "image":
        run(image_marks)
    else:
        with models.hand_landmarker(params.hands, True) as h, \
                models.face_landmarker(params.faces, True) as f:
            run((h, f))


def _bound_worker(media, items, frames, barrier, out):
    from landmark_datasets.core.params import ExtractParams
    from landmark_datasets.extract import models

    params = ExtractParams()
    work = _work(media, items, frames)
    with models.hand_landmarker(params.hands, False) as h, \
            models.face_landmarker(params.faces, False) as f:
        barrier.wait()
        for kind, item_frames in work:
            _detect_item(kind, item_frames, (h, f), params)
        barrier.wait()
    out.put(peak_rss_mb())


def measure_bound(media: Path, repeat: int, video_fps: float, procs: int) -> dict:
    import multiprocessing

    items, frames = inventory(media, repeat, video_fps)
    ctx = multiprocessing.get_context("fork")  # nothing threaded yet: safe here
    barrier, out = ctx.Barrier(procs + 1), ctx.Queue()
    workers = [ctx.Process(target=_bound_worker,
                           args=(media, items.iloc[i::procs], frames, barrier, out))
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
    return {"seconds": seconds, "frames": len(frames), "rss_mb": rss}


def measure_seed(media: Path, repeat: int, video_fps: float) -> dict:
    """One process: decode a frame, run both landmarkers, append a row; frame after frame."""
    import csv
    import io

    from landmark_datasets.core.params import ExtractParams
    from landmark_datasets.extract import models
    from landmark_datasets.ingest import media as media_mod

    params = ExtractParams()
    items, frames = inventory(media, repeat, video_fps)
    rows = csv.writer(io.StringIO())

    def append(res):
        hands, face = res
        row = [v for lm in hands.hand_landmarks for p in lm for v in (p.x, p.y, p.z)]
        row += [v for lm in face.face_landmarks[:1] for p in lm for v in (p.x, p.y, p.z)]
        rows.writerow(row)

    with models.hand_landmarker(params.hands, False) as h, \
            models.face_landmarker(params.faces, False) as f:
        t = time.perf_counter()
        wanted = frames.groupby("item")
        for r in items.to_dict("records"):  # decoding inside the timed loop, as the seed did
            fr = wanted.get_group(r["item"])
            stamps = dict(zip(fr["frame"], fr["timestamp_ms"], strict=True))
            if r["media"] == "image":
                decoded = [(0, media_mod.to_rgb(media_mod.decode_image(media / r["path"],
                                                                       10**9)))]
            else:
                decoded = ((stamps[i], media_mod.to_rgb(bgr)) for i, bgr in
                           media_mod.iter_video_frames(media / r["path"], sorted(stamps)))
            _detect_item(r["media"], decoded, (h, f), params, append)
        seconds = time.perf_counter() - t
    return {"seconds": seconds, "frames": len(frames), "rss_mb": peak_rss_mb()}


def measure_pipeline(media: Path, repeat: int, video_fps: float, workers: int,
                     executor: str) -> dict:
    from landmark_datasets.core import schema
    from landmark_datasets.core.cache import Cache
    from landmark_datasets.core.params import ExtractParams
    from landmark_datasets.extract import extract

    params = ExtractParams(executor=executor)
    items, frames = inventory(media, repeat, video_fps)
    with tempfile.TemporaryDirectory() as out:
        t = time.perf_counter()
        extract.extract(items, frames, params, media, 10**9, Path(out), Cache(None), workers)
        seconds = time.perf_counter() - t
        digest = hashlib.sha256(
            (Path(out) / f"{schema.HOLISTIC}.parquet").read_bytes()
            + (Path(out) / "ledger.csv").read_bytes()).hexdigest()
    return {"seconds": seconds, "frames": len(frames), "rss_mb": peak_rss_mb(),
            "digest": digest}


def run_one(args) -> dict:
    media = Path(args.media)
    if args.one == "bound":
        return measure_bound(media, args.repeat, args.video_fps, os.cpu_count() or 1)
    if args.one == "seed":
        return measure_seed(media, args.repeat, args.video_fps)
    executor, workers = args.one.split("-")
    return measure_pipeline(media, args.repeat, args.video_fps, int(workers), executor)


def sub(what: str, args, best_of: int = 2) -> dict:
    """The fastest of ``best_of`` fresh-process runs of one measurement."""
    runs = []
    for _ in range(best_of):
        proc = subprocess.run(
            [sys.executable, __file__, "--one", what, "--media", args.media, "--repeat",
             str(args.repeat), "--video-fps", str(args.video_fps)],
            capture_output=True, text=True, cwd=ROOT)
        if proc.returncode != 0:
            raise SystemExit(f"{what} failed:\n{proc.stderr[-3000:]}")
        runs.append(json.loads(proc.stdout.strip().splitlines()[-1]))
    return min(runs, key=lambda r: r["seconds"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--media", default=str(ROOT.parent / "shared" / "testdata"))
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--video-fps", type=float, default=10.0)
    parser.add_argument("--one", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(run_one(args)))
        return
    results = {w: sub(w, args) for w in ("bound", "seed", "local-1", "local-2", "dask-2")}
    n = results["bound"]["frames"]
    print(f"holistic items of {args.media} x{args.repeat}: {n} frames, both landmarkers each")
    print(f"{'run':<10} {'seconds':>8} {'frames/s':>9} {'peak MB':>8}")
    for name, r in results.items():
        print(f"{name:<10} {r['seconds']:8.2f} {n / r['seconds']:9.1f} {r['rss_mb']:8.0f}")
    cores = os.cpu_count() or 1
    for name in ("local-1", "local-2", "dask-2"):
        t = results[name]["seconds"]
        print(f"{name}: {results['seed']['seconds'] / t:.2f}x the seed's speed, "
              f"{results['bound']['seconds'] / t:.2f}x the bound ({cores} processes)")
    same = len({results[w]["digest"] for w in ("local-1", "local-2", "dask-2")}) == 1
    print(f"1 worker, 2 workers and Dask: {'byte-identical' if same else 'DIFFERENT'} tables")


if __name__ == "__main__":
    main()
