"""Evaluate: baseline classifiers on the published split, the number that sweeps compare.

Entry point: ``stages/evaluate.py`` (reads params, calls these functions, writes outputs).

Features are the published landmark columns (and blendshapes for faces): exactly what a user
of the dataset trains on. Two models by default: extremely randomized trees (non-linear;
seeded tree by tree, so the result does not depend on how many CPUs build them) and linear
discriminant analysis (linear); logistic regression and a random forest on request (see
:func:`make_model`). The metrics are deterministic.
Cross-validation is grouped (no source or subject on both sides of a fold) and stratified.

Sequence-level baseline (holistic): signs are sequences, so each labelled video or time range
of the holistic table is also one sample, described by summary statistics of its frames (see
:func:`sequences`), and scored the same way under ``"holistic sequences"``.

Memo: an evaluation is a pure function of its two tables, the ``evaluate`` params and this
code, so :func:`memoized` keeps it in the landmark cache under their digests. A sweep of a hand
scheme leaves the faces tables as they were: their evaluation, the costliest, is read back
instead of computed again. A changed table, param, this module, the schema or a library
version misses it.

Label review: every row gets a prediction from a model that never saw it, with no fit of its
own: a train row its grouped cross-validation prediction, a test row the prediction of the
model trained on train (both of the first model). A row predicted as another label with
probability at least ``review_confidence`` is listed, by pseudonymous id and label, as a
candidate for manual review.
"""
from __future__ import annotations

import functools
import logging
import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd

from landmark_datasets import schema
from landmark_datasets.cache import Cache
from landmark_datasets.params import EvaluateParams

log = logging.getLogger("evaluate")

MODELS = schema.CLASSIFIERS
REVIEW_COLUMNS = ["modality", "source_id", "frame", "instance", "label", "predicted",
                  "confidence"]
ROUND = 4
#: Modalities that also get a sequence-level baseline: holistic rows are one per frame with
#: each hand on its side, so a video's frames line up. (Hands rows are one per detected hand
#: with no identity across frames: a sequence of them mixes hands.)
SEQUENCE_MODALITIES = ("holistic",)
#: The fewest frames a sequence has; fewer is an image or a single sampled frame.
MIN_SEQUENCE_FRAMES = 2
#: The summary statistics of a sequence's frames, per feature.
SEQUENCE_STATS = ("mean", "std", "min", "max")


def feature_columns(df: pd.DataFrame, modality: str) -> list[str]:
    """The published columns a model trains on: landmarks, plus blendshapes for faces.

    Holistic rows: the three presence flags, both hands' image landmarks, the face's (unless
    privacy keeps blendshapes only) and its blendshapes.
    """
    if modality == schema.HOLISTIC:
        wanted = [*schema.PRESENCE_COLUMNS,
                  *(c for p in schema.PARTS for c in schema.part_landmark_columns(p)),
                  *schema.BLENDSHAPE_COLUMNS]
    else:
        wanted = list(schema.landmark_block(modality))
    if modality == "faces":
        wanted += list(schema.BLENDSHAPE_COLUMNS)
    return [c for c in wanted if c in df.columns]


def feature_matrix(df: pd.DataFrame, cols: list[str]) -> np.ndarray:
    """``df[cols]`` as float32, an absent holistic part (empty cells) as 0.

    Its presence flag, also a feature, tells a model the part is absent, not at the origin.
    float32 holds the published six decimals and halves the work of the wide face tables.
    """
    return np.nan_to_num(df[cols].to_numpy(dtype=np.float32), nan=0.0)


