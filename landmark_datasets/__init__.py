"""landmark-datasets: MediaPipe landmark datasets built reproducibly (the library).

The DVC stages (``stages/<name>.py``) are thin entry points over these modules; importing any
of them has no side effect. One module per stage's computations (:mod:`.listing` for scan,
:mod:`.ingest`, :mod:`.extract`, :mod:`.preprocess`, :mod:`.validate`, :mod:`.split`,
:mod:`.review` for the review stage and the decisions split applies, :mod:`.evaluate`,
:mod:`.report`; :mod:`.reviewpage` is the local review page, not a stage) and shared ones:
:mod:`.schema` (column names, landmark names, reason codes), :mod:`.params` (typed
parameters read from ``params.yaml``),
:mod:`.paths` (where every artifact lives), :mod:`.storage` (atomic writes, tables),
:mod:`.media` (decoding), :mod:`.models` (the vendored MediaPipe models and landmarkers),
:mod:`.landmarks` (one file's extraction), :mod:`.normalize`, :mod:`.holistic`, :mod:`.gaps`,
:mod:`.cache`, :mod:`.executors` and :mod:`.progress`.
"""

import os as _os


def verbose() -> bool:
    """True when the user asked to see the native libraries' log lines (``LANDMARK_VERBOSE=1``)."""
    return _os.environ.get("LANDMARK_VERBOSE", "") not in ("", "0")


def native_logs() -> None:
    """Quiet the native libraries' own stderr lines, unless :func:`verbose`.

    Call it before OpenCV or MediaPipe is imported (the stage entry points do, through
    ``stages/__init__.py``); worker processes inherit the setting. FFmpeg (inside OpenCV) prints
    a line per undecodable packet, which the ledger says better; glog/TFLite lines are
    MediaPipe's (see :mod:`landmark_datasets.models`).
    """
    if not verbose():
        _os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")
    _os.environ.setdefault("GLOG_minloglevel", "2")
    _os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


class UserError(Exception):
    """Bad input or setup, not a bug: the message names the file or key and what to do.

    Stage entry points (:func:`landmark_datasets.cli.run_stage`) print it without a
    traceback.
    """
