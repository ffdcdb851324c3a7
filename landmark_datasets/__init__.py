"""landmark-datasets: MediaPipe landmark datasets built reproducibly (the library).

The DVC stages (``stages/<name>.py``) are thin entry points over these packages, one per stage
or pair of stages, in pipeline order; importing any of them has no side effect:

- :mod:`.core`: schema, typed params, paths, atomic files, the memo cache, the CLI;
- :mod:`.ingest`: the ``scan`` and ``ingest`` stages (listing, layout and manifest, decode
  checks, media decoding);
- :mod:`.extract`: MediaPipe landmarkers over every frame, in-process, pooled or on Dask;
- :mod:`.preprocess`: filters, gaps, normalization (and holistic rows);
- :mod:`.validate`: Great Expectations suites from the schema;
- :mod:`.split`: the stable train/test split and the published dataset;
- :mod:`.review`: reviews.csv, the ``review`` stage, and the local review page;
- :mod:`.evaluate`: baseline classifiers and the label-review queue;
- :mod:`.report`: the ``report`` and ``card`` stages.

Each package's stage module has the stage's name (``landmark_datasets/extract/extract.py``);
each package's docstring says what it reads and writes. :mod:`.sample` fetches the sample
media (``dev.py``).
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
    MediaPipe's (see :mod:`landmark_datasets.extract.models`).
    """
    if not verbose():
        _os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")
    _os.environ.setdefault("GLOG_minloglevel", "2")
    _os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


class UserError(Exception):
    """Bad input or setup, not a bug: the message names the file or key and what to do.

    Stage entry points (:func:`landmark_datasets.core.cli.run_stage`) print it without a
    traceback.
    """
