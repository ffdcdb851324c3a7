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
- ``wrist_maxabs``: ``q = p - p[anchor]``, ``p' = q / max(|q_x|, |q_y|)`` over the landmarks:
  the common tutorial scheme; x and y land in ``[-1, 1]``, z is divided by the same scale.

Hand flags, applied in height units before the scheme (faces ignore them):

- ``mirror_left``: a hand MediaPipe calls ``Left`` is mirrored, ``x -> w/h - x`` (the image
  flipped left to right), so every hand is a canonical right hand. The handedness column keeps
  what MediaPipe saw.
- ``rotate``: in-plane rotation about the wrist by the angle that makes the wrist -> middle-MCP
  axis point up (``-y``, image convention): ``[x, y] <- R(theta) [x, y]`` with
  ``theta = -pi/2 - atan2(dy, dx)``.
- ``palm_frame``: a 3-D rotation about the wrist into the palm's own frame: ``e_y`` points
  from the middle MCP to the wrist (so the fingers point to ``-y``), ``e_z`` is the palm normal
  ``(index_mcp - wrist) x (pinky_mcp - wrist)`` made orthogonal to ``e_y``, ``e_x = e_y x e_z``.
  It uses MediaPipe's relative z, so it is as good as that depth estimate. It supersedes
  ``rotate``.

Face schemes (``preprocess.face_scheme``), see :func:`normalize_face`:

- ``none``: MediaPipe's coordinates unchanged.
- ``interocular``: in height units, centred on the midpoint ``c`` of the outer eye corners,
  divided by their distance ``d``, and rotated in the image plane so the eye line is
  horizontal (roll removed): ``p' = R(-roll) (p - c) / d`` with ``roll = atan2(dy, dx)`` of the
  subject's right -> left outer corner.
- ``head_pose``: the rotation of MediaPipe's facial transformation matrix ``M`` (head pose, in
  its y-up, z-towards-camera frame) is undone: with ``F = diag(1, -1, -1)`` taking image axes
  (y down, z away) to that frame and ``R = M[:3, :3] / |M[:3, 0]|``,
  ``p' = F R^T F (p - c) / d``, a frontal face whatever the head's yaw, pitch and roll.

