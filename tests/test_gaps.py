"""Gap filling in video tracks on hand-computed examples."""

import numpy as np
import pandas as pd
import pytest

from landmark_datasets.core import schema
from landmark_datasets.preprocess import gaps
from tests.test_preprocess import _hands


def _track(frames_kept, label="victory"):
    """A hand at the given frames of one source; wrist_x = frame / 10 (linear in time)."""
    df = _hands(len(frames_kept))
    df["source_id"] = "s1"
    df["group"] = "s1"
    df["label"] = label
    df["instance"] = 0
    df["frame"] = frames_kept
    df["timestamp_ms"] = [f * 100 for f in frames_kept]
    df["wrist_x"] = [f / 10 for f in frames_kept]
    return df.reset_index(drop=True)


FRAMES = pd.DataFrame({"source_id": "s1", "frame": range(8),
                       "timestamp_ms": [f * 100 for f in range(8)]})


def test_short_gap_is_interpolated_and_flagged():
    out, stats = gaps.fill(_track([0, 1, 4, 5, 6, 7]), FRAMES, max_gap=2)
    assert (stats.filled, stats.long_gaps) == (2, 0)
    assert out["frame"].tolist() == list(range(8))
    assert out["interpolated"].tolist() == [0, 0, 1, 1, 0, 0, 0, 0]
    filled = out[out["interpolated"] == 1]
    assert filled["wrist_x"].tolist() == pytest.approx([0.2, 0.3])  # linear in time
    assert filled["timestamp_ms"].tolist() == [200, 300]
    assert set(filled["label"]) == {"victory"}
    assert out.dtypes["frame"] == np.int64


def test_long_gap_stays_missing_and_is_counted():
    out, stats = gaps.fill(_track([0, 4, 5]), FRAMES, max_gap=2)
    # frames 1-3 (3 > 2) stay missing; 6-7 have no right neighbour and are not a gap
    assert (stats.filled, stats.long_gaps, stats.long_gap_frames) == (0, 1, 3)
    assert out["interpolated"].sum() == 0
    assert len(out) == 3


def test_no_interpolation_across_labels_or_in_images():
    track = _track([0, 1, 3])
    track.loc[2, "label"] = "thumbs_up"
    out, stats = gaps.fill(track, FRAMES, max_gap=2)
    assert (stats.filled, stats.long_gaps) == (0, 1)
    images, stats = gaps.fill(_track([0, 3]), FRAMES.iloc[:0], max_gap=5)
    assert stats.filled == 0
    assert images["interpolated"].tolist() == [0, 0]


def test_other_instances_are_left_alone():
    track = _track([0, 2])
    second = track.assign(instance=1)
    out, stats = gaps.fill(pd.concat([track, second], ignore_index=True), FRAMES, max_gap=1)
    assert stats.filled == 1
    assert out.loc[out["interpolated"] == 1, "instance"].tolist() == [0]
    assert list(out.columns) == [*track.columns, schema.INTERPOLATED]


def test_velocities_along_a_track_per_second():
    track = _track([0, 1, 3])  # wrist_x = frame / 10, 100 ms a frame
    second = track.iloc[[1]].assign(instance=1)
    image = track.iloc[[0]].assign(source_id="image")
    df = pd.concat([track, second, image], ignore_index=True)
    out = gaps.velocities(df, "hands")
    assert list(out.columns) == [*df.columns, *schema.velocity_columns("hands")]
    v = out["v_wrist_x"].tolist()
    assert np.isnan(v[0])  # a track's first row
    assert v[1:3] == pytest.approx([1.0, 1.0])  # 0.1 per 100 ms, then 0.2 per 200 ms
    assert np.isnan(v[3])
    assert np.isnan(v[4])
    assert len(schema.velocity_columns("faces")) == 478 * 3


def test_preprocess_publishes_velocities_only_when_asked():
    from landmark_datasets.core.params import PreprocessParams
    from landmark_datasets.preprocess.preprocess import preprocess

    df = _track([0, 1, 2])
    plain, _, _ = preprocess(df, "hands", PreprocessParams())
    assert "v_wrist_x" not in plain.columns
    moving, _, _ = preprocess(df, "hands", PreprocessParams(velocities=True))
    assert list(moving.columns) == schema.published_columns("hands", velocities=True)
    assert moving["v_wrist_x"].notna().sum() == 2
