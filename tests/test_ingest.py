import shutil

import pytest

from landmark_datasets.core import cli as stage_io
from landmark_datasets.core.params import IngestParams
from landmark_datasets.core.schema import Reason
from landmark_datasets.ingest import ingest, layout, probe
from landmark_datasets.ingest.layout import ManifestError


def test_walk_testdata_labels_and_strays(testdata):
    entries, strays = layout.walk_folders(testdata)
    by_label = {}
    for e in entries:
        by_label[(e.modality, e.label)] = by_label.get((e.modality, e.label), 0) + 1
    assert by_label[("hands", "rock")] == 30
    assert by_label[("hands", "no_hand")] == 15
    assert by_label[("faces", "surprise")] == 20
    assert len(entries) == 235
    # README, TSVs and the videos/ folder are not under <modality>/<label>/: ledgered, not lost
    stray_paths = {s["path"] for s in strays}
    assert {"README.md", "DETECTIONS.tsv", "SOURCES.tsv"} <= stray_paths
    assert all(s["reason"] == Reason.UNLABELLED.value for s in strays)
    assert len(strays) == 3 + 6


def _tree(tmp_path, testdata):
    src = sorted((testdata / "hands/paper").glob("*.jpg"))
    for rel, s in [("hands/paper/a.jpg", src[0]), ("hands/paper/b.jpg", src[1]),
                   ("hands/paper/copy of a.jpg", src[0]), ("hands/rock/c.jpg", src[2]),
                   ("hands/scissors/c again.jpg", src[2])]:
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(s, tmp_path / rel)
    (tmp_path / "hands/rock/broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 truncated")
    (tmp_path / "hands/rock/notes.txt").write_text("x")
    return tmp_path


def test_inventory_duplicates_conflicts_and_bad_files(tmp_path, testdata):
    raw = _tree(tmp_path, testdata)
    params = IngestParams(raw_dir=str(raw))
    _, entries, strays = layout.discover(params)
    items, frames, ledger = ingest.build_inventory(raw, entries, params)
    reasons = {r["path"]: r["reason"] for r in ledger}
    assert reasons == {
        "hands/paper/copy of a.jpg": "duplicate",
        "hands/rock/c.jpg": "label_conflict",
        "hands/scissors/c again.jpg": "label_conflict",
        "hands/rock/broken.jpg": "truncated",
        "hands/rock/notes.txt": "unsupported_extension",
    }
    assert sorted(items["path"]) == ["hands/paper/a.jpg", "hands/paper/b.jpg"]
    assert len(frames) == 2
    assert all(r["detail"] and "/" not in r["detail"] for r in ledger)  # no paths in details


def test_decode_checks_are_cached_by_content(tmp_path, testdata, monkeypatch):
    from landmark_datasets.core.cache import Cache
    from landmark_datasets.ingest import media

    raw = _tree(tmp_path / "raw", testdata)
    shutil.copy(testdata / "videos/fingerpose_fingers.gif", raw / "hands/paper/clip.gif")
    params = IngestParams(raw_dir=str(raw))
    cache = Cache(tmp_path / "cache")
    _, entries, _ = layout.discover(params)
    first = ingest.build_inventory(raw, entries, params, cache)
    # 7 media files, 5 distinct contents (a, b, c, broken, the GIF): the copies hit already.
    assert (cache.hits, cache.misses) == (2, 5)

    def no_decoding(*args):
        raise AssertionError("decoded a file whose check is cached")

    monkeypatch.setattr(media, "decode_image", no_decoding)
    monkeypatch.setattr(media, "probe_video", no_decoding)
    (raw / "hands/paper/clip.gif").rename(raw / "hands/paper/renamed.gif")
    _, entries, _ = layout.discover(params)
    again = ingest.build_inventory(raw, entries, params, cache)
    assert (cache.hits, cache.misses) == (2 + 7, 5)
    assert again[1]["frame"].tolist() == first[1]["frame"].tolist()  # the GIF's 43 frames too
    assert len(again[1]) == 2 + 43
    assert {r["path"]: r["reason"] for r in again[2]}["hands/rock/broken.jpg"] == "truncated"


def test_the_decode_check_cache_key_is_the_decoding_code_only():
    """Editing ingest (a message, the inventory) keeps every cached decode check; a new media
    module (how files are decoded) misses them all."""
    import hashlib
    from pathlib import Path

    from landmark_datasets.ingest import media

    assert hashlib.sha256(Path(media.__file__).read_bytes()).hexdigest() == probe.PROBE_CODE


