"""Extract: MediaPipe HandLandmarker and FaceLandmarker over every frame ingest listed.

Reads:   ``data/interim/ingest/items.csv``, ``data/interim/ingest/frames.parquet``, the models.
Writes:  ``data/interim/extract/hands.parquet``, ``data/interim/extract/faces.parquet`` (one
         row per detected instance per frame, columns from :mod:`stages.schema`) and
         ``data/interim/extract/ledger.csv`` (frames with no detection, or that did not decode).
Params:  ``extract`` (``hands`` and ``faces``: HandLandmarkerOptions / FaceLandmarkerOptions
         under MediaPipe's names, and the model paths).

Images run in IMAGE mode on one landmarker per modality; each video (or labelled range of a
video) gets its own VIDEO-mode landmarker with strictly increasing timestamps derived from the
frame index, as MediaPipe requires.
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Iterator
from pathlib import Path

import mediapipe as mp
import numpy as np
import pandas as pd

from stages import io, media, models, schema
from stages.ingest import OUT_DIR as INGEST_DIR
from stages.params import ExtractParams
from stages.progress import Progress
from stages.schema import Reason

log = logging.getLogger("extract")

OUT_DIR = Path("data/interim/extract")


def hand_rows(result) -> list[dict]:
    """One dict per detected hand: handedness, its score, image and world landmarks (21x3)."""
    rows = []
    for lms, world, handedness in zip(
        result.hand_landmarks, result.hand_world_landmarks, result.handedness, strict=True
    ):
        top = handedness[0]
        rows.append({
            "handedness": top.category_name,
            "handedness_score": float(top.score),
            "landmarks": np.array([(p.x, p.y, p.z) for p in lms], dtype=np.float64),
            "world": np.array([(p.x, p.y, p.z) for p in world], dtype=np.float64),
        })
    return rows


def face_rows(result) -> list[dict]:
    """One dict per detected face: 478x3 landmarks, 52 blendshape scores, 4x4 pose matrix."""
    rows = []
    for i, lms in enumerate(result.face_landmarks):
        blend = np.full(schema.N_BLENDSHAPES, np.nan)
        for cat in result.face_blendshapes[i]:
            blend[cat.index] = cat.score
        rows.append({
            "landmarks": np.array([(p.x, p.y, p.z) for p in lms], dtype=np.float64),
            "blendshapes": blend,
            "pose": np.asarray(result.facial_transformation_matrixes[i], dtype=np.float64),
        })
    return rows


class Extractor:
    """Landmarkers for one process: IMAGE-mode ones created once, VIDEO-mode ones per video."""

    def __init__(self, params: ExtractParams):
        self.params = params
        self._image: dict[str, object] = {}
        self._stack = contextlib.ExitStack()

    def __enter__(self) -> Extractor:
        return self

    def __exit__(self, *exc) -> None:
        self._stack.close()

    def _make(self, modality: str, video: bool):
        if modality == "hands":
            return models.hand_landmarker(self.params.hands, video)
        return models.face_landmarker(self.params.faces, video)

    def image_landmarker(self, modality: str):
        """The shared IMAGE-mode landmarker of ``modality`` (created on first use)."""
        if modality not in self._image:
            self._image[modality] = self._stack.enter_context(self._make(modality, False))
        return self._image[modality]

    @staticmethod
    def _detect(landmarker, modality: str, rgb: np.ndarray, timestamp_ms: int | None):
        image = mp.Image(image_format=mp.ImageFormat.SRGB, data=rgb)
        with models.quiet_stderr():
            if timestamp_ms is None:
                result = landmarker.detect(image)
            else:
                result = landmarker.detect_for_video(image, timestamp_ms)
        return hand_rows(result) if modality == "hands" else face_rows(result)

    def run_item(
        self, item: dict, frames: list[tuple[int, int]], raw_dir: Path, max_pixels: int
    ) -> Iterator[tuple[int, int, list[dict] | None, str]]:
        """Yield ``(frame, timestamp_ms, detections or None, problem)`` for each wanted frame.

        ``None`` detections mean the frame could not be decoded; ``problem`` then says why.
        """
        path = raw_dir / item["path"]
        modality = item["modality"]
        if item["media"] == "image":
            try:
                bgr = media.decode_image(path, max_pixels)
            except media.MediaError as err:
                yield 0, 0, None, str(err)
                return
            landmarker = self.image_landmarker(modality)
            yield 0, 0, self._detect(landmarker, modality, media.to_rgb(bgr), None), ""
            return
        timestamps = dict(frames)
        seen = set()
        with self._make(modality, True) as landmarker:
            for index, bgr in media.iter_video_frames(path, sorted(timestamps)):
                seen.add(index)
                ts = timestamps[index]
                yield index, ts, self._detect(landmarker, modality, media.to_rgb(bgr), ts), ""
        for index in sorted(set(timestamps) - seen):
            yield index, timestamps[index], None, "frame did not decode; re-encode the video"


def to_table(modality: str, meta: list[dict], dets: list[dict]) -> pd.DataFrame:
    """Assemble detections into the schema's wide table for ``modality``."""
    cols = schema.columns(modality)
    if not dets:
        return _empty(modality)
    base = pd.DataFrame(meta)
    blocks = [base]
    if modality == "hands":
        blocks.append(pd.DataFrame({
            "handedness": [d["handedness"] for d in dets],
            "handedness_score": [d["handedness_score"] for d in dets],
        }))
        blocks.append(pd.DataFrame(np.stack([d["landmarks"].ravel() for d in dets]),
                                   columns=list(schema.HAND_LANDMARK_COLUMNS)))
        blocks.append(pd.DataFrame(np.stack([d["world"].ravel() for d in dets]),
                                   columns=list(schema.HAND_WORLD_COLUMNS)))
    else:
        blocks.append(pd.DataFrame(np.stack([d["landmarks"].ravel() for d in dets]),
                                   columns=list(schema.FACE_LANDMARK_COLUMNS)))
        blocks.append(pd.DataFrame(np.stack([d["blendshapes"] for d in dets]),
                                   columns=list(schema.BLENDSHAPE_COLUMNS)))
        blocks.append(pd.DataFrame(np.stack([d["pose"].ravel() for d in dets]),
                                   columns=list(schema.POSE_COLUMNS)))
    df = pd.concat(blocks, axis=1)[cols]
    return df.astype({c: "int64" for c in schema.INT_COLUMNS})


