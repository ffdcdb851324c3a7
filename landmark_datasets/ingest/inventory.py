"""Ingest's outputs, their columns and typed readers: what every later stage reads of ingest.

``items.csv``: one row per usable file or labelled video range (internal: it has paths);
``frames.parquet``: the frames to extract of each item; ``ledger.csv``: ingest's ledger.
The readers check the columns, so an output of another version stops the stage with what to do
instead of a ``KeyError`` deep inside it.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from landmark_datasets import UserError
from landmark_datasets.core import paths, schema, storage

ITEM_COLUMNS = (
    "item", "source_id", "path", "modality", "label", "group", "group_from", "media", "sha256",
    "bytes", "width", "height", "fps", "n_frames", "start_s", "end_s",
)
FRAME_COLUMNS = ("item", "source_id", "frame", "timestamp_ms")


def _read(path: Path | str, columns: tuple[str, ...]) -> pd.DataFrame:
    df = storage.read_table(path)
    if tuple(df.columns) != tuple(columns):
        raise UserError(f"{path}: not what this version of ingest writes (columns "
                        f"{', '.join(df.columns)}; expected {', '.join(columns)}); run "
                        "`dvc repro` to rebuild it")
    return df


def read_items(path: Path | str = paths.ITEMS) -> pd.DataFrame:
    """The inventory: one row per item, :data:`ITEM_COLUMNS` typed by the schema."""
    return _read(path, ITEM_COLUMNS)


def read_frames(path: Path | str = paths.FRAMES) -> pd.DataFrame:
    """The frames to extract: one row per (item, frame), :data:`FRAME_COLUMNS`."""
    return _read(path, FRAME_COLUMNS)


def read_ledger(path: Path | str = paths.INGEST_LEDGER) -> pd.DataFrame:
    """Ingest's ledger rows (:data:`..core.schema.INTERNAL_LEDGER_COLUMNS`)."""
    return _read(path, schema.INTERNAL_LEDGER_COLUMNS)


def video_frames(items: pd.DataFrame, frames: pd.DataFrame) -> pd.DataFrame:
    """The frames of the video items (where tracks, gaps and sequences are)."""
    return frames[frames["item"].isin(items.loc[items["media"] == "video", "item"])]
