"""Normalization formulas on hand-computed examples."""

import numpy as np
import pytest

from stages import schema
from stages.normalize import normalize

TOL = 1e-9


def _hand(rng, n=4):
    pts = rng.uniform(0.3, 0.7, size=(n, 21, 3))
    pts[..., 2] *= 0.1
    return pts


def test_wrist_palm_puts_wrist_at_origin_and_palm_at_unit_length():
    rng = np.random.default_rng(0)
    pts = _hand(rng)
    w = np.full(4, 640)
    h = np.full(4, 480)
    out = normalize(pts, "hands", "wrist_palm", w, h)
    assert np.allclose(out[:, schema.WRIST], 0, atol=TOL)
    palm = np.linalg.norm(out[:, schema.MIDDLE_MCP] - out[:, schema.WRIST], axis=1)
    assert np.allclose(palm, 1, atol=TOL)


def test_wrist_palm_hand_computed():
    pts = np.zeros((1, 21, 3))
    pts[0, schema.WRIST] = [0.5, 0.8, 0.0]
    pts[0, schema.MIDDLE_MCP] = [0.5, 0.6, 0.0]  # palm 0.2 image heights, pointing up
    pts[0, schema.INDEX_MCP] = [0.6, 0.6, 0.05]
    out = normalize(pts, "hands", "wrist_palm", np.array([100]), np.array([100]))
    assert out[0, schema.MIDDLE_MCP] == pytest.approx([0, -1, 0])
    assert out[0, schema.INDEX_MCP] == pytest.approx([0.5, -1, 0.25])


def test_aspect_ratio_is_respected():
    # The same physical hand in a 2:1 image: x is in widths, so x spans half as much.
    pts = np.zeros((1, 21, 3))
    pts[0, schema.WRIST] = [0.5, 0.5, 0]
    pts[0, schema.MIDDLE_MCP] = [0.55, 0.5, 0]  # 0.05 widths = 0.1 heights at 2:1
    out = normalize(pts, "hands", "wrist_palm", np.array([200]), np.array([100]))
    assert out[0, schema.MIDDLE_MCP] == pytest.approx([1, 0, 0])


@pytest.mark.parametrize("scheme", ["wrist_palm", "bbox"])
def test_translation_and_scale_invariance(scheme):
    rng = np.random.default_rng(1)
    pts = _hand(rng, 1)
    moved = pts.copy()
    moved[..., :2] = (pts[..., :2] - 0.5) * 0.5 + 0.3
    moved[..., 2] = pts[..., 2] * 0.5
    w = h = np.array([100])
    assert np.allclose(normalize(pts, "hands", scheme, w, h),
                       normalize(moved, "hands", scheme, w, h), atol=1e-9)


def test_bbox_maps_into_unit_box_keeping_aspect():
    pts = np.zeros((1, 21, 3))
    pts[0, :, 0] = np.linspace(0.2, 0.6, 21)  # extent 0.4
    pts[0, :, 1] = np.linspace(0.3, 0.5, 21)  # extent 0.2
    out = normalize(pts, "hands", "bbox", np.array([100]), np.array([100]))
    assert out[0, :, 0].min() == pytest.approx(0)
    assert out[0, :, 0].max() == pytest.approx(1)
    assert out[0, :, 1].min() == pytest.approx(0)
    assert out[0, :, 1].max() == pytest.approx(0.5)


def test_none_is_identity_and_faces_use_eye_distance():
    rng = np.random.default_rng(2)
    face = rng.uniform(0.3, 0.7, size=(2, 478, 3))
    w = h = np.array([350, 350])
    assert np.array_equal(normalize(face, "faces", "none", w, h), face)
    out = normalize(face, "faces", "wrist_palm", w, h)
    assert np.allclose(out[:, schema.FACE_NOSE_TIP], 0)
    eyes = np.linalg.norm(out[:, schema.FACE_LEFT_EYE_OUTER] - out[:, schema.FACE_RIGHT_EYE_OUTER],
                          axis=1)
    assert np.allclose(eyes, 1)


def test_unknown_scheme():
    with pytest.raises(ValueError, match="unknown normalization scheme 'zscore'"):
        normalize(np.zeros((1, 21, 3)), "hands", "zscore", np.array([1]), np.array([1]))
