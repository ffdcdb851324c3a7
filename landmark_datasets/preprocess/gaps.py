"""Short gaps in video tracks, filled by linear interpolation and flagged.

A video's sampled frames (ingest's ``frames.parquet``) form a sequence per source. Where the
landmarker found nothing (or preprocess rejected the row) for at most ``max_gap`` consecutive
sampled frames, between two kept frames of the same label and group, the missing frames get
rows whose float columns (landmarks, world landmarks, blendshapes, pose, scores) are
interpolated linearly in time between the two neighbours: ``v(t) = v_a + (t - t_a) / (t_b - t_a)
* (v_b - v_a)``. They carry ``interpolated = 1``; longer gaps stay missing and are counted.

Only instance 0 is filled: MediaPipe does not say which hand of one frame is which hand of the
next, so a track is only defined for the first instance. Images are never touched.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from landmark_datasets.core import schema

FLAG = "interpolated"


@dataclass
class GapStats:
    """What filling did: frames filled, and gaps (and their frames) left missing."""

    filled: int = 0
    long_gaps: int = 0
    long_gap_frames: int = 0


def velocities(df: pd.DataFrame, modality: str) -> pd.DataFrame:
    """``df`` with :func:`..core.schema.velocity_columns`: ``(p_t - p_prev) / (t - t_prev)``.

    Per second, along each source's instance-0 track, from the previous sampled row of that
    track (an interpolated one included). Undefined, so empty (NaN), on a track's first row,
    on other instances and on images (a track of one row).
    """
    block = list(schema.landmark_block(modality))
    out = df.copy()
    vel = np.full((len(df), len(block)), np.nan)
    if len(df):
        order = df.sort_values(["source_id", "instance", "frame"], kind="stable").index
        d = df.loc[order]
        values = d[block].to_numpy(dtype=np.float64)
        ts = d["timestamp_ms"].to_numpy(dtype=np.float64) / 1000.0
        same = (d["source_id"].to_numpy()[1:] == d["source_id"].to_numpy()[:-1]) & \
            (d["instance"].to_numpy()[1:] == 0) & (d["instance"].to_numpy()[:-1] == 0)
        with np.errstate(divide="ignore", invalid="ignore"):
            step = (values[1:] - values[:-1]) / (ts[1:] - ts[:-1])[:, None]
        rows = np.full((len(d), len(block)), np.nan)
        rows[1:][same] = step[same]
        vel[df.index.get_indexer(order)] = rows
    return pd.concat([out, pd.DataFrame(vel, columns=schema.velocity_columns(modality),
                                        index=df.index)], axis=1)


def fill(df: pd.DataFrame, frames: pd.DataFrame, max_gap: int) -> tuple[pd.DataFrame, GapStats]:
    """``df`` with an ``interpolated`` column (0 or 1), plus rows for the short gaps filled.

    ``frames`` is ingest's frame list (``source_id, frame, timestamp_ms``) of video items only.
    """
    out = df.assign(**{FLAG: 0})
    stats = GapStats()
    if out.empty or frames.empty:
        return out, stats
    floats = [c for c in out.columns if c not in schema.INT_COLUMNS and
              c not in schema.STR_COLUMNS and c != FLAG]
    first = out[out["instance"] == 0].set_index(["source_id", "frame"])
    new_rows = []
    for source, sampled in frames.groupby("source_id", sort=True):
        if source not in first.index.get_level_values(0):
            continue
        seq = sampled.sort_values("frame")[["frame", "timestamp_ms"]].to_numpy()
        kept = first.loc[source]
        have = np.isin(seq[:, 0], kept.index.to_numpy())
        i = 0
        while i < len(seq):
            if have[i]:
                i += 1
                continue
            j = i
            while j < len(seq) and not have[j]:
                j += 1
            # frames seq[i:j] are missing; neighbours are seq[i-1] and seq[j] when they exist
            if i == 0 or j == len(seq):
                i = j
                continue
            a, b = kept.loc[seq[i - 1, 0]], kept.loc[seq[j, 0]]
            same = a["label"] == b["label"] and a["group"] == b["group"]
            if j - i > max_gap or not same:
                stats.long_gaps += 1
                stats.long_gap_frames += j - i
                i = j
                continue
            ta, tb = seq[i - 1, 1], seq[j, 1]
            for frame, ts in seq[i:j]:
                w = (ts - ta) / (tb - ta)
                row = a.copy()
                row[floats] = a[floats].to_numpy(dtype=np.float64) * (1 - w) + \
                    b[floats].to_numpy(dtype=np.float64) * w
                row["timestamp_ms"] = ts
                row[FLAG] = 1
                new_rows.append({"source_id": source, "frame": frame, **row.to_dict()})
                stats.filled += 1
            i = j
    if new_rows:
        added = pd.DataFrame(new_rows)[list(out.columns)].astype(out.dtypes.to_dict())
        out = pd.concat([out, added], ignore_index=True)
        out = out.sort_values(list(schema.KEY_COLUMNS), kind="stable").reset_index(drop=True)
    return out, stats
