"""Where every artifact lives: ``paths.yaml``, which dvc.yaml reads too (its ``vars``).

Each name of ``paths.yaml`` is a :class:`~pathlib.Path` here (``paths.ITEMS``), relative to the
repository root, where stages run. No stage imports another stage for a path.
"""

from __future__ import annotations

from pathlib import Path

import yaml

#: The file that holds them, beside this package.
FILE = Path(__file__).resolve().parents[2] / "paths.yaml"
_PATHS: dict[str, str] = yaml.safe_load(FILE.read_text())["paths"]

SCAN = Path(_PATHS["scan"])
SCAN_FILES = Path(_PATHS["scan_files"])
INGEST = Path(_PATHS["ingest"])
ITEMS = Path(_PATHS["items"])
FRAMES = Path(_PATHS["frames"])
INGEST_LEDGER = Path(_PATHS["ingest_ledger"])
EXTRACT = Path(_PATHS["extract"])
EXTRACT_LEDGER = Path(_PATHS["extract_ledger"])
PREPROCESS = Path(_PATHS["preprocess"])
PREPROCESS_LEDGER = Path(_PATHS["preprocess_ledger"])
GAPS = Path(_PATHS["gaps"])
VALIDATED = Path(_PATHS["validated"])
REVIEWS = Path(_PATHS["reviews"])
REVIEW = Path(_PATHS["review"])
REVIEW_DECISIONS = Path(_PATHS["review_decisions"])
REVIEW_SUMMARY = Path(_PATHS["review_summary"])
DATASET = Path(_PATHS["dataset"])
REPORTS = Path(_PATHS["reports"])
VALIDATION = Path(_PATHS["validation"])
EVALUATION = Path(_PATHS["evaluation"])
LABEL_REVIEW = Path(_PATHS["label_review"])
PLOTS = Path(_PATHS["plots"])
FIGURES = Path(_PATHS["figures"])
QUALITY = Path(_PATHS["quality"])
METRICS = Path(_PATHS["metrics"])
MODELS = Path(_PATHS["models"])


def confusion_plot(modality: str) -> Path:
    """The DVC confusion plot of ``modality`` (dvc.yaml lists one per modality)."""
    return PLOTS / f"confusion_{modality}.csv"


def validated(modality: str) -> Path:
    """Validate's result for one modality: what that modality's split stage depends on."""
    return VALIDATED / f"{modality}.json"


def table(modality: str, split: str, fmt: str = "csv") -> Path:
    """A published table: ``data/dataset/<modality>/<split>.csv`` (or ``.parquet``)."""
    return DATASET / modality / f"{split}.{fmt}"