def make_model(name: str, seed: int, shape: tuple[int, int] = (0, 0)):
    """An unfitted scikit-learn classifier, by name (:data:`MODELS`), for ``shape`` data.

    - ``extra_trees``: 100 extremely randomized trees, seeded tree by tree (the same forest on
      any number of CPUs). The first default: at 10,000 photos 3 times faster than ``forest``
      on the faces, as accurate (test 0.997 against 0.992), and the best of the four on the
      86 test-data hands too. Its probabilities are vote shares: a sound confidence for the
      label review.
    - ``lda``: linear discriminant analysis, no iterations. The linear default: at 10,000
      photos it fits the 1,486 face features in about 1 s, where ``logreg`` needs 4-6 s to
      converge, and scores as well or better (faces 0.999 against 0.991, hands 0.983 against
      0.974). With fewer training rows than twice the features (``shape``: the training
      set's rows and features), the pooled covariance is ill-conditioned: there it is shrunk
      (Ledoit-Wolf, ``solver="lsqr", shrinkage="auto"``), which on the test data lifts
      grouped cross-validation from 0.44 to 0.53 (faces, 99 rows) and from 0.59 to 0.70
      (hands, 86 rows), as good as ``logreg``; with more rows, the SVD solver, unshrunk
      (shrinkage there cost hands 0.986 -> 0.937 and faces 0.999 -> 0.989 at 10,000 photos).
    - ``logreg``: standardized multinomial logistic regression (L-BFGS).
    - ``forest``: a random forest of 200 trees, seeded the same way.
    """
    if name == "lda":
        from sklearn.discriminant_analysis import LinearDiscriminantAnalysis

        rows, features = shape
        if rows < 2 * features:
            return LinearDiscriminantAnalysis(solver="lsqr", shrinkage="auto")
        return LinearDiscriminantAnalysis(solver="svd")
    if name == "logreg":
        from sklearn.linear_model import LogisticRegression
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import StandardScaler

        return make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000, C=1.0))
    if name in ("extra_trees", "forest"):
        from sklearn.ensemble import ExtraTreesClassifier, RandomForestClassifier

        from landmark_datasets.cpus import available_cpus

        if name == "extra_trees":
            return ExtraTreesClassifier(n_estimators=100, random_state=seed,
                                        n_jobs=available_cpus())
        return RandomForestClassifier(n_estimators=200, random_state=seed,
                                      n_jobs=available_cpus())
    raise ValueError(f"unknown model {name!r}; expected one of {MODELS}")


def remembered_folds(labels: np.ndarray, groups: np.ndarray, wanted: int, seed: int,
                     cache: Cache | None = None):
    """:func:`grouped_folds`, from ``cache`` when these labels and groups were folded before.

    Folding thousands of groups costs scikit-learn about a second, and a sweep point of a
    scheme changes the features, never the rows, labels or groups: their folds are the same.
    Stored as each row's fold, which gives back the same sorted index arrays.
    """
    if cache is None or not cache.enabled:
        return grouped_folds(labels, groups, wanted, seed)
    import hashlib

    from sklearn import __version__ as sklearn_version

    from landmark_datasets.cache import key

    h = hashlib.sha256()
    for values in (labels, groups):
        h.update("\0".join(map(str, values)).encode() + b"\1")
    k = key(MEMO, "folds", h.hexdigest(), wanted, seed, sklearn_version, code_digest())
    found = cache.get(MEMO, k)
    if found is not None and "fold" in found:
        fold = found["fold"]
        return [(np.flatnonzero(fold != i), np.flatnonzero(fold == i))
                for i in range(int(fold.max()) + 1)] if len(fold) else [], None
    if found is not None and "why" in found:
        return None, str(found["why"])
    folds, why = grouped_folds(labels, groups, wanted, seed)
    if why:
        cache.put(MEMO, k, {"why": np.array(why)})
    else:
        fold = np.full(len(labels), -1, dtype=np.int32)
        for i, (_, held) in enumerate(folds):
            fold[held] = i
        cache.put(MEMO, k, {"fold": fold})
    return folds, why


def grouped_folds(labels: np.ndarray, groups: np.ndarray, wanted: int, seed: int):
    """Stratified, grouped folds in which every label is learnt, or the reason there are none.

    Returns ``(folds, None)`` or ``(None, reason)``. Grouped cross-validation holds whole
    groups (sources or subjects) out, so it can only score a label that has at least two
    groups: with one, the fold holding it out has never seen the label and its "accuracy" is
    0 by construction, a number that looks like a result but is not one. So the folds number
    ``min(wanted, fewest groups of any label)``, and folds whose training part lacks a label of
    their held-out part are refused.
    """
    from sklearn.model_selection import StratifiedGroupKFold

    names = np.unique(labels)
    if len(names) < 2:
        return None, f"{len(names)} label{'s' * (len(names) != 1)}; a classifier needs two"
    per_label = {lab: len(np.unique(groups[labels == lab])) for lab in names}
    fewest = min(per_label.values())
    if fewest < 2:
        single = sorted(str(lab) for lab, n in per_label.items() if n < 2)
        return None, (f"{len(single)} label{'s' * (len(single) != 1)} with a single group "
                      f"({', '.join(single[:5])}{', ...' if len(single) > 5 else ''}): grouped "
                      "cross-validation needs two or more sources or subjects per label")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "least populated class has fewer members than folds"
        cv = StratifiedGroupKFold(n_splits=min(wanted, fewest), shuffle=True, random_state=seed)
        folds = list(cv.split(np.zeros(len(labels)), labels, groups))
    for fit_idx, held_idx in folds:
        unseen = sorted(set(labels[held_idx]) - set(labels[fit_idx]))
        if unseen:
            return None, (f"a fold holds out every group of {', '.join(map(str, unseen[:5]))}; "
                          "add sources or subjects to that label")
    return folds, None


