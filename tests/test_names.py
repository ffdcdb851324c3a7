"""Every file name is data: names that are not UTF-8, or hold newlines, tabs, commas, quotes,
backslashes or formula signs, are listed, extracted and published like any other file."""

from __future__ import annotations

import os
import shutil

import pandas as pd
from hypothesis import given
from hypothesis import strategies as st

from landmark_datasets.ingest import listing

#: File names as bytes, one of each kind a camera, a zip or a careless script makes.
NAMES = (
    b"caf\xe9.jpg",              # latin-1 from an old camera: not UTF-8
    b"\x93quoted\x94.jpg",       # cp1252 curly quotes
    "café.jpg".encode(),         # UTF-8, for contrast
    b"line\nbreak.jpg",
    b"tab\there.jpg",
    b"comma, and \"quotes\".jpg",
    b"back\\slash.jpg",
    b"=HYPERLINK(1).jpg",
    b"lit\\xe9ral.jpg",          # the escape's own spelling, as a real name
)


@given(st.lists(st.binary(min_size=1, max_size=12).filter(
    lambda b: b"/" not in b and b"\0" not in b), min_size=1, max_size=3))
def test_escape_is_exact_for_any_name_bytes(parts):
    name = "/".join(os.fsdecode(p) for p in parts)
    text = listing.escape(name)
    text.encode("utf-8")  # always representable in a CSV or Parquet file
    assert listing.unescape(text) == name
    assert (text == name) == (b"\\" not in b"".join(parts) and all(
        _utf8(p) for p in parts))


def _utf8(b: bytes) -> bool:
    try:
        b.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def test_a_folder_of_odd_names_builds_and_publishes_every_file(testdata, tmp_path):
    from tests.shapes import build

    photos = sorted((testdata / "hands" / "paper").iterdir())[:len(NAMES)]
    raw = tmp_path / "raw"
    folder = os.fsencode(raw / "hands" / "paper")
    os.makedirs(folder)
    for name, photo in zip(NAMES, photos, strict=True):
        shutil.copyfile(photo, os.path.join(folder, name))
    result = build(raw, tmp_path / "work")
    assert result.error is None
    work = tmp_path / "work"
    items = pd.read_csv(work / "data/interim/ingest/items.csv", keep_default_na=False)
    assert len(items) == len(NAMES)
    on_disk = {os.fsencode(listing.locate(raw, p)) for p in items["path"]}
    assert on_disk == {os.path.join(folder, n) for n in NAMES}
    assert "hands/paper/caf\\xe9.jpg" in set(items["path"])
    assert "hands/paper/lit\\\\xe9ral.jpg" in set(items["path"])
    published = pd.concat([pd.read_parquet(work / f"data/dataset/hands/{s}.parquet")
                           for s in ("train", "test")])
    assert published["source_id"].nunique() == len(NAMES)  # all 30 paper photos have a hand
    assert set(published["source_id"]) == set(items["source_id"])
    text = b"".join(p.read_bytes() for p in (work / "data/dataset").rglob("*") if p.is_file())
    for name in NAMES:
        stem = name.rsplit(b".", 1)[0]
        assert stem not in text  # no name reaches the published files