def test_source_ids_are_salted(tmp_path, testdata):
    raw = _tree(tmp_path, testdata)
    ids = []
    for salt in ("one", "two"):
        params = IngestParams(raw_dir=str(raw), id_salt=salt)
        _, entries, _ = layout.discover(params)
        items, _, _ = ingest.build_inventory(raw, entries, params)
        ids.append(set(items["source_id"]))
    assert len(ids[0]) == 2
    assert not ids[0] & ids[1]


def _manifest(tmp_path, text):
    (tmp_path / "clip.gif").write_bytes(b"")
    (tmp_path / "manifest.csv").write_text(text)
    return IngestParams(raw_dir=str(tmp_path))


@pytest.mark.parametrize(("row", "message"), [
    ("../outside.jpg,hands,rock,,,", r"manifest\.csv:2: path '\.\./outside\.jpg' is outside"),
    ("/etc/passwd,hands,rock,,,", r"manifest\.csv:2: path '/etc/passwd' is outside"),
    ("clip.gif,feet,rock,,,", r"manifest\.csv:2: modality 'feet' is not one of"),
    ("clip.gif,hands,  ,,,", r"manifest\.csv:2: empty label"),
    ("clip.gif,hands,rock,,3.0,1.0", r"manifest\.csv:2: time range \[3\.0, 1\.0\) is empty"),
    ("clip.gif,hands,rock,,abc,", r"manifest\.csv:2: start_s='abc' is not a number"),
])
def test_bad_manifest_rows_fail_before_extraction(tmp_path, row, message):
    params = _manifest(tmp_path, "path,modality,label,group,start_s,end_s\n" + row + "\n")
    with pytest.raises(ManifestError, match=message):
        layout.discover(params)


def test_manifest_columns_checked(tmp_path):
    params = _manifest(tmp_path, "path,label,colour\nclip.gif,rock,red\n")
    with pytest.raises(ManifestError, match=r"missing columns \['modality'\], unknown columns "
                       r"\['colour'\]"):
        layout.discover(params)


def test_manifest_time_ranges_label_video_frames(tmp_path, testdata):
    shutil.copy(testdata / "videos/fingerpose_fingers.gif", tmp_path / "clip.gif")
    (tmp_path / "manifest.csv").write_text(
        "path,modality,label,group,start_s,end_s\n"
        "clip.gif,hands,victory,take1,0.3,1.2\n"
        "clip.gif,hands,thumbs_up,take2,1.4,2.4\n")
    params = IngestParams(raw_dir=str(tmp_path), video_fps=None)
    raw, entries, _ = layout.discover(params)
    items, frames, ledger = ingest.build_inventory(raw, entries, params)
    assert ledger == []
    assert list(items["label"]) == ["victory", "thumbs_up"]
    assert items["source_id"].nunique() == 1  # one file, two labelled ranges
    assert items["group"].nunique() == 2
    assert all(g.startswith("g") for g in items["group"])
    assert "take1" not in set(items["group"])  # group names are pseudonymized
    per_item = frames.groupby("item")["frame"].agg(list).to_dict()
    assert per_item == {0: list(range(3, 12)), 1: list(range(14, 24))}


@pytest.mark.parametrize(("rows", "message"), [
    ("clip.gif,hands,victory,,5.0,6.0", r"manifest\.csv:2: time range \[5\.0, 6\.0\) is outside "
     r"the video \(clip\.gif, 4\.30 s long\)"),
    ("clip.gif,hands,victory,,3.0,4.0\nclip.gif,hands,victory,,4.0,9.0",
     r"1 manifest rows .*\n  .*manifest\.csv:3: time range \[4\.0, 9\.0\) is outside"),
    ("photo.jpg,hands,victory,,0.0,1.0", r"manifest\.csv:2: start_s/end_s given for an image"),
])
def test_manifest_time_ranges_outside_the_video_fail_before_extraction(tmp_path, testdata, rows,
                                                                       message):
    shutil.copy(testdata / "videos/fingerpose_fingers.gif", tmp_path / "clip.gif")  # 4.3 s
    shutil.copy(sorted((testdata / "hands/paper").glob("*.jpg"))[0], tmp_path / "photo.jpg")
    (tmp_path / "manifest.csv").write_text("path,modality,label,group,start_s,end_s\n" + rows
                                           + "\n")
    params = IngestParams(raw_dir=str(tmp_path), video_fps=None)
    raw, entries, _ = layout.discover(params)
    with pytest.raises(layout.ManifestError, match=message):
        ingest.build_inventory(raw, entries, params)


