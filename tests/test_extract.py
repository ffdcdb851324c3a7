"""Extraction on real media, against the facts measured in ../shared/testdata/README.md."""

import numpy as np
import pandas as pd
import pytest

from stages import extract, ingest, schema
from stages.params import ExtractParams, IngestParams

#: Landmark positions agree with the independent measurement to this (normalized units).
POSITION_TOLERANCE = 1e-3


def _frames_with_detection(result, modality):
    table = result["tables"][modality]
    items = result["items"]
    found = table.drop_duplicates(["source_id", "frame"]).merge(
        items[["source_id", "label"]].drop_duplicates(), on=["source_id", "label"])
    return found.groupby("label").size().to_dict()


def test_hands_found_per_label(testdata_extracted):
    assert _frames_with_detection(testdata_extracted, "hands") == {
        "rock": 26, "paper": 30, "scissors": 30, "none": 30}
    ledger = testdata_extracted["ledger"]
    misses = ledger[(ledger["modality"] == "hands") & (ledger["reason"] == "no_detection")]
    assert misses.groupby("label").size().to_dict() == {"no_hand": 15, "rock": 4}
    assert sorted(misses.loc[misses["label"] == "rock", "path"]) == [
        "hands/rock/182.jpg", "hands/rock/545.jpg", "hands/rock/687.jpg", "hands/rock/769.jpg"]


def test_faces_found(testdata_extracted):
    assert _frames_with_detection(testdata_extracted, "faces") == {
        "anger": 20, "happiness": 19, "neutral": 20, "sadness": 20, "surprise": 20}
    ledger = testdata_extracted["ledger"]
    assert list(ledger.loc[ledger["modality"] == "faces", "path"]) == [
        "faces/happiness/Teri_Files_0001.jpg"]


def test_every_frame_is_in_a_table_or_the_ledger(testdata_extracted):
    r = testdata_extracted
    offered = set(zip(r["frames"]["source_id"], r["frames"]["frame"], strict=True))
    seen = set()
    for t in r["tables"].values():
        seen |= set(zip(t["source_id"], t["frame"], strict=True))
    seen |= set(zip(r["ledger"]["source_id"], r["ledger"]["frame"], strict=True))
    assert offered == seen


def test_tables_follow_the_schema(testdata_extracted):
    for modality, table in testdata_extracted["tables"].items():
        assert list(table.columns) == schema.columns(modality)
        assert not table.isna().any().any()
    hands = testdata_extracted["tables"]["hands"]
    assert set(hands["handedness"]) <= {"Left", "Right"}
    faces = testdata_extracted["tables"]["faces"]
    assert faces[list(schema.BLENDSHAPE_COLUMNS)].to_numpy().max() <= 1.0


def test_handedness_and_blendshapes_match_independent_measurement(testdata_extracted,
                                                                   detections):
    r = testdata_extracted
    ids = r["items"][["source_id", "path"]]
    hands = r["tables"]["hands"].merge(ids, on="source_id").copy()
    hands["measured"] = hands["handedness"] + ":" + hands["handedness_score"].map("{:.2f}".format)
    ours = hands.groupby("path")["measured"].agg(";".join).to_dict()
    theirs = detections[(detections["folder"] == "hands") & (detections["hands"] > 0)]
    theirs = dict(zip(theirs["file"], theirs["handedness"], strict=True))
    agree = sum(ours.get(path) == value for path, value in theirs.items())
    assert agree == len(theirs) == 116

    faces = r["tables"]["faces"].merge(ids, on="source_id")
    smile = faces.groupby("label")[["bs_mouthSmileLeft", "bs_mouthSmileRight"]].mean().mean(axis=1)
    assert smile["happiness"] == pytest.approx(0.56, abs=0.05)
    assert (smile.drop("happiness") < 0.2).all()
    jaw = faces.groupby("label")["bs_jawOpen"].mean()
    brow = faces.groupby("label")["bs_browInnerUp"].mean()
    assert jaw.idxmax() == "surprise"
    assert brow.idxmax() == "surprise"


