"""Evaluate: baseline classifiers on the published split, the number that sweeps compare.

Reads:   ``data/dataset/{hands,faces,holistic}/{train,test}.parquet`` and the rows decided in
         ``reviews.csv`` (``data/interim/review/decisions.parquet``: they leave the queue).
Writes:  ``reports/evaluation.json`` (per modality and model: grouped cross-validation on train,
         accuracy, macro-F1 and per-label recall on test; the report folds it into the DVC
         metrics ``reports/metrics.json``), ``reports/plots/confusion_<modality>.csv`` (DVC
         confusion plots: actual vs predicted on test) and ``reports/label_review.csv``
         (the review queue: every image, frame or time range not yet decided, ranked by how
         likely its label is wrong, confident learning's flagged ones first).
Params:  ``evaluate`` (models, cv_folds, seed; review_models, review_folds for the queue).

An evaluation whose tables, params and code are unchanged (a sweep of another modality's
scheme) is read from the landmark cache (:func:`landmark_datasets.evaluate.evaluate.memoized`).

Computations: :mod:`landmark_datasets.evaluate.evaluate`. This entry point reads params, calls
them and writes the outputs.
"""

from __future__ import annotations

import functools

import pandas as pd

from landmark_datasets.core import cli, paths, schema, storage
from landmark_datasets.core.cache import Cache
from landmark_datasets.evaluate.evaluate import (
    SEQUENCE_MODALITIES,
    evaluate,
    evaluate_sequences,
    label_review,
    log,
    memo_key,
    memoized,
    one_queue,
    summary,
    warnings_summarized,
)
from landmark_datasets.review import review


@functools.lru_cache(maxsize=1)  # one modality's tables at a time
def _read(files: tuple, digests: tuple, float32: bool) -> list[pd.DataFrame]:
    """The train and test tables, read once per modality, and only when a memo misses.

    ``digests``: the files' sha256, part of the key, so a build run after another in one
    process (the tests' in-process builds) never gets the other's tables under the same
    relative paths. ``float32``: float columns as float32, what the models see (half the
    memory).
    """
    return [storage.read_table(f, float32=float32) for f in files]


def _on_tables(fn, files: tuple, digests: tuple, float32: bool, *args):
    """``fn(train, test, *args)`` on the tables read by :func:`_read`."""
    return fn(*_read(files, digests, float32), *args)


def main() -> None:
    """Entry point of the ``evaluate`` stage."""
    from landmark_datasets.core import params as params_mod

    cli.setup_logging()
    params = params_mod.load().evaluate
    report, queues, cache = {}, [], Cache.from_env()
    decided = review.read_matched(paths.REVIEW_DECISIONS)
    for modality in schema.MODALITIES:
        files = tuple(paths.table(modality, s, "parquet") for s in ("train", "test"))
        digests = tuple(storage.sha256_file(f) for f in files)
        float32 = modality not in SEQUENCE_MODALITIES  # sequence statistics are float64
        with warnings_summarized(modality):
            result, hit = memoized(cache, memo_key("rows", modality, list(digests), params),
                                   functools.partial(_on_tables, evaluate, files, digests,
                                                     float32, modality, params, cache))
        queue = label_review(result.review, modality, review.for_modality(decided, modality))
        report[modality] = {**result.metrics, "review_queue": len(queue),
                            "review_queue_flagged": int(queue["flagged"].sum())}
        queues.append(queue)
        storage.write_csv(result.confusion, paths.confusion_plot(modality))
        why = result.metrics.get("review_skipped")
        log.info("%s: %s; review queue %d entries, %d flagged%s%s", modality,
                 summary(result.metrics, params.models), len(queue), queue["flagged"].sum(),
                 f" (not ranked: {why})" if why and result.metrics.get("rows_train") else "",
                 " (memo: its tables are unchanged)" if hit else "")
        if modality in SEQUENCE_MODALITIES:
            with warnings_summarized(f"{modality} sequences"):
                seq = memoized(cache, memo_key("sequences", modality, list(digests), params),
                               functools.partial(_on_tables, evaluate_sequences, files,
                                                 digests, float32, modality, params))[0].metrics
            report[f"{modality} sequences"] = seq
            log.info("%s sequences (%d train, %d test): %s", modality, seq["sequences_train"],
                     seq["sequences_test"], summary(seq, params.models))
    storage.write_json(report, paths.EVALUATION)
    storage.write_csv(one_queue(queues), paths.LABEL_REVIEW, float_format="%.4f")


if __name__ == '__main__':
    cli.run_stage(main)