def test_stage_errors_name_the_row_without_a_traceback(capsys):
    def main():
        raise layout.ManifestError("manifest.csv:2: empty label")

    with pytest.raises(SystemExit) as exit_info:
        stage_io.run_stage(main)
    assert exit_info.value.code == 1
    assert capsys.readouterr().err == "test_ingest: error: manifest.csv:2: empty label\n"


def test_manifest_mode_ledgers_files_it_does_not_name(tmp_path, testdata):
    gif = testdata / "videos/fingerpose_fingers.gif"
    (tmp_path / "clips").mkdir()
    shutil.copy(gif, tmp_path / "clips/take.gif")
    (tmp_path / "clips/alias.gif").symlink_to("take.gif")  # named through a link
    shutil.copy(gif, tmp_path / "clips/forgotten.gif")
    (tmp_path / "clips/.take.gif.swp").write_bytes(b"x")
    (tmp_path / "manifest.csv").write_text("path,modality,label\n"
                                           "clips/./alias.gif,hands,victory\n")
    params = IngestParams(raw_dir=str(tmp_path))
    _, entries, strays = layout.discover(params)
    assert [e.path for e in entries] == ["clips/alias.gif"]
    assert [(r["path"], r["reason"]) for r in strays] == [
        ("clips/.take.gif.swp", Reason.HIDDEN), ("clips/forgotten.gif", Reason.UNLABELLED),
        ("clips/take.gif", Reason.UNLABELLED)]
    assert strays[1]["detail"] == ("not in the manifest; add a row for it or move it out of "
                                   "ingest.raw_dir")


@pytest.mark.parametrize(("files", "message"), [
    ({}, "no files there; lay your media out as <modality>/<label>/<file>"),
    ({"IMG_0001.jpg": b"x", "IMG_0002.jpg": b"x", ".DS_Store": b"x"},  # a flat phone dump
     "no labelled image or video (1 hidden, 2 unlabelled); lay your media out as"),
    ({"hands/rock/notes.txt": b"x", "hands/rock/README": b"x"},
     "no labelled image or video (2 labelled files with no image or video extension: .txt, "
     "no extension); lay your media out as"),
    ({"manifest.csv": b"path,modality,label\n", "a.jpg": b"x"},
     "no labelled image or video (1 unlabelled); lay your media out as"),
])
def test_a_folder_without_labelled_media_is_one_error_naming_what_is_there(tmp_path, files,
                                                                             message):
    for rel, data in files.items():
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_bytes(data)
    with pytest.raises(layout.NoMediaError) as err:
        layout.discover(IngestParams(raw_dir=str(tmp_path)))
    assert str(err.value).startswith(f"{tmp_path}: ")
    assert message in str(err.value)
    assert "\n" not in str(err.value)


def test_a_folder_whose_media_all_fail_is_not_an_error(tmp_path):
    (tmp_path / "hands/rock").mkdir(parents=True)
    (tmp_path / "hands/rock/empty.jpg").write_bytes(b"")
    raw, entries, strays = layout.discover(IngestParams(raw_dir=str(tmp_path)))
    items, _, ledger = ingest.build_inventory(raw, entries, IngestParams(raw_dir=str(tmp_path)))
    assert items.empty
    assert [(r["path"], r["reason"]) for r in ledger] == [("hands/rock/empty.jpg", "empty_file")]


def test_inventory_readers_give_typed_tables_and_refuse_another_version(tmp_path, testdata):
    from landmark_datasets import UserError
    from landmark_datasets.core import storage
    from landmark_datasets.ingest import inventory

    raw = _tree(tmp_path / "raw", testdata)
    params = IngestParams(raw_dir=str(raw))
    _, entries, _ = layout.discover(params)
    items, frames, _ = ingest.build_inventory(raw, entries, params)
    storage.write_csv(items, tmp_path / "items.csv")
    storage.write_parquet(frames, tmp_path / "frames.parquet")
    back = inventory.read_items(tmp_path / "items.csv")
    assert tuple(back.columns) == inventory.ITEM_COLUMNS
    assert back["label"].map(type).eq(str).all()  # text stays text
    assert back["bytes"].dtype == "int64"
    assert inventory.read_frames(tmp_path / "frames.parquet").equals(frames)
    storage.write_csv(items.drop(columns=["sha256"]), tmp_path / "old.csv")
    with pytest.raises(UserError, match=r"old\.csv: not what this version of ingest writes "
                                        r"\(columns .*; expected .*sha256.*\); run `dvc repro`"):
        inventory.read_items(tmp_path / "old.csv")
