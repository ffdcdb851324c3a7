import numpy as np
import pandas as pd
import pytest

from landmark_datasets.core import schema
from landmark_datasets.core.params import PreprocessParams, ValidateParams
from landmark_datasets.preprocess.preprocess import preprocess
from landmark_datasets.validate.validate import failures, validate
from tests.test_preprocess import _hands

BBOX = PreprocessParams(scheme="bbox")  # the tables' preprocess section


@pytest.fixture(scope="module")
def good():
    kept, _, _ = preprocess(_hands(20), "hands", PreprocessParams(scheme="bbox"))
    return kept


def _run(hands, min_rows=None):
    faces = pd.DataFrame({c: pd.Series(dtype="float64")
                          for c in schema.published_columns("faces")})
    return validate({"hands": hands, "faces": faces}, {"hands": ["rock"], "faces": []}, BBOX,
                    ValidateParams(min_rows or {"hands": 1, "faces": 1}),
                    inputs={"hands": 20, "faces": 0})


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
    assert len(lines) == 5  # the dropped column fails the column list only


def test_world_coordinates_and_head_pose_are_checked_on_long_views(good, testdata_extracted):
    """One not-null expectation per axis (or value) on a long view, not one per column."""
    bad = good.copy()
    bad.loc[4, "world_index_finger_tip_y"] = np.nan
    faces, _, _ = preprocess(testdata_extracted["tables"]["faces"], "faces", PreprocessParams())
    faces = faces.copy()
    faces.loc[faces.index[:2], "pose_23"] = np.nan
    report = validate({"hands": bad, "faces": faces},
                      {"hands": ["rock"], "faces": sorted(faces["label"].unique())}, BBOX,
                      ValidateParams({"hands": 1, "faces": 1}))
    assert failures(report) == [
        "hands/world column y: column_values_to_not_be_null {}: 1 unexpected (0.24%), e.g. "
        "[None]",
        "faces/pose column value: column_values_to_not_be_null {}: 2 unexpected "
        f"({200 / (16 * len(faces)):.2f}%), e.g. [None, None]"]
    assert len(report["results"]["hands"]["world"]) == 3
    assert len(report["results"]["faces"]["pose"]) == 1


def test_unchanged_tables_are_read_back_from_the_memo(good, tmp_path, monkeypatch):
    """A table validated before (same file digest, suite inputs and code) is not validated
    again: the results come from the cache, and nothing imports Great Expectations."""
    from landmark_datasets.core.cache import Cache
    from landmark_datasets.validate import validate as validate_mod

    cache = Cache(tmp_path)
    args = ({"hands": good}, {"hands": ["rock"]}, BBOX, ValidateParams({"hands": 1}))
    first = validate(*args, cache=cache, digests={"hands": "a" * 64})
    monkeypatch.setattr(validate_mod, "_data_source", lambda: pytest.fail("validated again"))
    assert validate(*args, cache=cache, digests={"hands": "a" * 64}) == first
    bad = good.assign(handedness="Both")  # another file: validated, not read back
    monkeypatch.undo()
    other = validate({"hands": bad}, *args[1:], cache=cache, digests={"hands": "b" * 64})
    assert not other["success"]
    assert first["success"]
    # another suite input (the scheme decides the ranges) misses it too
    with monkeypatch.context() as m:
        m.setattr(validate_mod, "_data_source", lambda: pytest.fail("validated again"))
        with pytest.raises(pytest.fail.Exception, match="validated again"):
            validate(*args[:2], PreprocessParams(scheme="wrist_palm"), args[3], cache=cache,
                     digests={"hands": "a" * 64})


def test_blendshapes_privacy_publishes_no_face_geometry_and_still_validates(testdata_extracted):
    faces = testdata_extracted["tables"]["faces"]
    kept, _, _ = preprocess(faces, "faces", PreprocessParams(privacy="blendshapes"))
    assert list(kept.columns) == [*schema.META_COLUMNS, *schema.BLENDSHAPE_COLUMNS,
                                  schema.INTERPOLATED]
    hands, _, _ = preprocess(_hands(20), "hands", PreprocessParams(scheme="bbox"))
    labels = {"hands": ["rock"], "faces": sorted(kept["label"].unique())}
    report = validate({"hands": hands, "faces": kept}, labels,
                      PreprocessParams(scheme="bbox", face_scheme="interocular",
                                       privacy="blendshapes"),
                      ValidateParams({"hands": 1, "faces": 1}))
    assert failures(report) == []
    assert set(report["results"]["faces"]) == {"wide", "blendshapes"}


def test_a_parquet_file_validated_a_piece_at_a_time_gives_the_results_of_one_batch(
        testdata_extracted, tmp_path):
    """Long views are validated ``rows`` wide rows at a time; counts, shares and examples
    added up over the pieces equal one batch of the whole table."""
    from landmark_datasets.core import storage

    faces, _, _ = preprocess(testdata_extracted["tables"]["faces"], "faces", PreprocessParams())
    faces = faces.copy()
    faces.loc[faces.index[[1, 9, 17]], "f001_x"] = 99.0  # out of range, in 3 pieces
    faces.loc[faces.index[[2, 30]], "pose_5"] = np.nan
    faces.loc[faces.index[12], "bs_browDownLeft"] = 1.5
    path = tmp_path / "faces.parquet"
    with storage.ParquetAppender(path) as out:
        for start in range(0, len(faces), 5):  # row groups of 5
            out.write(faces.iloc[start:start + 5])
    labels = {"faces": sorted(faces["label"].unique())}
    whole = validate({"faces": faces}, labels, BBOX, ValidateParams({"faces": 1}))
    pieces = validate({"faces": path}, labels, BBOX, ValidateParams({"faces": 1}), rows=8)
    assert pieces["tables"] == whole["tables"] == {
        "faces": {"rows": len(faces), "inputs": None, "min_rows": 1}}
    assert failures(pieces) == failures(whole)
    assert len(failures(whole)) == 3
    for view, results in whole["results"]["faces"].items():
        for a, b in zip(results, pieces["results"]["faces"][view], strict=True):
            assert a | {"unexpected_percent": None} == b | {"unexpected_percent": None}
            assert a["unexpected_percent"] == pytest.approx(b["unexpected_percent"])


@pytest.mark.parametrize(("groups", "slack", "pieces"), [
    ([4, 4, 1], 0.0, [4, 4, 1]), ([4, 4, 1], 0.25, [4, 5]), ([4, 4, 2], 0.25, [4, 4, 2]),
    ([4], 0.25, [4]), ([1, 1, 1, 1, 1], 0.5, [2, 3]), ([3, 3, 3], 0.5, [6, 3])])
def test_a_short_last_run_of_row_groups_joins_the_one_before(tmp_path, groups, slack, pieces):
    """Validate reads a table in runs of row groups; a tail of at most ``slack`` of a run is
    no Great Expectations batch of its own (4,096 + 51 faces rows: one batch)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from landmark_datasets.core.storage import row_group_runs

    path = tmp_path / "t.parquet"
    with pq.ParquetWriter(path, pa.schema([("v", pa.int64())])) as w:
        start = 0
        for g in groups:
            w.write_table(pa.table({"v": list(range(start, start + g))}))
            start += g
    runs = list(row_group_runs(pq.ParquetFile(path), 4 if groups[0] != 1 else 2, slack))
    assert [len(r) for r in runs] == pieces
    assert [v for r in runs for v in r["v"]] == list(range(sum(groups)))
