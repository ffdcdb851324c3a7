"""The vendored MediaPipe models: checksum verification and landmarker construction.

The official float16 models live in ``models/`` with their sha256 sums in ``models/SHA256SUMS``
(see ``models/SOURCES.md``). Every load verifies the sum: a tampered, truncated or missing model
stops the build with an error naming the file and the fix. Nothing is ever downloaded.

MediaPipe's C++ core logs to file descriptor 2 (absl/glog/TFLite lines that no Python setting
hides); :func:`quiet_stderr` silences it at the descriptor level around model creation and
inference unless ``LANDMARK_VERBOSE=1``.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import os
import sys
from collections.abc import Iterator
from pathlib import Path

from landmark_datasets import UserError, verbose
from landmark_datasets.core import paths

SUMS_FILE = paths.MODELS / "SHA256SUMS"


class ModelError(UserError, RuntimeError):
    """A model file is missing or does not match its recorded sha256."""


@contextlib.contextmanager
def quiet_stderr() -> Iterator[None]:
    """Send file descriptor 2 to /dev/null for the duration (native log lines included)."""
    if verbose():
        yield
        return
    sys.stderr.flush()
    saved = os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


@functools.cache
def recorded_sums(sums_file: Path = SUMS_FILE) -> dict[str, str]:
    """``{file name: sha256}`` from a ``sha256sum``-format file."""
    sums = {}
    for line in Path(sums_file).read_text().splitlines():
        if line.strip():
            digest, name = line.split(maxsplit=1)
            sums[name.lstrip("*")] = digest
    return sums


def verified_model(path: Path | str, sums_file: Path = SUMS_FILE) -> bytes:
    """Read a model file and check it against ``sums_file``; return its bytes.

    Raises:
        ModelError: the file is missing, unknown to ``sums_file``, or its sha256 differs.
    """
    path = Path(path)
    fix = (
        f"restore it with `git checkout -- {path}` (the official model, see models/SOURCES.md)"
    )
    if not path.is_file():
        raise ModelError(f"{path}: model file not found; {fix}")
    expected = recorded_sums(Path(sums_file)).get(path.name)
    if expected is None:
        raise ModelError(
            f"{path}: no sha256 recorded in {sums_file}; add `sha256sum {path.name}` there "
            "if you really mean to use another model"
        )
    st = path.stat()
    data, actual = _read_and_hash(str(path.resolve()), st.st_size, st.st_mtime_ns)
    if actual != expected:
        raise ModelError(
            f"{path}: sha256 {actual} does not match {expected} recorded in {sums_file} "
            f"(tampered or truncated); {fix}"
        )
    return data


@functools.lru_cache(maxsize=8)
def _read_and_hash(path: str, size: int, mtime_ns: int) -> tuple[bytes, str]:
    """Bytes and sha256 of a file, cached per (path, size, mtime): one read per model per run."""
    data = Path(path).read_bytes()
    return data, hashlib.sha256(data).hexdigest()


def model_sha256(path: Path | str) -> str:
    """The recorded sha256 of a verified model (for provenance and cache keys)."""
    return hashlib.sha256(verified_model(path)).hexdigest()


def _landmarker(task: str, params, video: bool, **extra):
    """Create ``vision.<task>`` from a params dataclass whose fields are the task's options."""
    import dataclasses

    from mediapipe.tasks.python import BaseOptions, vision

    options = {f.name: getattr(params, f.name) for f in dataclasses.fields(params)}
    model = options.pop("model_asset_path")
    options_cls = getattr(vision, f"{task}Options")
    opts = options_cls(
        base_options=BaseOptions(model_asset_buffer=verified_model(model)),
        running_mode=vision.RunningMode.VIDEO if video else vision.RunningMode.IMAGE,
        **options, **extra,
    )
    with quiet_stderr():
        return getattr(vision, task).create_from_options(opts)


def hand_landmarker(params, video: bool):
    """A HandLandmarker for ``params`` (:class:`..core.params.HandLandmarkerParams`)."""
    return _landmarker("HandLandmarker", params, video)


def face_landmarker(params, video: bool):
    """A FaceLandmarker for ``params`` (:class:`..core.params.FaceLandmarkerParams`).

    Blendshapes and the facial transformation matrix are always on: the schema has them.
    """
    return _landmarker("FaceLandmarker", params, video, output_face_blendshapes=True,
                       output_facial_transformation_matrixes=True)
