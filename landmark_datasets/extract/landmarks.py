"""The per-file work of extraction: decode one file's frames and run a landmarker over them.

This module is what the extract stage distributes (to a process pool or a Dask cluster) and what
its cache memoizes, so it holds exactly the code that decides the landmark values. Its source,
with :mod:`..ingest.media` and :mod:`.models`, is part of every cache key: editing it
invalidates cached results.

A :class:`Task` is one ingest item (an image, a video, or a labelled range of a video) with the
frames to extract. :func:`run_task` returns a :class:`Result` of plain numpy arrays, so that it
pickles cheaply between processes and stores losslessly in the cache. MediaPipe returns float32
values; they are kept as float32 here and widened only when the table is assembled.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import threading
import weakref
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from landmark_datasets import UserError
from landmark_datasets.core import schema, storage
from landmark_datasets.extract import models
from landmark_datasets.ingest import media

#: Fields of a :class:`Result` for each modality, with their per-detection shapes.
DETECTION_FIELDS: dict[str, dict[str, tuple[tuple[int, ...], str]]] = {
    "hands": {
        "handedness": ((), "U5"),
        "handedness_score": ((), "float32"),
        "landmarks": ((schema.N_HAND_LANDMARKS, 3), "float32"),
        "world": ((schema.N_HAND_LANDMARKS, 3), "float32"),
    },
    "faces": {
        "landmarks": ((schema.N_FACE_LANDMARKS, 3), "float32"),
        "blendshapes": ((schema.N_BLENDSHAPES,), "float32"),
        "pose": ((16,), "float32"),
    },
    # One "detection" per frame in which any part was found: both hands by side (left, right)
    # and the face, NaN where a part is absent (see :func:`holistic_frame`).
    schema.HOLISTIC: {
        "hand_present": ((2,), "int8"),
        "hand_score": ((2,), "float32"),
        "hand_landmarks": ((2, schema.N_HAND_LANDMARKS, 3), "float32"),
        "hand_world": ((2, schema.N_HAND_LANDMARKS, 3), "float32"),
        "side_resolved": ((), "int8"),
        "face_present": ((), "int8"),
        "landmarks": ((schema.N_FACE_LANDMARKS, 3), "float32"),
        "blendshapes": ((schema.N_BLENDSHAPES,), "float32"),
        "pose": ((16,), "float32"),
    },
}


class ChangedFileError(UserError, RuntimeError):
    """A file's bytes are not those ingest hashed: the inventory is stale."""


@dataclass(frozen=True)
class Task:
    """One item to extract: a file (absolute path and ingest's sha256) and its wanted frames."""

    path: str
    sha256: str
    media: str  # "image" or "video"
    modality: str  # "hands" or "faces"
    frames: tuple[tuple[int, int], ...]  # (frame index, timestamp_ms), ascending
    max_pixels: int
    #: A JPEG image decoded at 1/reduce of its size (1: in full); see media.reduction.
    reduce: int = 1


@dataclass
class Result:
    """What one task found, as arrays (see :data:`DETECTION_FIELDS`).

    ``frame``, ``timestamp_ms`` and ``problem`` have one entry per wanted frame; ``problem`` is
    empty when the frame decoded, else what went wrong and what to do. ``det_frame`` has one
    entry per detection: the position of its frame in ``frame``; detections of one frame are
    consecutive, in MediaPipe's order (the instance number).
    """

    frame: np.ndarray
    timestamp_ms: np.ndarray
    problem: np.ndarray
    det_frame: np.ndarray
    det: dict[str, np.ndarray] = field(default_factory=dict)

    def arrays(self) -> dict[str, np.ndarray]:
        """Flat ``{name: array}`` (for ``np.savez``)."""
        return {"frame": self.frame, "timestamp_ms": self.timestamp_ms, "problem": self.problem,
                "det_frame": self.det_frame, **{f"det_{k}": v for k, v in self.det.items()}}

    @classmethod
    def from_arrays(cls, arrays) -> Result:
        """Inverse of :meth:`arrays`."""
        det = {k[4:]: np.asarray(arrays[k]) for k in arrays if k.startswith("det_")
               and k != "det_frame"}
        return cls(np.asarray(arrays["frame"]), np.asarray(arrays["timestamp_ms"]),
                   np.asarray(arrays["problem"]), np.asarray(arrays["det_frame"]), det)