def scores(y_true, y_pred, labels: list[str]) -> dict:
    """Accuracy, macro-F1 (over ``labels``) and recall per label."""
    from sklearn.metrics import accuracy_score, f1_score, recall_score

    recall = recall_score(y_true, y_pred, labels=labels, average=None, zero_division=0)
    present = set(y_true)
    return {
        "accuracy": round(float(accuracy_score(y_true, y_pred)), ROUND),
        "macro_f1": round(float(f1_score(y_true, y_pred, labels=sorted(present),
                                         average="macro", zero_division=0)), ROUND),
        "recall": {lab: round(float(r), ROUND) for lab, r in zip(labels, recall, strict=True)
                   if lab in present},
    }


@dataclass
class Evaluation:
    """One modality's results: metrics, test predictions and label-review candidates."""

    metrics: dict
    confusion: pd.DataFrame
    review: pd.DataFrame


def evaluate(train: pd.DataFrame, test: pd.DataFrame, modality: str,
             params: EvaluateParams, cache: Cache | None = None) -> Evaluation:
    """Cross-validate on train, score on test, and flag label-review candidates.

    ``cache``: where the folds of train are remembered (:func:`remembered_folds`).
    """
    cols = feature_columns(train, modality)
    out: dict = {"rows_train": len(train), "rows_test": len(test), "features": len(cols)}
    scored, confusion, unseen = fit_and_score(
        feature_matrix(train, cols), train["label"].to_numpy(), train["group"].to_numpy(),
        feature_matrix(test, cols), test["label"].to_numpy(), params, "rows", cache)
    out.update(scored)
    review = pd.DataFrame(columns=REVIEW_COLUMNS)
    if "skipped" in out:
        return Evaluation(out, confusion, review)
    review = label_review(pd.concat([train, test], ignore_index=True), unseen, modality,
                          params.review_confidence)
    out["review_candidates"] = len(review)
    if "cv_skipped" in out:
        out["review_skipped"] = ("train rows have no out-of-fold prediction (no "
                                 "cross-validation, see above)")
    return Evaluation(out, confusion, review)


def fit_and_score(x_train: np.ndarray, y_train: np.ndarray, g_train: np.ndarray,
                  x_test: np.ndarray, y_test: np.ndarray, params: EvaluateParams,
                  unit: str, cache: Cache | None = None
                  ) -> tuple[dict, pd.DataFrame, tuple[np.ndarray, np.ndarray]]:
    """Each model's grouped CV scores on train and its scores on test, or why there are none.

    ``unit`` names a sample in the reasons (rows, sequences). Returns the metrics, the first
    model's test predictions (actual, predicted) and its predictions of train then test rows
    by models that never saw them, with their probabilities (None where there is none: train
    rows without cross-validation).
    """
    from sklearn.base import clone

    labels = sorted(set(y_train) | set(y_test))
    out: dict = {}
    confusion = pd.DataFrame(columns=["actual", "predicted"])
    unseen = (np.full(len(y_train) + len(y_test), None, dtype=object),
              np.zeros(len(y_train) + len(y_test)))
    n_train = len(set(y_train))
    if n_train < 2:
        out["skipped"] = (f"train holds {n_train} label{'s' * (n_train != 1)}; a classifier "
                          "needs two or more" if len(y_train) else f"no {unit} in train")
        return out, confusion, unseen
    folds, why = remembered_folds(y_train, g_train, params.cv_folds, params.seed, cache)
    if why:
        out["cv_skipped"] = why
    if not len(y_test):
        out["test_skipped"] = (f"the test split is empty (no {unit}): split keeps a label "
                               "with a single group (source or subject) in train")
    for name in params.models:
        model = make_model(name, params.seed, x_train.shape)
        result: dict = {}
        first = name == params.models[0]
        why_not = cannot_fit(name, y_train)
        if why_not:
            out[name] = {"skipped": why_not}
            continue
        fold_why = folds is not None and next(
            (w for fit_idx, _ in folds if (w := cannot_fit(name, y_train[fit_idx]))), None)
        if fold_why:
            result["cv_skipped"] = f"a fold's training part: {fold_why}"
        elif folds is not None:
            pred, conf = out_of_fold(model, x_train, y_train, folds)
            result["cv"] = {"folds": len(folds), **scores(y_train, pred, labels)}
            if first:
                unseen[0][:len(y_train)], unseen[1][:len(y_train)] = pred, conf
        fitted = _fit(clone(model), x_train, y_train)
        if len(y_test):
            proba = fitted.predict_proba(x_test)
            predicted = fitted.classes_[proba.argmax(axis=1)]
            result["test"] = scores(y_test, predicted, labels)
            if first:
                confusion = pd.DataFrame({"actual": y_test, "predicted": predicted})
                unseen[0][len(y_train):], unseen[1][len(y_train):] = predicted, proba.max(axis=1)
        del fitted  # not alive while the next model fits
        out[name] = result
    return out, confusion, unseen


