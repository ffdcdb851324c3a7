"""Holistic extraction: both hands and the face of each frame, on the real test videos and photos.

A holistic item runs the hand and the face landmarker on the same decoded frame, so its row is
exactly the hands table's and the faces table's detections of that frame side by side (checked
against extracting the same files as hands and as faces), with presence flags and empty parts.
"""

from __future__ import annotations

import shutil

import numpy as np
import pandas as pd
import pytest

from landmark_datasets.core import schema
from landmark_datasets.core.params import ExtractParams, IngestParams
from landmark_datasets.extract import landmarks
from landmark_datasets.ingest import ingest, layout
from tests.conftest import run_extract

FILES = {
    "clip": "videos/pyfeat_WolfgangLanger_Pexels.mp4",
    "gif": "videos/fingerpose_fingers.gif",
    "hand_photo": "hands/paper/{first}",
    "face_photo": "faces/happiness/{first}",
}


@pytest.fixture(scope="module")
def extracted(testdata, tmp_path_factory):
    """The four files extracted three ways (as hands, as faces, as holistic), every frame."""
    root = tmp_path_factory.mktemp("holistic_raw")
    for name, rel in FILES.items():
        folder = rel.split("/{")[0] if "{" in rel else None
        src = testdata / (rel.format(first=sorted((testdata / folder).iterdir())[0].name)
                          if folder else rel)
        (root / "hands" / name).mkdir(parents=True)
        shutil.copy(src, root / "hands" / name / src.name)
    params = IngestParams(raw_dir=str(root), video_fps=None)
    raw, entries, _ = layout.discover(params)
    items, frames, _ = ingest.build_inventory(raw, entries, params)
    out = {}
    for modality in ("hands", "faces", schema.HOLISTIC):
        as_modality = items.assign(modality=modality)
        tables, ledger, _ = run_extract(as_modality, frames, ExtractParams(), raw,
                                        tmp_path_factory.mktemp(modality))
        out[modality] = tables[modality]
        out[f"{modality}_ledger"] = ledger
    out["items"] = items.set_index("label")
    out["frames"] = frames
    return out


def _rows(extracted, label):
    sid = extracted["items"].loc[label, "source_id"]
    table = extracted[schema.HOLISTIC]
    return table[table["source_id"] == sid].set_index("frame").sort_index()


def test_the_pexels_clip_has_a_face_in_every_frame_and_a_hand_in_172(extracted):
    rows = _rows(extracted, "clip")
    assert len(rows) == 472  # README: a face in all 472 frames, so every frame is a row
    assert rows["face_present"].sum() == 472
    hand = (rows["left_hand_present"] == 1) | (rows["right_hand_present"] == 1)
    assert hand.sum() == 172  # README: 172 frames with a hand
    assert rows["instance"].eq(0).all()


def test_the_fingerpose_gif_has_a_hand_and_a_face_in_all_43_frames(extracted):
    rows = _rows(extracted, "gif")
    assert len(rows) == 43
    assert rows["face_present"].sum() == 43
    assert ((rows["left_hand_present"] + rows["right_hand_present"]) >= 1).all()


def test_photos_have_one_part_and_the_others_empty(extracted):
    hand = _rows(extracted, "hand_photo").iloc[0]
    assert hand["face_present"] == 0
    assert hand["left_hand_present"] + hand["right_hand_present"] == 1
    side = "left" if hand["left_hand_present"] else "right"
    other = "right" if side == "left" else "left"
    assert not np.isnan(hand[schema.hand_part_columns(side)].to_numpy(float)).any()
    assert np.isnan(hand[schema.hand_part_columns(other)].to_numpy(float)).all()
    assert np.isnan(hand[list(schema.FACE_LANDMARK_COLUMNS + schema.BLENDSHAPE_COLUMNS
                              + schema.POSE_COLUMNS)].to_numpy(float)).all()
    face = _rows(extracted, "face_photo").iloc[0]
    assert (face["face_present"], face["left_hand_present"], face["right_hand_present"]) == (
        1, 0, 0)
    assert np.isnan(face[schema.hand_part_columns("left") + schema.hand_part_columns("right")]
                    .to_numpy(float)).all()


