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
from landmark_datasets.split import log, pieces, public_ledger


def publish(df, csv, float_format: str) -> None:
    """``df`` as CSV (text cells neutralized) and as Parquet beside it, with the same values.

    The Parquet floats are the CSV's, rounded as it prints them; its text is the true text.
    """
    publish_pieces([df], csv, float_format)


def publish_pieces(pieces, csv, float_format: str, arrow_schema=None) -> int:
    """:func:`publish` for a table that comes a piece at a time; return its rows."""
    with storage.CsvAppender(csv, float_format) as text, \
            storage.ParquetAppender(csv.with_suffix(".parquet"), arrow_schema) as typed:
        for piece in pieces:
            text.write(schema.neutralize_table(piece))
            typed.write(storage.rounded(piece, float_format))
    return text.rows


def main() -> None:
    """Entry point of the ``split`` stage."""
    import pyarrow.parquet as pq

    from landmark_datasets import params as params_mod

    storage.setup_logging()
    params = params_mod.load()
    if not json.loads(paths.VALIDATION.read_text())["success"]:
        raise UserError(f"{paths.VALIDATION}: validation failed; fix what it lists and run "
                        "the validate stage again")
    for modality in schema.MODALITIES:
        source = paths.PREPROCESS / f"{modality}.parquet"
        sides, groups = pieces(source, modality, params.split.test_size, params.split.seed)
        rows = {side: publish_pieces(it, paths.table(modality, side),
                                     params.preprocess.float_format,
                                     pq.read_schema(source))
                for side, it in sides.items()}
        log.info("%s: %d train, %d test rows; %d + %d groups", modality, rows["train"],
                 rows["test"], groups["train"], groups["test"])
    ledger = public_ledger()
    publish(ledger, paths.DATASET / "ledger.csv", params.preprocess.float_format)
    log.info("ledger: %d rows %s", len(ledger), ledger["reason"].value_counts().to_dict())


if __name__ == '__main__':
    storage.run_stage(main)
