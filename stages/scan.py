"""Scan: a content listing of the raw folder, the only stage that walks it.

Reads:   every entry below ``ingest.raw_dir`` (symbolic links followed; hidden folders such as
         ``.git`` skipped, hidden files listed: ingest ledgers them)
         and the manifest ``ingest.manifest`` when set.
Writes:  ``data/interim/scan/files.csv``: ``path, status, bytes, sha256`` sorted by path, where
         ``status`` is ``file``, ``dangling_link``, ``link_loop``, ``missing`` (a manifest
         path that is not there) or ``unreadable``.
Params:  ``ingest.raw_dir``, ``ingest.manifest``.

Why a stage of its own: DVC hashes a dependency folder itself, and a dangling symbolic link or
a link loop anywhere in it stops ``dvc repro`` with a traceback before any stage runs. So no
stage depends on the raw folder; this one runs on every ``dvc repro`` (``always_changed``) and
writes what is there, content only (no times, no inodes), so its output and ``dvc.lock`` change
exactly when a file's bytes, name or status change, and unchanged stages downstream are skipped.

It also writes an empty ``reviews.csv`` where there is none (a dependency of the review stage:
deleting the file undoes every decision, and ``dvc repro`` goes on).

The walk, the hashing and its memo are :mod:`landmark_datasets.ingest.listing`.
"""

from __future__ import annotations

import logging
from contextlib import closing
from pathlib import Path

from landmark_datasets import UserError
from landmark_datasets.core import cli, paths, storage
from landmark_datasets.core.cache import default_root
from landmark_datasets.ingest.listing import FILE, HashMemo, scan, to_csv
from landmark_datasets.review import review

log = logging.getLogger("scan")

#: Where the pipeline writes (stale temporary files of killed runs are swept here).
SWEPT = (paths.SCAN.parent, paths.DATASET, paths.REPORTS)


def main() -> None:
    """Entry point of the ``scan`` stage."""
    from landmark_datasets.core import params as params_mod

    cli.setup_logging()
    params = params_mod.load().ingest
    raw_dir = Path(params.raw_dir)
    if not raw_dir.is_dir():
        raise UserError(
            f"{raw_dir}: ingest.raw_dir is not a folder; point it at your media "
            "(`dvc exp run -S ingest.raw_dir=...`) or fetch the sample "
            "(`python3.11 dev.py sample`)")
    # The first stage of every `dvc repro`: it sweeps what killed runs left behind, which no
    # rerun would otherwise replace when DVC restores outputs from its cache.
    cache_root = default_root()
    swept = storage.sweep_stale_temps_below(*SWEPT, *([cache_root / "tmp"] if cache_root else []))
    if swept:
        log.info("removed %d temporary files of interrupted runs", swept)
    if review.restore(paths.REVIEWS):  # a dependency of the review stage: DVC needs it there
        log.info("%s was not there: wrote an empty one (no review decisions)", paths.REVIEWS)
    memo = HashMemo(cache_root)
    with closing(memo):
        records = scan(raw_dir, memo, (params.manifest,) if params.manifest else ())
    storage.write_text(to_csv(records), paths.SCAN_FILES)
    bad = sum(r.status != FILE for r in records)
    log.info("%d files under %s (%d hashed, %d from the memo), %d broken links or unreadable",
             len(records) - bad, raw_dir, len(records) - bad - memo.hits, memo.hits, bad)


if __name__ == "__main__":
    cli.run_stage(main)
