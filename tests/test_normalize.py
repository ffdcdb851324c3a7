"""Normalization formulas on hand-computed examples."""

import numpy as np
import pytest

from landmark_datasets.core import schema
from landmark_datasets.preprocess.normalize import normalize

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


@pytest.mark.parametrize("scheme", ["wrist_palm", "bbox", "wrist_maxabs"])
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


SCHEMES = ["none", "wrist_palm", "bbox", "wrist_maxabs"]


def _rot_z(angle):
    c, s = np.cos(angle), np.sin(angle)
    return np.array([[c, -s, 0], [s, c, 0], [0, 0, 1]])


def test_wrist_maxabs_hand_computed():
    pts = np.zeros((1, 21, 3))
    pts[0, :] = [0.5, 0.8, 0.0]
    pts[0, schema.MIDDLE_MCP] = [0.5, 0.4, 0.1]  # 0.4 up: the largest |x| or |y|
    pts[0, schema.INDEX_MCP] = [0.7, 0.6, 0.0]
    out = normalize(pts, "hands", "wrist_maxabs", np.array([100]), np.array([100]))
    assert out[0, schema.MIDDLE_MCP] == pytest.approx([0, -1, 0.25])
    assert out[0, schema.INDEX_MCP] == pytest.approx([0.5, -0.5, 0])
    assert np.abs(out[..., :2]).max() == pytest.approx(1)


@pytest.mark.parametrize("scheme", SCHEMES)
def test_a_mirrored_left_hand_equals_the_right_hand_it_mirrors(scheme):
    rng = np.random.default_rng(3)
    right = _hand(rng, 3)
    left = right.copy()
    left[..., 0] = 1 - left[..., 0]  # the image flipped left to right
    w, h = np.full(3, 640), np.full(3, 480)
    flags = {"mirror_left": True, "rotate": False}
    ours = normalize(left, "hands", scheme, w, h, left=np.ones(3, bool), **flags)
    theirs = normalize(right, "hands", scheme, w, h, left=np.zeros(3, bool), **flags)
    assert np.allclose(ours, theirs, atol=TOL)
    assert not np.allclose(normalize(left, "hands", scheme, w, h),
                           normalize(right, "hands", scheme, w, h))


@pytest.mark.parametrize("scheme", ["wrist_palm", "wrist_maxabs"])
def test_rotate_makes_the_wrist_to_middle_mcp_axis_vertical(scheme):
    rng = np.random.default_rng(4)
    pts = _hand(rng, 5)
    w = h = np.full(5, 100)
    out = normalize(pts, "hands", scheme, w, h, rotate=True)
    axis = out[:, schema.MIDDLE_MCP, :2] - out[:, schema.WRIST, :2]
    assert np.allclose(axis[:, 0], 0, atol=TOL)
    assert (axis[:, 1] < 0).all()  # up in image coordinates
    # Any in-plane rotation of the input gives the same output.
    turned = pts.copy()
    centre = np.array([0.5, 0.5, 0])
    turned = (pts - centre) @ _rot_z(0.9).T + centre
    assert np.allclose(normalize(turned, "hands", scheme, w, h, rotate=True), out, atol=1e-9)


def test_palm_frame_is_invariant_to_3d_rotation_and_puts_the_palm_in_a_plane():
    rng = np.random.default_rng(5)
    pts = _hand(rng, 2)
    pts[:, schema.MIDDLE_MCP] = (pts[:, schema.INDEX_MCP] + pts[:, schema.PINKY_MCP]) / 2
    w = h = np.full(2, 100)
    out = normalize(pts, "hands", "wrist_palm", w, h, palm=True)
    assert np.allclose(out[:, schema.MIDDLE_MCP], [0, -1, 0], atol=TOL)
    for i in (schema.INDEX_MCP, schema.PINKY_MCP):
        assert np.allclose(out[:, i, 2], 0, atol=TOL)  # the palm lies in z = 0
    a, b = 0.7, -0.4
    rx = np.array([[1, 0, 0], [0, np.cos(a), -np.sin(a)], [0, np.sin(a), np.cos(a)]])
    ry = np.array([[np.cos(b), 0, np.sin(b)], [0, 1, 0], [-np.sin(b), 0, np.cos(b)]])
    turned = (pts - 0.5) @ (rx @ ry @ _rot_z(2.0)).T + 0.5
    assert np.allclose(normalize(turned, "hands", "wrist_palm", w, h, palm=True), out, atol=1e-9)


def test_flags_leave_faces_alone():
    rng = np.random.default_rng(6)
    face = rng.uniform(0.3, 0.7, size=(2, 478, 3))
    w = h = np.array([350, 350])
    plain = normalize(face, "faces", "wrist_palm", w, h)
    flagged = normalize(face, "faces", "wrist_palm", w, h, left=np.ones(2, bool),
                        mirror_left=True, rotate=True, palm=True)
    assert np.array_equal(plain, flagged)


def _face(rng, n=2):
    face = rng.uniform(0.35, 0.65, size=(n, 478, 3))
    face[:, schema.FACE_RIGHT_EYE_OUTER] = [0.40, 0.42, 0.0]
    face[:, schema.FACE_LEFT_EYE_OUTER] = [0.60, 0.38, 0.0]  # the head rolled a little
    return face


