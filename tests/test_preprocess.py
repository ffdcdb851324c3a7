import numpy as np
import pandas as pd
import pytest

from landmark_datasets.core import schema
from landmark_datasets.core.params import PreprocessParams
from landmark_datasets.preprocess.preprocess import preprocess


def _hands(n=5, seed=0):
    rng = np.random.default_rng(seed)
    meta = pd.DataFrame({
        "source_id": [f"s{i}" for i in range(n)], "frame": 0, "instance": 0, "timestamp_ms": 0,
        "label": "rock", "group": [f"s{i}" for i in range(n)], "image_width": 640,
        "image_height": 480, "handedness": "Right", "handedness_score": 0.9,
    })
    lm = rng.uniform(0.3, 0.6, size=(n, 21, 3))
    lm[..., 2] *= 0.1
    lm[:, schema.WRIST] = [0.3, 0.6, 0.0]  # a plausible palm: 0.25 heights, extent ~0.4
    lm[:, schema.MIDDLE_MCP] = [0.45, 0.45, 0.0]
    lm = lm.reshape(n, 63)
    world = rng.normal(0, 0.05, size=(n, 63))
    return pd.concat([meta, pd.DataFrame(lm, columns=list(schema.HAND_LANDMARK_COLUMNS)),
                      pd.DataFrame(world, columns=list(schema.HAND_WORLD_COLUMNS))], axis=1)


def test_filters_ledger_each_bad_row_with_its_reason():
    df = _hands()
    df.loc[0, "handedness_score"] = 0.3
    x_cols = [c for c in schema.HAND_LANDMARK_COLUMNS if c.endswith("_x")]
    df.loc[1, x_cols[:10]] = 1.5  # 10 of 21 points off the right edge
    df.loc[2, list(schema.HAND_LANDMARK_COLUMNS)] = 0.5  # all points in one place
    df.loc[3, "wrist_y"] = np.nan
    kept, gone, _ = preprocess(df, "hands", PreprocessParams())
    assert list(kept["source_id"]) == ["s4"]
    reasons = dict(zip(gone["source_id"], gone["reason"], strict=True))
    assert reasons == {"s0": "low_confidence", "s1": "out_of_frame", "s2": "degenerate",
                       "s3": "missing_landmarks"}
    detail = dict(zip(gone["source_id"], gone["detail"], strict=True))
    assert detail["s0"] == "handedness_score 0.300 < 0.5"
    assert detail["s1"].startswith("48% of landmarks outside the image")
    assert list(gone.columns) == ["path", "source_id", "modality", "label", "frame", "instance",
                                  "stage", "reason", "detail"]


def test_normalization_changes_only_the_image_landmarks():
    df = _hands()
    kept, _, _ = preprocess(df, "hands", PreprocessParams(scheme="wrist_palm"))
    assert np.allclose(kept[["wrist_x", "wrist_y", "wrist_z"]].to_numpy(), 0)
    pd.testing.assert_frame_equal(kept[list(schema.HAND_WORLD_COLUMNS)],
                                  df[list(schema.HAND_WORLD_COLUMNS)])
    assert list(kept.columns) == [*df.columns, schema.INTERPOLATED]
    assert kept[schema.INTERPOLATED].tolist() == [0] * len(kept)
    assert df.loc[0, "wrist_x"] != 0  # the input frame is not mutated


@pytest.mark.parametrize("scheme", ["none", "wrist_palm", "bbox", "wrist_maxabs"])
def test_output_within_the_schema_ranges(scheme):
    kept, _, _ = preprocess(_hands(50), "hands", PreprocessParams(scheme=scheme))
    pts = kept[list(schema.HAND_LANDMARK_COLUMNS)].to_numpy().reshape(-1, 21, 3)
    for i, axis in enumerate(schema.AXES):
        lo, hi = schema.EXPECTED_RANGES[scheme][axis]
        assert lo <= pts[..., i].min()
        assert pts[..., i].max() <= hi + 1e-12


