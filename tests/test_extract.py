"""Extraction on real media, against the facts measured in ../shared/testdata/README.md."""

import numpy as np
import pandas as pd
import pytest
from conftest import run_extract

from landmark_datasets.core import schema
from landmark_datasets.core import storage as stage_io
from landmark_datasets.core.params import ExtractParams, IngestParams
from landmark_datasets.ingest import ingest, layout

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


def test_image_mode_is_deterministic_and_positions_stable(testdata, tmp_path):
    IngestParams(raw_dir=str(testdata))
    image = "hands/paper/" + sorted(p.name for p in (testdata / "hands/paper").glob("*.jpg"))[0]
    items = pd.DataFrame([{"item": 0, "source_id": "s", "path": image, "modality": "hands",
                           "label": "paper", "group": "s", "media": "image", "width": 1,
                           "height": 1}])
    frames = pd.DataFrame({"item": [0], "source_id": ["s"], "frame": [0], "timestamp_ms": [0]})
    items["sha256"] = stage_io.sha256_file(testdata / image)
    runs = [run_extract(items, frames, ExtractParams(), testdata, tmp_path / str(i))[0]["hands"]
            for i in range(2)]
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
    raw, entries, _ = layout.discover(params)
    items, frames, _ = ingest.build_inventory(raw, entries, params)
    tables, ledger, _ = run_extract(items, frames, ExtractParams(), raw, tmp_path / "out")
    hands = tables["hands"]
    assert len(frames) == 43
    assert hands[["source_id", "frame"]].drop_duplicates().shape[0] + len(ledger) == 43
    assert hands["frame"].nunique() == 43  # README: 43/43 frames with a hand
    assert hands["timestamp_ms"].is_monotonic_increasing


def test_handedness_is_for_the_image_as_given(testdata):
    """Mirroring an image flips MediaPipe's handedness label: it is not a selfie convention."""
    import cv2
    import mediapipe as mp

    from landmark_datasets.extract import models
    from landmark_datasets.ingest import media

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


def _mixed_raw(testdata, root):
    """A few images of each kind plus the GIF: a small raw folder with images and a video."""
    import shutil

    for folder, n in {"hands/rock": 4, "hands/no_hand": 1, "faces/surprise": 3}.items():
        (root / folder).mkdir(parents=True)
        for f in sorted((testdata / folder).iterdir())[:n]:
            shutil.copy(f, root / folder / f.name)
    (root / "hands/thumbs").mkdir()
    shutil.copy(testdata / "videos/fingerpose_fingers.gif", root / "hands/thumbs/clip.gif")
    return root


def _inventory(raw, video_fps=None):
    params = IngestParams(raw_dir=str(raw), video_fps=video_fps)
    raw, entries, _ = layout.discover(params)
    items, frames, _ = ingest.build_inventory(raw, entries, params)
    return items, frames


OUTPUTS = ("hands.parquet", "faces.parquet", "ledger.csv")


def test_workers_and_dask_give_identical_bytes(testdata, tmp_path):
    raw = _mixed_raw(testdata, tmp_path / "raw")
    items, frames = _inventory(raw)
    dask_params = ExtractParams(executor="dask")
    runs = {
        "1 worker": run_extract(items, frames, ExtractParams(), raw, tmp_path / "w1", workers=1),
        "2 workers": run_extract(items, frames, ExtractParams(chunk_size=2), raw, tmp_path / "w2",
                                 workers=2),
        "dask": run_extract(items, frames, dask_params, raw, tmp_path / "dask", workers=2),
    }
    # 3 rock photos (182.jpg has no hand) + the GIF's 43 frames, 8 of them with a second hand.
    assert {name: len(r[0]["hands"]) for name, r in runs.items()} == dict.fromkeys(runs, 54)
    assert len(runs["1 worker"][0]["faces"]) == 3
    reference = {f: (tmp_path / "w1" / f).read_bytes() for f in OUTPUTS}
    for out in ("w2", "dask"):
        assert {f: (tmp_path / out / f).read_bytes() for f in OUTPUTS} == reference


@pytest.fixture
def counted_tasks(monkeypatch):
    """Count the files actually extracted (runs inline: workers=1)."""
    from landmark_datasets.extract import landmarks

    calls = []
    real = landmarks.run_task

    def counting(task, marks):
        calls.append(task.path)
        return real(task, marks)

    monkeypatch.setattr(landmarks, "run_task", counting)
    return calls


