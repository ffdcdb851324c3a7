"""Extract: MediaPipe HandLandmarker and FaceLandmarker over every frame ingest listed.

Reads:   ``data/interim/ingest/items.csv``, ``data/interim/ingest/frames.parquet``, the models.
Writes:  ``data/interim/extract/hands.parquet``, ``data/interim/extract/faces.parquet`` (one
         row per detected instance per frame, columns from :mod:`landmark_datasets.core.schema`) and
         ``data/interim/extract/ledger.csv`` (frames with no detection, or that did not decode).
Params:  ``extract.hands`` and ``extract.faces`` (HandLandmarkerOptions / FaceLandmarkerOptions
         under MediaPipe's names, and the model paths) decide the output. ``extract.workers``,
         ``executor``, ``chunk_size`` and ``dask`` only say how to run; the bytes are the same.

Computations: :mod:`landmark_datasets.extract.extract`. This entry point reads params, calls
them and writes the outputs.
"""

from __future__ import annotations

from pathlib import Path

from landmark_datasets.core import cli
from landmark_datasets.core.cache import Cache
from landmark_datasets.extract.extract import OUT_DIR, extract, log
from landmark_datasets.ingest import inventory


def main() -> None:
    """Entry point of the ``extract`` stage."""
    from landmark_datasets.core import params as params_mod

    cli.setup_logging()
    params = params_mod.load()
    items = inventory.read_items()
    frames = inventory.read_frames()
    cache = Cache.from_env()
    s = extract(items, frames, params.extract, Path(params.ingest.raw_dir),
                params.ingest.max_image_pixels, OUT_DIR, cache)
    log.info("%d items (%d from the cache %s), %d frames in %.1f s (%.1f frames/s, %s, "
             "%d workers); %s; %d frames ledgered", s.items, s.cached, cache.root or "(off)",
             s.frames, s.seconds, s.frames / max(s.seconds, 1e-9), params.extract.executor,
             s.workers, ", ".join(f"{n} {m} rows" for m, n in s.rows.items()), s.ledgered)


if __name__ == '__main__':
    cli.run_stage(main)
