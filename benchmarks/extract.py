"""Extraction speed: the pipeline's extract against the bare models and a naive loop.

    .venv/bin/python benchmarks/extract.py [MEDIA_DIR]

MEDIA_DIR (default ../shared/testdata, else data/raw) is laid out as <modality>/<label>/<file>.
Prints seconds and images/s for, on the same images in one run:
  (a) bound: the bare landmarkers over pre-decoded images, one process;
  (b) naive: one process, decode + detect + append a CSV row per image (the usual tutorial loop);
  (c) pipeline: stages.extract.extract() with 1 and 2 worker processes;
and the ratios pipeline/bound and pipeline/naive.
"""

from __future__ import annotations

import csv
import io
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def main() -> None:
    os.chdir(ROOT)
    import mediapipe as mp

    from stages import extract, ingest, media, models
    from stages.params import Params

    default = ROOT.parent / "shared" / "testdata"
    raw = Path(sys.argv[1]) if len(sys.argv) > 1 else (
        default if default.is_dir() else ROOT / "data" / "raw")
    params = Params()
    params.ingest.raw_dir = str(raw)
    entries, _ = ingest.walk_folders(raw)
    entries = [e for e in entries if media.media_kind(e.path) == "image"]
    items, frames, _ = ingest.build_inventory(raw, entries, params.ingest)
    n = len(items)
    print(f"{n} images from {raw}")

    decoded = [(r["modality"], media.to_rgb(media.decode_image(raw / r["path"], 10**9)))
               for r in items.to_dict("records")]
    hands = models.hand_landmarker(params.extract.hands, video=False)
    faces = models.face_landmarker(params.extract.faces, video=False)
    marks = {"hands": hands, "faces": faces}
    with hands, faces:
        t = time.perf_counter()
        for modality, rgb in decoded:
            with models.quiet_stderr():
                marks[modality].detect(mp.Image(image_format=mp.ImageFormat.SRGB, data=rgb))
        bound = time.perf_counter() - t

        t = time.perf_counter()
        out = csv.writer(io.StringIO())
        for r in items.to_dict("records"):
            rgb = media.to_rgb(media.decode_image(raw / r["path"], 10**9))
            with models.quiet_stderr():
                res = marks[r["modality"]].detect(
                    mp.Image(image_format=mp.ImageFormat.SRGB, data=rgb))
            lms = res.hand_landmarks if r["modality"] == "hands" else res.face_landmarks
            for lm in lms:
                out.writerow([r["label"]] + [v for p in lm for v in (p.x, p.y, p.z)])
        naive = time.perf_counter() - t

    runs = {}
    for workers in (1, 2):
        t = time.perf_counter()
        extract.extract(items, frames, params.extract, raw, params.ingest.max_image_pixels,
                        workers)
        runs[f"pipeline-{workers}w"] = time.perf_counter() - t

    for name, s in {"bound": bound, "naive": naive, **runs}.items():
        print(f"{name:12s} {s:7.2f} s  {n / s:7.1f} images/s")
    for name, s in runs.items():
        print(f"{name} throughput: {bound / s:.2f}x the one-process bound, "
              f"{naive / s:.2f}x the naive loop")


if __name__ == "__main__":
    main()