def test_cached_files_are_not_extracted_again_even_renamed_or_relabelled(
        testdata, tmp_path, counted_tasks):
    from landmark_datasets.core.cache import Cache

    cache = Cache(tmp_path / "cache")
    raw = _mixed_raw(testdata, tmp_path / "raw")
    items, frames = _inventory(raw, video_fps=5)
    first, _, summary = run_extract(items, frames, ExtractParams(), raw, tmp_path / "a", cache)
    assert (summary.cached, len(counted_tasks)) == (0, 9)

    # Rename every file and move the rock photos to another label: nothing is extracted.
    (raw / "hands/rock").rename(raw / "hands/fist")
    for f in sorted(raw.rglob("*.*")):
        f.rename(f.with_name("renamed_" + f.name))
    items2, frames2 = _inventory(raw, video_fps=5)
    again, _, summary = run_extract(items2, frames2, ExtractParams(), raw, tmp_path / "b", cache)
    assert (summary.cached, len(counted_tasks)) == (9, 9)
    assert set(again["hands"]["label"]) == {"fist", "thumbs"}
    cols = list(schema.HAND_LANDMARK_COLUMNS)
    key = ["source_id", "frame", "instance"]
    def landmarks_of(table):
        return table.sort_values(key)[key + cols].reset_index(drop=True)

    pd.testing.assert_frame_equal(landmarks_of(first["hands"]), landmarks_of(again["hands"]))

    # One more file: only it is extracted.
    import shutil

    shutil.copy(sorted((testdata / "hands/paper").iterdir())[0], raw / "hands/fist/new.jpg")
    items3, frames3 = _inventory(raw, video_fps=5)
    _, _, summary = run_extract(items3, frames3, ExtractParams(), raw, tmp_path / "c", cache)
    assert (summary.items, summary.cached, len(counted_tasks)) == (10, 9, 10)
    assert counted_tasks[-1].endswith("new.jpg")


def test_extract_params_models_code_and_frames_invalidate_the_cache(testdata, tmp_path,
                                                                    counted_tasks, monkeypatch):
    from landmark_datasets.core.cache import Cache
    from landmark_datasets.extract import extract, landmarks

    cache = Cache(tmp_path / "cache")
    raw = _mixed_raw(testdata, tmp_path / "raw")
    items, frames = _inventory(raw, video_fps=5)
    run_extract(items, frames, ExtractParams(), raw, tmp_path / "a", cache)
    assert len(counted_tasks) == 9

    # A hand option: the 6 hand items (4 rock, 1 no_hand, the GIF) again, not the 3 faces.
    changed = ExtractParams()
    changed.hands.min_hand_detection_confidence = 0.6
    run_extract(items, frames, changed, raw, tmp_path / "b", cache)
    assert len(counted_tasks) == 15
    # The GIF sampled at another rate: its frames change, so it alone runs again.
    items2, frames2 = _inventory(raw, video_fps=2)
    run_extract(items2, frames2, ExtractParams(), raw, tmp_path / "c", cache)
    assert len(counted_tasks) == 16
    assert counted_tasks[-1].endswith("clip.gif")
    # How it runs (workers, chunk size) is not part of the key.
    run_extract(items, frames, ExtractParams(chunk_size=3), raw, tmp_path / "d", cache)
    assert len(counted_tasks) == 16
    # A reduced decode that no photo here is large enough for changes no key.
    run_extract(items, frames, ExtractParams(decode_min_side=0), raw, tmp_path / "d2", cache)
    assert len(counted_tasks) == 16

    # Another model file or another version of the per-file code: everything misses.
    context = extract.key_context(ExtractParams())
    other_model = ExtractParams()
    other_model.hands.model_asset_path = "models/face_landmarker.task"
    assert extract.key_context(other_model)["hands"]["model_sha256"] != \
        context["hands"]["model_sha256"]
    assert extract.key_context(other_model)["faces"] == context["faces"]
    monkeypatch.setattr(landmarks, "code_digest", lambda: "edited")
    run_extract(items, frames, ExtractParams(), raw, tmp_path / "e", cache)
    assert len(counted_tasks) == 25


def test_a_file_changed_after_ingest_is_refused(testdata, tmp_path):
    from landmark_datasets.extract.landmarks import ChangedFileError

    raw = _mixed_raw(testdata, tmp_path / "raw")
    items, frames = _inventory(raw)
    victim = raw / items.loc[0, "path"]
    victim.write_bytes(victim.read_bytes() + b"\0")
    with pytest.raises(ChangedFileError, match="changed since ingest"):
        run_extract(items, frames, ExtractParams(), raw, tmp_path / "out")
    assert not (tmp_path / "out" / "hands.parquet").exists()
    assert not list((tmp_path / "out").glob(".tmp-*"))