def test_pieces_of_whole_sources_give_the_rows_of_the_whole_table(testdata_extracted, tmp_path):
    """The stage preprocesses a table a piece at a time (memory flat in its size): pieces cut
    between sources, whose rows together are the whole table's, ledger and gap counts too."""
    from landmark_datasets.core import storage
    from landmark_datasets.ingest import inventory
    from landmark_datasets.preprocess.preprocess import add_stats

    df = testdata_extracted["tables"]["faces"]
    path = tmp_path / "faces.parquet"
    with storage.ParquetAppender(path) as out:  # row groups of 5 rows, as extract writes
        for start in range(0, len(df), 5):
            out.write(df.iloc[start:start + 5])
    pieces = list(storage.parquet_runs(path, 7))
    assert len(pieces) >= len(df) // 10  # whole row groups: 10 rows here
    sources = [set(p["source_id"]) for p in pieces]
    assert sum(map(len, sources)) == len(set().union(*sources))  # no source in two pieces
    pd.testing.assert_frame_equal(pd.concat(pieces, ignore_index=True), storage.read_table(path))
    videos = inventory.video_frames(testdata_extracted["items"], testdata_extracted["frames"])
    params = PreprocessParams(face_scheme="head_pose")
    whole = preprocess(df, "faces", params, videos)
    parts = [preprocess(p, "faces", params, videos) for p in pieces]
    key = list(schema.KEY_COLUMNS)
    pd.testing.assert_frame_equal(
        pd.concat([k for k, _, _ in parts], ignore_index=True).sort_values(key)
        .reset_index(drop=True), whole[0].sort_values(key).reset_index(drop=True))
    pd.testing.assert_frame_equal(pd.concat([g for _, g, _ in parts], ignore_index=True),
                                  whole[1].reset_index(drop=True))
    assert add_stats([s for _, _, s in parts]) == whole[2]
    # a source that comes back after another: the table is one piece
    back = pd.concat([df, df.iloc[:1]], ignore_index=True)
    storage.write_parquet(back, path)
    assert [len(p) for p in storage.parquet_runs(path, 7)] == [len(back)]


#: Another valid value of each param some table does not read.
_OTHER_VALUES = {"scheme": "bbox", "mirror_left": True, "rotate": True, "palm_frame": True,
                 "min_handedness_score": 0.97, "face_scheme": "head_pose",
                 "privacy": "blendshapes", "holistic_keep": "all",
                 "holistic_hands": "face_frame", "float_format": "%.3f"}


@pytest.mark.parametrize("modality", ["hands", "faces"])
def test_a_table_is_the_same_whatever_the_params_it_does_not_read(testdata_extracted,
                                                                     modality):
    """The preprocess memo leaves a table as it was when a sweep changes only params it
    does not read (``UNREAD_PARAMS``): each one changed alone gives the same rows, ledger
    rows and gap statistics on the real test data; a param it reads changes them."""
    from dataclasses import fields, replace

    from landmark_datasets.ingest import inventory
    from landmark_datasets.preprocess import holistic
    from landmark_datasets.preprocess.preprocess import UNREAD_PARAMS

    assert UNREAD_PARAMS[modality] <= {f.name for f in fields(PreprocessParams)}
    data = testdata_extracted
    videos = inventory.video_frames(data["items"], data["frames"])
    table = data["tables"][modality]
    assert len(table) > 10

    def run(params):
        if modality == schema.HOLISTIC:
            return holistic.preprocess_holistic(table, params, videos)
        return preprocess(table, modality, params, videos)

    kept, gone, stats = run(PreprocessParams())
    for name in sorted(UNREAD_PARAMS[modality]):
        other = run(replace(PreprocessParams(), **{name: _OTHER_VALUES[name]}))
        pd.testing.assert_frame_equal(other[0], kept, obj=name)
        pd.testing.assert_frame_equal(other[1], gone, obj=name)
        assert other[2] == stats, name
    read = {"hands": "scheme", "faces": "face_scheme"}[modality]
    changed = run(replace(PreprocessParams(), **{read: _OTHER_VALUES[read]}))[0]
    assert not changed.equals(kept)


