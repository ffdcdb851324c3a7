"""A Dask worker plugin for the extract stage: close the worker's landmarkers on shutdown."""

from __future__ import annotations

from distributed.diagnostics.plugin import WorkerPlugin

from landmark_datasets.extract import landmarks


class CloseLandmarkers(WorkerPlugin):
    """Closes every landmarker a Dask worker opened when the worker closes.

    Worker threads keep their landmarkers between tasks (models load once per thread); closing
    them at teardown, while MediaPipe is still up, keeps the worker's exit quiet.
    """

    name = "landmark-datasets-close-landmarkers"

    def teardown(self, worker) -> None:
        """Called by Dask as the worker closes."""
        landmarks.close_all()
