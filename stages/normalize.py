"""Normalization schemes for landmark blocks: pure functions on ``(n, k, 3)`` arrays.

MediaPipe's image landmarks are normalized separately by image width (x) and height (y), and
z is relative depth in roughly x's scale. Every scheme but ``none`` first converts to
*height units* (``x * w / h``, ``y``, ``z * w / h``) so that distances and angles are true to
the image, then:

- ``none``: leave MediaPipe's coordinates unchanged.
- ``wrist_palm``: ``p' = (p - p[anchor]) / |p[ref] - p[anchor]|`` with hands anchored at the
  wrist and scaled by palm length (wrist to middle-finger MCP), faces anchored at the nose
  tip and scaled by the distance between the outer eye corners. Translation- and
  scale-invariant.
- ``bbox``: ``p' = (p - min_xy) / max(extent_x, extent_y)``; x and y land in ``[0, 1]`` with the
  aspect ratio kept (the longer side spans 1); z is divided by the same scale.

Expected output ranges per scheme live in :data:`stages.schema.EXPECTED_RANGES`.
"""

from __future__ import annotations

import numpy as np

from stages import schema

SCHEMES = ("none", "wrist_palm", "bbox")


def to_height_units(points: np.ndarray, width: np.ndarray, height: np.ndarray) -> np.ndarray:
    """Scale x and z by the aspect ratio ``w / h`` so that all axes share one unit."""
    aspect = (np.asarray(width, dtype=np.float64) / np.asarray(height, dtype=np.float64))
    out = points.astype(np.float64, copy=True)
    out[..., 0] *= aspect[:, None]
    out[..., 2] *= aspect[:, None]
    return out


def anchors(modality: str) -> tuple[int, int, int]:
    """(anchor, scale_from, scale_to) landmark indices of ``wrist_palm`` for ``modality``."""
    if modality == "hands":
        return schema.WRIST, schema.WRIST, schema.MIDDLE_MCP
    return schema.FACE_NOSE_TIP, schema.FACE_RIGHT_EYE_OUTER, schema.FACE_LEFT_EYE_OUTER


def reference_length(points: np.ndarray, modality: str) -> np.ndarray:
    """Palm length (hands) or outer-eye-corner distance (faces) per row, in the points' units."""
    _, a, b = anchors(modality)
    return np.linalg.norm(points[:, b, :] - points[:, a, :], axis=1)


def normalize(points: np.ndarray, modality: str, scheme: str, width: np.ndarray,
              height: np.ndarray) -> np.ndarray:
    """Apply ``scheme`` to ``points`` (``(n, k, 3)`` MediaPipe image landmarks); return a copy.

    Rows whose reference length is zero come out as NaN (the preprocess stage rejects them
    before normalizing, as ``degenerate``).
    """
    if scheme == "none":
        return points.astype(np.float64, copy=True)
    p = to_height_units(points, width, height)
    if scheme == "wrist_palm":
        anchor, _, _ = anchors(modality)
        scale = reference_length(p, modality)
        with np.errstate(divide="ignore", invalid="ignore"):
            return (p - p[:, anchor:anchor + 1, :]) / scale[:, None, None]
    if scheme == "bbox":
        lo = p[..., :2].min(axis=1)
        extent = (p[..., :2].max(axis=1) - lo).max(axis=1)
        out = p.copy()
        out[..., :2] -= lo[:, None, :]
        with np.errstate(divide="ignore", invalid="ignore"):
            return out / extent[:, None, None]
    raise ValueError(f"unknown normalization scheme {scheme!r}; expected one of {SCHEMES}")
