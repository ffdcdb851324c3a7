"""The ``extract`` stage: MediaPipe HandLandmarker and FaceLandmarker over every listed frame.

Reads ingest's items and frames and the media they name; writes ``data/interim/extract/`` (one
table per modality, and a ledger of files or frames that gave nothing). :mod:`.extract` plans
tasks, memoizes their results and writes the tables; :mod:`.landmarks` is one file's work;
:mod:`.models` verifies and loads the vendored models; :mod:`.executors` runs tasks in this
process, a process pool or a Dask cluster (:mod:`.dask_plugin`).
"""
