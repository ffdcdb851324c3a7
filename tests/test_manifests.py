"""Manifests as spreadsheets and Windows write them: every dialect reads to the same entries.

The dialects are generated as a product: encoding (UTF-8, UTF-8 with BOM, Windows-1252,
UTF-16), line ends (LF, CRLF), separator (``,`` ``;`` tab), spaces around cells, folder
separator (``/``, ``\\``), header case and trailing empty rows; all 384 read to the entries of
the plain file. Repeated rows are ledgered at ingest with their line numbers; what cannot be
read is one line naming the file and the fix.
"""

from __future__ import annotations

import itertools
import shutil

import pytest

from landmark_datasets.core.params import IngestParams
from landmark_datasets.ingest import layout

#: (path, modality, label, group, start_s, end_s) of the manifest every dialect writes.
ROWS = [
    ("media/one.jpg", "hands", "café", "", "", ""),
    ("media/sub dir/two.jpg", "hands", "rock, paper", "Zoë", "", ""),
    ("media/clip.avi", "faces", "smile", "", "0.5", "1.5"),
]


def _raw(tmp_path):
    raw = tmp_path / "raw"
    for path, *_ in ROWS:
        (raw / path).parent.mkdir(parents=True, exist_ok=True)
        (raw / path).write_bytes(path.encode())  # distinct bytes; discover decodes nothing
    return raw


def _write(raw, encoding, newline, sep, spaces, backslash, upper, trailing):
    def cell(text):
        quoted = f'"{text}"' if sep in text or "," in text else text
        return f" {quoted} " if spaces else quoted

    header = ["path", "modality", "label", "group", "start_s", "end_s"]
    lines = [sep.join(cell(h.upper() if upper else h) for h in header)]
    for row in ROWS:
        path = row[0].replace("/", "\\") if backslash else row[0]
        lines.append(sep.join(cell(c) for c in (path, *row[1:])))
    lines += [sep * 5] * trailing
    text = newline.join(lines) + newline
    data = text.encode(encoding)
    (raw / "manifest.csv").write_bytes(data)


def test_every_dialect_reads_to_the_same_entries(tmp_path):
    raw = _raw(tmp_path)
    expected = [layout.Entry("media/clip.avi", "faces", "smile", None, 0.5, 1.5,
                             f"{raw}/manifest.csv:4"),
                layout.Entry("media/one.jpg", "hands", "café", None, None, None,
                             f"{raw}/manifest.csv:2"),
                layout.Entry("media/sub dir/two.jpg", "hands", "rock, paper", "Zoë", None, None,
                             f"{raw}/manifest.csv:3", "manifest")]
    dialects = itertools.product(["utf-8", "utf-8-sig", "cp1252", "utf-16"], ["\n", "\r\n"],
                                 [",", ";", "\t"], [False, True], [False, True], [False, True],
                                 [0, 2])
    n = 0
    for dialect in dialects:
        _write(raw, *dialect)
        _, entries, strays = layout.discover(IngestParams(raw_dir=str(raw)))
        assert sorted(entries, key=lambda e: e.path) == expected, dialect
        assert strays == [], dialect
        n += 1
    assert n == 384


def test_paths_are_relative_to_the_manifest_folder(tmp_path):
    raw = _raw(tmp_path)
    (raw / "media" / "labels.csv").write_text(
        "path,modality,label\none.jpg,hands,a\nsub dir\\two.jpg,hands,b\n"
        "../media/clip.avi,faces,c\n")
    _, entries, strays = layout.discover(IngestParams(raw_dir=str(raw),
                                                      manifest="media/labels.csv"))
    assert [(e.path, e.label) for e in entries] == [
        ("media/one.jpg", "a"), ("media/sub dir/two.jpg", "b"), ("media/clip.avi", "c")]
    assert strays == []


def test_a_file_named_with_a_backslash_is_that_file(tmp_path):
    raw = tmp_path / "raw"
    raw.mkdir()
    (raw / "a\\b.jpg").write_bytes(b"x")  # one file whose name holds a backslash
    (raw / "manifest.csv").write_text("path,modality,label\na\\b.jpg,hands,x\n")
    _, entries, strays = layout.discover(IngestParams(raw_dir=str(raw)))
    assert [e.path for e in entries] == ["a\\\\b.jpg"]  # the inventory's escaped text
    assert strays == []


