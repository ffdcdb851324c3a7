"""Report: the data-quality report (Markdown + plots), DVC metrics and DVC plot data.

Reads:   ``data/dataset/`` (published tables and ledger), ``data/interim/ingest/items.csv`` and
         ``frames.parquet`` (how many frames each label offered), ``reports/validation.json``,
         ``reports/evaluation.json`` and ``reports/label_review.csv`` (the evaluate stage),
         ``params.yaml``, the models (sha256 for provenance).
Writes:  ``reports/quality.md``, ``reports/figures/*.png``, ``reports/metrics.json`` (DVC
         metrics) and ``reports/plots/*.csv`` (DVC plots).
Params:  ``report.dpi`` and, for provenance, every parameter that shapes the dataset (all of
         ``params.yaml`` but the run-only keys of :data:`landmark_datasets.params.RUN_ONLY_KEYS`).

Computations: :mod:`landmark_datasets.report`. This entry point reads params, calls them and
writes the outputs.
"""

from __future__ import annotations

import json

from landmark_datasets import inventory, paths, schema, storage
from landmark_datasets.report import (
    blendshape_profile,
    class_balance,
    describe_preprocessing,
    detection_rate,
    evaluation_table,
    holistic_frames,
    load_dataset,
    log,
    metrics,
    modality_status,
    plot_bars,
    plot_blendshapes,
    plot_confusion,
    plot_hand_skeletons,
    plot_handedness,
    plot_holistic_skeletons,
    presence_rates,
    provenance,
    remove_stale_figures,
    render,
)


def main() -> None:
    """Entry point of the ``report`` stage."""
    from landmark_datasets import params as params_mod

    storage.setup_logging()
    params = params_mod.load()
    dpi = params.report.dpi
    tables = load_dataset()
    items = inventory.read_items()
    frames = inventory.read_frames()
    ledger = storage.read_table(paths.DATASET / "ledger.csv")
    balance = class_balance(tables)
    detection = detection_rate(items, frames, ledger[ledger["stage"] == "extract"])
    reasons = (ledger.groupby(["stage", "reason"]).size().rename("rows").reset_index()
               .sort_values(["stage", "reason"]).reset_index(drop=True))
    profile = blendshape_profile(tables["faces"])
    params_text = params_mod.dataset_params_text()
    rows = {m: len(t) for m, t in tables.items()}
    confusions = {m: c for m in schema.MODALITIES
                  if len(c := storage.read_table(paths.confusion_plot(m)))}
    # Only what has data is drawn: a section without data says why instead of plotting nothing.
    draw = {
        "balance": lambda: plot_bars(
            balance.assign(group=balance["modality"] + "/" + balance["label"]),
            "group", "split", "rows", "Rows per label and split", "balance", dpi)
        if len(balance) else None,
        "detection": lambda: plot_bars(
            detection.assign(group=detection["modality"] + "/" + detection["label"],
                             what="rate"),
            "group", "what", "rate", "Detection rate per label", "detection", dpi)
        if len(detection) else None,
        "handedness": lambda: plot_handedness(tables["hands"], dpi) if rows["hands"] else None,
        "skeletons": lambda: plot_hand_skeletons(tables["hands"], params.preprocess.scheme, dpi)
        if rows["hands"] else None,
        "blendshapes": lambda: plot_blendshapes(profile, dpi) if not profile.empty else None,
        "presence": lambda: plot_bars(
            presence_rates(tables[schema.HOLISTIC]).melt(
                id_vars=["label"], value_vars=["left hand", "right hand", "face"],
                var_name="part", value_name="rate"),
            "label", "part", "rate", "Holistic rows: parts present per label", "presence", dpi)
        if rows[schema.HOLISTIC] else None,
        "holistic_skeletons": lambda: plot_holistic_skeletons(
            tables[schema.HOLISTIC], *holistic_frames(params.preprocess), dpi)
        if rows[schema.HOLISTIC] else None,
        "reasons": lambda: plot_bars(reasons.assign(what="rows"), "reason", "stage", "rows",
                                     "Ledger reasons", "reasons", dpi) if len(reasons) else None,
        "confusion": lambda: plot_confusion(confusions, dpi) if confusions else None,
    }
    figures = {k: path for k, make in draw.items() if (path := make())}
    remove_stale_figures(set(figures.values()))
    evaluation = json.loads(paths.EVALUATION.read_text())
    gaps = json.loads(paths.GAPS.read_text())
    review = storage.read_table(paths.LABEL_REVIEW)
    ctx = {
        "evaluation": evaluation_table(evaluation), "evaluation_raw": evaluation,
        "review": review, "review_count": len(review), "gaps": gaps,
        "neutralized": sum(str(label).startswith("'") and str(label)[1:].startswith(
            schema.FORMULA_PREFIXES) for label in {lab for t in tables.values()
                                                   for lab in t["label"]}),
        "scheme": describe_preprocessing(params.preprocess),
        "validation": json.loads(paths.VALIDATION.read_text()),
        "balance": balance, "detection": detection, "reasons": reasons, "blendshapes": profile,
        "rows": rows, "holistic": tables[schema.HOLISTIC],
        "status": {m: modality_status(m, rows[m], items, frames, ledger)
                   for m in schema.MODALITIES},
        "figures": figures, "provenance": provenance(params.extract), "params_text": params_text,
    }
    storage.write_text(render(ctx), paths.QUALITY)
    storage.write_json(metrics(ctx), paths.METRICS)
    storage.write_csv(balance, paths.PLOTS / "class_balance.csv")
    storage.write_csv(detection, paths.PLOTS / "detection_rate.csv")
    storage.write_csv(reasons, paths.PLOTS / "ledger_reasons.csv")
    log.info("%s: %s", paths.QUALITY, ", ".join(
        f"{m} {len(t)} rows" for m, t in tables.items()))


if __name__ == '__main__':
    storage.run_stage(main)
