"""The DVC pipeline's stage entry points: ``python -m stages.<name>``, one per stage of dvc.yaml.

Each reads its params, calls :mod:`landmark_datasets` and writes its outputs. Importing this
package first quiets the native libraries' own log lines (see
:func:`landmark_datasets.native_logs`).
"""

from landmark_datasets import native_logs

native_logs()
