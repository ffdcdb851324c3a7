"""Card: the dataset card (``data/dataset/README.md``) and Croissant metadata beside it.

Reads:   ``data/dataset/`` (the published Parquet tables and ledger), ``reports/evaluation.json``
         (baseline scores), ``data/interim/review/summary.json`` (the labels verified by
         hand), the models (sha256, for provenance).
Writes:  ``data/dataset/README.md`` (a Hugging Face dataset card: YAML header, then what the
         data is, its columns, privacy, counts, ledger, provenance, citation) and
         ``data/dataset/croissant.json`` (Croissant 1.0: files with sha256, every column).
Params:  ``card`` (license, name, citation) and, for provenance, every parameter that shapes
         the dataset.

Computations: :mod:`landmark_datasets.report.card`. This entry point reads params, calls it and
writes the outputs.
"""

from __future__ import annotations

import json
import logging

from landmark_datasets.core import cli, paths, schema, storage
from landmark_datasets.report import card

log = logging.getLogger("card")


def main() -> None:
    """Entry point of the ``card`` stage."""
    import pyarrow.parquet as pq

    from landmark_datasets.core import params as params_mod
    from landmark_datasets.report.quality import describe_preprocessing
    from landmark_datasets.report.report import provenance

    cli.setup_logging()
    params = params_mod.load()
    pre = params.preprocess
    tables = [card.read_table_facts(paths.DATASET, m, s)
              for m in schema.MODALITIES for s in card.SPLITS]
    ledger = paths.DATASET / "ledger.parquet"
    reasons = pq.read_table(ledger, columns=["reason"]).column("reason").to_pandas()
    flags = "".join(f" + {f}" for f in schema.HAND_FLAGS if getattr(pre, f))
    hands = f"`{pre.scheme}{flags}`"
    faces = f"`{pre.face_scheme}`"
    holistic_hands = hands if pre.holistic_hands == "own" else "`face_frame`"
    prov = provenance(params.extract)
    build = card.Build(
        tables=tables,
        ledger={str(k): int(v) for k, v in reasons.value_counts().sort_index().items()},
        ledger_sha256=storage.sha256_file(ledger),
        ledger_columns=[(f.name, str(f.type)) for f in pq.read_schema(ledger)],
        license=params.card.license, name=params.card.name, citation=params.card.citation,
        version=params.card.version,
        preprocessing=describe_preprocessing(pre), privacy=pre.privacy,
        schemes={"hands": hands, "faces": faces, "holistic": holistic_hands},
        models=prov["models"], libraries=prov["libraries"],
        params_text=params_mod.dataset_params_text(all_paths=True),
        evaluation=json.loads(paths.EVALUATION.read_text()),
        reviewed=json.loads(paths.REVIEW_SUMMARY.read_text()))
    storage.write_text(card.render(build), paths.DATASET / "README.md")
    storage.write_json(card.croissant(build), paths.DATASET / "croissant.json")
    if build.license == card.UNSET_LICENSE:
        log.info("the data's license is not set (card.license: unknown); set it before "
                 "you publish the dataset")
    log.info("%s: %s", paths.DATASET / "README.md",
             ", ".join(f"{t.modality}/{t.split} {t.rows}" for t in tables))


if __name__ == "__main__":
    cli.run_stage(main)
