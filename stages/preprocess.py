"""Preprocess: confidence and geometry filters, missing landmarks, normalization.

Reads:   ``data/interim/extract/{hands,faces,holistic}.parquet``,
         ``data/interim/ingest/items.csv`` and ``frames.parquet`` (the sampled frames of each
         video, to find gaps).
Writes:  ``data/interim/preprocess/{hands,faces,holistic}.parquet`` (kept rows, short video
         gaps filled and flagged, image landmarks normalized),
         ``data/interim/preprocess/ledger.csv`` (each rejected detection with its reason and
         the value that failed) and
         ``data/interim/preprocess/gaps.json`` (frames filled, gaps left).
Params:  ``preprocess`` (filters, scheme and hand flags, face_scheme, privacy, max_gap_frames,
         holistic_keep, holistic_hands).

Computations: :mod:`landmark_datasets.preprocess`. This entry point reads params, calls them and
writes the outputs.
"""

from __future__ import annotations

import pandas as pd

from landmark_datasets import holistic, inventory, paths, schema, storage
from landmark_datasets.preprocess import CHUNK_ROWS, add_stats, gap_totals, log, preprocess


def main() -> None:
    """Entry point of the ``preprocess`` stage."""
    from landmark_datasets import params as params_mod

    storage.setup_logging()
    params = params_mod.load().preprocess
    items = inventory.read_items()
    frames = inventory.read_frames()
    videos = inventory.video_frames(items, frames)
    ledgers, filled = [], {}
    hands_in = params.scheme if params.holistic_hands == "own" else "face_frame"
    schemes = {"hands": params.scheme,
               "faces": f"{params.face_scheme}, privacy {params.privacy}",
               schema.HOLISTIC: f"hands {hands_in}, face {params.face_scheme}, keep "
                                f"{params.holistic_keep}"}
    for modality in schema.MODALITIES:
        pieces, stats = [], []
        with storage.ParquetAppender(paths.PREPROCESS / f"{modality}.parquet") as out:
            for df in storage.parquet_runs(paths.EXTRACT / f"{modality}.parquet", CHUNK_ROWS):
                if modality == schema.HOLISTIC:  # per part: see landmark_datasets/holistic.py
                    kept, gone, filled_here = holistic.preprocess_holistic(df, params, videos)
                else:
                    kept, gone, filled_here = preprocess(df, modality, params, videos)
                out.write(kept)
                pieces.append(gone)
                stats.append(filled_here)
        gone = pd.concat(pieces, ignore_index=True)
        filled[modality] = add_stats(stats)
        ledgers.append(gone)
        counts = gone["reason"].value_counts().to_dict()
        log.info("%s: %d kept, %d rejected %s (scheme %s)", modality, out.rows, len(gone),
                 counts or "", schemes[modality])
    ledger = pd.concat(ledgers, ignore_index=True)
    storage.write_csv(ledger, paths.PREPROCESS_LEDGER)
    storage.write_json({"max_gap_frames": params.max_gap_frames, **filled}, paths.GAPS)
    log.info("gaps (<= %d frames) filled: %s", params.max_gap_frames, ", ".join(
        f"{m} {n} frames ({left} longer gaps left)"
        for m, (n, left) in {m: gap_totals(s) for m, s in filled.items()}.items()))


if __name__ == '__main__':
    storage.run_stage(main)
