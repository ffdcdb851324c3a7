"""Extract: MediaPipe HandLandmarker and FaceLandmarker over every frame ingest listed.

Entry point: ``stages/extract.py`` (reads params, calls these functions, writes outputs).

Each item (an image, a video or a labelled video range) is one task of
:func:`.landmarks.run_task`. Its result is cached under the file's sha256 plus everything
that decides it (:func:`task_key`), so a rebuild after adding files extracts only the new ones,
and renaming or relabelling a file extracts nothing. Misses run on an executor
(:mod:`.executors`) and come back in item order; the tables are written as they arrive,
in fixed-size row groups, so memory stays flat and the bytes do not depend on the worker count.
"""
from __future__ import annotations

import contextlib
import csv
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from landmark_datasets.core import cpus, paths, schema, storage
from landmark_datasets.core.cache import Cache
from landmark_datasets.core.cache import key as cache_key
from landmark_datasets.core.params import ExtractParams, as_dict
from landmark_datasets.core.progress import Progress
from landmark_datasets.core.schema import Reason
from landmark_datasets.extract import executors, landmarks, models
from landmark_datasets.extract.landmarks import Result, Task
from landmark_datasets.ingest import listing, media

log = logging.getLogger("extract")

OUT_DIR = paths.EXTRACT
CACHE_NAMESPACE = "extract"
#: Rows per Parquet row group: fixed, so the file's layout never depends on timing. Not
#: fewer for the wide tables: every row group carries metadata for each of their 1,500
#: columns, and reading even one column of 40,000 faces rows in groups of 512 took 160 MB of
#: it (4096: 90 MB); a group of 4096 faces rows is about 50 MB while it fills.
ROW_GROUP_ROWS = {"hands": 4096, "faces": 4096, schema.HOLISTIC: 4096}
#: Chunks are submitted costliest first within blocks of this many frames (see
#: :func:`.executors.longest_first`): the results waiting for their turn stay within
#: about a block (a holistic frame's result is about 7 kB).
SCHEDULE_HORIZON_FRAMES = 20_000
#: The tables extract writes: one per modality (holistic: both hands and the face of each
#: frame, see :func:`.landmarks.holistic_frame`).
TABLES = schema.MODALITIES


def tasks_for(items: pd.DataFrame, frames: pd.DataFrame, raw_dir: Path,
              max_pixels: int, decode_min_side: int = 0) -> list[Task]:
    """One :class:`~.landmarks.Task` per item, in item order, with absolute paths.

    ``decode_min_side``: images are decoded at a reduced size that keeps their shorter side
    at least this long (JPEGs only; 0: in full), see :func:`..ingest.media.reduction`.
    """
    per_item = {k: tuple(zip(g["frame"].tolist(), g["timestamp_ms"].tolist(), strict=True))
                for k, g in frames.groupby("item", sort=True)}
    root = raw_dir.resolve()
    return [
        Task(str(listing.locate(root, r["path"])), r["sha256"], r["media"], r["modality"],
             per_item.get(r["item"], ()), int(max_pixels),
             media.reduction(_size(r["width"]), _size(r["height"]), decode_min_side)
             if r["media"] == "image" else 1)
        for r in items[["item", "path", "sha256", "media", "modality", "width",
                        "height"]].to_dict("records")
    ]


def _size(value) -> int:
    """A width or height of the inventory; 0 when unknown."""
    return 0 if pd.isna(value) else int(value)


def key_context(params: ExtractParams) -> dict[str, dict]:
    """Per modality, everything besides the file and its frames that decides a result."""
    from importlib.metadata import version

    import cv2

    code = landmarks.code_digest()
    versions = {"mediapipe": version("mediapipe"), "opencv": cv2.__version__,
                "numpy": np.__version__}
    context = {}
    for modality in schema.LANDMARKERS:
        options = as_dict(getattr(params, modality))
        model = options.pop("model_asset_path")
        context[modality] = {"code": code, "versions": versions, "options": options,
                             "model_sha256": models.model_sha256(model)}
    context[schema.HOLISTIC] = {m: context[m] for m in schema.LANDMARKERS}
    return context


def task_key(task: Task, context: dict[str, dict]) -> str:
    """The cache key of ``task``: content, frames and context; never the path or the label."""
    reduced = (task.reduce,) if task.reduce != 1 else ()  # full-size keys as they always were
    return cache_key(task.sha256, task.media, task.modality, task.frames, task.max_pixels,
                     *reduced, context[task.modality])


def _chunks(tasks: list[Task], size: int) -> list[list[Task]]:
    """Images in chunks of ``size``, each video alone (a video is a long task already)."""
    chunks: list[list[Task]] = []
    for t in tasks:
        if t.media == "video" or not chunks or len(chunks[-1]) >= size or \
                chunks[-1][0].media == "video":
            chunks.append([t])
        else:
            chunks[-1].append(t)
    return chunks