def test_a_holistic_row_is_the_hands_and_the_face_of_its_frame(extracted):
    """The parts equal what extracting the file as hands and as faces found in that frame."""
    hol = extracted[schema.HOLISTIC]
    hands, faces = extracted["hands"], extracted["faces"]
    faces0 = faces[faces["instance"] == 0].set_index(["source_id", "frame"])
    hol = hol.set_index(["source_id", "frame"])
    with_face = hol[hol["face_present"] == 1]
    assert len(with_face) == len(faces0)
    cols = list(schema.FACE_LANDMARK_COLUMNS + schema.BLENDSHAPE_COLUMNS + schema.POSE_COLUMNS)
    np.testing.assert_array_equal(with_face[cols].to_numpy(float),
                                  faces0.loc[with_face.index, cols].to_numpy(float))
    compared = 0
    for (sid, frame), group in hands.groupby(["source_id", "frame"]):
        row = hol.loc[(sid, frame)]
        if row[schema.SIDE_RESOLVED]:
            continue
        for _, hand in group.iterrows():
            side = hand["handedness"].lower()
            got = row[[f"{side}_{c}" for c in schema.HAND_LANDMARK_COLUMNS]].to_numpy(float)
            np.testing.assert_array_equal(got, hand[list(schema.HAND_LANDMARK_COLUMNS)]
                                          .to_numpy(float))
            compared += 1
    assert compared >= 172 + 43


def test_frames_with_nothing_are_ledgered(extracted):
    """Every sampled frame is a holistic row or a no_detection line of the ledger."""
    hol, ledger = extracted[schema.HOLISTIC], extracted[f"{schema.HOLISTIC}_ledger"]
    assert len(hol) + len(ledger) == len(extracted["frames"])
    assert set(ledger["reason"]) <= {"no_detection"}
    assert set(ledger["detail"]) <= {"no hand and no face detected"}


def test_two_hands_claiming_one_side():
    """The higher handedness score keeps the side; the other takes the free one, flagged."""
    def hand(side, score, x):
        return {"handedness": side, "handedness_score": score,
                "landmarks": np.full((21, 3), x), "world": np.full((21, 3), x)}

    [row] = landmarks.holistic_frame([hand("Left", 0.6, 0.2), hand("Left", 0.9, 0.7)], [])
    assert row["hand_present"].tolist() == [1, 1]
    assert row["side_resolved"] == 1
    assert row["hand_score"].tolist() == pytest.approx([0.9, 0.6])
    assert row["hand_landmarks"][0, 0, 0] == pytest.approx(0.7)  # left: the 0.9 hand
    assert row["face_present"] == 0
    [row] = landmarks.holistic_frame([hand("Right", 0.8, 0.1), hand("Left", 0.7, 0.5)], [])
    assert row["side_resolved"] == 0
    assert row["hand_landmarks"][1, 0, 0] == pytest.approx(0.1)  # right
    assert landmarks.holistic_frame([], []) == []
    assert pd.isna(row["pose"]).all()


# --- preprocess -------------------------------------------------------------------------------

def _pre(extracted, **overrides):
    from landmark_datasets.core.params import PreprocessParams
    from landmark_datasets.preprocess import holistic

    frames = extracted["frames"].merge(extracted["items"][["item", "media"]], on="item")
    videos = frames.loc[frames["media"] == "video", ["source_id", "frame", "timestamp_ms"]]
    return holistic.preprocess_holistic(extracted[schema.HOLISTIC], PreprocessParams(
        **overrides), videos)


def _flags_agree_with_cells(table):
    for part in schema.PARTS:
        cols = [c for c in schema.part_columns(part) if c in table.columns]
        filled = table[cols].notna().all(axis=1).to_numpy()
        empty = table[cols].isna().all(axis=1).to_numpy()
        flag = table[f"{part}_present"].to_numpy() == 1
        assert (filled == flag).all(), part
        assert (empty == ~flag).all(), part


@pytest.mark.parametrize(("keep", "n_clip"), [("any", 472), ("face_and_hand", 146), ("all", 0)])
def test_the_keep_rule_decides_which_frames_stay(extracted, keep, n_clip):
    """The clip: a face in all 472 frames, a hand in 172 (README), 26 of which are partly
    outside the image (out_of_frame, measured) and blanked: 146 frames with a face and a hand.
    """
    kept, ledger, _ = _pre(extracted, holistic_keep=keep, max_gap_frames=0)
    _flags_agree_with_cells(kept)
    clip = extracted["items"].loc["clip", "source_id"]
    assert (kept["source_id"] == clip).sum() == n_clip
    mine = ledger[ledger["source_id"] == clip]
    assert mine.groupby("reason").size().get("out_of_frame") == 26
    assert mine.loc[mine["reason"] == "out_of_frame", "detail"].str.startswith(
        "right hand: ").all()
    if keep == "all":
        assert (kept[list(schema.PRESENCE_COLUMNS)] == 1).all().all()
    dropped = ledger[ledger["reason"] == "missing_parts"]
    assert len(kept) + len(dropped) == len(extracted[schema.HOLISTIC])
    if keep != "any":
        assert dropped["detail"].str.contains(f"preprocess.holistic_keep={keep} needs").all()


