from stages import schema


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
