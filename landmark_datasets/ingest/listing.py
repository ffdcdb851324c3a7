"""The raw folder's content listing: what the ``scan`` stage writes and ingest reads.

:func:`scan` walks a folder (symbolic links followed, loops and dangling links recorded,
hidden folders such as ``.git`` skipped) and hashes each file; :func:`read` is the typed reader
of the listing the stage writes (``path, status, bytes, sha256``).

Hashes are memoized like DVC's own state database, by the file's device, inode, size, mtime
and ctime (``hashes.sqlite`` in the cache folder of :mod:`..core.cache`), so a run reads only
new or modified files. A rewrite that keeps size and mtime still changes ctime; files touched
in the last two seconds are not memoized (a rewrite within the timestamp granularity).
"""

from __future__ import annotations

import csv
import errno
import io as stdio
import logging
import os
import re
import sqlite3
import stat
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from landmark_datasets.core import paths, storage
from landmark_datasets.core.progress import Progress

log = logging.getLogger("scan")

COLUMNS = ("path", "status", "bytes", "sha256")

#: What :func:`escape` rewrites: a backslash, and a byte that is not UTF-8 (Python holds it as a
#: lone surrogate, U+DC80-U+DCFF, the "surrogateescape" of file names).
_ESCAPED = re.compile("[\\\\\udc80-\udcff]")
_ESCAPES = re.compile(r"\\(\\|x[0-9a-f]{2})")


def escape(rel: str) -> str:
    r"""The text of a relative path as the inventory holds it: UTF-8 whatever the name's bytes.

    A name from an old camera or a Windows zip may not be UTF-8 (``caf\xe9.jpg``); no CSV or
    Parquet file can hold it as it is. Each such byte is written ``\xNN`` (lowercase hex) and a
    backslash ``\\``, so the text is exact and :func:`unescape` gives the name back; every other
    name is left as it is. Published tables hold no names at all.
    """
    if not _ESCAPED.search(rel):
        return rel
    return "".join("\\\\" if c == "\\" else f"\\x{ord(c) - 0xDC00:02x}" if c >= "\udc80" and
                   c <= "\udcff" else c for c in rel)


def unescape(text: str) -> str:
    """The relative path :func:`escape` wrote, as the file system names it."""
    if "\\" not in text:
        return text
    return _ESCAPES.sub(lambda m: "\\" if m.group(1) == "\\" else
                        chr(0xDC00 + int(m.group(1)[1:], 16)), text)


def locate(raw_dir: Path, rel: str) -> Path:
    """The file at inventory path ``rel`` (:func:`escape`'s text) below ``raw_dir``."""
    return raw_dir / unescape(rel)

FILE = "file"
DANGLING = "dangling_link"
LOOP = "link_loop"
MISSING = "missing"
UNREADABLE = "unreadable"

#: Files modified this recently are hashed again next time rather than memoized.
RACY_SECONDS = 2.0

#: What each status means to the person who owns the folder.
ADVICE = {
    DANGLING: "a symbolic link to nothing; fix its target or remove it",
    LOOP: "a symbolic link loop; fix the links or remove them",
    MISSING: "no such file; fix the path in the manifest or restore the file",
    UNREADABLE: "cannot be read; check its permissions or remove it",
}


@dataclass(frozen=True)
class Record:
    """One listed path: its status, and for readable files their size and sha256."""

    path: str  # relative to raw_dir, POSIX separators
    status: str
    bytes: int = 0
    sha256: str = ""


