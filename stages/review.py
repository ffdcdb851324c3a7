"""Review: match the label decisions in ``reviews.csv`` against this build's tables.

Reads:   ``reviews.csv`` (at the repository root, in git: a person's keep, relabel and drop
         decisions; see :mod:`landmark_datasets.review.review`) and the keys and labels of
         ``data/interim/preprocess/{hands,faces,holistic}.parquet``.
Writes:  ``data/interim/review/decisions.parquet`` (every table row a decision covers, with the
         winning decision: split applies it, the ledger lists the drops, evaluate leaves the
         decided rows out of the review queue) and ``data/interim/review/summary.json``
         (decisions applied by kind, those that matched nothing: the report's Review section).
Params:  none.

A malformed row of ``reviews.csv`` stops the build with one line naming the row and what to
write instead; a decision that matches nothing is counted, listed and logged, never fatal.

Computations: :mod:`landmark_datasets.review.review`. This entry point reads the files, calls
them and writes the outputs.
"""

from __future__ import annotations

from landmark_datasets.core import cli, paths, schema, storage
from landmark_datasets.review import review


def main() -> None:
    """Entry point of the ``review`` stage."""
    cli.setup_logging()
    decisions = review.read(paths.REVIEWS)
    keys = review.table_keys({m: paths.PREPROCESS / f"{m}.parquet" for m in schema.MODALITIES})
    matched, unmatched = review.match(decisions, keys)
    summary = review.summary(decisions, matched, unmatched)
    storage.write_parquet(matched, paths.REVIEW_DECISIONS)
    storage.write_json(summary, paths.REVIEW_SUMMARY)
    applied = ", ".join(f"{kind} {n['decisions']} ({n['rows']} rows)"
                        for kind, n in summary["applied"].items() if n["decisions"])
    review.log.info("%s: %d decisions%s", paths.REVIEWS, len(decisions),
                    f"; {applied}" if applied else "")
    for u in summary["unmatched"]:
        review.log.warning("%s, row %d: %s %s of %s matches no row of this build; it is "
                           "listed in the report", paths.REVIEWS, u["row"], u["decision"],
                           u["target"], u["source_id"])


if __name__ == '__main__':
    cli.run_stage(main)
