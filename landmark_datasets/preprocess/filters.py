"""The filters of preprocess: which rows (or holistic parts) are rejected, and why.

MediaPipe gives no per-landmark confidence for hands or faces, so "confidence" here is what
it does give (the handedness score of a hand; the detection/presence thresholds were already
applied in extract) plus geometric sanity: a detection whose landmarks lie mostly outside the
image (out_of_frame) or collapse to a point (degenerate) is rejected. Filters run in this
order and a row is ledgered under the first one it fails.

Used by :mod:`.preprocess` for hands and faces tables and by
:mod:`.holistic` for each part of a holistic row.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from landmark_datasets.core.params import PreprocessParams
from landmark_datasets.core.schema import Reason
from landmark_datasets.preprocess.normalize import landmark_array, reference_length, to_height_units


def reasons(df: pd.DataFrame, modality: str, params: PreprocessParams) -> pd.DataFrame:
    """Per row: the first filter it fails (``reason``, ``detail``), or empty strings if none."""
    n = len(df)
    reason = np.full(n, "", dtype=object)
    detail = np.full(n, "", dtype=object)

    def mark(mask: np.ndarray, code: Reason, text) -> None:
        new = mask & (reason == "")
        reason[new] = code.value
        detail[new] = [text(i) for i in np.flatnonzero(new)]

    pts = landmark_array(df, modality)
    missing = np.isnan(pts).any(axis=(1, 2))
    mark(missing, Reason.MISSING_LANDMARKS,
         lambda i: f"{int(np.isnan(pts[i]).any(axis=1).sum())} landmarks without values")
    if modality == "hands":
        score = df["handedness_score"].to_numpy(dtype=np.float64)
        mark(score < params.min_handedness_score, Reason.LOW_CONFIDENCE,
             lambda i: f"handedness_score {score[i]:.3f} < {params.min_handedness_score}")
    with np.errstate(invalid="ignore"):
        outside = ((pts[..., :2] < 0) | (pts[..., :2] > 1)).any(axis=2).mean(axis=1)
    mark(outside > params.max_out_of_frame, Reason.OUT_OF_FRAME,
         lambda i: f"{outside[i]:.0%} of landmarks outside the image > {params.max_out_of_frame}")
    hu = to_height_units(pts, df["image_width"].to_numpy(), df["image_height"].to_numpy())
    extent = (np.nanmax(hu[..., :2], axis=1) - np.nanmin(hu[..., :2], axis=1)).max(axis=1) \
        if n else np.zeros(0)
    ref = reference_length(hu, modality) if n else np.zeros(0)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = ref / extent
    mark(~(extent >= params.min_extent), Reason.DEGENERATE,
         lambda i: f"landmark extent {extent[i]:.4f} < {params.min_extent}")
    mark(~(ratio >= params.min_reference_ratio), Reason.DEGENERATE,
         lambda i: f"reference length / extent {ratio[i]:.3f} < {params.min_reference_ratio} "
                   "(foreshortened or collapsed)")
    return pd.DataFrame({"reason": reason, "detail": detail}, index=df.index)
