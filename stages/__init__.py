"""landmark-datasets: the stages of the DVC pipeline, one module per stage, plus shared modules.

Shared modules: :mod:`stages.schema` (column names, landmark names, reason codes),
:mod:`stages.params` (typed parameters read from ``params.yaml``), :mod:`stages.io` (atomic
writes, tables), :mod:`stages.media` (decoding), :mod:`stages.models` (the vendored MediaPipe
models and landmarkers), :mod:`stages.progress` (progress lines) and :mod:`stages.normalize`.
"""

import os as _os

# FFmpeg (inside OpenCV) prints a line per undecodable packet; the ledger says it better.
# LANDMARK_VERBOSE=1 shows the native libraries' lines (see stages.models).
if _os.environ.get("LANDMARK_VERBOSE", "") in ("", "0"):
    _os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")


class UserError(Exception):
    """Bad input or setup, not a bug: the message names the file or key and what to do.

    Stage entry points (:func:`stages.io.run_stage`) print it without a traceback.
    """
