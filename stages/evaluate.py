"""Evaluate: baseline classifiers on the published split, the number that sweeps compare.

Reads:   ``data/dataset/{hands,faces,holistic}/{train,test}.parquet``.
Writes:  ``reports/evaluation.json`` (per modality and model: grouped cross-validation on train,
         accuracy, macro-F1 and per-label recall on test; the report folds it into the DVC
         metrics ``reports/metrics.json``), ``reports/plots/confusion_<modality>.csv`` (DVC
         confusion plots: actual vs predicted on test) and ``reports/label_review.csv``
         (rows whose out-of-fold prediction confidently disagrees with their label).
Params:  ``evaluate`` (models, cv_folds, seed, review_confidence).

An evaluation whose tables, params and code are unchanged (a sweep of another modality's
scheme) is read from the landmark cache (:func:`landmark_datasets.evaluate.memoized`).

Computations: :mod:`landmark_datasets.evaluate`. This entry point reads params, calls them and
writes the outputs.
"""

from __future__ import annotations

import functools

import pandas as pd

from landmark_datasets import paths, schema, storage
from landmark_datasets.cache import Cache
from landmark_datasets.evaluate import (
    SEQUENCE_MODALITIES,
    evaluate,
    evaluate_sequences,
    log,
    memo_key,
    memoized,
    summary,
)


@functools.lru_cache(maxsize=1)  # one modality's tables at a time
def _read(files: tuple, float32: bool) -> list[pd.DataFrame]:
    """The train and test tables, read once per modality, and only when a memo misses.

    ``float32``: float columns as float32, what the models see (half the memory).
    """
    return [storage.read_table(f, float32=float32) for f in files]


def _on_tables(fn, files: tuple, float32: bool, *args):
    """``fn(train, test, *args)`` on the tables read by :func:`_read`."""
    return fn(*_read(files, float32), *args)


def main() -> None:
    """Entry point of the ``evaluate`` stage."""
    from landmark_datasets import params as params_mod

    storage.setup_logging()
    params = params_mod.load().evaluate
    report, reviews, cache = {}, [], Cache.from_env()
    for modality in schema.MODALITIES:
        files = tuple(paths.table(modality, s, "parquet") for s in ("train", "test"))
        digests = [storage.sha256_file(f) for f in files]
        float32 = modality not in SEQUENCE_MODALITIES  # sequence statistics are float64
        result, hit = memoized(cache, memo_key("rows", modality, digests, params),
                               functools.partial(_on_tables, evaluate, files, float32,
                                                 modality, params, cache))
        report[modality] = result.metrics
        reviews.append(result.review)
        storage.write_csv(result.confusion, paths.confusion_plot(modality))
        log.info("%s: %s; %d label-review candidates%s", modality,
                 summary(result.metrics, params.models), len(result.review),
                 " (memo: its tables are unchanged)" if hit else "")
        if modality in SEQUENCE_MODALITIES:
            seq = memoized(cache, memo_key("sequences", modality, digests, params),
                           functools.partial(_on_tables, evaluate_sequences, files,
                                             float32, modality, params))[0].metrics
            report[f"{modality} sequences"] = seq
            log.info("%s sequences (%d train, %d test): %s", modality, seq["sequences_train"],
                     seq["sequences_test"], summary(seq, params.models))
    storage.write_json(report, paths.EVALUATION)
    storage.write_csv(pd.concat(reviews, ignore_index=True), paths.LABEL_REVIEW)


if __name__ == '__main__':
    storage.run_stage(main)
