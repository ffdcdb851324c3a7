import numpy as np
import pandas as pd
import pytest

from landmark_datasets import schema
from landmark_datasets.params import PreprocessParams
from landmark_datasets.preprocess import preprocess
from landmark_datasets.validate import failures, validate
from tests.test_preprocess import _hands


@pytest.fixture(scope="module")
def good():
    kept, _, _ = preprocess(_hands(20), "hands", PreprocessParams(scheme="bbox"))
    return kept


def _run(hands, min_rows=None):
    faces = pd.DataFrame({c: pd.Series(dtype="float64")
                          for c in schema.published_columns("faces")})
    return validate({"hands": hands, "faces": faces}, {"hands": ["rock"], "faces": []}, "bbox",
                    min_rows or {"hands": 1, "faces": 1}, inputs={"hands": 20, "faces": 0})


def test_good_table_passes_except_empty_faces(good):
    report = _run(good)
    assert all(r["success"] for r in report["results"]["hands"]["wide"])
    assert all(r["success"] for r in report["results"]["hands"]["landmarks"])
    # the empty faces table violates its row minimum: the build must not publish it silently
    assert failures(report) == ["faces/wide: table_row_count_to_be_between "
                                "{'min_value': 1}: observed 0"]


def test_an_empty_table_with_the_schema_passes_a_zero_minimum(good):
    """A hands-only dataset: the faces table is its header only, and that is valid at 0."""
    report = _run(good, {"hands": 20, "faces": 0})
    assert failures(report) == []
    assert report["tables"] == {"hands": {"rows": 20, "inputs": 20, "min_rows": 20},
                                "faces": {"rows": 0, "inputs": 0, "min_rows": 0}}
    # ... but not without the schema's columns
    broken = _run(good.drop(columns=["label"]), {"hands": 0, "faces": 0})
    assert any(line.startswith("hands/wide: table_columns_to_match_ordered_list")
               for line in failures(broken))


def test_corrupted_table_fails_with_readable_lines(good):
    bad = good.copy()
    bad.loc[0, "thumb_tip_x"] = 1.7  # outside [0, 1] under bbox
    bad.loc[1, "wrist_y"] = np.nan
    bad.loc[2, "label"] = "=cmd|' /C calc'!A0"
    bad.loc[3, "handedness"] = "Both"
    bad = bad.drop(columns=["world_pinky_tip_z"])
    lines = [line for line in failures(_run(bad)) if line.startswith("hands/")]
    text = "\n".join(lines)
    assert ("hands/wide: table_columns_to_match_ordered_list {}: observed {'missing': "
            "['world_pinky_tip_z'], 'unexpected': [], 'same_order': True}") in text
    assert "hands/wide column label: column_values_to_be_in_set" in text
    assert "hands/wide column handedness: column_values_to_be_in_set" in text
    assert ("hands/landmarks column x: column_values_to_be_between {'min_value': 0.0, "
            "'max_value': 1.0}: 1 unexpected") in text
    assert "hands/landmarks column y: column_values_to_not_be_null" in text
    assert len(lines) == 6  # the dropped column also fails its not-null expectation


def test_blendshapes_privacy_publishes_no_face_geometry_and_still_validates(testdata_extracted):
    faces = testdata_extracted["tables"]["faces"]
    kept, _, _ = preprocess(faces, "faces", PreprocessParams(privacy="blendshapes"))
    assert list(kept.columns) == [*schema.META_COLUMNS, *schema.BLENDSHAPE_COLUMNS,
                                  schema.INTERPOLATED]
    hands, _, _ = preprocess(_hands(20), "hands", PreprocessParams(scheme="bbox"))
    labels = {"hands": ["rock"], "faces": sorted(kept["label"].unique())}
    report = validate({"hands": hands, "faces": kept}, labels, "bbox",
                      {"hands": 1, "faces": 1}, "interocular", "blendshapes")
    assert failures(report) == []
    assert set(report["results"]["faces"]) == {"wide", "blendshapes"}