def test_a_part_failing_a_filter_is_blanked_not_the_row(extracted):
    kept, ledger, _ = _pre(extracted, min_handedness_score=0.99, max_gap_frames=0)
    low = ledger[ledger["reason"] == "low_confidence"]
    assert len(low) > 0
    assert low["detail"].str.match(r"^(left|right) hand: handedness_score 0\.\d+ < 0\.99$").all()
    _flags_agree_with_cells(kept)
    assert (kept["face_present"] == 1).sum() >= 472  # the faces of those frames stay


def test_a_missing_hand_between_two_frames_is_interpolated_and_flagged(extracted):
    from landmark_datasets.preprocess import holistic

    gif = extracted["items"].loc["gif", "source_id"]
    table = extracted[schema.HOLISTIC]
    rows = table[(table["source_id"] == gif) & (table["right_hand_present"] == 1)]
    frame = int(rows["frame"].iloc[len(rows) // 2])
    neighbours = rows.set_index("frame").loc[[frame - 1, frame + 1]]
    hole = table.copy()
    at = hole.index[(hole["source_id"] == gif) & (hole["frame"] == frame)]
    hole.loc[at, schema.part_columns("right_hand")] = np.nan
    hole.loc[at, "right_hand_present"] = 0
    frames = extracted["frames"][["source_id", "frame", "timestamp_ms"]]
    filled, stats = holistic.fill_parts(hole, frames, 2)
    row = filled[(filled["source_id"] == gif) & (filled["frame"] == frame)].iloc[0]
    assert row["right_hand_present"] == 1
    assert row["right_hand_interpolated"] == 1
    assert row["left_hand_interpolated"] == 0
    col = "right_wrist_x"
    assert row[col] == pytest.approx(neighbours[col].mean(), abs=1e-9)  # halfway in time
    assert stats["right_hand"]["filled"] >= 1
    _flags_agree_with_cells(filled)


def test_hands_in_the_face_frame_need_a_face(extracted):
    kept, ledger, _ = _pre(extracted, holistic_hands="face_frame", max_gap_frames=0)
    hands = (kept["left_hand_present"] == 1) | (kept["right_hand_present"] == 1)
    assert (kept.loc[hands, "face_present"] == 1).all()
    placed = ledger[ledger["detail"].str.contains("no face in this frame to place it")]
    assert len(placed) >= 1  # the paper photo: a hand and no face
    # a hand near the face in the GIF: within a few eye distances of the eye midpoint
    gif = extracted["items"].loc["gif", "source_id"]
    wrist = kept.loc[(kept["source_id"] == gif) & hands,
                     ["left_wrist_x", "right_wrist_x"]].abs().min(axis=1)
    assert wrist.median() < 10


@pytest.mark.parametrize(("privacy", "velocities"), [("raw_mesh", True), ("blendshapes", False)])
def test_published_holistic_columns(extracted, privacy, velocities):
    kept, _, _ = _pre(extracted, privacy=privacy, velocities=velocities)
    assert list(kept.columns) == schema.published_columns(schema.HOLISTIC, privacy, velocities)
    if velocities:
        clip = kept[kept["source_id"] == extracted["items"].loc["clip", "source_id"]]
        assert clip["v_f001_x"].notna().sum() >= 470  # the face moves along all 472 frames


# --- validate, and the whole pipeline on bad inputs ---------------------------------------------

def test_validate_checks_that_presence_flags_agree_with_the_cells(extracted):
    from landmark_datasets.core.params import PreprocessParams, ValidateParams
    from landmark_datasets.validate.validate import failures, validate

    kept, _, _ = _pre(extracted)
    labels = {schema.HOLISTIC: sorted(kept["label"].unique())}
    pre, checks = PreprocessParams(scheme="wrist_palm"), ValidateParams({schema.HOLISTIC: 1})
    ok = validate({schema.HOLISTIC: kept}, labels, pre, checks)
    assert failures(ok) == []
    assert set(ok["results"][schema.HOLISTIC]) == {"wide", "presence", "left_hand",
                                                   "right_hand", "face", "blendshapes"}
    bad = kept.copy()
    no_face = bad.index[bad["face_present"] == 0]
    lone = bad.index[(bad["left_hand_present"] == 1)][0]
    bad.loc[lone, "face_present"] = 1  # claims a face it does not have
    bad.loc[bad.index[0], "left_wrist_x"] = 0.5  # a value in an absent part
    lines = failures(validate({schema.HOLISTIC: bad}, labels, pre, checks))
    assert len(no_face) >= 1
    assert any(line.startswith("holistic/presence column agrees: column_values_to_be_in_set")
               and ": 2 unexpected" in line for line in lines), lines


def test_the_bad_input_corpus_under_holistic_builds(testdata, tmp_path, monkeypatch):
    """tests/bad_corpus.py placed under holistic/: the build finishes and every file is in the
    holistic table or in the ledger with its reason."""
    from landmark_datasets.core import storage
    from tests import bad_corpus
    from tests.shapes import build

    monkeypatch.setenv("LANDMARK_CACHE_DIR", str(tmp_path / "cache"))
    raw = tmp_path / "raw"
    expected = bad_corpus.make(raw, sorted((testdata / "hands/paper").glob("*.jpg"))[0])
    (raw / "hands").rename(raw / "holistic")
    expected = {k.replace("hands/", "holistic/", 1): v for k, v in expected.items()}
    result = build(raw, tmp_path / "work")
    assert result.error is None, result.error
    interim = tmp_path / "work/data/interim"
    items = storage.read_table(interim / "ingest/items.csv")
    ingest_ledger = storage.read_table(interim / "ingest/ledger.csv")
    extract_ledger = storage.read_table(interim / "extract/ledger.csv")
    assert set(items["modality"]) == {schema.HOLISTIC}
    ledgered = dict(zip(ingest_ledger["path"], ingest_ledger["reason"], strict=True))
    no_detection = set(extract_ledger.loc[extract_ledger["reason"] == "no_detection", "path"])
    assert bad_corpus.mismatches(expected, set(items["path"]), ledgered, no_detection) == {}
    published = pd.concat([storage.read_table(tmp_path / f"work/data/dataset/holistic/{s}.csv")
                           for s in ("train", "test")])
    ledger = storage.read_table(tmp_path / "work/data/dataset/ledger.csv")
    frames = storage.read_table(interim / "ingest/frames.parquet")
    seen = set(zip(published["source_id"], published["frame"], strict=True)) | {
        (s, int(f)) for s, f in zip(ledger["source_id"], ledger["frame"], strict=True)
        if pd.notna(f)}
    assert set(zip(frames["source_id"], frames["frame"], strict=True)) <= seen
    # the frames the same corpus gives as hands (test_pipeline: ok 35, odd names 3, weird 1)
    assert published.groupby("label").size().to_dict() == {
        "ok": 35, "odd names": 3, "'=weird? label!": 1}


# --- evaluate: rows and sequences ---------------------------------------------------------------

def test_sequences_are_the_labelled_videos_summarized_per_feature(extracted):
    from landmark_datasets.evaluate import evaluate

    kept, _, _ = _pre(extracted)
    cols = evaluate.feature_columns(kept, schema.HOLISTIC)
    seqs, x = evaluate.sequences(kept, cols)
    # the clip (a face in all 472 frames) and the GIF (43); the two photos are not sequences
    assert sorted(seqs["frames"]) == [43, 472]
    assert sorted(seqs["label"]) == ["clip", "gif"]
    assert x.shape == (2, 4 * len(cols))
    stats = pd.DataFrame(x, columns=pd.MultiIndex.from_product([cols, evaluate.SEQUENCE_STATS]))
    clip = stats.iloc[list(seqs["label"]).index("clip")]
    assert clip[("face_present", "mean")] == 1.0
    rows = kept[kept["label"] == "clip"]
    hand = rows["right_hand_present"].mean() + rows["left_hand_present"].mean()
    assert 120 / 472 < hand < 172 / 472 + 1e-9  # 172 frames with a hand, less the out-of-frame
    assert clip[("right_wrist_x", "max")] == pytest.approx(np.nanmax(rows["right_wrist_x"]))
    assert clip[("face_present", "std")] == 0.0


def test_the_sequence_baseline_tells_the_clip_from_the_gif(extracted):
    """Chunks of the clip and of the GIF as labelled sequences, one group each."""
    from landmark_datasets.core.params import EvaluateParams
    from landmark_datasets.evaluate import evaluate

    kept, _, _ = _pre(extracted)
    chunks = []
    for label, n in (("clip", 8), ("gif", 4)):
        rows = kept[kept["label"] == label].sort_values("frame")
        for i, idx in enumerate(np.array_split(np.arange(len(rows)), n)):
            chunks.append(rows.iloc[idx].assign(group=f"{label}-{i}"))
    train = pd.concat(chunks[0:4] + chunks[8:10], ignore_index=True)
    test = pd.concat(chunks[4:8] + chunks[10:12], ignore_index=True)
    m = evaluate.evaluate_sequences(train, test, schema.HOLISTIC, EvaluateParams()).metrics
    assert (m["sequences_train"], m["sequences_test"]) == (6, 6)
    assert m["extra_trees"]["cv"]["folds"] == 2  # the GIF has two groups in train
    assert m["extra_trees"]["test"]["accuracy"] == 1.0
    assert m["lda"]["test"]["recall"] == {"clip": 1.0, "gif": 1.0}
    photos = kept[kept["label"].isin(["hand_photo", "face_photo"])]
    none = evaluate.evaluate_sequences(photos, photos.iloc[:0], schema.HOLISTIC,
                                       EvaluateParams()).metrics
    assert none["sequences_train"] == 0
    assert none["skipped"] == "no sequences in train"