def test_interocular_centres_scales_and_removes_roll():
    from landmark_datasets.preprocess.normalize import normalize_face

    face = _face(np.random.default_rng(7))
    w = h = np.array([350, 350])
    out = normalize_face(face, "interocular", w, h)
    assert np.allclose(out[:, schema.FACE_RIGHT_EYE_OUTER], [-0.5, 0, 0], atol=TOL)
    assert np.allclose(out[:, schema.FACE_LEFT_EYE_OUTER], [0.5, 0, 0], atol=TOL)
    turned = (face - 0.5) @ _rot_z(-0.6).T * 1.7 + 0.5  # rolled, zoomed: the same face
    assert np.allclose(normalize_face(turned, "interocular", w, h), out, atol=1e-9)


def test_head_pose_undoes_the_transformation_matrix_rotation():
    from landmark_datasets.preprocess.normalize import _FLIP, normalize_face

    face = _face(np.random.default_rng(8), 1)
    w = h = np.array([350])
    a, b = 0.5, -0.3  # yaw and pitch in MediaPipe's face frame
    ry = np.array([[np.cos(a), 0, np.sin(a)], [0, 1, 0], [-np.sin(a), 0, np.cos(a)]])
    rx = np.array([[1, 0, 0], [0, np.cos(b), -np.sin(b)], [0, np.sin(b), np.cos(b)]])
    rot = ry @ rx
    pose = np.eye(4)[None].copy()
    pose[0, :3, :3] = rot * 0.9  # MediaPipe's matrices carry a scale
    frontal = np.eye(4)[None]
    mid = face[:, [schema.FACE_RIGHT_EYE_OUTER, schema.FACE_LEFT_EYE_OUTER]].mean(axis=1)
    turned = (face - mid[:, None]) @ (_FLIP @ rot @ _FLIP).T + mid[:, None]
    assert np.allclose(normalize_face(turned, "head_pose", w, h, pose),
                       normalize_face(face, "head_pose", w, h, frontal), atol=1e-9)
    assert not np.allclose(normalize_face(turned, "interocular", w, h),
                           normalize_face(face, "interocular", w, h), atol=1e-3)


def test_head_pose_tightens_real_faces(testdata_extracted):
    """On the 99 test faces, removing the head pose makes the meshes agree more."""
    from landmark_datasets.preprocess.normalize import landmark_array, normalize_face

    faces = testdata_extracted["tables"]["faces"]
    pts = landmark_array(faces, "faces")
    pose = faces[list(schema.POSE_COLUMNS)].to_numpy().reshape(-1, 4, 4)
    w, h = faces["image_width"].to_numpy(), faces["image_height"].to_numpy()

    def spread(out):
        return np.sqrt(((out - out.mean(axis=0)) ** 2).sum(axis=2).mean())

    assert spread(normalize_face(pts, "head_pose", w, h, pose)) < 0.5 * spread(
        normalize_face(pts, "interocular", w, h))


def _face_with_eyes(right_xy, left_xy) -> np.ndarray:
    """A (1, 478, 3) face whose outer eye corners are at the given normalized image points."""
    face = np.zeros((1, schema.N_FACE_LANDMARKS, 3))
    face[0, schema.FACE_RIGHT_EYE_OUTER, :2] = right_xy
    face[0, schema.FACE_LEFT_EYE_OUTER, :2] = left_xy
    return face


def test_hands_in_the_face_frame_by_hand():
    """A 200x100 image: eyes at x 0.4 and 0.6 of the width, y 0.5: in height units they are at
    0.8 and 1.2, so c = (1.0, 0.5, 0), d = 0.4 and no roll. A hand point at (0.5, 0.9, 0.1)
    is (1.0, 0.9, 0.2) in height units: (0, 0.4, 0.2) / 0.4 = (0, 1, 0.5), one eye distance
    below the eyes."""
    from landmark_datasets.preprocess.normalize import in_face_frame

    face = _face_with_eyes((0.4, 0.5), (0.6, 0.5))
    hand = np.array([[[0.5, 0.9, 0.1], [0.6, 0.5, 0.0]]])
    w, h = np.array([200.0]), np.array([100.0])
    out = in_face_frame(hand, face, w, h)
    np.testing.assert_allclose(out[0, 0], [0.0, 1.0, 0.5], atol=1e-12)
    np.testing.assert_allclose(out[0, 1], [0.5, 0.0, 0.0], atol=1e-12)  # the left eye corner


def test_hands_in_the_face_frame_remove_the_roll():
    """A square image, the face rolled 90 degrees (eyes one above the other): a point 0.2 past
    the left eye along the eye line is one eye distance along +x, whatever the roll."""
    from landmark_datasets.preprocess.normalize import in_face_frame

    face = _face_with_eyes((0.5, 0.4), (0.5, 0.6))  # right eye above the left: roll = 90 deg
    hand = np.array([[[0.5, 0.7, 0.0]]])
    out = in_face_frame(hand, face, np.array([100.0]), np.array([100.0]))
    np.testing.assert_allclose(out[0, 0], [1.0, 0.0, 0.0], atol=1e-12)


def test_the_face_frame_is_the_interocular_scheme(testdata_extracted):
    """The face's own landmarks in its frame are exactly the interocular scheme's output."""
    from landmark_datasets.preprocess.normalize import in_face_frame, normalize_face

    faces = testdata_extracted["tables"]["faces"].head(5)
    pts = faces[list(schema.FACE_LANDMARK_COLUMNS)].to_numpy(float).reshape(5, -1, 3)
    w, h = faces["image_width"].to_numpy(), faces["image_height"].to_numpy()
    np.testing.assert_allclose(in_face_frame(pts, pts, w, h),
                               normalize_face(pts, "interocular", w, h), atol=1e-12)
    no_face = np.full_like(pts[:1], np.nan)
    assert np.isnan(in_face_frame(pts[:1, :21], no_face, w[:1], h[:1])).all()
