"""Holistic rows in preprocess: per-part filters, gap filling, the keep rule and normalization.

A holistic row is one frame: its left hand, right hand and face (the *parts*), each with a
presence flag; an absent part is empty cells. Each part is treated as a row of its own
modality's table would be, in this order:

1. **Filters** (:func:`.filters.reasons`: low handedness score, out of frame,
   degenerate). A part that fails one is *blanked* (cells emptied, presence 0) and ledgered
   with the reason and the part (``left hand: handedness_score 0.31 < 0.5``); the rest of the
   row stays.
2. **Gaps** (:func:`.gaps.fill`): each part's track along a video is filled like a hands
   or faces track: absent in at most ``max_gap_frames`` sampled frames between two frames
   where it is present (same label and group), it is interpolated linearly in time and flagged
   ``<part>_interpolated = 1`` (its presence flag is 1: its cells hold values). A frame that had
   no row at all gets one holding only the filled parts.
3. **Face frame** (``holistic_hands=face_frame``): a hand in a frame without a face cannot be
   placed in the face's frame: it is blanked and ledgered (``missing_parts``).
4. **Keep rule** (``holistic_keep``): ``any`` part, a ``face_and_hand``, or ``all`` three;
   other frames go to the ledger (``missing_parts``) saying what they had.
5. **Normalization**: each hand with the hand scheme and flags (the left block is a left hand
   for ``mirror_left``), or in the face's frame (:func:`.normalize.in_face_frame`, the
   hand flags then do not apply); the face with the face scheme.
6. **Velocities** per part (``v_<part column>``), and the published columns of
   ``preprocess.privacy`` (blendshapes only: no face geometry).
"""

from __future__ import annotations

from dataclasses import asdict

import numpy as np
import pandas as pd

from landmark_datasets.core import schema
from landmark_datasets.core.schema import HOLISTIC, PARTS, Reason
from landmark_datasets.preprocess import gaps
from landmark_datasets.preprocess.filters import reasons
from landmark_datasets.preprocess.normalize import in_face_frame, normalize, normalize_face

#: ``preprocess.holistic_keep``: which frames a holistic table keeps.
KEEP_RULES = schema.KEEP_RULES
#: ``preprocess.holistic_hands``: the hand scheme (``own``) or the face's frame.
HAND_FRAMES = schema.HAND_FRAMES


def present(df: pd.DataFrame, part: str) -> np.ndarray:
    """Rows of ``df`` where ``part`` is present."""
    return df[f"{part}_present"].to_numpy() == 1


def part_view(df: pd.DataFrame, part: str) -> pd.DataFrame:
    """Rows of holistic ``df`` as a hands or faces table: the part's columns under its names."""
    if part == "face":
        return df
    side = part.removesuffix("_hand")
    names = (*schema.HAND_LANDMARK_COLUMNS, *schema.HAND_WORLD_COLUMNS, "handedness_score")
    view = df.rename(columns={f"{side}_{c}": c for c in names})
    return view.assign(handedness=side.capitalize())


def _part_modality(part: str) -> str:
    return "faces" if part == "face" else "hands"


def _ledger(df: pd.DataFrame, index, reasons, details) -> pd.DataFrame:
    rows = df.loc[index, ["source_id", "label", "frame", "instance"]]
    return rows.assign(path="", modality=HOLISTIC, stage="preprocess", reason=list(reasons),
                       detail=list(details)).reindex(columns=list(schema.INTERNAL_LEDGER_COLUMNS))


def _blank(df: pd.DataFrame, index, part: str) -> None:
    df.loc[index, schema.part_columns(part)] = np.nan
    df.loc[index, f"{part}_present"] = 0


def filter_parts(df: pd.DataFrame, params) -> tuple[pd.DataFrame, list[pd.DataFrame]]:
    """Step 1: blank every part that fails a filter; return the rows and their ledger rows."""
    out, gone = df.copy(), []
    for part in PARTS:
        rows = out.loc[present(out, part)]
        if rows.empty:
            continue
        why = reasons(part_view(rows, part), _part_modality(part), params)
        failed = why.index[why["reason"] != ""]
        gone.append(_ledger(out, failed, why.loc[failed, "reason"],
                            [f"{part.replace('_', ' ')}: {d}" for d in why.loc[failed, "detail"]]))
        _blank(out, failed, part)
    return out, gone


def fill_parts(df: pd.DataFrame, frames: pd.DataFrame, max_gap: int
               ) -> tuple[pd.DataFrame, dict[str, dict]]:
    """Step 2: fill each part's short gaps along its video; per-part :class:`GapStats` too."""
    out = df.assign(**dict.fromkeys(schema.PART_INTERPOLATED, 0))
    stats = {}
    key = ["source_id", "frame"]
    for part in PARTS:
        cols = schema.part_columns(part)
        track = out.loc[present(out, part), [*schema.META_COLUMNS, *cols]]
        filled, st = gaps.fill(track.reset_index(drop=True), frames, max_gap)
        stats[part] = asdict(st)
        new = filled[filled[gaps.FLAG] == 1]
        if new.empty:
            continue
        flags = {f"{part}_present": 1, f"{part}_interpolated": 1}
        where = pd.MultiIndex.from_frame(out[key]).get_indexer(pd.MultiIndex.from_frame(new[key]))
        hit = where >= 0
        rows = out.index[where[hit]]
        out.loc[rows, cols] = new.loc[hit, cols].to_numpy()
        for flag, value in flags.items():
            out.loc[rows, flag] = value
        if (~hit).any():  # frames with no row yet: a row with this part only
            added = new.loc[~hit, [*schema.META_COLUMNS, *cols]].assign(**flags)
            out = pd.concat([out, added], ignore_index=True)
    ints = [c for c in out.columns if c in schema.INT_COLUMNS]
    out[ints] = out[ints].fillna(0).astype("int64")
    out = out.sort_values(list(schema.KEY_COLUMNS), kind="stable").reset_index(drop=True)
    return out, stats