def cannot_fit(name: str, y: np.ndarray) -> str | None:
    """Why model ``name`` cannot learn labels ``y``, or None.

    LDA estimates a covariance within the labels: it needs more rows than labels.
    """
    labels = len(set(y))
    if name == "lda" and len(y) <= labels:
        return (f"lda needs more rows than labels ({len(y)} rows, {labels} labels); add rows "
                "or use another model")
    return None


def _fit(model, x: np.ndarray, y: np.ndarray):
    """``model`` fitted; LDA's notice that landmark coordinates are collinear is expected."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Variables are collinear")
        return model.fit(x, y)


def sequences(rows: pd.DataFrame, cols: list[str]) -> tuple[pd.DataFrame, np.ndarray]:
    """One sample per labelled video sequence, from summary statistics of its frames.

    A sequence is the rows of one source with one label and one group, of at least
    :data:`MIN_SEQUENCE_FRAMES` frames: a labelled video, or a manifest's time range of one
    (two ranges of a video with the same label and group are one sequence). Images are not
    sequences. Features: per frame feature, its mean, standard deviation, minimum and maximum
    over the sequence (NaN-aware, so an absent part counts only where present; the mean of a
    presence flag is the share of frames with that part). A statistic with no value (a part
    absent from every frame, the deviation of one value) is 0, like an absent part in a row.

    Returns the sequences (``source_id, group, label, frames``, sorted) and their features.
    """
    keys = ["source_id", "group", "label"]
    frames = rows.groupby(keys, sort=True)["frame"].nunique()
    keep = frames[frames >= MIN_SEQUENCE_FRAMES].rename("frames").reset_index()
    if not len(keep):
        return keep, np.zeros((0, len(cols) * len(SEQUENCE_STATS)))
    mine = rows.merge(keep[keys], on=keys)
    stats = mine.groupby(keys, sort=True)[cols].agg(list(SEQUENCE_STATS))
    return keep, np.nan_to_num(stats.to_numpy(dtype=np.float32), nan=0.0)


def evaluate_sequences(train: pd.DataFrame, test: pd.DataFrame, modality: str,
                       params: EvaluateParams) -> Evaluation:
    """The sequence-level baseline: one sample per video sequence (see :func:`sequences`)."""
    cols = feature_columns(train, modality)
    seq_train, x_train = sequences(train, cols)
    seq_test, x_test = sequences(test, cols)
    out: dict = {"sequences_train": len(seq_train), "sequences_test": len(seq_test),
                 "features": x_train.shape[1], "min_frames": MIN_SEQUENCE_FRAMES}
    scored, confusion, _ = fit_and_score(
        x_train, seq_train["label"].to_numpy(), seq_train["group"].to_numpy(), x_test,
        seq_test["label"].to_numpy(), params, "sequences")
    out.update(scored)
    return Evaluation(out, confusion, pd.DataFrame(columns=REVIEW_COLUMNS))


def out_of_fold(model, x: np.ndarray, y: np.ndarray, folds) -> tuple[np.ndarray, np.ndarray]:
    """Each row's prediction and its probability from the fold that held it out."""
    from sklearn.base import clone

    best = np.empty(len(y), dtype=object)
    conf = np.zeros(len(y))
    for fit_idx, held_idx in folds:
        fitted = _fit(clone(model), x[fit_idx], y[fit_idx])
        proba = fitted.predict_proba(x[held_idx])
        best[held_idx] = fitted.classes_[proba.argmax(axis=1)]
        conf[held_idx] = proba.max(axis=1)
        del fitted, proba  # one fold's forest at a time: memory is the model's, not k of them
    return best, conf