def _empty(modality: str) -> pd.DataFrame:
    cols = schema.columns(modality)
    dtypes = {c: ("int64" if c in schema.INT_COLUMNS else
                  "object" if c in schema.STR_COLUMNS else "float64") for c in cols}
    return pd.DataFrame({c: pd.Series(dtype=t) for c, t in dtypes.items()})


_WORKER: Extractor | None = None


def _init_worker(params: ExtractParams) -> None:
    """Pool initializer: this worker's landmarkers, created once."""
    global _WORKER
    _WORKER = Extractor(params).__enter__()  # closed when the pool's process exits


def _run_task(task: tuple[dict, list, Path, int]) -> list:
    """Run one item in a pool worker (set up by :func:`_init_worker`)."""
    item, wanted, raw_dir, max_pixels = task
    return list(_WORKER.run_item(item, wanted, raw_dir, max_pixels))


def _results(tasks: list, params: ExtractParams, workers: int) -> Iterator[list]:
    """Per-item results in item order, from this process or a pool of ``workers`` processes.

    Each worker loads the models once. Results come back in submission order, so the output
    does not depend on the number of workers.
    """
    if workers <= 1 or len(tasks) <= 1:
        with Extractor(params) as extractor:
            for item, wanted, raw_dir, max_pixels in tasks:
                yield list(extractor.run_item(item, wanted, raw_dir, max_pixels))
        return
    import multiprocessing

    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(workers, initializer=_init_worker, initargs=(params,)) as pool:
        yield from pool.imap(_run_task, tasks, chunksize=1)


def extract(
    items: pd.DataFrame, frames: pd.DataFrame, params: ExtractParams, raw_dir: Path,
    max_pixels: int, workers: int = 1,
) -> tuple[dict[str, pd.DataFrame], pd.DataFrame]:
    """Run the landmarkers over every item; return ``({modality: table}, ledger)``."""
    per_item = {k: list(zip(g["frame"], g["timestamp_ms"], strict=True))
                for k, g in frames.groupby("item", sort=True)}
    meta: dict[str, list[dict]] = {m: [] for m in schema.MODALITIES}
    dets: dict[str, list[dict]] = {m: [] for m in schema.MODALITIES}
    ledger = []
    records = items.to_dict("records")
    tasks = [(item, per_item.get(item["item"], []), raw_dir, max_pixels) for item in records]
    progress = Progress(len(items), "extract", log)
    for item, results in zip(records, _results(tasks, params, workers), strict=True):
        for frame, ts, found, problem in results:
            if found is None or not found:
                reason = Reason.UNREADABLE if found is None else Reason.NO_DETECTION
                ledger.append(schema.ledger_row(
                    "extract", reason, problem or f"no {item['modality'][:-1]} detected",
                    path=item["path"], source_id=item["source_id"],
                    modality=item["modality"], label=item["label"], frame=frame))
                continue
            for instance, det in enumerate(found):
                meta[item["modality"]].append({
                    "source_id": item["source_id"], "frame": frame, "instance": instance,
                    "timestamp_ms": ts, "label": item["label"], "group": item["group"],
                    "image_width": item["width"], "image_height": item["height"],
                })
                dets[item["modality"]].append(det)
        progress.update(frames=len(results))
    elapsed = progress.close()
    tables = {m: to_table(m, meta[m], dets[m]) for m in schema.MODALITIES}
    ledger_df = pd.DataFrame(ledger, columns=list(schema.INTERNAL_LEDGER_COLUMNS))
    log.info("%d items, %d frames in %.1f s (%.1f frames/s, %d workers)", len(items),
             len(frames), elapsed, len(frames) / max(elapsed, 1e-9), max(workers, 1))
    return tables, ledger_df


def main() -> None:
    """Entry point of the ``extract`` stage."""
    from stages import params as params_mod

    io.setup_logging()
    params = params_mod.load()
    items = io.read_table(INGEST_DIR / "items.csv")
    frames = io.read_table(INGEST_DIR / "frames.parquet")
    workers = params.extract.workers or os.cpu_count() or 1
    tables, ledger = extract(items, frames, params.extract, Path(params.ingest.raw_dir),
                             params.ingest.max_image_pixels, workers)
    for modality, table in tables.items():
        io.write_parquet(table, OUT_DIR / f"{modality}.parquet")
    io.write_csv(ledger, OUT_DIR / "ledger.csv")
    log.info("%s; %d frames ledgered",
             ", ".join(f"{len(t)} {m} rows" for m, t in tables.items()), len(ledger))


if __name__ == "__main__":
    main()
