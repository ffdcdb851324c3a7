from landmark_datasets.core import schema


def test_hand_columns_follow_mediapipe_order():
    cols = schema.columns("hands")
    assert len(cols) == 8 + 2 + 21 * 3 * 2 == 136
    assert schema.HAND_LANDMARK_NAMES[0] == "wrist"
    assert schema.HAND_LANDMARK_NAMES[20] == "pinky_tip"
    assert cols[10:13] == ["wrist_x", "wrist_y", "wrist_z"]
    assert cols[-1] == "world_pinky_tip_z"


def test_face_columns():
    cols = schema.columns("faces")
    assert len(cols) == 8 + 478 * 3 + 52 + 16 == 1510
    assert len(set(cols)) == len(cols)
    assert schema.BLENDSHAPE_CATEGORIES[0] == "_neutral"
    assert schema.BLENDSHAPE_CATEGORIES[45] == "mouthSmileRight"
    assert schema.BLENDSHAPE_COLUMNS[1] == "bs_browDownLeft"


def test_skeleton_connects_all_21_points():
    assert len(schema.HAND_CONNECTIONS) == 21
    assert {i for edge in schema.HAND_CONNECTIONS for i in edge} == set(range(21))


def test_published_columns_hold_no_paths():
    for modality in schema.MODALITIES:
        assert not {"path", "file", "filename", "sha256"} & set(schema.columns(modality))
    assert "path" not in schema.LEDGER_COLUMNS


def test_names_are_mediapipes_own():
    """schema spells MediaPipe's enums out (to keep mediapipe out of table-only stages)."""
    import re

    from mediapipe.tasks.python.vision.face_landmarker import Blendshapes
    from mediapipe.tasks.python.vision.hand_landmarker import (
        HandLandmark,
        HandLandmarksConnections,
    )

    assert tuple(m.name.lower() for m in HandLandmark) == schema.HAND_LANDMARK_NAMES
    assert [int(m) for m in HandLandmark] == list(range(21))
    edges = tuple((c.start, c.end) for c in HandLandmarksConnections.HAND_CONNECTIONS)
    assert edges == schema.HAND_CONNECTIONS
    camel = tuple(re.sub(r"_([a-z])", lambda g: g.group(1).upper(), m.name.lower())
                  for m in Blendshapes)
    assert ("_neutral", *camel[1:]) == schema.BLENDSHAPE_CATEGORIES
    assert [int(m) for m in Blendshapes] == list(range(52))


def test_table_only_stages_do_not_import_mediapipe():
    import subprocess
    import sys

    for stage in ("preprocess", "validate", "split", "report"):
        code = f"import sys, stages.{stage}; print('mediapipe' in sys.modules)"
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                             check=True).stdout.strip()
        assert out == "False", stage
