"""Split: train/test by a salted hash of each group (stable across versions); publishes the dataset.

One DVC stage per modality (``split@hands``...: ``python -m stages.split hands``) and one for the
ledger (``ledger``: ``python -m stages.split ledger``).

Reads:   ``data/interim/preprocess/<modality>.parquet`` and
         ``data/interim/validate/<modality>.json`` (a table is published only if it passed
         validation, and only the bytes that did); for the ledger, the three stage ledgers
         (``data/interim/{ingest,extract,preprocess}/ledger.csv``); both, the decisions of
         ``reviews.csv`` that matched this build (``data/interim/review/decisions.parquet``:
         relabelled rows are published with their new label, dropped ones in the ledger as
         ``review_drop``).
Writes:  ``data/dataset/{hands,faces,holistic}/{train,test}.{csv,parquet}`` and
         ``data/dataset/ledger.{csv,parquet}``: each table as CSV and as Parquet (typed columns,
         the same rows and values; text as it is, where the CSV neutralizes formulas).
Params:  ``split`` (test_size, salt), ``preprocess.float_format``.

Computations and publishing: :mod:`landmark_datasets.split.split`. This entry point reads params
and calls them.
"""

from __future__ import annotations

import json
import sys

from landmark_datasets import UserError
from landmark_datasets.core import cli, paths, schema, storage
from landmark_datasets.review import review
from landmark_datasets.split.split import log, pieces, public_ledger, publish, publish_pieces


def main(what: list[str] | None = None) -> None:
    """Split and publish the tables named in ``what`` (modalities, ``ledger``); None: all.

    The ``split@<modality>`` and ``ledger`` stages run it through :func:`from_argv`.
    """
    import pyarrow.parquet as pq

    from landmark_datasets.core import params as params_mod

    what = what or [*schema.MODALITIES, "ledger"]
    unknown = sorted(set(what) - {*schema.MODALITIES, "ledger"})
    if unknown:
        raise UserError(f"{', '.join(unknown)}: expected one or more of "
                        f"{', '.join(schema.MODALITIES)}, ledger")
    cli.setup_logging()
    params = params_mod.load()
    reviewed = review.read_matched(paths.REVIEW_DECISIONS)
    for modality in (m for m in schema.MODALITIES if m in what):
        gate = paths.validated(modality)
        verdict = json.loads(gate.read_text())
        source = paths.PREPROCESS / f"{modality}.parquet"
        if not verdict["success"]:
            raise UserError(f"{gate}: validation of the {modality} table failed; fix what "
                            f"{paths.VALIDATION} lists and run the validate stage again")
        if verdict["sha256"] != storage.sha256_file(source):
            raise UserError(f"{source} is not the table {gate} validated; run the validate "
                            "stage again (dvc repro does)")
        decided = review.for_modality(reviewed, modality)
        sides, groups = pieces(source, modality, params.split.test_size, params.split.salt,
                               decisions=decided)
        rows = {side: publish_pieces(it, paths.table(modality, side),
                                     params.preprocess.float_format,
                                     pq.read_schema(source))
                for side, it in sides.items()}
        counts = decided["decision"].value_counts()
        log.info("%s: %d train, %d test rows; %d + %d groups%s", modality, rows["train"],
                 rows["test"], groups["train"], groups["test"],
                 f"; reviewed: {counts.get('relabel', 0)} rows relabelled, "
                 f"{counts.get('drop', 0)} dropped" if len(decided) else "")
    if "ledger" in what:  # what no table holds: it needs no table's verdict
        ledger = public_ledger(reviewed=reviewed)
        publish(ledger, paths.DATASET / "ledger.csv", params.preprocess.float_format)
        log.info("ledger: %d rows %s", len(ledger), ledger["reason"].value_counts().to_dict())


def from_argv() -> None:
    """``python -m stages.split [<modality> | ledger ...]``; no argument: all of them.

    One DVC stage per modality (a sweep that leaves a table unchanged leaves its split alone)
    and one for the ledger.
    """
    main(sys.argv[1:])


if __name__ == '__main__':
    cli.run_stage(from_argv)
