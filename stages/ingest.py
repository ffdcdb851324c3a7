"""Ingest: inventory of the raw media, with hashes, decode checks, labels, groups and frames.

Reads:   ``data/interim/scan/files.csv`` (the listing of :mod:`landmark_datasets.scan`, with every
         file's sha256) and ``ingest.raw_dir`` laid out as ``<modality>/<label>/<file>``
         (modality ``hands`` or ``faces``), or a manifest CSV (``ingest.manifest``, else
         ``<raw_dir>/manifest.csv`` when present) with columns
         ``path, modality, label[, group, start_s, end_s]``
         (:mod:`landmark_datasets.ingest.manifest` reads it as spreadsheets write it).
Writes:  ``data/interim/ingest/items.csv`` (internal: one row per usable file or labelled video
         range, with its path), ``data/interim/ingest/frames.parquet`` (the frames to extract)
         and ``data/interim/ingest/ledger.csv`` (files that cannot be used, with reasons).
Params:  ``ingest`` (raw_dir, manifest, video_fps, id_salt, max_image_pixels, folder_groups,
         fold_labels).

Computations: :mod:`landmark_datasets.ingest.ingest`. This entry point reads params, calls them
and writes the outputs.
"""

from __future__ import annotations

from landmark_datasets.core import cli, paths, storage
from landmark_datasets.core.cache import Cache
from landmark_datasets.ingest import listing as raw_listing
from landmark_datasets.ingest.ingest import build_inventory, identify, ledger_frame, log
from landmark_datasets.ingest.layout import discover


def main() -> None:
    """Entry point of the ``ingest`` stage."""
    from landmark_datasets.core import params as params_mod

    cli.setup_logging()
    params = params_mod.load().ingest
    listing = raw_listing.read()
    raw_dir, entries, strays = discover(params, listing)
    cache = Cache.from_env()
    items, frames, ledger = build_inventory(raw_dir, entries, params, cache, listing)
    ledger = ledger_frame(identify(strays + ledger, listing, params.id_salt))
    storage.write_csv(items, paths.ITEMS)
    storage.write_parquet(frames, paths.FRAMES)
    storage.write_csv(ledger, paths.INGEST_LEDGER)
    log.info(
        "%d entries -> %d items (%d images, %d videos), %d frames to extract, %d ledgered; "
        "%d decode checks from the cache", len(entries) + len(strays), len(items),
        int((items["media"] == "image").sum()), int((items["media"] == "video").sum()),
        len(frames), len(ledger), cache.hits,
    )


if __name__ == '__main__':
    cli.run_stage(main)
