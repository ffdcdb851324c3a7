"""Validate: Great Expectations suites generated from the schema; violations fail the build.

Reads:   ``data/interim/preprocess/{hands,faces,holistic}.parquet``,
         ``data/interim/ingest/items.csv`` (the label set of each modality).
Writes:  ``reports/validation.json`` (every expectation with its result),
         ``data/interim/validate/<modality>.json`` (one modality's verdict and the sha256 of
         the table it was given: what that modality's split depends on, so a sweep of the
         hand scheme leaves the faces' split alone) and, on violations,
         a readable summary on stderr and exit status 1, which fails ``dvc repro``.
Params:  ``validate.min_rows`` (per modality), ``preprocess.scheme``, ``rotate``,
         ``palm_frame`` and ``face_scheme`` (which value ranges apply),
         ``preprocess.privacy`` (which face columns are there).

Computations: :mod:`landmark_datasets.validate.validate`. This entry point reads params, calls
them and writes the outputs.
"""

from __future__ import annotations

from landmark_datasets.core import cli, paths, schema, storage
from landmark_datasets.core.cache import Cache
from landmark_datasets.ingest import inventory
from landmark_datasets.validate.validate import (
    REPORT,
    ValidationError,
    failures,
    log,
    validate,
)


def gate(modality: str, report: dict, sha256: str) -> dict:
    """What ``split@<modality>`` depends on: the verdict on the table with these bytes.

    No more: the results themselves (in ``reports/validation.json``) name the scheme's value
    ranges, so a sweep of the hand scheme would change them for a table it leaves alone (an
    empty holistic table, say) and publish that table again.
    """
    results = [r for rs in report["results"][modality].values() for r in rs]
    return {"modality": modality, "sha256": sha256, "rows": report["tables"][modality]["rows"],
            "success": all(r["success"] for r in results), "expectations": len(results),
            "failed": sum(not r["success"] for r in results)}


def main() -> None:
    """Entry point of the ``validate`` stage."""
    from landmark_datasets.core import params as params_mod

    cli.setup_logging()
    params = params_mod.load()
    items = inventory.read_items()
    files = {m: paths.PREPROCESS / f"{m}.parquet" for m in schema.MODALITIES}
    labels = {m: sorted(items.loc[items["modality"] == m, "label"].unique().tolist())
              for m in schema.MODALITIES}
    inputs = {m: int((items["modality"] == m).sum()) for m in schema.MODALITIES}
    digests = {m: storage.sha256_file(f) for m, f in files.items()}
    report = validate(files, labels, params.preprocess, params.validate, inputs,
                      cache=Cache.from_env(), digests=digests)
    storage.write_json(report, REPORT)
    for m in schema.MODALITIES:  # one gate each: what a table's split waits for
        storage.write_json(gate(m, report, digests[m]), paths.validated(m))
    n = sum(len(r) for v in report["results"].values() for r in v.values())
    bad = failures(report)
    if bad:
        raise ValidationError(
            f"{len(bad)} of {n} expectations failed (full result: {REPORT}); fix the data or "
            "the param named, then run again:\n  " + "\n  ".join(bad))
    log.info("%d expectations passed (%s)", n, REPORT)


if __name__ == '__main__':
    cli.run_stage(main)
