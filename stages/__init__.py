"""landmark-datasets: the stages of the DVC pipeline, one module per stage, plus shared modules.

Shared modules: :mod:`stages.schema` (column names, landmark names, reason codes),
:mod:`stages.params` (typed parameters read from ``params.yaml``), :mod:`stages.io` (atomic
writes, tables), :mod:`stages.media` (decoding), :mod:`stages.models` (the vendored MediaPipe
models and landmarkers), :mod:`stages.progress` (progress lines) and :mod:`stages.normalize`.
"""

import os as _os


def verbose() -> bool:
    """True when the user asked to see the native libraries' log lines (``LANDMARK_VERBOSE=1``)."""
    return _os.environ.get("LANDMARK_VERBOSE", "") not in ("", "0")


# Native libraries log to stderr on their own: set before any of them is imported (every stage
# module imports this package first). FFmpeg (inside OpenCV) prints a line per undecodable
# packet, which the ledger says better; glog/TFLite lines are MediaPipe's (see stages.models).
if not verbose():
    _os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")
_os.environ.setdefault("GLOG_minloglevel", "2")
_os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


class UserError(Exception):
    """Bad input or setup, not a bug: the message names the file or key and what to do.

    Stage entry points (:func:`stages.io.run_stage`) print it without a traceback.
    """