class HashMemo:
    """sha256 by (device, inode, size, mtime, ctime); ``None`` root: no memo.

    Device and inode name the file itself, whichever path or link leads to it, without
    resolving the path (``realpath`` was a third of a no-op scan of 10,000 files).

    Lookups hold no lock; what a run learns is written in one short transaction at
    :meth:`close`, so parallel runs (queued experiments) share the memo without waiting on each
    other. A broken or locked memo costs time, never correctness: files are hashed.
    """

    def __init__(self, root: Path | None):
        self.db = None
        self.hits = 0
        self._learned: list[tuple[str, str]] = []
        if root is not None:
            try:
                root.mkdir(parents=True, exist_ok=True)
                self.db = sqlite3.connect(root / "hashes.sqlite", timeout=60,
                                          isolation_level=None)  # autocommit: no held locks
                self.db.execute("CREATE TABLE IF NOT EXISTS sha (key TEXT PRIMARY KEY, "
                                "sha256 TEXT NOT NULL)")
            except (OSError, sqlite3.Error) as err:
                self._give_up(err)

    def _give_up(self, err: Exception) -> None:
        log.warning("hash memo unavailable (%s); hashing every file", err)
        if self.db is not None:
            self.db.close()
        self.db = None

    @staticmethod
    def _key(path: Path, st: os.stat_result) -> str:
        return "\0".join(map(str, ("v2", st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns,
                                   st.st_ctime_ns)))

    def sha256(self, path: Path, st: os.stat_result) -> str:
        """The sha256 of ``path`` whose stat is ``st``: from the memo, else read now."""
        if self.db is None:
            return storage.sha256_file(path)
        k = self._key(path, st)
        try:
            row = self.db.execute("SELECT sha256 FROM sha WHERE key = ?", (k,)).fetchone()
        except sqlite3.Error as err:
            self._give_up(err)
            return storage.sha256_file(path)
        if row:
            self.hits += 1
            return row[0]
        digest = storage.sha256_file(path)
        # Remember only files unchanged while read and not touched in the last RACY_SECONDS:
        # a rewrite within the file system's timestamp granularity would keep every field
        # of the key (git's "racily clean" problem).
        recent = time.time_ns() - max(st.st_mtime_ns, st.st_ctime_ns) < RACY_SECONDS * 1e9
        if not recent and self._key(path, os.stat(path)) == k:
            self._learned.append((k, digest))
        return digest

    def close(self) -> None:
        """Write what was learned, in one transaction."""
        if self.db is None:
            return
        try:
            with self.db:
                self.db.execute("BEGIN")
                self.db.executemany("INSERT OR REPLACE INTO sha VALUES (?, ?)", self._learned)
        except sqlite3.Error as err:
            log.warning("hash memo not updated (%s); the next run hashes these files again", err)
        self._learned.clear()
        self.db.close()
        self.db = None


def record(path: Path, rel: str, memo: HashMemo | None = None) -> Record:
    """The :class:`Record` of one path (following symbolic links)."""
    try:
        st = os.stat(path)
        if not stat.S_ISREG(st.st_mode):
            return Record(rel, UNREADABLE)
        digest = memo.sha256(path, st) if memo else storage.sha256_file(path)
        return Record(rel, FILE, st.st_size, digest)
    except OSError as err:
        if err.errno == errno.ELOOP:
            return Record(rel, LOOP)
        if err.errno == errno.ENOENT:
            return Record(rel, DANGLING if os.path.islink(path) else MISSING)
        return Record(rel, UNREADABLE)


def _is_dir(entry: os.DirEntry) -> bool:
    try:
        return entry.is_dir()
    except OSError:  # a link loop: listed as a file, whose stat says why
        return False


def _walk(root: Path, rel: tuple[str, ...], ancestors: frozenset
          ) -> Iterator[tuple[Path, str, bool]]:
    """``(path, relative path, is a directory loop)`` of every non-directory below ``root``.

    The relative path is :func:`escape`'s text (``rel`` holds the names as they are).
    """
    here = root.joinpath(*rel)
    try:
        with os.scandir(here) as it:
            names = sorted((e.name, _is_dir(e)) for e in it)
    except OSError:
        yield here, escape("/".join(rel)), False  # listed as unreadable
        return
    for name, is_dir in names:
        path = here / name
        sub = (*rel, name)
        if is_dir and name.startswith("."):
            continue
        if is_dir:
            try:
                st = os.stat(path)
            except OSError:
                yield path, escape("/".join(sub)), False
                continue
            ident = (st.st_dev, st.st_ino)
            if ident in ancestors:  # a link back up the tree: listed once, not followed
                yield path, escape("/".join(sub)), True
                continue
            yield from _walk(root, sub, ancestors | {ident})
        else:
            yield path, escape("/".join(sub)), False


def scan(raw_dir: Path, memo: HashMemo | None = None, extra: tuple[str, ...] = ()) -> list[Record]:
    """Records of every file below ``raw_dir`` (plus ``extra`` paths relative to it), sorted."""
    st = os.stat(raw_dir)
    found = list(_walk(raw_dir, (), frozenset({(st.st_dev, st.st_ino)})))
    progress = Progress(len(found), "scan", log)  # hashing a large new folder takes a while
    records = {}
    for path, rel, is_loop in found:
        records[rel] = Record(rel, LOOP) if is_loop else record(path, rel, memo)
        progress.update()
    progress.close()
    for rel in extra:
        if rel not in records and os.path.lexists(raw_dir / rel):
            records[rel] = record(raw_dir / rel, rel, memo)
    return [records[k] for k in sorted(records)]


def to_csv(records: list[Record]) -> str:
    """The listing as the stage's CSV text."""
    buf = stdio.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(COLUMNS)
    w.writerows((r.path, r.status, r.bytes, r.sha256) for r in records)
    return buf.getvalue()


def read(path: Path | str = paths.SCAN_FILES) -> dict[str, Record]:
    """The listing written by the stage, by relative path."""
    with open(path, newline="", encoding="utf-8") as f:
        return {row["path"]: Record(row["path"], row["status"], int(row["bytes"]), row["sha256"])
                for row in csv.DictReader(f)}
