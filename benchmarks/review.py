"""The label-review queue against planted label errors, and its cost against evaluate's.

    .venv/bin/python benchmarks/review.py [--media DIR] [--per-label N] [--errors E]
                                          [--seeds S] [--photos P] [--skip-cost]

Part 1, recall (MEDIA, default ../shared/testdata): the hand photos of rock, paper, scissors
and none are extracted (IMAGE mode) and preprocessed as the default build does (wrist_palm);
the first N sources of each label (default 20: 80 photos) are kept and E of them (default 12:
15%, the noise of crowd-sourced labels) get another label, drawn with each of S seeds
(default 10). For each draw it prints how many planted errors are in the top E and the top 2E
entries of the queue (:func:`landmark_datasets.evaluate.evaluate.label_review`), and how many the
queue flags, for the default models (extra trees + LDA, averaged), for each alone, and
without the hand-shape features (:func:`landmark_datasets.evaluate.evaluate.review_features`).
Then the grouped cross-validation accuracy before and after relabelling what the top 2E
found (a reviewer who corrects the entries they are shown).

Part 2, cost: a full build of P photo variants (default 10,000; benchmarks/sweep.py's, kept
in --variants), then on its published tables the seconds of evaluate's scores (CV on train
and test scores: what evaluate computed before the queue) and of the review queue, and the
queue's share of the full build.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.chdir(ROOT)


def hands_table(media: Path):
    """The preprocessed (wrist_palm) hands rows of the rock-paper-scissors photos."""
    import tempfile

    from landmark_datasets.core import storage
    from landmark_datasets.core.params import Params, PreprocessParams
    from landmark_datasets.extract import extract
    from landmark_datasets.ingest import ingest, layout
    from landmark_datasets.preprocess import preprocess

    params = Params()
    params.ingest.raw_dir = str(media)
    entries = [layout.Entry(f"hands/{lab}/{p.name}", "hands", lab)
               for lab in ("rock", "paper", "scissors", "none")
               for p in sorted((media / "hands" / lab).iterdir())]
    items, frames, _ = ingest.build_inventory(media, entries, params.ingest)
    with tempfile.TemporaryDirectory() as out:
        extract.extract(items, frames, params.extract, media, 40_000_000, Path(out), None, 2)
        hands = storage.read_table(Path(out) / "hands.parquet")
    kept, _, _ = preprocess.preprocess(hands, "hands", PreprocessParams(scheme="wrist_palm"))
    return kept


def plant(rows, per_label: int, errors: int, seed: int):
    """The first ``per_label`` sources of each label, ``errors`` of them relabelled."""
    firsts = (rows.drop_duplicates("source_id").sort_values(["label", "source_id"])
              .groupby("label").head(per_label)["source_id"])
    rows = rows[rows["source_id"].isin(firsts)].reset_index(drop=True)
    rng = np.random.default_rng(seed)
    sources = np.array(sorted(rows["source_id"].unique()))
    wrong = rng.choice(sources, errors, replace=False)
    labels = sorted(rows["label"].unique())
    truth = rows["label"].copy()
    for sid in wrong:
        at = rows["source_id"] == sid
        given = rows.loc[at, "label"].iloc[0]
        rows.loc[at, "label"] = rng.choice([lab for lab in labels if lab != given])
    return rows, set(wrong), truth


def recall(rows, planted: set, errors: int, models: list[str], folds: int, shape: bool = True):
    from landmark_datasets.core.params import EvaluateParams
    from landmark_datasets.evaluate import evaluate

    x = (evaluate.review_features(rows, "hands") if shape else
         evaluate.feature_matrix(rows, evaluate.feature_columns(rows, "hands")))
    scored, why = evaluate.review_scores(x, rows, EvaluateParams(review_models=models,
                                                                 review_folds=folds))
    assert why is None, why
    queue = evaluate.label_review(scored, "hands")
    top = list(queue["source_id"])
    return (len(planted & set(top[:errors])), len(planted & set(top[:2 * errors])),
            int(queue["flagged"].sum()), scored, queue)


def cv_accuracy(rows) -> float:
    from landmark_datasets.core.params import EvaluateParams
    from landmark_datasets.evaluate import evaluate

    params = EvaluateParams()
    cols = evaluate.feature_columns(rows, "hands")
    x, y = evaluate.feature_matrix(rows, cols), rows["label"].to_numpy()
    folds, why = evaluate.grouped_folds(y, rows["group"].to_numpy(), 5, params.seed)
    proba, classes = evaluate.out_of_fold(evaluate.make_model("extra_trees", 42, x.shape), x, y,
                                          folds)
    return float((classes[proba.argmax(axis=1)] == y).mean())


def part_recall(args) -> None:
    rows = hands_table(Path(args.media))
    print(f"hands rows: {len(rows)} ({rows['source_id'].nunique()} photos); keeping "
          f"{args.per_label} per label, {args.errors} planted errors, {args.seeds} draws")
    configs = {"default (ET, 3 folds)": (["extra_trees"], 3, True),
               "ET, 5 folds": (["extra_trees"], 5, True),
               "ET+LDA, 5 folds": (["extra_trees", "lda"], 5, True),
               "no shape features": (["extra_trees"], 3, False)}
    totals = {k: [] for k in configs}
    gains = []
    for seed in range(args.seeds):
        noisy, planted, truth = plant(rows, args.per_label, args.errors, seed)
        line = [f"seed {seed}:"]
        for name, (models, folds, shape) in configs.items():
            top1, top2, flagged, scored, queue = recall(noisy, planted, args.errors, models,
                                                        folds, shape)
            totals[name].append(top2)
            line.append(f"{name} top{args.errors} {top1} top{2 * args.errors} {top2} "
                        f"(flags {flagged})")
            if name.startswith("default"):
                shown = set(queue["source_id"][:2 * args.errors])
                fixed = noisy.copy()
                at = fixed["source_id"].isin(shown & planted)
                fixed.loc[at, "label"] = truth[at]
                before, after = cv_accuracy(noisy), cv_accuracy(fixed)
                gains.append((before, after))
                line.append(f"| CV {before:.3f} -> {after:.3f}")
        print(" ".join(line))
    for name, found in totals.items():
        print(f"{name:>21}: planted errors in the top {2 * args.errors}: mean "
              f"{np.mean(found):.1f}, min {min(found)}, max {max(found)} of {args.errors}")
    b, a = np.mean([g[0] for g in gains]), np.mean([g[1] for g in gains])
    print(f"grouped CV accuracy (extra trees), mean over draws: {b:.3f} noisy -> {a:.3f} after "
          f"relabelling what the top {2 * args.errors} found")


def part_cost(args) -> None:
    """A real build of ``--photos`` variants (benchmarks/sweep.py's), then, on its published
    tables, evaluate's scores (what evaluate computed before the queue) and the review
    queue, each timed in this process."""
    import json
    import shutil

    import pandas as pd

    from benchmarks import sweep
    from landmark_datasets.core import schema
    from landmark_datasets.core.params import EvaluateParams
    from landmark_datasets.evaluate import evaluate

    raw = Path(args.variants) / str(args.photos)
    if not raw.is_dir():
        sweep.make_variants(Path(args.media), raw, args.photos)
    tmp, env = sweep.repo_copy(raw)
    try:
        full = sweep.timed([sys.executable, "-m", "dvc", "repro"], tmp, env)[0]
        print(f"full build of {args.photos} photos: {full:.1f} s "
              f"({json.loads((tmp / 'reports/metrics.json').read_text())['hands']['rows_train']}"
              " hands train rows)")
        params = EvaluateParams()
        total_scores = total_queue = 0.0
        for modality in schema.MODALITIES:
            train, test = (pd.read_parquet(tmp / f"data/dataset/{modality}/{s}.parquet")
                           for s in ("train", "test"))
            cols = evaluate.feature_columns(train, modality)
            t0 = time.perf_counter()
            evaluate.fit_and_score(
                evaluate.feature_matrix(train, cols), train["label"].to_numpy(),
                train["group"].to_numpy(), evaluate.feature_matrix(test, cols),
                test["label"].to_numpy(), params, "rows")
            t1 = time.perf_counter()
            rows = pd.concat([train, test], ignore_index=True)
            scored, why = evaluate.review_scores(evaluate.review_features(rows, modality), rows,
                                                 params)
            evaluate.label_review(scored, modality)
            t2 = time.perf_counter()
            total_scores += t1 - t0
            total_queue += t2 - t1
            print(f"{modality} ({len(rows)} rows): scores {t1 - t0:.1f} s, review queue "
                  f"{t2 - t1:.1f} s{f' (not ranked: {why})' if why else ''}")
        print(f"review queue {total_queue:.1f} s = {total_queue / total_scores:.2f} x the scores "
              f"({total_scores:.1f} s) = {100 * total_queue / full:.1f}% of the full build")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--media", default=str(ROOT.parent / "shared" / "testdata"))
    ap.add_argument("--per-label", type=int, default=20)
    ap.add_argument("--errors", type=int, default=12)
    ap.add_argument("--seeds", type=int, default=10)
    ap.add_argument("--photos", type=int, default=10_000)
    ap.add_argument("--variants", default=str(Path(__import__("tempfile").gettempdir())
                                                / "landmark-variants"))
    ap.add_argument("--skip-cost", action="store_true")
    args = ap.parse_args()
    from landmark_datasets import native_logs

    native_logs()
    part_recall(args)
    if not args.skip_cost:
        part_cost(args)


if __name__ == "__main__":
    main()
