"""Folders as people hand them over: subject folders, a dataset that grows, labels spelt twice.

Whole builds (every stage, in-process) over folders made from the real photos of
``../shared/testdata``: the LFW faces are named by person, so ``faces/<label>/<person>/`` is a
real subject layout, with people under several labels.
"""

from __future__ import annotations

import random
import re
import shutil
import unicodedata

import pandas as pd
import pytest

from landmark_datasets.core import storage
from tests.shapes import build

SPLITS = ("train", "test")


def _person(photo) -> str:
    return re.sub(r"_\d+$", "", photo.stem)


def _subject_folders(testdata, raw, labels=("anger", "happiness", "sadness"), per_label=20):
    """``faces/<label>/<person>/<photo>`` for the first photos of each label; {file: person}."""
    people = {}
    for label in labels:
        for photo in sorted((testdata / "faces" / label).glob("*.jpg"))[:per_label]:
            dest = raw / "faces" / label / _person(photo) / photo.name
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(photo, dest)
            people[dest.relative_to(raw).as_posix()] = _person(photo)
    return people


def _sides(work, modality="faces") -> pd.DataFrame:
    """The published rows of ``modality`` with their split, and the path of their file."""
    items = storage.read_table(work / "data/interim/ingest/items.csv")
    parts = [storage.read_table(work / f"data/dataset/{modality}/{s}.parquet").assign(split=s)
             for s in SPLITS]
    rows = pd.concat(parts, ignore_index=True)
    return rows.merge(items[["source_id", "path"]].drop_duplicates(), on="source_id")


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    mp = pytest.MonkeyPatch()
    mp.setenv("LANDMARK_CACHE_DIR", str(tmp_path_factory.mktemp("cache")))
    yield
    mp.undo()


def test_subject_folders_are_groups_and_never_cross_the_split(testdata, tmp_path, cache):
    raw = tmp_path / "raw"
    people = _subject_folders(testdata, raw)
    result = build(raw, tmp_path / "work")
    assert result.error is None
    rows = _sides(tmp_path / "work")
    rows["person"] = rows["path"].map(people)
    # 60 photos of 55 people; Teri_Files_0001 (happiness) has no face to detect
    assert len(rows) == 59
    assert rows["person"].nunique() == 54
    # a person is one group, on one side, under every label: Colin Powell is under anger twice
    # and under happiness too
    assert (rows.groupby("person")["group"].nunique() == 1).all()
    assert (rows.groupby("person")["split"].nunique() == 1).all()
    assert rows.loc[rows["person"] == "Colin_Powell", "label"].nunique() == 2
    # the salted hashes of the 54 people's group ids: 10 below 0.25
    assert rows.groupby("split")["person"].nunique().to_dict() == {"test": 10, "train": 44}
    items = storage.read_table(tmp_path / "work/data/interim/ingest/items.csv")
    assert set(items["group_from"]) == {"folder"}
    report = (tmp_path / "work/reports/quality.md").read_text()
    assert "| faces | anger | 16 | folder 16 |" in report


def test_folder_groups_can_be_turned_off(testdata, tmp_path, cache):
    raw = tmp_path / "raw"
    _subject_folders(testdata, raw, labels=("anger", "happiness"), per_label=6)
    result = build(raw, tmp_path / "work", {"ingest.folder_groups": False})
    assert result.error is None
    rows = _sides(tmp_path / "work")
    assert (rows["group"] == rows["source_id"]).all()
    items = storage.read_table(tmp_path / "work/data/interim/ingest/items.csv")
    assert set(items["group_from"]) == {"file"}


@pytest.mark.parametrize("seed", [0, 1])
def test_growing_and_shrinking_moves_no_surviving_row(testdata, tmp_path, cache, seed):
    """v1: random hand photos in random subject folders; v2 adds photos, a subject and a label
    and removes some; v3 shrinks v2. Every row in two versions keeps its side."""
    rng = random.Random(seed)
    pool = {lab: rng.sample(sorted((testdata / "hands" / lab).glob("*.jpg")), 10)
            for lab in ("paper", "scissors", "rock")}  # each photo used in one place only

    def place(lab, photos, subjects):
        return {f"hands/{lab}/s{rng.randrange(subjects)}/{p.name}": p for p in photos}

    versions, kept = [], {}
    for v in range(3):
        raw = tmp_path / f"raw{v}"
        if v == 0:
            files = (place("paper", pool["paper"][:6], 4)
                     | place("scissors", pool["scissors"][:6], 4))
        elif v == 1:
            files = dict(rng.sample(sorted(kept.items()), len(kept) - 2))
            for lab in pool:
                files |= place(lab, pool[lab][6:], 6)
        else:
            files = dict(rng.sample(sorted(kept.items()), len(kept) // 2))
        kept = files
        for rel, src in files.items():
            (raw / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(src, raw / rel)
        result = build(raw, tmp_path / f"work{v}")
        assert result.error is None, result.error
        versions.append(_sides(tmp_path / f"work{v}", "hands"))
    key = ["source_id", "frame", "instance"]
    for a, b in ((0, 1), (1, 2), (0, 2)):
        both = versions[a].merge(versions[b], on=key, suffixes=("_a", "_b"))
        assert len(both) > 0
        moved = both[both["split_a"] != both["split_b"]]
        assert moved.empty, moved[key + ["path_a", "split_a", "split_b"]]


def test_labels_spelt_two_ways(testdata, tmp_path, cache):
    """NFD and NFC folder names are one label; Rock and rock are two, with a warning."""
    raw = tmp_path / "raw"
    photos = iter(sorted((testdata / "hands/paper").glob("*.jpg")))
    folders = {unicodedata.normalize("NFD", "Paumé"): 2, "Paumé": 2, "Rock": 2, "rock": 3}
    for folder, n in folders.items():
        (raw / "hands" / folder).mkdir(parents=True)
        for _ in range(n):
            photo = next(photos)
            shutil.copyfile(photo, raw / "hands" / folder / photo.name)
    (raw / "stray.jpg").write_bytes(next(photos).read_bytes())  # not under a label folder
    assert len({p.name for p in (raw / "hands").iterdir()}) == 4  # two folders spell Paumé

    result = build(raw, tmp_path / "apart")
    assert result.error is None
    rows = _sides(tmp_path / "apart", "hands")
    assert rows["label"].value_counts().to_dict() == {"Paumé": 4, "rock": 3, "Rock": 2}
    report = (tmp_path / "apart/reports/quality.md").read_text()
    assert ("**Warning**: labels `Rock`, `rock` differ only in case, spacing or Unicode form "
            "and are separate classes") in report
    ledger = storage.read_table(tmp_path / "apart/data/dataset/ledger.csv")
    stray = ledger[ledger["reason"] == "unlabelled"]
    assert len(stray) == 1
    assert len(stray["source_id"].iloc[0]) == 16

    result = build(raw, tmp_path / "folded", {"ingest.fold_labels": True})
    assert result.error is None
    rows = _sides(tmp_path / "folded", "hands")
    assert rows["label"].value_counts().to_dict() == {"Paumé": 4, "rock": 5}
    assert "ingest.fold_labels is on" in (tmp_path / "folded/reports/quality.md").read_text()