def _executor(chunks: list[list[Task]], params: ExtractParams, workers: int):
    if params.executor == "dask":
        return executors.run_dask(chunks, params, params.dask.address, workers,
                                  params.dask.threads_per_worker)
    if workers <= 1 or len(chunks) <= 1:
        return executors.run_inline(chunks, params)
    return executors.run_pool(chunks, params, workers)


def results(tasks: list[Task], params: ExtractParams, cache: Cache,
            workers: int) -> Iterator[Result]:
    """Each task's result, in task order: from the cache, or computed and then cached.

    Cached entries are read one at a time, as their turn comes, so memory stays flat.
    """
    context = key_context(params)
    keys = [task_key(t, context) for t in tasks]
    hit = [cache.has(CACHE_NAMESPACE, k) for k in keys]
    todo = [t for t, h in zip(tasks, hit, strict=True) if not h]
    log.info("%d items: %d cached, %d to extract", len(tasks), len(tasks) - len(todo), len(todo))
    chunks = _chunks(todo, params.chunk_size)
    order = executors.longest_first([sum(max(len(t.frames), 1) for t in c) for c in chunks],
                                    SCHEDULE_HORIZON_FRAMES)
    ran = _executor([chunks[i] for i in order], params, workers) if chunks else iter(())
    computed = (r for chunk in executors.in_order(ran, order) for r in chunk)
    for task, k, h in zip(tasks, keys, hit, strict=True):
        arrays = cache.get(CACHE_NAMESPACE, k) if h else None
        if arrays is not None:
            yield Result.from_arrays(arrays)
            continue
        # An entry listed but unreadable now is computed here, out of the executor's order.
        result = next(executors.run_inline([[task]], params))[0] if h else next(computed)
        cache.put(CACHE_NAMESPACE, k, result.arrays())
        yield result


@dataclass
class Summary:
    """What an extraction did."""

    items: int
    frames: int
    rows: dict[str, int]
    ledgered: int
    cached: int
    seconds: float
    workers: int  #: the processes (or Dask threads) asked for, ``extract.workers: 0`` resolved


class _TableWriter(contextlib.AbstractContextManager):
    """Rows of one modality's table, written to Parquet in fixed-size row groups.

    A context manager: the file appears (atomically) only when the block exits cleanly.
    """

    def __init__(self, modality: str, path: Path):
        import pyarrow as pa

        self.modality, self.path = modality, path
        self.columns = schema.columns(modality)
        self.schema = pa.schema([
            (c, pa.int64() if c in schema.INT_COLUMNS else
             pa.string() if c in schema.STR_COLUMNS else pa.float64()) for c in self.columns])
        self.group = ROW_GROUP_ROWS[modality]
        self.meta: list[dict] = []
        self.blocks: dict[str, list[np.ndarray]] = {}
        self.rows = 0
        self._stack = contextlib.ExitStack()

    def __enter__(self) -> _TableWriter:
        import pyarrow.parquet as pq

        tmp = self._stack.enter_context(storage.atomic_path(self.path))
        self._writer = self._stack.enter_context(
            pq.ParquetWriter(tmp, self.schema, compression="zstd"))
        return self

    def __exit__(self, *exc) -> None:
        if exc[0] is None and self.meta:
            self._flush(len(self.meta))
        self._stack.__exit__(*exc)

    def add(self, meta: list[dict], det: dict[str, np.ndarray]) -> None:
        self.meta.extend(meta)
        for name, values in det.items():
            self.blocks.setdefault(name, []).append(values)
        while len(self.meta) >= self.group:
            self._flush(self.group)

    def _flush(self, n: int) -> None:
        import pyarrow as pa

        det = {k: np.concatenate(v) for k, v in self.blocks.items()}
        self.blocks = {k: [v[n:]] for k, v in det.items()}
        meta, self.meta = self.meta[:n], self.meta[n:]
        cols: dict[str, object] = {c: [m[c] for m in meta] for c in schema.META_COLUMNS}
        if self.modality == "hands":
            cols["handedness"] = det["handedness"][:n].tolist()
            cols["handedness_score"] = det["handedness_score"][:n].astype(np.float64)
            blocks = [("landmarks", schema.HAND_LANDMARK_COLUMNS),
                      ("world", schema.HAND_WORLD_COLUMNS)]
        elif self.modality == schema.HOLISTIC:
            present = det["hand_present"][:n].astype(np.int64)
            cols["left_hand_present"], cols["right_hand_present"] = present[:, 0], present[:, 1]
            cols["face_present"] = det["face_present"][:n].astype(np.int64)
            cols[schema.SIDE_RESOLVED] = det["side_resolved"][:n].astype(np.int64)
            for i, side in enumerate(schema.HAND_SIDES):
                values = np.concatenate([
                    det["hand_score"][:n, i, None], det["hand_landmarks"][:n, i].reshape(n, -1),
                    det["hand_world"][:n, i].reshape(n, -1)], axis=1).astype(np.float64)
                cols.update({c: values[:, j]
                             for j, c in enumerate(schema.hand_part_columns(side))})
            blocks = [("landmarks", schema.FACE_LANDMARK_COLUMNS),
                      ("blendshapes", schema.BLENDSHAPE_COLUMNS),
                      ("pose", schema.POSE_COLUMNS)]
        else:
            blocks = [("landmarks", schema.FACE_LANDMARK_COLUMNS),
                      ("blendshapes", schema.BLENDSHAPE_COLUMNS),
                      ("pose", schema.POSE_COLUMNS)]
        for name, names in blocks:
            values = det[name][:n].reshape(n, -1).astype(np.float64)
            cols.update({c: values[:, j] for j, c in enumerate(names)})
        self._writer.write_table(pa.table(
            [pa.array(cols[c], type=self.schema.field(c).type) for c in self.columns],
            schema=self.schema))
        self.rows += n


