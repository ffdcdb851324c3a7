"""Preprocess: confidence and geometry filters, missing landmarks, normalization.

Entry point: ``stages/preprocess.py`` (reads params, calls these functions, writes outputs).

The filters are :mod:`.filters`, run in order; a row is ledgered under the
first one it fails. Holistic rows (both hands and the face of a frame) are filtered, filled and
normalized per part by :mod:`.holistic`.
"""
from __future__ import annotations

import functools
import json
import logging
from dataclasses import asdict
from pathlib import Path

import numpy as np
import pandas as pd

from landmark_datasets.core import schema
from landmark_datasets.core.params import PreprocessParams
from landmark_datasets.preprocess import gaps
from landmark_datasets.preprocess.filters import reasons
from landmark_datasets.preprocess.normalize import landmark_array, normalize, normalize_face

log = logging.getLogger("preprocess")

#: Rows preprocessed at a time (whole sources: see :func:`..core.storage.parquet_runs`): memory
#: stays flat however large the table. Every row is filtered and normalized on its own and
#: gaps are filled within a source, so the pieces give the rows a whole table would.
CHUNK_ROWS = 4096



def preprocess(df: pd.DataFrame, modality: str, params: PreprocessParams,
               video_frames: pd.DataFrame | None = None
               ) -> tuple[pd.DataFrame, pd.DataFrame, dict]:
    """Filter, fill short video gaps and normalize one modality's table.

    Returns (kept rows, ledger rows, gap statistics: frames filled and longer gaps left).
    ``video_frames``: the sampled frames of the video items (none: no gap filling).
    """
    why = reasons(df, modality, params)
    rejected = why["reason"] != ""
    kept = df.loc[~rejected].reset_index(drop=True)
    frames = video_frames if video_frames is not None else pd.DataFrame(
        columns=["source_id", "frame", "timestamp_ms"])
    kept, stats = gaps.fill(kept, frames, params.max_gap_frames)
    pts = landmark_array(kept, modality)
    width, height = kept["image_width"].to_numpy(), kept["image_height"].to_numpy()
    if modality == "hands":
        normed = normalize(pts, modality, params.scheme, width, height,
                           left=(kept["handedness"] == "Left").to_numpy(),
                           mirror_left=params.mirror_left, rotate=params.rotate,
                           palm=params.palm_frame)
    else:
        pose = kept[list(schema.POSE_COLUMNS)].to_numpy(dtype=np.float64).reshape(len(kept), 4, 4)
        normed = normalize_face(pts, params.face_scheme, width, height, pose)
    block = list(schema.landmark_block(modality))
    # one new block, not 1,434 column assignments (pandas sets those one at a time)
    kept = pd.concat([kept.drop(columns=block), pd.DataFrame(
        normed.reshape(len(kept), len(block)), columns=block, index=kept.index)], axis=1)
    published = schema.published_columns(modality, params.privacy, params.velocities)
    if set(schema.velocity_columns(modality)) <= set(published):
        kept = gaps.velocities(kept, modality)
    kept = kept[published]
    gone = df.loc[rejected, ["source_id", "label", "frame", "instance"]].assign(
        path="", modality=modality, stage="preprocess",
        reason=why.loc[rejected, "reason"], detail=why.loc[rejected, "detail"])
    return kept, gone.reindex(columns=list(schema.INTERNAL_LEDGER_COLUMNS)), asdict(stats)




#: The namespace of preprocessed tables in the landmark cache.
MEMO = "preprocess"

#: Params a table's preprocessing never reads (a test changes each one and compares the
#: output): a sweep of one of them finds the other tables in the memo.
UNREAD_PARAMS = {
    "hands": {"face_scheme", "privacy", "holistic_keep", "holistic_hands", "float_format"},
    "faces": {"scheme", "mirror_left", "rotate", "palm_frame", "min_handedness_score",
              "holistic_keep", "holistic_hands", "float_format"},
    schema.HOLISTIC: {"float_format"},
}


@functools.cache
def code_digest() -> str:
    """sha256 of the code stage preprocess runs (all it imports) and of its writing libraries."""
    from landmark_datasets.core.cache import source_digest

    return source_digest("stages.preprocess", libraries=("pandas", "numpy", "pyarrow"))


def memo_key(modality: str, params: PreprocessParams, *digests: str) -> str:
    """The cache key of one preprocessed table.

    Its input files' sha256 (``digests``), the params it reads and :func:`code_digest`.
    """
    from landmark_datasets.core.cache import key

    read = {k: v for k, v in asdict(params).items() if k not in UNREAD_PARAMS[modality]}
    return key(MEMO, modality, digests, read, code_digest())


def remembered(cache, k: str, table: Path) -> tuple[pd.DataFrame, dict] | None:
    """The ledger rows and gap stats stored under ``k``; their table is put at ``table``.

    None when the memo misses.
    """
    import io

    found = cache.get(MEMO, k)
    if found is None or not cache.get_file(MEMO, k, table, str(found["sha256"])):
        return None
    gone = pd.read_parquet(io.BytesIO(found["ledger"].tobytes()))
    return gone, json.loads(str(found["stats"]))


def remember(cache, k: str, table: Path, gone: pd.DataFrame, stats: dict) -> None:
    """Store a preprocessed table (the file at ``table``), its ledger rows and gap stats."""
    import io

    from landmark_datasets.core.storage import sha256_file

    if not cache.enabled:
        return
    buf = io.BytesIO()
    gone.to_parquet(buf, index=False)
    cache.put_file(MEMO, k, table)
    cache.put(MEMO, k, {"sha256": np.array(sha256_file(table)),
                        "ledger": np.frombuffer(buf.getvalue(), dtype=np.uint8),
                        "stats": np.array(json.dumps(stats, sort_keys=True))})


def add_stats(stats: list[dict]) -> dict:
    """Gap statistics of the pieces of a table added up (nested per part for holistic)."""
    total: dict = {}
    for s in stats:
        for k, v in s.items():
            total[k] = add_stats([total.get(k, {}), v]) if isinstance(v, dict) else \
                total.get(k, 0) + v
    return total


def gap_totals(stats: dict) -> tuple[int, int]:
    """(frames filled, longer gaps left) of a modality's gap stats (holistic: over its parts)."""
    parts = stats.values() if "filled" not in stats else [stats]
    return sum(p["filled"] for p in parts), sum(p["long_gaps"] for p in parts)
