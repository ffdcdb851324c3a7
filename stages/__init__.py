"""landmark-datasets: the stages of the DVC pipeline, one module per stage, plus shared modules.

Shared modules: :mod:`stages.schema` (column names, landmark names, reason codes),
:mod:`stages.params` (typed parameters read from ``params.yaml``), :mod:`stages.io` (atomic
writes, tables), :mod:`stages.media` (decoding), :mod:`stages.models` (the vendored MediaPipe
models and landmarkers), :mod:`stages.progress` (progress lines) and :mod:`stages.normalize`.
"""
