"""The scan stage: what is in the raw folder, broken links included, hashed once per content."""

import hashlib
import os
import time

from landmark_datasets.ingest import listing


def test_links_loops_and_hidden_files(tmp_path):
    (tmp_path / "hands/rock").mkdir(parents=True)
    (tmp_path / "hands/rock/a.jpg").write_bytes(b"abc")
    (tmp_path / "hands/rock/.DS_Store").write_bytes(b"x")
    (tmp_path / "hands/rock/alias.jpg").symlink_to("a.jpg")
    (tmp_path / "hands/rock/dangling.jpg").symlink_to("nowhere.jpg")
    (tmp_path / "hands/rock/loop1.jpg").symlink_to("loop2.jpg")
    (tmp_path / "hands/rock/loop2.jpg").symlink_to("loop1.jpg")
    (tmp_path / "hands/rock/up").symlink_to("..", target_is_directory=True)  # a folder loop
    (tmp_path / ".git").mkdir()  # hidden folders (version control, trash) are not media
    (tmp_path / ".git/config").write_text("[core]\n")
    records = {r.path: r for r in listing.scan(tmp_path)}
    sha = hashlib.sha256(b"abc").hexdigest()
    assert records == {
        "hands/rock/.DS_Store": listing.Record("hands/rock/.DS_Store", listing.FILE, 1,
                                            hashlib.sha256(b"x").hexdigest()),
        "hands/rock/a.jpg": listing.Record("hands/rock/a.jpg", listing.FILE, 3, sha),
        "hands/rock/alias.jpg": listing.Record("hands/rock/alias.jpg", listing.FILE, 3, sha),
        "hands/rock/dangling.jpg": listing.Record("hands/rock/dangling.jpg", listing.DANGLING),
        "hands/rock/loop1.jpg": listing.Record("hands/rock/loop1.jpg", listing.LOOP),
        "hands/rock/loop2.jpg": listing.Record("hands/rock/loop2.jpg", listing.LOOP),
        "hands/rock/up": listing.Record("hands/rock/up", listing.LOOP),
    }


def test_listing_round_trips_through_csv(tmp_path):
    (tmp_path / "b c.jpg").write_bytes(b"1")
    (tmp_path / "ä,\"q\".png").write_bytes(b"22")
    records = listing.scan(tmp_path)
    out = tmp_path / "files.csv"
    out.write_text(listing.to_csv(records), encoding="utf-8")
    assert list(listing.read(out).values()) == records


def test_memo_skips_unchanged_files_and_sees_a_same_size_same_mtime_rewrite(tmp_path,
                                                                           monkeypatch):
    raw = tmp_path / "raw"
    raw.mkdir()
    f = raw / "a.jpg"
    f.write_bytes(b"first")

    def run() -> tuple[str, int]:  # one stage run: a memo opened, used and closed
        memo = listing.HashMemo(tmp_path / "cache")
        digest = listing.scan(raw, memo)[0].sha256
        memo.close()
        return digest, memo.hits

    first = hashlib.sha256(b"first").hexdigest()
    assert [run(), run()] == [(first, 0), (first, 0)]  # just written: racy, hashed both times
    monkeypatch.setattr(listing, "RACY_SECONDS", 0.0)
    assert [run(), run()] == [(first, 0), (first, 1)]
    st = f.stat()
    time.sleep(0.05)  # beyond the file system's timestamp granularity
    f.write_bytes(b"other")  # same name, same size, and the old mtime put back
    os.utime(f, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert f.stat().st_mtime_ns == st.st_mtime_ns
    assert run() == (hashlib.sha256(b"other").hexdigest(), 0)


def test_a_broken_memo_only_costs_time(tmp_path):
    (tmp_path / "cache").mkdir()
    (tmp_path / "cache/hashes.sqlite").write_bytes(b"not a database" * 100)
    (tmp_path / "a.jpg").write_bytes(b"abc")
    memo = listing.HashMemo(tmp_path / "cache")
    assert listing.scan(tmp_path, memo, ())[0].sha256 == hashlib.sha256(b"abc").hexdigest()
    memo.close()


def test_manifest_path_that_is_missing(tmp_path):
    records = listing.scan(tmp_path, None, ("lists/manifest.csv",))
    assert records == []  # only paths that exist (links included) are listed
    assert listing.record(tmp_path / "gone.jpg", "gone.jpg").status == listing.MISSING