def label_review(rows: pd.DataFrame, unseen: tuple[np.ndarray, np.ndarray], modality: str,
                 threshold: float) -> pd.DataFrame:
    """Rows whose unseen-model prediction is another label with probability >= ``threshold``.

    ``unseen``: per row of ``rows`` (train then test), the prediction of a model that never
    saw it and its probability, or None (not reviewed); see :func:`fit_and_score`.
    """
    best, conf = unseen
    y = rows["label"].to_numpy()
    flagged = np.array([b is not None and b != t for b, t in zip(best, y, strict=True)],
                       dtype=bool) & (conf >= threshold)
    out = rows.loc[flagged, ["source_id", "frame", "instance", "label"]].assign(
        modality=modality, predicted=best[flagged], confidence=np.round(conf[flagged], ROUND))
    return out[REVIEW_COLUMNS].sort_values(["confidence", "source_id", "frame", "instance"],
                                     ascending=[False, True, True, True]
                                     ).reset_index(drop=True)


def summary(metrics: dict, models: list[str]) -> str:
    """A log line's account of one evaluation: test accuracies, or why there are none."""
    done = ", ".join(f"{m} test accuracy {metrics[m]['test']['accuracy']:.3f}"
                     for m in models if "test" in metrics.get(m, {}))
    return done or f"not evaluated ({metrics.get('skipped') or metrics.get('test_skipped')})"


#: The namespace of evaluations in the landmark cache.
MEMO = "evaluate"


@functools.cache
def code_digest() -> str:
    """sha256 of what decides an evaluation besides its inputs (read once per process).

    This module's and the schema's source and the versions of scikit-learn, numpy and scipy.
    """
    import sys

    from landmark_datasets.cache import source_digest

    return source_digest(sys.modules[__name__], schema,
                         libraries=("scikit-learn", "numpy", "scipy"))


def _frame_arrays(prefix: str, df: pd.DataFrame) -> dict[str, np.ndarray]:
    """A table as plain arrays (text as unicode, no pickles), for the cache."""
    return {f"{prefix}{i}:{c}": (df[c].to_numpy(dtype=str) if df[c].dtype.kind in "OTU"
                                   or str(df[c].dtype) in ("str", "string")
                                   else df[c].to_numpy())
            for i, c in enumerate(df.columns)}


def _frame_back(prefix: str, arrays: dict[str, np.ndarray]) -> pd.DataFrame:
    cols = sorted((int(k[len(prefix):].partition(":")[0]), k) for k in arrays
                  if k.startswith(prefix))
    return pd.DataFrame({k.partition(":")[2]: (arrays[k].astype(object)
                                               if arrays[k].dtype.kind == "U" else arrays[k])
                         for _, k in cols})


def memoized(cache: Cache, key: str, compute) -> tuple[Evaluation, bool]:
    """``compute()``'s evaluation, from ``cache`` under ``key`` if there, and whether it was.

    ``key``: see :func:`memo_key`.
    """
    import json

    hit = cache.get(MEMO, key)
    if hit is not None and "metrics" in hit:
        return Evaluation(json.loads(str(hit["metrics"])), _frame_back("confusion", hit),
                          _frame_back("review", hit)), True
    result = compute()
    cache.put(MEMO, key, {"metrics": np.array(json.dumps(result.metrics, sort_keys=True)),
                          **_frame_arrays("confusion", result.confusion),
                          **_frame_arrays("review", result.review)})
    return result, False


def memo_key(kind: str, modality: str, table_digests: list[str],
             params: EvaluateParams) -> str:
    """The cache key of one evaluation.

    What is evaluated (``kind``: rows or sequences), the sha256 of its train and test tables,
    the params and :func:`code_digest`.
    """
    from dataclasses import asdict

    from landmark_datasets.cache import key

    return key(MEMO, kind, modality, table_digests, asdict(params), code_digest())

