"""Split: train/test stratified by label and grouped by source; publishes the dataset.

Reads:   ``data/interim/preprocess/{hands,faces}.parquet``, the three stage ledgers
         (``data/interim/{ingest,extract,preprocess}/ledger.csv``), ``reports/validation.json``
         (split runs only on a validated build).
Writes:  ``data/dataset/{hands,faces,holistic}/{train,test}.{csv,parquet}`` and
         ``data/dataset/ledger.{csv,parquet}``: each table as CSV and as Parquet (typed columns,
         the same rows and values; text as it is, where the CSV neutralizes formulas).
Params:  ``split`` (test_size, seed), ``preprocess.float_format``.

Computations: :mod:`landmark_datasets.split`. This entry point reads params, calls them and
writes the outputs.
"""

from __future__ import annotations

import json

from landmark_datasets import UserError, paths, schema, storage
from landmark_datasets.split import log, public_ledger, split


def publish(df, csv, float_format: str) -> None:
    """``df`` as CSV (text cells neutralized) and as Parquet beside it, with the same values.

    The Parquet floats are the CSV's, rounded as it prints them; its text is the true text.
    """
    storage.write_csv(schema.neutralize_table(df), csv, float_format)
    storage.write_parquet(storage.rounded(df, float_format), csv.with_suffix(".parquet"))


def main() -> None:
    """Entry point of the ``split`` stage."""
    from landmark_datasets import params as params_mod

    storage.setup_logging()
    params = params_mod.load()
    if not json.loads(paths.VALIDATION.read_text())["success"]:
        raise UserError(f"{paths.VALIDATION}: validation failed; fix what it lists and run "
                        "the validate stage again")
    for modality in schema.MODALITIES:
        df = storage.read_table(paths.PREPROCESS / f"{modality}.parquet")
        parts = split(df, modality, params.split.test_size, params.split.seed)
        for side, part in parts.items():
            publish(part, paths.table(modality, side), params.preprocess.float_format)
        log.info("%s: %d train, %d test rows; %d + %d groups", modality, len(parts["train"]),
                 len(parts["test"]), parts["train"]["group"].nunique(),
                 parts["test"]["group"].nunique())
    ledger = public_ledger()
    publish(ledger, paths.DATASET / "ledger.csv", params.preprocess.float_format)
    log.info("ledger: %d rows %s", len(ledger), ledger["reason"].value_counts().to_dict())


if __name__ == '__main__':
    storage.run_stage(main)