class _LedgerWriter(contextlib.AbstractContextManager):
    """The extract ledger, written row by row (internal columns, with the path)."""

    def __init__(self, path: Path):
        self.path = path
        self.rows = 0
        self._stack = contextlib.ExitStack()

    def __enter__(self) -> _LedgerWriter:
        f = self._stack.enter_context(storage.atomic_open(self.path))
        self._csv = csv.writer(f, lineterminator="\n")
        self._csv.writerow(schema.INTERNAL_LEDGER_COLUMNS)
        return self

    def __exit__(self, *exc) -> None:
        self._stack.__exit__(*exc)

    def add(self, row: dict) -> None:
        self._csv.writerow(["" if row[c] is None else row[c]
                            for c in schema.INTERNAL_LEDGER_COLUMNS])
        self.rows += 1


def extract(items: pd.DataFrame, frames: pd.DataFrame, params: ExtractParams, raw_dir: Path,
            max_pixels: int, out_dir: Path = OUT_DIR, cache: Cache | None = None,
            workers: int | None = None) -> Summary:
    """Run the landmarkers over every item and write the tables and the ledger to ``out_dir``.

    ``workers`` defaults to ``params.workers`` (0: one per CPU this process may use, see
    :func:`..core.cpus.available_cpus`); ``cache`` to none.
    """
    cache = cache if cache is not None else Cache(None)
    workers = workers if workers is not None else params.workers
    workers = workers or cpus.available_cpus()
    tasks = tasks_for(items, frames, raw_dir, max_pixels, params.decode_min_side)
    records = items[["path", "source_id", "modality", "label", "group", "width",
                     "height"]].to_dict("records")
    hits_before = cache.hits
    progress = Progress(len(tasks), "extract", log)
    with contextlib.ExitStack() as stack:  # on an error, no output file is replaced
        tables = {m: stack.enter_context(_TableWriter(m, out_dir / f"{m}.parquet"))
                  for m in TABLES}
        ledger = stack.enter_context(_LedgerWriter(out_dir / "ledger.csv"))
        for item, task, result in zip(records, tasks, results(tasks, params, cache, workers),
                                      strict=True):
            _add(item, result, tables[task.modality], ledger)
            progress.update(frames=len(task.frames))
    seconds = progress.close()
    return Summary(len(tasks), len(frames), {m: t.rows for m, t in tables.items()}, ledger.rows,
                   cache.hits - hits_before, seconds, workers)


NOTHING_FOUND = {"hands": "no hand detected", "faces": "no face detected",
                 schema.HOLISTIC: "no hand and no face detected"}


def _add(item: dict, result: Result, table: _TableWriter, ledger: _LedgerWriter) -> None:
    """Append one item's detections to its table and its empty or failed frames to the ledger."""
    counts = np.bincount(result.det_frame, minlength=len(result.frame))
    meta = []
    for i, (frame, ts, problem) in enumerate(zip(result.frame.tolist(),
                                                 result.timestamp_ms.tolist(),
                                                 result.problem.tolist(), strict=True)):
        if problem or not counts[i]:
            ledger.add(schema.ledger_row(
                "extract", Reason.UNREADABLE if problem else Reason.NO_DETECTION,
                problem or NOTHING_FOUND[item["modality"]], path=item["path"],
                source_id=item["source_id"], modality=item["modality"], label=item["label"],
                frame=frame))
            continue
        meta.extend({
            "source_id": item["source_id"], "frame": frame, "instance": instance,
            "timestamp_ms": ts, "label": item["label"], "group": item["group"],
            "image_width": item["width"], "image_height": item["height"],
        } for instance in range(counts[i]))
    if meta:
        table.add(meta, result.det)