@pytest.mark.parametrize(("affinity", "files", "expected"), [
    ({0, 1, 2, 3}, {}, 4),  # no cgroup limit: the affinity mask
    ({0}, {}, 1),  # taskset -c 0
    ({0, 1, 2, 3}, {"cpu.max": "max 100000"}, 4),  # v2, no quota
    ({0, 1, 2, 3}, {"cpu.max": "200000 100000"}, 2),  # v2: a container given 2 CPUs
    ({0, 1, 2, 3}, {"cpu.max": "150000 100000"}, 1),  # 1.5 CPUs: rounded down
    ({0, 1, 2, 3}, {"cpu.max": "50000 100000"}, 1),  # half a CPU: still one worker
    ({0, 1}, {"cpu.max": "800000 100000"}, 2),  # the tighter of the two
    ({0, 1, 2, 3}, {"job/cpu.max": "300000 100000", "cpu.max": "max 100000"}, 3),  # nested
    ({0, 1, 2, 3}, {"job/cpu.max": "max 100000", "cpu.max": "100000 100000"}, 1),  # a parent's
])
def test_zero_workers_means_the_cpus_this_process_may_use(tmp_path, monkeypatch, affinity,
                                                          files, expected):
    from landmark_datasets.core import cpus

    for rel, text in files.items():
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text(text + "\n")
    proc = tmp_path / "proc_cgroup"
    proc.write_text("0::/job\n" if any(r.startswith("job/") for r in files) else "0::/\n")
    monkeypatch.setattr(cpus.os, "sched_getaffinity", lambda pid: affinity)
    assert cpus.available_cpus(tmp_path, proc) == expected


def test_cgroup_v1_quota(tmp_path):
    from landmark_datasets.core import cpus

    tree = tmp_path / "cpu,cpuacct"
    tree.mkdir()
    (tree / "cpu.cfs_quota_us").write_text("300000\n")
    (tree / "cpu.cfs_period_us").write_text("100000\n")
    proc = tmp_path / "proc_cgroup"
    proc.write_text("4:memory:/\n2:cpu,cpuacct:/\n")
    assert cpus.cgroup_cpu_quota(tmp_path, proc) == 3.0
    (tree / "cpu.cfs_quota_us").write_text("-1\n")
    assert cpus.cgroup_cpu_quota(tmp_path, proc) is None
    assert cpus.cgroup_cpu_quota(tmp_path, tmp_path / "absent") is None


def test_costliest_chunks_go_first_within_a_horizon_and_come_back_in_order():
    from landmark_datasets.extract.executors import in_order, longest_first

    # photos (1 frame each) and two videos; one block of 20 frames, then the rest
    costs = [1, 1, 30, 1, 1, 50, 1, 1]
    assert longest_first(costs, horizon=1000) == [5, 2, 0, 1, 3, 4, 6, 7]
    assert longest_first(costs, horizon=20) == [2, 0, 1, 5, 3, 4, 6, 7]
    assert longest_first([1] * 5, horizon=2) == [0, 1, 2, 3, 4]  # equal tasks keep their order
    assert longest_first([], horizon=10) == []
    order = longest_first(costs, horizon=1000)
    ran = iter([[f"r{i}"] for i in order])  # what an executor yields: submission order
    assert [r for chunk in in_order(ran, order) for r in chunk] == [f"r{i}" for i in range(8)]


def test_a_phone_sized_photo_decoded_reduced_keeps_its_landmarks(testdata, tmp_path,
                                                                  counted_tasks):
    """A 4000x3000 JPEG with ``decode_min_side: 720`` is decoded at 1/4 (1000x750): another
    cache key, so it is extracted again, and the same hand with landmarks within 1% of the
    image of the full decode's."""
    import cv2

    from landmark_datasets.core.cache import Cache

    src = sorted((testdata / "hands/paper").glob("*.jpg"))[0]
    img = cv2.imread(str(src))
    raw = tmp_path / "raw"
    (raw / "hands/paper").mkdir(parents=True)
    cv2.imwrite(str(raw / "hands/paper/big.jpg"), cv2.resize(img, (4000, 3000),
                interpolation=cv2.INTER_CUBIC), [cv2.IMWRITE_JPEG_QUALITY, 92])
    items, frames = _inventory(raw, video_fps=5)
    assert (items["width"].iloc[0], items["height"].iloc[0]) == (4000, 3000)
    cache = Cache(tmp_path / "cache")
    full = run_extract(items, frames, ExtractParams(decode_min_side=0), raw, tmp_path / "a",
                       cache)[0]["hands"]
    reduced = run_extract(items, frames, ExtractParams(decode_min_side=720), raw,
                          tmp_path / "b", cache)[0]["hands"]
    assert len(counted_tasks) == 2
    assert len(full) == len(reduced) >= 1
    cols = list(schema.HAND_LANDMARK_COLUMNS)
    shift = np.abs(full[cols].to_numpy() - reduced[cols].to_numpy())
    assert 0 < shift.max() < 0.01
    assert (full["image_width"].iloc[0], reduced["image_width"].iloc[0]) == (4000, 4000)