def test_holistic_frames_read_every_param_but_the_csv_float_format():
    """Holistic frames have hands and a face: every param but one decides them."""
    import inspect

    from landmark_datasets.preprocess import gaps, holistic, normalize
    from landmark_datasets.preprocess import preprocess as preprocess_mod
    from landmark_datasets.preprocess.preprocess import UNREAD_PARAMS

    assert UNREAD_PARAMS[schema.HOLISTIC] == {"float_format"}
    for module in (preprocess_mod, holistic, normalize, gaps):
        assert ".float_format" not in inspect.getsource(module), module.__name__


@pytest.mark.parametrize("link", [True, False])
def test_a_remembered_table_comes_back_only_with_its_own_bytes(tmp_path, monkeypatch, link):
    """The preprocess memo puts back a table linked (or copied, across file systems) from the
    cache, and only after checking its sha256: an entry written into since is a miss, and the
    table it would have replaced is left as it was."""
    import os

    from landmark_datasets.core.cache import Cache
    from landmark_datasets.core.storage import sha256_file
    from landmark_datasets.preprocess.preprocess import remember, remembered

    if not link:
        monkeypatch.setattr(os, "link", lambda *a: (_ for _ in ()).throw(OSError(18, "EXDEV")))
    cache = Cache(tmp_path / "cache")
    table = tmp_path / "hands.parquet"
    kept, gone, stats = preprocess(_hands(8), "hands", PreprocessParams())
    kept.to_parquet(table)
    digest = sha256_file(table)
    remember(cache, "k1", table, gone, stats)
    table.unlink()
    assert remembered(cache, "nope", table) is None
    assert not table.exists()
    found = remembered(cache, "k1", table)
    assert found is not None
    assert sha256_file(table) == digest
    pd.testing.assert_frame_equal(found[0], gone)
    assert found[1] == stats
    assert (os.stat(table).st_nlink == 2) == link  # the cache's entry and the table
    entry = next((tmp_path / "cache").rglob("*.file"))
    entry.chmod(0o644)
    with open(entry, "r+b") as f:  # written into (a link of it, opened for writing)
        f.write(b"X")
    table.unlink()
    table.write_bytes(b"before")
    assert remembered(cache, "k1", table) is None
    assert table.read_bytes() == b"before"


@pytest.mark.parametrize("flag", ["rotate", "palm_frame"])
def test_a_hand_rotated_in_mediapipe_units_gets_the_rotated_range(flag):
    """A hand across a 3:1 picture, wrist in a corner, fingers along the bottom edge: turned
    upright about its wrist (``scheme=none``), its fingertips are two picture heights above
    the picture, outside the plain ``none`` range, inside the one validate uses for it."""
    from landmark_datasets.validate.validate import hand_ranges

    df = _hands(1).assign(image_width=1920, image_height=640)
    t = np.linspace(0, 1, 21)[:, None]
    pts = np.hstack([0.01 + 0.98 * t, np.full((21, 1), 0.99), 0.001 * t])
    pts[schema.MIDDLE_MCP] = [0.2, 0.99, 0.0]
    pts[schema.INDEX_MCP] = [0.2, 0.95, 0.0]  # a palm with some width, for the palm frame
    pts[schema.PINKY_MCP] = [0.2, 0.985, 0.02]
    df[list(schema.HAND_LANDMARK_COLUMNS)] = pts.reshape(1, 63)
    kept, gone, _ = preprocess(df, "hands", PreprocessParams(scheme="none", **{flag: True}))
    assert len(gone) == 0
    out = kept[list(schema.HAND_LANDMARK_COLUMNS)].to_numpy().reshape(21, 3)
    ranges = schema.EXPECTED_RANGES[hand_ranges("none", **{flag: True})]
    assert hand_ranges("none", **{flag: True}) == "none_rotated"
    assert hand_ranges("bbox", **{flag: True}) == "bbox"
    assert out.min() < schema.EXPECTED_RANGES["none"]["y"][0]
    for i, axis in enumerate(schema.AXES):
        assert ranges[axis][0] <= out[:, i].min()
        assert out[:, i].max() <= ranges[axis][1]
