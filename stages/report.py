"""Report: the data-quality report (Markdown + plots), DVC metrics and DVC plot data.

Reads:   ``data/dataset/`` (published tables and ledger), ``data/interim/ingest/items.csv`` and
         ``frames.parquet`` (what was offered per label, for detection rates),
         ``data/interim/preprocess/gaps.json``, ``reports/validation.json``,
         ``reports/evaluation.json``, ``reports/label_review.csv`` (the review queue),
         ``data/interim/review/summary.json`` (what reviews.csv did) and
         ``reports/plots/confusion_<modality>.csv``, the models (sha256, for provenance).
Writes:  ``reports/quality.md``, ``reports/figures/*.png``, ``reports/metrics.json`` (DVC
         metrics) and ``reports/plots/{class_balance,detection_rate,ledger_reasons}.csv`` (DVC
         plots).
Params:  ``report.dpi`` and, for provenance, every parameter that shapes the dataset (all of
         ``params.yaml`` but :data:`landmark_datasets.core.params.RUN_ONLY_KEYS`).

Computations: :mod:`landmark_datasets.report.report` (the numbers),
:mod:`landmark_datasets.report.figures` and :mod:`landmark_datasets.report.quality` (the text).
"""

from __future__ import annotations

import json
import logging

from landmark_datasets.core import cli, paths, schema, storage
from landmark_datasets.core.cache import Cache
from landmark_datasets.ingest import inventory
from landmark_datasets.report import figures, quality, report

log = logging.getLogger("report")


def main() -> None:
    """Entry point of the ``report`` stage."""
    from landmark_datasets.core import params as params_mod

    cli.setup_logging()
    params = params_mod.load()
    tables = report.load_dataset()
    ctx = report.context(
        tables, inventory.read_items(), inventory.read_frames(),
        storage.read_table(paths.DATASET / "ledger.parquet"), params,
        evaluation=json.loads(paths.EVALUATION.read_text()),
        gaps=json.loads(paths.GAPS.read_text()),
        review=storage.read_table(paths.LABEL_REVIEW),
        validation=json.loads(paths.VALIDATION.read_text()),
        review_summary=json.loads(paths.REVIEW_SUMMARY.read_text()))
    ctx["figures"] = figures.draw(ctx, tables, report.load_confusions(), params.preprocess,
                                  params.report.dpi, Cache.from_env())
    storage.write_text(quality.render(ctx), paths.QUALITY)
    storage.write_json(report.metrics(ctx), paths.METRICS)
    for key, name in (("balance", "class_balance"), ("detection", "detection_rate"),
                      ("reasons", "ledger_reasons")):  # DVC plots: CSV, labels neutralized
        table = ctx[key]
        if "label" in table:  # one category per bar: <modality>/<label>
            table = table.assign(**{"class": table["modality"] + "/" + table["label"]})
        storage.write_csv(schema.neutralize_table(table), paths.PLOTS / f"{name}.csv")
    log.info("%s: %s", paths.QUALITY, ", ".join(f"{m} {len(t)} rows" for m, t in tables.items()))


if __name__ == "__main__":
    cli.run_stage(main)