def _hand_detections(result) -> list[dict]:
    out = []
    for lms, world, handedness in zip(
        result.hand_landmarks, result.hand_world_landmarks, result.handedness, strict=True
    ):
        top = handedness[0]
        out.append({
            "handedness": top.category_name,
            "handedness_score": top.score,
            "landmarks": [(p.x, p.y, p.z) for p in lms],
            "world": [(p.x, p.y, p.z) for p in world],
        })
    return out


def _face_detections(result) -> list[dict]:
    out = []
    for i, lms in enumerate(result.face_landmarks):
        blend = np.full(schema.N_BLENDSHAPES, np.nan, dtype=np.float32)
        for cat in result.face_blendshapes[i]:
            blend[cat.index] = cat.score
        out.append({
            "landmarks": [(p.x, p.y, p.z) for p in lms],
            "blendshapes": blend,
            "pose": np.asarray(result.facial_transformation_matrixes[i]).ravel(),
        })
    return out


def holistic_frame(hands: list[dict], faces: list[dict]) -> list[dict]:
    """One frame's hands and face as one holistic detection; ``[]`` when nothing was found.

    Hands go to the side MediaPipe names (``Left``/``Right``, for the image as given), highest
    handedness score first. When both claim one side, the higher-scoring hand keeps it and the
    other is given the free side, and ``side_resolved`` is 1: two hands of one frame are, in
    the data this is for, a signer's two hands. A hand beyond two (``num_hands`` > 2) is
    dropped. The first face is the face (``num_faces`` is 1 by default).
    """
    if not hands and not faces:
        return []
    n = schema.N_HAND_LANDMARKS
    out = {
        "hand_present": np.zeros(2, np.int8), "hand_score": np.full(2, np.nan, np.float32),
        "hand_landmarks": np.full((2, n, 3), np.nan, np.float32),
        "hand_world": np.full((2, n, 3), np.nan, np.float32), "side_resolved": 0,
        "face_present": 0,
        "landmarks": np.full((schema.N_FACE_LANDMARKS, 3), np.nan, np.float32),
        "blendshapes": np.full(schema.N_BLENDSHAPES, np.nan, np.float32),
        "pose": np.full(16, np.nan, np.float32),
    }
    for hand in sorted(hands, key=lambda h: -h["handedness_score"]):
        side = schema.HAND_SIDES.index(hand["handedness"].lower())
        if out["hand_present"][side]:
            side = 1 - side
            if out["hand_present"][side]:
                continue
            out["side_resolved"] = 1
        out["hand_present"][side] = 1
        out["hand_score"][side] = hand["handedness_score"]
        out["hand_landmarks"][side] = hand["landmarks"]
        out["hand_world"][side] = hand["world"]
    if faces:
        out["face_present"] = 1
        out.update({k: faces[0][k] for k in ("landmarks", "blendshapes", "pose")})
    return [out]


class Landmarkers:
    """The landmarkers of one thread: IMAGE-mode ones made once, VIDEO-mode ones per video."""

    def __init__(self, extract_params):
        self.params = extract_params
        self._image: dict[str, object] = {}
        self._stack = contextlib.ExitStack()
        self._pid = os.getpid()
        _OPEN.add(self)

    def __enter__(self) -> Landmarkers:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        """Close every landmarker (MediaPipe needs it; garbage collection at exit is noisy)."""
        self._stack.close()
        self._image.clear()

    def make(self, modality: str, video: bool):
        """A new landmarker of ``modality`` (the caller closes it)."""
        if modality == "hands":
            return models.hand_landmarker(self.params.hands, video)
        return models.face_landmarker(self.params.faces, video)

    def image(self, modality: str):
        """The shared IMAGE-mode landmarker of ``modality``, made on first use."""
        if modality not in self._image:
            self._image[modality] = self._stack.enter_context(self.make(modality, False))
        return self._image[modality]


def _detect(landmarker, modality: str, rgb: np.ndarray, timestamp_ms: int | None) -> list[dict]:
    import mediapipe as mp

    image = mp.Image(image_format=mp.ImageFormat.SRGB, data=rgb)
    with models.quiet_stderr():
        if timestamp_ms is None:
            result = landmarker.detect(image)
        else:
            result = landmarker.detect_for_video(image, timestamp_ms)
    return _hand_detections(result) if modality == "hands" else _face_detections(result)


def _pack(modality: str, frames, problems: list[str], found: list[list[dict]]) -> Result:
    fields = DETECTION_FIELDS[modality]
    det_frame = [i for i, dets in enumerate(found) for _ in dets]
    flat = [d for dets in found for d in dets]
    det = {
        name: np.asarray([d[name] for d in flat], dtype=dtype).reshape((len(flat), *shape))
        for name, (shape, dtype) in fields.items()
    }
    frame = np.asarray([f for f, _ in frames], dtype=np.int64)
    ts = np.asarray([t for _, t in frames], dtype=np.int64)
    return Result(frame, ts, np.asarray(problems, dtype=str).reshape(len(frames)),
                  np.asarray(det_frame, dtype=np.int64), det)