def test_image_mode_is_deterministic_and_positions_stable(testdata):
    params = IngestParams(raw_dir=str(testdata))
    image = "hands/paper/" + sorted(p.name for p in (testdata / "hands/paper").glob("*.jpg"))[0]
    items = pd.DataFrame([{"item": 0, "source_id": "s", "path": image, "modality": "hands",
                           "label": "paper", "group": "s", "media": "image", "width": 1,
                           "height": 1}])
    frames = pd.DataFrame({"item": [0], "source_id": ["s"], "frame": [0], "timestamp_ms": [0]})
    runs = [extract.extract(items, frames, ExtractParams(), testdata, params.max_image_pixels)[0]
            ["hands"] for _ in range(2)]
    a = runs[0][list(schema.HAND_LANDMARK_COLUMNS)].to_numpy()
    b = runs[1][list(schema.HAND_LANDMARK_COLUMNS)].to_numpy()
    assert np.array_equal(a, b)
    assert a.shape == (1, 63)
    assert np.all((a[0, 0::3] > -0.1) & (a[0, 0::3] < 1.1))


def test_video_mode_counts_frames_with_a_hand(testdata, tmp_path):
    import shutil

    shutil.copy(testdata / "videos/fingerpose_fingers.gif", tmp_path / "clip.gif")
    (tmp_path / "hands" / "thumbs").mkdir(parents=True)
    shutil.move(tmp_path / "clip.gif", tmp_path / "hands/thumbs/clip.gif")
    params = IngestParams(raw_dir=str(tmp_path), video_fps=None)
    raw, entries, _ = ingest.discover(params)
    items, frames, _ = ingest.build_inventory(raw, entries, params)
    tables, ledger = extract.extract(items, frames, ExtractParams(), raw, params.max_image_pixels)
    hands = tables["hands"]
    assert len(frames) == 43
    assert hands[["source_id", "frame"]].drop_duplicates().shape[0] + len(ledger) == 43
    assert hands["frame"].nunique() == 43  # README: 43/43 frames with a hand
    assert hands["timestamp_ms"].is_monotonic_increasing


def test_handedness_is_for_the_image_as_given(testdata):
    """Mirroring an image flips MediaPipe's handedness label: it is not a selfie convention."""
    import cv2
    import mediapipe as mp

    from stages import media, models

    paths = sorted((testdata / "hands/paper").glob("*.jpg"))[:8]
    flipped = 0
    with models.hand_landmarker(ExtractParams().hands, video=False) as marker:
        for path in paths:
            bgr = media.decode_image(path, 10**8)
            labels = []
            for img in (bgr, cv2.flip(bgr, 1)):
                with models.quiet_stderr():
                    res = marker.detect(mp.Image(image_format=mp.ImageFormat.SRGB,
                                                 data=media.to_rgb(img)))
                labels.append(res.handedness[0][0].category_name)
            flipped += labels[0] != labels[1]
    assert flipped == len(paths)


def test_one_and_two_workers_give_identical_tables(testdata, tmp_path):
    import shutil

    for folder, n in {"hands/rock": 4, "hands/no_hand": 1, "faces/surprise": 3}.items():
        (tmp_path / folder).mkdir(parents=True)
        for f in sorted((testdata / folder).iterdir())[:n]:
            shutil.copy(f, tmp_path / folder / f.name)
    (tmp_path / "hands/thumbs").mkdir()
    shutil.copy(testdata / "videos/fingerpose_fingers.gif", tmp_path / "hands/thumbs/clip.gif")
    params = IngestParams(raw_dir=str(tmp_path), video_fps=None)
    raw, entries, _ = ingest.discover(params)
    items, frames, _ = ingest.build_inventory(raw, entries, params)
    runs = [extract.extract(items, frames, ExtractParams(), raw, params.max_image_pixels, w)
            for w in (1, 2)]
    for modality in schema.MODALITIES:
        pd.testing.assert_frame_equal(runs[0][0][modality], runs[1][0][modality],
                                      check_exact=True)
        assert len(runs[0][0][modality]) > 0
    pd.testing.assert_frame_equal(runs[0][1], runs[1][1])
