"""A generated corpus of bad and unusual inputs through ingest and extract: nothing crashes,
nothing vanishes, every file is used or ledgered with a specific reason."""

from pathlib import Path

import pytest

from landmark_datasets.core import schema
from landmark_datasets.core.params import ExtractParams, IngestParams
from landmark_datasets.ingest import ingest, layout
from tests import bad_corpus
from tests.conftest import run_extract


@pytest.fixture(scope="module")
def outcome(testdata, tmp_path_factory):
    root = tmp_path_factory.mktemp("bad")
    good = sorted((testdata / "hands/paper").glob("*.jpg"))[0]
    expected = bad_corpus.make(root, good)
    params = IngestParams(raw_dir=str(root), max_image_pixels=40_000_000)
    raw, entries, strays = layout.discover(params)
    items, frames, ledger = ingest.build_inventory(raw, entries, params)
    ingest_ledger = ingest.ledger_frame(strays + ledger)
    tables, extract_ledger, _ = run_extract(items, frames, ExtractParams(), raw,
                                            tmp_path_factory.mktemp("out"))
    return expected, items, ingest_ledger, extract_ledger, tables, frames


def test_at_least_twenty_kinds(outcome):
    expected, *_ = outcome
    assert len(expected) >= 25


def test_every_file_is_used_or_ledgered_with_its_reason(outcome):
    expected, items, ingest_ledger, extract_ledger, *_ = outcome
    ledgered = dict(zip(ingest_ledger["path"], ingest_ledger["reason"], strict=True))
    no_detection = set(extract_ledger.loc[extract_ledger["reason"] == "no_detection", "path"])
    assert bad_corpus.mismatches(expected, set(items["path"]), ledgered, no_detection) == {}


def test_ledger_details_say_what_to_do_without_paths(outcome):
    _, _, ingest_ledger, *_ = outcome
    for row in ingest_ledger.to_dict("records"):
        assert row["reason"] in {r.value for r in schema.Reason}
        assert ";" in row["detail"] or "kept once" in row["detail"], row
        assert Path(row["path"]).name not in row["detail"]


def test_exif_orientation_gives_the_upright_landmarks(outcome):
    _, items, _, _, tables, _ = outcome
    rows = items.set_index("path")
    upright, rotated = rows.loc["hands/ok/good.jpg"], rows.loc["hands/ok/exif_rotated.jpg"]
    assert (rotated["width"], rotated["height"]) == (upright["width"], upright["height"])
    hands = tables["hands"].set_index("source_id")
    cols = list(schema.HAND_LANDMARK_COLUMNS)
    a = hands.loc[[upright["source_id"]], cols].to_numpy()[0]
    b = hands.loc[[rotated["source_id"]], cols].to_numpy()[0]
    # the same upright picture, re-encoded: landmarks agree to within 1% of the image
    assert abs(a - b)[0::3].max() < 0.01
    assert abs(a - b)[1::3].max() < 0.01


def test_variable_frame_rate_gif_is_sampled_at_its_real_times(outcome):
    # frames last 40, 200, 40, 100, 300, 40 ms (8.3 fps on average, under the 10 fps
    # sampling rate, so every frame is kept), stamped at their real times
    _, items, *_, frames = outcome
    item = items.set_index("path").loc["hands/ok/vfr.gif", "item"]
    got = frames.loc[frames["item"] == item, ["frame", "timestamp_ms"]]
    assert got.to_records(index=False).tolist() == [
        (0, 0), (1, 40), (2, 240), (3, 280), (4, 380), (5, 680)]


def test_a_zombie_process_counts_as_dead_for_the_temp_sweep(tmp_path):
    """A killed worker nobody reaped is a zombie: its temporary files are swept all the same."""
    import os
    import subprocess
    import time

    from landmark_datasets.core import storage

    child = subprocess.Popen(["sleep", "30"])
    os.kill(child.pid, 9)
    time.sleep(0.2)  # killed, not waited for: a zombie
    assert Path(f"/proc/{child.pid}/stat").read_text().rpartition(")")[2].split()[0] == "Z"
    (tmp_path / f"{storage.TMP_PREFIX}{child.pid}-x.csv.abc").write_text("half")
    (tmp_path / f"{storage.TMP_PREFIX}{os.getpid()}-y.csv.abc").write_text("mine")
    assert storage.sweep_stale_temps(tmp_path) == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        f"{storage.TMP_PREFIX}{os.getpid()}-y.csv.abc"]
    child.wait()