Holistic rows (both hands and the face of one frame) normalize each hand with the hand scheme
and the face with the face scheme, or, with ``preprocess.holistic_hands=face_frame``, put the
hands in the face's frame (:func:`in_face_frame`): the same ``p' = R(-roll) (p - c) / d`` as
``interocular``, with ``c``, ``d`` and ``roll`` from that frame's face, so where the hands are
relative to the face (a part of a sign's meaning) survives normalization.

Expected output ranges per scheme live in :data:`..core.schema.EXPECTED_RANGES`.
"""

from __future__ import annotations

import numpy as np

from landmark_datasets.core import schema

SCHEMES = schema.HAND_SCHEMES
#: One-line formulas (p in height units: x and z times w/h) for the report; the module
#: docstring has the details.
FORMULAS = {
    "none": "MediaPipe's normalized image coordinates, unchanged",
    "wrist_palm": "p' = (p - p_wrist) / |p_middle_mcp - p_wrist| (faces: nose tip, eye corners)",
    "bbox": "p' = (p - min_xy) / max(extent_x, extent_y)",
    "wrist_maxabs": "p' = (p - p_wrist) / max |x, y - wrist|",
    "mirror_left": "left hands: x -> w/h - x (the image flipped)",
    "rotate": "rotated about the wrist so wrist -> middle MCP points to -y",
    "palm_frame": "rotated about the wrist into (e_x, e_y = middle MCP -> wrist, "
                  "e_z = palm normal)",
    "interocular": "p' = R(-roll) (p - eye midpoint) / outer-eye-corner distance",
    "head_pose": "p' = F R^T F (p - eye midpoint) / eye distance, R = the pose matrix's "
                 "rotation, F = diag(1, -1, -1)",
    "face_frame": "hands: p' = R(-roll) (p - eye midpoint) / outer-eye-corner distance, with "
                  "the eye midpoint, distance and roll of the same frame's face",
}
FACE_SCHEMES = schema.FACE_SCHEMES
#: Image axes (x right, y down, z away) to MediaPipe's face-geometry frame (y up, z towards
#: the camera), and back (it is its own inverse).
_FLIP = np.diag([1.0, -1.0, -1.0])


def landmark_array(df, modality: str) -> np.ndarray:
    """The image-landmark block of table ``df`` as an ``(n, k, 3)`` float array."""
    block = df[list(schema.landmark_block(modality))].to_numpy(dtype=np.float64)
    return block.reshape(len(df), schema.n_landmarks(modality), 3)


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


def mirror(points: np.ndarray, left: np.ndarray, aspect: np.ndarray) -> np.ndarray:
    """Mirror the rows flagged ``left`` (height units): ``x -> aspect - x``."""
    out = points.copy()
    out[left, :, 0] = aspect[left, None] - out[left, :, 0]
    return out


def rotate_upright(points: np.ndarray) -> np.ndarray:
    """Rotate each hand in the image plane about its wrist so wrist -> middle MCP points up."""
    d = points[:, schema.MIDDLE_MCP, :2] - points[:, schema.WRIST, :2]
    wrist = points[:, schema.WRIST:schema.WRIST + 1, :]
    return _rotate_xy(points - wrist, -np.pi / 2 - np.arctan2(d[:, 1], d[:, 0])) + wrist


def _rotate_xy(q: np.ndarray, theta: np.ndarray) -> np.ndarray:
    """Rotate each row's points by ``theta`` (radians) in the x-y plane about the origin."""
    c, s = np.cos(theta)[:, None], np.sin(theta)[:, None]
    out = q.copy()
    out[..., 0] = c * q[..., 0] - s * q[..., 1]
    out[..., 1] = s * q[..., 0] + c * q[..., 1]
    return out


def _unit(v: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        return v / np.linalg.norm(v, axis=-1, keepdims=True)


def palm_frame(points: np.ndarray) -> np.ndarray:
    """Rotate each hand about its wrist into its palm frame (see the module docstring)."""
    wrist = points[:, schema.WRIST:schema.WRIST + 1, :]
    e_y = _unit(wrist[:, 0] - points[:, schema.MIDDLE_MCP])
    normal = np.cross(points[:, schema.INDEX_MCP] - wrist[:, 0],
                      points[:, schema.PINKY_MCP] - wrist[:, 0])
    e_z = _unit(normal - (normal * e_y).sum(axis=1, keepdims=True) * e_y)
    e_x = np.cross(e_y, e_z)
    basis = np.stack([e_x, e_y, e_z], axis=1)  # (n, 3, 3): rows are the new axes
    return np.einsum("nij,nkj->nki", basis, points - wrist) + wrist


def normalize(points: np.ndarray, modality: str, scheme: str, width: np.ndarray,
              height: np.ndarray, *, left: np.ndarray | None = None, mirror_left: bool = False,
              rotate: bool = False, palm: bool = False) -> np.ndarray:
    """Apply ``scheme`` (and the hand flags) to ``points``, MediaPipe image landmarks ``(n, k, 3)``.

    ``left`` flags the rows MediaPipe calls a left hand (needed by ``mirror_left``). Rows whose
    reference length is zero come out as NaN (preprocess rejects them first, as
    ``degenerate``). Returns a new array.
    """
    if scheme not in SCHEMES:
        raise ValueError(f"unknown normalization scheme {scheme!r}; expected one of {SCHEMES}")
    flags = modality == "hands" and (mirror_left or rotate or palm)
    if scheme == "none" and not flags:
        return points.astype(np.float64, copy=True)
    aspect = np.asarray(width, dtype=np.float64) / np.asarray(height, dtype=np.float64)
    p = to_height_units(points, width, height)
    if modality == "hands":
        if mirror_left:
            if left is None:
                raise ValueError("mirror_left needs the handedness of each row")
            p = mirror(p, np.asarray(left, dtype=bool), aspect)
        if palm:
            p = palm_frame(p)
        elif rotate:
            p = rotate_upright(p)
    if scheme == "none":  # flags only: back to MediaPipe's units
        p[..., 0] /= aspect[:, None]
        p[..., 2] /= aspect[:, None]
        return p
    anchor, _, _ = anchors(modality)
    if scheme == "wrist_palm":
        scale = reference_length(p, modality)
        with np.errstate(divide="ignore", invalid="ignore"):
            return (p - p[:, anchor:anchor + 1, :]) / scale[:, None, None]
    if scheme == "wrist_maxabs":
        q = p - p[:, anchor:anchor + 1, :]
        scale = np.abs(q[..., :2]).max(axis=(1, 2))
        with np.errstate(divide="ignore", invalid="ignore"):
            return q / scale[:, None, None]
    lo = p[..., :2].min(axis=1)
    extent = (p[..., :2].max(axis=1) - lo).max(axis=1)
    out = p.copy()
    out[..., :2] -= lo[:, None, :]
    with np.errstate(divide="ignore", invalid="ignore"):
        return out / extent[:, None, None]


def face_frame(face: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per row of ``face`` (``(n, 478, 3)``, height units): eye midpoint, eye distance, roll.

    The outer eye corners' midpoint ``c`` (``(n, 3)``), their distance ``d`` and the roll
    ``atan2(dy, dx)`` of the subject's right -> left outer corner.
    """
    right = face[:, schema.FACE_RIGHT_EYE_OUTER]
    left = face[:, schema.FACE_LEFT_EYE_OUTER]
    roll = np.arctan2(left[:, 1] - right[:, 1], left[:, 0] - right[:, 0])
    return (right + left) / 2, np.linalg.norm(left - right, axis=1), roll


def in_face_frame(points: np.ndarray, face: np.ndarray, width: np.ndarray,
                  height: np.ndarray) -> np.ndarray:
    """Landmarks ``points`` (``(n, k, 3)``, a hand) in the frame of the same row's ``face``.

    ``p' = R(-roll) (p - c) / d`` in height units, with ``c``, ``d`` and ``roll`` of the face
    (:func:`face_frame`): the ``interocular`` scheme's frame, so a hand at the face's eye
    midpoint is at the origin and one eye distance to the subject's left is ``x = 1``. Rows
    without a face (NaN) come out as NaN.
    """
    centre, d, roll = face_frame(to_height_units(face, width, height))
    q = to_height_units(points, width, height) - centre[:, None, :]
    with np.errstate(divide="ignore", invalid="ignore"):
        return _rotate_xy(q, -roll) / d[:, None, None]


def normalize_face(points: np.ndarray, scheme: str, width: np.ndarray, height: np.ndarray,
                   pose: np.ndarray | None = None) -> np.ndarray:
    """Apply a face scheme to ``points`` (``(n, 478, 3)``); ``pose`` is ``(n, 4, 4)``.

    Returns a new array; rows whose eye distance is zero come out as NaN.
    """
    if scheme not in FACE_SCHEMES:
        raise ValueError(f"unknown face scheme {scheme!r}; expected one of {FACE_SCHEMES}")
    if scheme == "none":
        return points.astype(np.float64, copy=True)
    p = to_height_units(points, width, height)
    centre, d, roll = face_frame(p)
    q = p - centre[:, None, :]
    if scheme == "interocular":
        out = _rotate_xy(q, -roll)
    else:
        if pose is None:
            raise ValueError("head_pose needs the facial transformation matrix of each row")
        rot = np.asarray(pose, dtype=np.float64)[:, :3, :3]
        with np.errstate(divide="ignore", invalid="ignore"):
            rot = rot / np.linalg.norm(rot[:, :, 0], axis=1)[:, None, None]
        undo = _FLIP @ np.transpose(rot, (0, 2, 1)) @ _FLIP  # (n, 3, 3)
        out = np.einsum("nij,nkj->nki", undo, q)
    with np.errstate(divide="ignore", invalid="ignore"):
        return out / d[:, None, None]