def require_face_for_hands(df: pd.DataFrame) -> tuple[pd.DataFrame, list[pd.DataFrame]]:
    """Step 3 (``face_frame``): blank the hands of frames without a face, and ledger them."""
    out, gone = df.copy(), []
    no_face = ~present(out, "face")
    for part in ("left_hand", "right_hand"):
        rows = out.index[no_face & present(out, part)]
        detail = (f"{part.replace('_', ' ')}: no face in this frame to place it in "
                  "(preprocess.holistic_hands=face_frame)")
        gone.append(_ledger(out, rows, [Reason.MISSING_PARTS.value] * len(rows),
                            [detail] * len(rows)))
        _blank(out, rows, part)
    return out, gone


def keep_mask(df: pd.DataFrame, rule: str) -> np.ndarray:
    """Step 4: rows that have the parts ``rule`` asks for (one of :data:`KEEP_RULES`)."""
    face = present(df, "face")
    hand = present(df, "left_hand") | present(df, "right_hand")
    if rule == "any":
        return face | hand
    if rule == "face_and_hand":
        return face & hand
    if rule == "all":
        return face & present(df, "left_hand") & present(df, "right_hand")
    raise ValueError(f"unknown holistic_keep {rule!r}; expected one of {KEEP_RULES}")


def _has(df: pd.DataFrame) -> list[str]:
    names = [[p.replace("_", " ") for p in PARTS if row[f"{p}_present"] == 1]
             for _, row in df[list(schema.PRESENCE_COLUMNS)].iterrows()]
    return [", ".join(n) or "no part" for n in names]


NEEDS = {"any": "a hand or the face", "face_and_hand": "the face and a hand",
         "all": "the face and both hands"}


def normalize_parts(df: pd.DataFrame, params) -> pd.DataFrame:
    """Step 5: each hand block by the hand scheme (or in the face's frame), the face by its own."""
    out = df.copy()
    n = len(out)
    width, height = out["image_width"].to_numpy(), out["image_height"].to_numpy()
    face_cols = schema.part_landmark_columns("face")
    face = out[face_cols].to_numpy(dtype=np.float64).reshape(n, schema.N_FACE_LANDMARKS, 3)
    for part in ("left_hand", "right_hand"):
        cols = schema.part_landmark_columns(part)
        pts = out[cols].to_numpy(dtype=np.float64).reshape(n, schema.N_HAND_LANDMARKS, 3)
        if params.holistic_hands == "face_frame":
            normed = in_face_frame(pts, face, width, height)
        else:
            normed = normalize(pts, "hands", params.scheme, width, height,
                               left=np.full(n, part == "left_hand"),
                               mirror_left=params.mirror_left, rotate=params.rotate,
                               palm=params.palm_frame)
        out[cols] = normed.reshape(n, len(cols))
    pose = out[list(schema.POSE_COLUMNS)].to_numpy(dtype=np.float64).reshape(n, 4, 4)
    out[face_cols] = normalize_face(face, params.face_scheme, width, height, pose
                                    ).reshape(n, len(face_cols))
    return out


def part_velocities(df: pd.DataFrame, privacy: str) -> pd.DataFrame:
    """Step 6: ``v_<column>`` per second along each video for every part's image landmarks."""
    moving = [p for p in PARTS if p != "face" or privacy != "blendshapes"]
    blocks = []
    for part in moving:
        cols = schema.part_landmark_columns(part)
        names = schema.landmark_block(_part_modality(part))
        view = df[["source_id", "instance", "frame", "timestamp_ms", *cols]].rename(
            columns=dict(zip(cols, names, strict=True)))
        vel = gaps.velocities(view, _part_modality(part))
        blocks.append(vel[["v_" + c for c in names]].set_axis(["v_" + c for c in cols],
                                                              axis=1))
    return pd.concat([df, *blocks], axis=1)


def preprocess_holistic(df: pd.DataFrame, params, frames: pd.DataFrame | None = None
                        ) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, dict]]:
    """Steps 1 to 6 on extract's holistic table: (published rows, ledger rows, gap stats).

    ``frames``: the sampled frames of the video items (``source_id, frame, timestamp_ms``);
    none: no gap filling.
    """
    frames = frames if frames is not None else pd.DataFrame(
        columns=["source_id", "frame", "timestamp_ms"])
    out, gone = filter_parts(df, params)
    out, stats = fill_parts(out, frames, params.max_gap_frames)
    if params.holistic_hands == "face_frame":
        out, more = require_face_for_hands(out)
        gone += more
    keep = keep_mask(out, params.holistic_keep)
    dropped = out.loc[~keep]
    gone.append(_ledger(out, dropped.index, [Reason.MISSING_PARTS.value] * len(dropped),
                        [f"this frame has {has}; preprocess.holistic_keep="
                         f"{params.holistic_keep} needs {NEEDS[params.holistic_keep]}"
                         for has in _has(dropped)]))
    out = normalize_parts(out.loc[keep].reset_index(drop=True), params)
    if params.velocities:
        out = part_velocities(out, params.privacy)
    out = out[schema.published_columns(HOLISTIC, params.privacy, params.velocities)]
    ledger = pd.concat([g for g in gone if len(g)] or
                       [pd.DataFrame(columns=list(schema.INTERNAL_LEDGER_COLUMNS))],
                       ignore_index=True)
    return out, ledger, stats
