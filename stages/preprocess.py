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

Memo: a table whose extracted input, inventory, read params and code were preprocessed before
is taken from the landmark cache (:func:`landmark_datasets.preprocess.preprocess.remembered`),
checked by its sha256: a sweep of the hand scheme preprocesses the hands (and holistic frames)
only.

Computations: :mod:`landmark_datasets.preprocess.preprocess`. This entry point reads params,
calls them and writes the outputs.
"""

from __future__ import annotations

import pandas as pd
import pyarrow.parquet as pq

from landmark_datasets.core import cli, paths, schema, storage
from landmark_datasets.core.cache import Cache
from landmark_datasets.ingest import inventory
from landmark_datasets.preprocess import holistic
from landmark_datasets.preprocess.preprocess import (
    CHUNK_ROWS,
    add_stats,
    gap_totals,
    log,
    memo_key,
    preprocess,
    remember,
    remembered,
)


def _preprocess(source, table, modality: str, params, videos
                ) -> tuple[int, pd.DataFrame, dict]:
    """One extracted table into ``table``, a piece at a time: (rows kept, ledger, gap stats)."""
    pieces, stats = [], []
    with storage.ParquetAppender(table) as out:
        for df in storage.parquet_runs(source, CHUNK_ROWS):
            if modality == schema.HOLISTIC:  # per part: preprocess/holistic.py
                kept, gone, filled = holistic.preprocess_holistic(df, params, videos)
            else:
                kept, gone, filled = preprocess(df, modality, params, videos)
            out.write(kept)
            pieces.append(gone)
            stats.append(filled)
    return out.rows, pd.concat(pieces, ignore_index=True), add_stats(stats)


def main() -> None:
    """Entry point of the ``preprocess`` stage."""
    from landmark_datasets.core import params as params_mod

    cli.setup_logging()
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
    cache = Cache.from_env()
    inputs = [storage.sha256_file(p) for p in (paths.ITEMS, paths.FRAMES)]
    for modality in schema.MODALITIES:
        source = paths.EXTRACT / f"{modality}.parquet"
        table = paths.PREPROCESS / f"{modality}.parquet"
        k = memo_key(modality, params, storage.sha256_file(source), *inputs)
        found = remembered(cache, k, table)
        if found is not None:  # a sweep of another table's params: this one as it was
            gone, filled[modality] = found
            rows, note = pq.ParquetFile(table).metadata.num_rows, "; memo: unchanged"
        else:
            rows, gone, filled[modality] = _preprocess(source, table, modality, params, videos)
            remember(cache, k, table, gone, filled[modality])
            note = ""
        ledgers.append(gone)
        counts = gone["reason"].value_counts().to_dict()
        log.info("%s: %d kept, %d rejected %s (scheme %s%s)", modality, rows, len(gone),
                 counts or "", schemes[modality], note)
    ledger = pd.concat(ledgers, ignore_index=True)
    storage.write_csv(ledger, paths.PREPROCESS_LEDGER)
    storage.write_json({"max_gap_frames": params.max_gap_frames, **filled}, paths.GAPS)
    log.info("gaps (<= %d frames) filled: %s", params.max_gap_frames, ", ".join(
        f"{m} {n} frames ({left} longer gaps left)"
        for m, (n, left) in {m: gap_totals(s) for m, s in filled.items()}.items()))


if __name__ == '__main__':
    cli.run_stage(main)