def _read_checked(task: Task) -> bytes:
    data = Path(task.path).read_bytes()
    if hashlib.sha256(data).hexdigest() != task.sha256:
        raise ChangedFileError(
            f"{task.path}: changed since ingest hashed it; run `dvc repro` again "
            "(ingest will take the new version)")
    return data


def _parts(modality: str) -> tuple[str, ...]:
    """The landmarkers a modality runs: its own, or both for holistic rows."""
    return ("hands", "faces") if modality == schema.HOLISTIC else (modality,)


def _detect_all(landmarkers: dict, modality: str, rgb: np.ndarray,
                timestamp_ms: int | None) -> list[dict]:
    """One frame through every landmarker of ``modality``: its detections."""
    found = {part: _detect(m, part, rgb, timestamp_ms) for part, m in landmarkers.items()}
    if modality == schema.HOLISTIC:
        return holistic_frame(found["hands"], found["faces"])
    return found[modality]


def run_task(task: Task, marks: Landmarkers) -> Result:
    """Extract one item: every wanted frame decoded, checked and run through its landmarkers.

    A holistic item runs the hand and the face landmarker on the same decoded frame.

    Raises:
        ChangedFileError: the file's sha256 is not ``task.sha256``.
    """
    parts = _parts(task.modality)
    if task.media == "image":
        try:
            rgb = media.decode_image_bytes(_read_checked(task), task.max_pixels, rgb=True,
                                           header_check=False, reduce=task.reduce)
        except media.MediaError as err:
            return _pack(task.modality, task.frames, [str(err)], [[]])
        return _pack(task.modality, task.frames, [""], [_detect_all(
            {p: marks.image(p) for p in parts}, task.modality, rgb, None)])
    if storage.sha256_file(task.path) != task.sha256:
        _read_checked(task)  # raises with the message
    timestamps = dict(task.frames)
    found: dict[int, list[dict]] = {}
    with contextlib.ExitStack() as stack:  # VIDEO mode: landmarkers of this video only
        landmarkers = {p: stack.enter_context(marks.make(p, video=True)) for p in parts}
        for index, bgr in media.iter_video_frames(task.path, sorted(timestamps)):
            found[index] = _detect_all(landmarkers, task.modality, media.to_rgb(bgr),
                                       timestamps[index])
    problems = ["" if f in found else "frame did not decode; re-encode the video"
                for f, _ in task.frames]
    return _pack(task.modality, task.frames, problems, [found.get(f, []) for f, _ in task.frames])


_local = threading.local()


def run_tasks(tasks: list[Task], extract_params) -> list[Result]:
    """Run ``tasks`` on this thread's landmarkers (made once per thread and params).

    This is the function executors ship to workers: a pool process or a Dask worker thread keeps
    its landmarkers between calls, so models load once per worker, not once per file.
    """
    marks = getattr(_local, "marks", None)
    if marks is None or marks.params != extract_params:
        if marks is not None:
            marks.close()
        marks = _local.marks = Landmarkers(extract_params)
    return [run_task(t, marks) for t in tasks]


def close_thread_landmarkers() -> None:
    """Close this thread's landmarkers (the inline executor calls it when done)."""
    marks = getattr(_local, "marks", None)
    if marks is not None:
        marks.close()
        _local.marks = None


def forget_thread_landmarkers() -> None:
    """Drop this thread's landmarkers without closing them (in a freshly forked process)."""
    _local.marks = None
    _OPEN.clear()


#: Every open Landmarkers of this process. Dask worker threads keep theirs until the worker
#: closes (:mod:`.dask_plugin`); MediaPipe objects left to the garbage collector at
#: interpreter exit print tracebacks, and by ``atexit`` time MediaPipe cannot close them.
_OPEN: weakref.WeakSet[Landmarkers] = weakref.WeakSet()


def close_all() -> None:
    """Close every landmarker this process opened (not those a forked parent had)."""
    for marks in list(_OPEN):
        if marks._pid == os.getpid():
            marks.close()


def code_digest() -> str:
    """sha256 of the code stage extract runs (all it imports): what decides landmark values."""
    from landmark_datasets.core.cache import source_digest

    return source_digest("stages.extract")
