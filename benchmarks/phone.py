"""Phone-sized media: 12-megapixel photos and a 1080p video, the pipeline against a naive loop.

    .venv/bin/python benchmarks/phone.py [--photos 40] [--media DIR] [--min-side 720]

Makes, from MEDIA (default ../shared/testdata), ``--photos`` 4000x3000 JPEGs (each test photo
scaled to 3000 px high in a 4000 px wide frame, its sides mirrored) and a 1080p video (the
Pexels clip scaled to 1920x1080, 10 s), then measures in one run:

  - per 12 MP photo: decoding it in full, decoding it at the reduction ``--min-side`` picks,
    and the hand model on the full-size image (ms, mean of 10);
  - naive:    one process decodes each photo in full and runs its landmarker (the tutorial loop);
  - pipeline: ``extract.extract()`` with every CPU, cache off, decoding in full
    (``extract.decode_min_side: 0``, the default) and reduced (``--min-side``);
  - the 1080p video: the naive VIDEO-mode loop against the pipeline (a video is one task; its
    frames cannot be decoded at a reduced size);
  - what the reduction does to the landmarks: detections found by one and not the other, and
    for the others the distance between the same landmark in both, in pixels of the 4000x3000
    photo and as a share of the hand's or face's size.

The photos are upscaled test photos, so they hold no more detail than the originals: the
landmark differences measure the reduced decode and the model's resampling, not lost detail.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.extract import default_media  # noqa: E402

SIZE = (4000, 3000)


def make_photos(media: Path, out: Path, n: int) -> None:
    """``n`` 4000x3000 JPEGs from the photos of ``media``'s hands/ and faces/ labels."""
    import cv2

    sources = sorted(p for m in ("hands", "faces") for p in (media / m).glob("*/*.jpg")
                     if p.parent.name != "no_hand")
    step = max(1, len(sources) // n)
    for src in sources[::step][:n]:
        img = cv2.imread(str(src))
        h, w = img.shape[:2]
        scale = SIZE[1] / h
        img = cv2.resize(img, (min(SIZE[0], round(w * scale)), SIZE[1]),
                         interpolation=cv2.INTER_CUBIC)
        pad = SIZE[0] - img.shape[1]
        img = cv2.copyMakeBorder(img, 0, 0, pad // 2, pad - pad // 2, cv2.BORDER_REFLECT)
        dst = out / src.relative_to(media)
        dst.parent.mkdir(parents=True, exist_ok=True)
        cv2.imwrite(str(dst), img, [cv2.IMWRITE_JPEG_QUALITY, 92])


def make_video(media: Path, out: Path, seconds: float = 10.0) -> Path:
    """The Pexels clip of ``media`` scaled to 1920x1080 (mp4v), its first ``seconds``."""
    import cv2

    src = cv2.VideoCapture(str(media / "videos" / "pyfeat_WolfgangLanger_Pexels.mp4"))
    fps = src.get(cv2.CAP_PROP_FPS)
    dst_path = out / "holistic" / "clip" / "clip_1080p.mp4"
    dst_path.parent.mkdir(parents=True, exist_ok=True)
    dst = cv2.VideoWriter(str(dst_path), cv2.VideoWriter_fourcc(*"mp4v"), fps, (1920, 1080))
    for _ in range(int(fps * seconds)):
        ok, frame = src.read()
        if not ok:
            break
        dst.write(cv2.resize(frame, (1920, 1080), interpolation=cv2.INTER_CUBIC))
    dst.release()
    return dst_path


def inventory(raw: Path, params):
    from landmark_datasets.ingest import ingest, layout

    params.ingest.raw_dir = str(raw)
    entries, _ = layout.walk_folders(raw)
    items, frames, _ = ingest.build_inventory(raw, entries, params.ingest)
    return items, frames


def per_photo_ms(raw: Path, min_side: int) -> dict:
    """Decode in full, decode reduced, hand model on the full image: ms per photo."""
    import mediapipe as mp

    from landmark_datasets.core.params import Params
    from landmark_datasets.extract import models
    from landmark_datasets.ingest import media

    data = next(raw.glob("hands/*/*.jpg")).read_bytes()
    factor = media.reduction(*SIZE, min_side)
    out = {}
    for name, reduce in (("decode full", 1), (f"decode 1/{factor}", factor)):
        t = time.perf_counter()
        for _ in range(10):
            rgb = media.decode_image_bytes(data, 10**9, rgb=True, reduce=reduce)
        out[name] = (time.perf_counter() - t) * 100
    full = media.decode_image_bytes(data, 10**9, rgb=True)
    with models.hand_landmarker(Params().extract.hands, video=False) as marker:
        image = mp.Image(image_format=mp.ImageFormat.SRGB, data=full)
        with models.quiet_stderr():
            marker.detect(image)
            t = time.perf_counter()
            for _ in range(10):
                marker.detect(image)
        out["hand model, full image"] = (time.perf_counter() - t) * 100
    del rgb
    return out


def naive(raw: Path, items) -> float:
    """One process, each item decoded in full and run through its landmarker (VIDEO mode for
    the video, every sampled frame)."""
    import cv2
    import mediapipe as mp

    from landmark_datasets.core.params import Params
    from landmark_datasets.extract import models
    from landmark_datasets.ingest import media

    params = Params()
    t = time.perf_counter()
    with models.hand_landmarker(params.extract.hands, video=False) as hands, \
            models.face_landmarker(params.extract.faces, video=False) as faces, \
            models.quiet_stderr():
        for r in items.to_dict("records"):
            if r["media"] == "image":
                rgb = media.decode_image(raw / r["path"], 10**9)[..., ::-1].copy()
                marker = hands if r["modality"] == "hands" else faces
                marker.detect(mp.Image(image_format=mp.ImageFormat.SRGB, data=rgb))
                continue
            with models.hand_landmarker(params.extract.hands, video=True) as vh, \
                    models.face_landmarker(params.extract.faces, video=True) as vf:
                cap = cv2.VideoCapture(str(raw / r["path"]))
                step = max(1, round(r["fps"] / params.ingest.video_fps))
                i = 0
                while True:
                    ok, frame = cap.read()
                    if not ok:
                        break
                    if i % step == 0:
                        img = mp.Image(image_format=mp.ImageFormat.SRGB,
                                       data=cv2.cvtColor(frame, cv2.COLOR_BGR2RGB))
                        ms = int(i * 1000 / r["fps"])
                        vh.detect_for_video(img, ms)
                        vf.detect_for_video(img, ms)
                    i += 1
    return time.perf_counter() - t


def pipeline(raw: Path, items, frames, min_side: int, out: Path) -> float:
    from landmark_datasets.core.cache import Cache
    from landmark_datasets.core.params import Params
    from landmark_datasets.extract import extract

    params = Params()
    params.extract.decode_min_side = min_side
    t = time.perf_counter()
    extract.extract(items, frames, params.extract, raw, params.ingest.max_image_pixels, out,
                    Cache(None))
    return time.perf_counter() - t


def compare(full: Path, reduced: Path) -> None:
    """What decoding at a reduced size did to each modality's landmarks."""
    import pandas as pd

    from landmark_datasets.core import schema

    for modality in ("hands", "faces"):
        a = pd.read_parquet(full / f"{modality}.parquet")
        b = pd.read_parquet(reduced / f"{modality}.parquet")
        keys = ["source_id", "frame", "instance"]
        both = a.merge(b, on=keys, suffixes=("", "_r"))
        cols = list(schema.landmark_block(modality))
        xs = [c for c in cols if c.endswith("_x")]
        ys = [c for c in cols if c.endswith("_y")]
        dx = (both[xs].to_numpy() - both[[c + "_r" for c in xs]].to_numpy()) * SIZE[0]
        dy = (both[ys].to_numpy() - both[[c + "_r" for c in ys]].to_numpy()) * SIZE[1]
        dist = np.hypot(dx, dy)  # pixels of the 4000x3000 photo
        span = np.hypot(np.ptp(both[xs].to_numpy() * SIZE[0], axis=1),
                        np.ptp(both[ys].to_numpy() * SIZE[1], axis=1))  # the part's size
        share = dist / span[:, None]
        print(f"  {modality}: {len(a)} detections in full, {len(b)} reduced, {len(both)} in "
              f"both; landmark shift median {np.median(dist):.1f} px, 95th pct "
              f"{np.percentile(dist, 95):.1f} px of 4000x3000 = median "
              f"{100 * np.median(share):.2f}%, 95th pct {100 * np.percentile(share, 95):.2f}% "
              f"of the {modality[:-1]}'s size")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--photos", type=int, default=40)
    parser.add_argument("--media", type=Path, default=default_media())
    parser.add_argument("--min-side", type=int, default=720)
    args = parser.parse_args()
    from landmark_datasets.core.params import Params
    from landmark_datasets.ingest import media

    with tempfile.TemporaryDirectory(prefix="bench-phone-") as tmp:
        raw, out = Path(tmp) / "raw", Path(tmp) / "out"
        make_photos(args.media, raw, args.photos)
        make_video(args.media, raw)
        params = Params()
        items, frames = inventory(raw, params)
        photos = items[items["media"] == "image"]
        video = items[items["media"] == "video"]
        factor = media.reduction(*SIZE, args.min_side)
        print(f"{len(photos)} photos of {SIZE[0]}x{SIZE[1]}; 1 video of 1920x1080, "
              f"{int((frames['item'] == video['item'].iloc[0]).sum())} frames sampled; "
              f"decode_min_side {args.min_side} decodes the photos at 1/{factor}")
        for name, ms in per_photo_ms(raw, args.min_side).items():
            print(f"  {name:<24}{ms:>7.0f} ms per photo")
        runs = {}
        for name, subset in (("photos", photos), ("video", video)):
            sub_frames = frames[frames["item"].isin(subset["item"])]
            runs[name] = {"naive": naive(raw, subset),
                          "pipeline": pipeline(raw, subset, sub_frames, 0, out / f"{name}0")}
            if name == "photos":
                runs[name]["pipeline, reduced"] = pipeline(
                    raw, subset, sub_frames, args.min_side, out / "photos_r")
        print(f"\n{'':<10}{'run':<20}{'seconds':>9}{'x naive':>9}")
        for name, r in runs.items():
            for what, s in r.items():
                print(f"{name:<10}{what:<20}{s:>9.1f}{r['naive'] / s:>9.2f}")
        print(f"\nlandmarks decoded at 1/{factor} against in full:")
        compare(out / "photos0", out / "photos_r")


if __name__ == "__main__":
    main()