def test_repeated_and_conflicting_rows_are_ledgered_with_their_lines(tmp_path):
    raw = _raw(tmp_path)
    (raw / "manifest.csv").write_text(
        "path,modality,label,start_s,end_s\n"
        "media/one.jpg,hands,café,,\n"          # 2: kept
        "media/one.jpg,hands,café,,\n"          # 3: the same row again
        "media/sub dir/two.jpg,hands,rock,,\n"  # 4, 5: one file, two labels
        "media/sub dir/two.jpg,hands,paper,,\n"
        "media/sub dir/two.jpg,faces,paper,,\n"  # 6: another modality: no conflict
        "media/clip.avi,faces,smile,0,2\n"      # 7
        "media/clip.avi,faces,smile,2,4\n"      # 8: disjoint: a second range
        "media/clip.avi,faces,smile,3,5\n"      # 9: overlaps 8, same label
        "media/clip.avi,faces,frown,4.5,6\n"    # 10: overlaps 9, another label
        "media/clip.avi,faces,frown,6,7\n")     # 11: clear of everything
    _, entries, strays = layout.discover(IngestParams(raw_dir=str(raw)))
    assert [(e.path, e.modality, e.label, e.start_s) for e in entries] == [
        ("media/one.jpg", "hands", "café", None),
        ("media/sub dir/two.jpg", "faces", "paper", None),
        ("media/clip.avi", "faces", "smile", 0.0), ("media/clip.avi", "faces", "smile", 2.0),
        ("media/clip.avi", "faces", "frown", 6.0)]
    assert [(r["path"], r["reason"], r["label"], r["detail"]) for r in strays] == [
        ("media/one.jpg", "duplicate", "café",
         "manifest line 3 lists it again (first at line 2); kept once"),
        ("media/sub dir/two.jpg", "label_conflict", "rock",
         "manifest line 4 labels it 'rock', line 5 'paper': keep one of these rows"),
        ("media/sub dir/two.jpg", "label_conflict", "paper",
         "manifest line 5 labels it 'paper', line 4 'rock': keep one of these rows"),
        ("media/clip.avi", "label_conflict", "smile",
         "manifest line 9 labels it 'smile', line 10 'frown' over the same time: keep one of "
         "these rows"),
        ("media/clip.avi", "label_conflict", "frown",
         "manifest line 10 labels it 'frown', line 9 'smile' over the same time: keep one of "
         "these rows"),
    ]


@pytest.mark.parametrize(("data", "message"), [
    ("path,modality,label\nジェスチャー.jpg,hands,グー\n".encode("shift_jis"),
     r"manifest\.csv: not UTF-8 \(byte 0x83 on line 2\) nor Windows-1252 Latin text; save it "
     r"as UTF-8 \(Excel: Save As, \"CSV UTF-8 \(Comma delimited\)\"\) and run again$"),
    (b"path:modality:label\nmedia/one.jpg:hands:a\n",
     r"missing columns \['path', 'modality', 'label'\], unknown columns \['path:modality:label'\]"),
    (b"path,modality;label\nmedia/one.jpg,hands;a\n",
     r"unknown columns \['modality;label'\].*; the separator looks like ';': save the file with "
     r"commas$"),
    (b"\n\n", r"manifest\.csv: empty manifest; write a header"),
    (b"path,modality,label\nmedia/one.jpg,hands,a,extra\n",
     r"manifest\.csv:2: 4 cells but the header has 3 \(path, modality, label\); quote cells"),
    (b"path,modality,label\nmedia/one.jpg,hands,\n,,\n",
     r"1 bad manifest rows.*\n  .*manifest\.csv:2: empty label$"),
])
def test_what_cannot_be_read_is_one_error_naming_the_file(tmp_path, data, message):
    raw = _raw(tmp_path)
    (raw / "manifest.csv").write_bytes(data)
    with pytest.raises(layout.ManifestError, match=message):
        layout.discover(IngestParams(raw_dir=str(raw)))


def test_a_cp1252_manifest_is_read_and_the_log_says_so(tmp_path, caplog):
    raw = _raw(tmp_path)
    (raw / "manifest.csv").write_bytes("path,modality,label\nmedia/one.jpg,hands,café\n"
                                       .encode("cp1252"))
    _, entries, _ = layout.discover(IngestParams(raw_dir=str(raw)))
    assert [e.label for e in entries] == ["café"]
    assert "not UTF-8 (byte 0xe9 on line 2); read as Windows-1252" in caplog.text


def test_a_manifest_built_with_repeats_publishes_each_file_once(tmp_path, testdata):
    """A whole build: cp1252, CRLF, backslashes, a repeat and a conflict; validate passes."""
    from landmark_datasets.core import storage
    from tests.shapes import build

    raw = tmp_path / "raw"
    (raw / "img").mkdir(parents=True)
    photos = sorted((testdata / "hands/paper").glob("*.jpg"))[:4]
    for i, photo in enumerate(photos):
        shutil.copyfile(photo, raw / "img" / f"p{i}.jpg")
    lines = ["path, modality, label", r"img\p0.jpg, hands, paume", r"img\p1.jpg, hands, paume",
             r"img\p1.jpg, hands, paume", r"img\p2.jpg, hands, paume", r"img\p2.jpg, hands, main",
             r"img\p3.jpg, hands, main", ",,", ",,"]
    (raw / "manifest.csv").write_bytes("\r\n".join(lines).replace("paume", "paumé")
                                       .encode("cp1252"))
    result = build(raw, tmp_path / "work")
    assert result.error is None
    work = tmp_path / "work"
    ledger = storage.read_table(work / "data/dataset/ledger.csv")
    ingest = ledger[ledger["stage"] == "ingest"]
    assert sorted(zip(ingest["reason"], ingest["label"], strict=True)) == [
        ("duplicate", "paumé"), ("label_conflict", "main"), ("label_conflict", "paumé")]
    assert (ingest["source_id"].str.len() == 16).all()  # refused files carry their id
    assert set(ingest["detail"]) == {
        "manifest line 4 lists it again (first at line 3); kept once",
        "manifest line 5 labels it 'paumé', line 6 'main': keep one of these rows",
        "manifest line 6 labels it 'main', line 5 'paumé': keep one of these rows"}
    published = [storage.read_table(work / f"data/dataset/hands/{s}.parquet")
                 for s in ("train", "test")]
    labels = sorted(lab for t in published for lab in t["label"])
    assert labels == ["main", "paumé", "paumé"]  # p3, p0 and p1 once each
