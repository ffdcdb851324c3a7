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

Label review (confident learning): every row of a table, train and test together, gets an
out-of-fold probability for its given label from grouped cross-validation over the whole
table (for the review only: the published test scores stay those of the model trained on
train). The probabilities of the models in ``evaluate.review_models`` are averaged (with
hand-shape features added, :func:`review_features`), and cleanlab
ranks the rows: its label-quality score (the probability of the given label, lowest first)
and its per-class thresholds, which flag a row whose given label is less likely than another
label is for the rows that have that label. :func:`label_review` turns the ranking into the
queue of ``reports/label_review.csv``: flagged rows first, most likely wrong first, one entry
per image or frame, the flagged frames of a video with one label as one time range.
"""
from __future__ import annotations

import contextlib
import functools
import logging
import warnings
from collections import Counter
from dataclasses import dataclass

import numpy as np
import pandas as pd

from landmark_datasets.core import schema
from landmark_datasets.core.cache import Cache
from landmark_datasets.core.params import EvaluateParams

log = logging.getLogger("evaluate")

MODELS = schema.CLASSIFIERS


@contextlib.contextmanager
def warnings_summarized(table: str):
    """Catch the warnings raised inside; log them as one line for ``table``.

    Small labels make scikit-learn warn once per fold and model (an ill-defined recall, a
    class with fewer rows than folds, collinear variables): dozens of lines that say one
    thing. The line gives each kind's count and its first message.
    """
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        yield
    if not caught:
        return
    kinds = Counter(w.category.__name__ for w in caught)
    first: dict[str, str] = {}
    for w in caught:
        first.setdefault(w.category.__name__, " ".join(str(w.message).split())[:140])
    log.info("%s: %d warnings from the models: %s", table, len(caught), "; ".join(
        f"{n} x {kind} ({first[kind]})" for kind, n in sorted(kinds.items())))
#: Per row of a table, what the label review scored (the memo keeps it; the queue is built
#: from it after the decided rows are left out).
SCORED_COLUMNS = ["source_id", "frame", "instance", "timestamp_ms", "label", "predicted",
                  "score", "flagged"]
#: The review queue, ``reports/label_review.csv``: one entry per image, frame or time range.
REVIEW_COLUMNS = ["modality", "source_id", "frame", "start_s", "end_s", "frames", "label",
                  "predicted", "score", "flagged"]
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


#: The joints of each finger, wrist first (MediaPipe's hand landmark indices).
FINGERS = ((0, 1, 2, 3, 4), (0, 5, 6, 7, 8), (0, 9, 10, 11, 12), (0, 13, 14, 15, 16),
           (0, 17, 18, 19, 20))
TIPS = tuple(f[-1] for f in FINGERS)


def hand_shape(points: np.ndarray) -> np.ndarray:
    """Pose-free features of hands (``points``: rows x 21 x 3): finger bends, fingertip spans.

    The cosine of the angle at each finger joint (15), the 10 fingertip-to-fingertip and 5
    fingertip-to-wrist distances in palm lengths (wrist to middle-finger knuckle): the same
    under rotation, scale, position and mirroring, so a model learns the gesture from few
    rows, not where or how the hand was held. An absent hand (NaN) gives NaN.
    """
    out = []
    for finger in FINGERS:
        for a, b, c in zip(finger, finger[1:], finger[2:], strict=False):
            u, v = points[:, a] - points[:, b], points[:, c] - points[:, b]
            norm = np.linalg.norm(u, axis=1) * np.linalg.norm(v, axis=1)
            with np.errstate(invalid="ignore", divide="ignore"):
                out.append(np.where(norm > 0, (u * v).sum(axis=1) / norm, 1.0))
    palm = np.linalg.norm(points[:, schema.MIDDLE_MCP] - points[:, schema.WRIST], axis=1)
    palm = np.where(palm > 0, palm, np.nan)
    pairs = [(i, j) for k, i in enumerate(TIPS) for j in TIPS[k + 1:]]
    pairs += [(t, schema.WRIST) for t in TIPS]
    out += [np.linalg.norm(points[:, i] - points[:, j], axis=1) / palm for i, j in pairs]
    return np.column_stack(out).astype(np.float32)


def review_features(df: pd.DataFrame, modality: str, x: np.ndarray | None = None
                    ) -> np.ndarray:
    """What the label review's models see: :func:`feature_matrix` plus each hand's shape.

    ``x``: ``df``'s feature matrix when it is at hand (computed here otherwise). Hands rows
    and holistic rows (each hand) add :func:`hand_shape`; an absent hand's features are 0, as
    its landmarks are. On the 80 test-data hand photos with 12 planted errors
    (benchmarks/review.py, 10 draws), the shape features lifted the planted errors in the top
    24 of the queue from 8.1 to 11.8 of 12 on average. The published scores
    (:func:`fit_and_score`) keep the landmark columns alone: they are what a user of the
    dataset trains on.
    """
    if x is None:
        x = feature_matrix(df, feature_columns(df, modality))
    blocks = ([list(schema.HAND_LANDMARK_COLUMNS)] if modality == "hands" else
              [schema.part_landmark_columns(p) for p in ("left_hand", "right_hand")]
              if modality == schema.HOLISTIC else [])
    shapes = [np.nan_to_num(hand_shape(df[b].to_numpy(dtype=np.float64).reshape(
        len(df), schema.N_HAND_LANDMARKS, 3)), nan=0.0) for b in blocks
              if all(c in df.columns for c in b)]
    return np.hstack([x, *shapes]) if shapes else x


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

        from landmark_datasets.core.cpus import available_cpus

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

    from landmark_datasets.core.cache import key

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
    """One modality's results: metrics, test predictions and each row's label-review score."""

    metrics: dict
    confusion: pd.DataFrame
    review: pd.DataFrame


def evaluate(train: pd.DataFrame, test: pd.DataFrame, modality: str,
             params: EvaluateParams, cache: Cache | None = None) -> Evaluation:
    """Cross-validate on train, score on test, and score every row for the label review.

    ``cache``: where the folds are remembered (:func:`remembered_folds`).
    """
    cols = feature_columns(train, modality)
    out: dict = {"rows_train": len(train), "rows_test": len(test), "features": len(cols)}
    x_train, x_test = feature_matrix(train, cols), feature_matrix(test, cols)
    scored, confusion = fit_and_score(
        x_train, train["label"].to_numpy(), train["group"].to_numpy(),
        x_test, test["label"].to_numpy(), params, "rows", cache)
    out.update(scored)
    # the review sees train then test: their matrices with the hand shapes, and their keys
    # (not a copy of the wide tables)
    keys = [*SCORED_COLUMNS[:5], "group"]
    rows = pd.concat([train[keys], test[keys]], ignore_index=True)
    x = np.vstack([review_features(train, modality, x_train),
                   review_features(test, modality, x_test)])
    del x_train, x_test
    review, why = review_scores(x, rows, params, cache)
    if why:
        out["review_skipped"] = why
    else:
        out["review_flagged"] = int(review["flagged"].sum())
    return Evaluation(out, confusion, review)


def fit_and_score(x_train: np.ndarray, y_train: np.ndarray, g_train: np.ndarray,
                  x_test: np.ndarray, y_test: np.ndarray, params: EvaluateParams,
                  unit: str, cache: Cache | None = None) -> tuple[dict, pd.DataFrame]:
    """Each model's grouped CV scores on train and its scores on test, or why there are none.

    ``unit`` names a sample in the reasons (rows, sequences). Returns the metrics and the
    first model's test predictions (actual, predicted).
    """
    from sklearn.base import clone

    labels = sorted(set(y_train) | set(y_test))
    out: dict = {}
    confusion = pd.DataFrame(columns=["actual", "predicted"])
    n_train = len(set(y_train))
    if n_train < 2:
        out["skipped"] = (f"train holds {n_train} label{'s' * (n_train != 1)}; a classifier "
                          "needs two or more" if len(y_train) else f"no {unit} in train")
        return out, confusion
    folds, why = remembered_folds(y_train, g_train, params.cv_folds, params.seed, cache)
    if why:
        out["cv_skipped"] = why
    if not len(y_test):
        out["test_skipped"] = (f"the test split is empty (no {unit}): split keeps a label "
                               "with a single group (source or subject) in train")
    for name in params.models:
        model = make_model(name, params.seed, x_train.shape)
        result: dict = {}
        why_not = cannot_fit(name, y_train)
        if why_not:
            out[name] = {"skipped": why_not}
            continue
        fold_why = folds is not None and next(
            (w for fit_idx, _ in folds if (w := cannot_fit(name, y_train[fit_idx]))), None)
        if fold_why:
            result["cv_skipped"] = f"a fold's training part: {fold_why}"
        elif folds is not None:
            proba, classes = out_of_fold(model, x_train, y_train, folds)
            result["cv"] = {"folds": len(folds),
                            **scores(y_train, classes[proba.argmax(axis=1)], labels)}
            del proba
        fitted = _fit(clone(model), x_train, y_train)
        if len(y_test):
            predicted = fitted.classes_[fitted.predict_proba(x_test).argmax(axis=1)]
            result["test"] = scores(y_test, predicted, labels)
            if name == params.models[0]:
                confusion = pd.DataFrame({"actual": y_test, "predicted": predicted})
        del fitted  # not alive while the next model fits
        out[name] = result
    return out, confusion


def review_scores(x: np.ndarray, rows: pd.DataFrame, params: EvaluateParams,
                  cache: Cache | None = None) -> tuple[pd.DataFrame, str | None]:
    """Each row's label-review score (:data:`SCORED_COLUMNS`), or why there is none.

    Grouped cross-validation over all ``rows`` (``params.review_folds``, train and test: a
    row is judged by models that never saw its group), the out-of-fold probabilities of the
    models in ``params.review_models`` that can fit every fold averaged, then confident learning
    (:func:`confident_learning`). ``score`` is the probability of the given label;
    ``predicted`` the likeliest label; ``flagged`` confident learning's verdict.
    """
    empty = pd.DataFrame(columns=SCORED_COLUMNS)
    y = rows["label"].to_numpy()
    folds, why = remembered_folds(y, rows["group"].to_numpy(), params.review_folds,
                                  params.seed, cache)
    if why:
        return empty, why
    names = [n for n in params.review_models
             if not any(cannot_fit(n, y[fit_idx]) for fit_idx, _ in folds)]
    if not names:
        return empty, cannot_fit(params.review_models[0], y[folds[0][0]])
    proba, classes = None, None
    for name in names:
        p, classes = out_of_fold(make_model(name, params.seed, x.shape), x, y, folds)
        proba = p if proba is None else proba + p
    proba /= len(names)
    given = np.searchsorted(classes, y)
    score, flagged = confident_learning(given, proba)
    out = rows[["source_id", "frame", "instance", "timestamp_ms", "label"]].reset_index(
        drop=True).assign(predicted=classes[proba.argmax(axis=1)],
                          score=np.round(score, ROUND), flagged=flagged)
    return out[SCORED_COLUMNS], None


def confident_learning(given: np.ndarray, proba: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The label-quality score and label-issue verdict of each row, by cleanlab.

    ``given``: each row's label as a column of ``proba`` (out-of-fold probabilities, rows sum
    to 1). The score is the self-confidence (the probability of the given label); the
    verdict is cleanlab's ``prune_by_noise_rate`` filter: per-class thresholds (a label's
    mean self-confidence) estimate how many rows of each label really belong to each other
    label, and that many of the least likely are flagged. Deterministic (one process).
    """
    from cleanlab.filter import find_label_issues
    from cleanlab.rank import get_label_quality_scores

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # a class with few rows: cleanlab says so, we rank
        score = get_label_quality_scores(given, proba, method="self_confidence")
        flagged = find_label_issues(given, proba, filter_by="prune_by_noise_rate", n_jobs=1)
    return score, np.asarray(flagged, dtype=bool)


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
    """``model`` fitted, without the notices that are expected here.

    LDA's notice that landmark coordinates are collinear, and the shrunk covariance's of a
    label with one row in a fold (it counts as no spread).
    """
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Variables are collinear")
        warnings.filterwarnings("ignore", message="Only one sample available")
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
    scored, confusion = fit_and_score(
        x_train, seq_train["label"].to_numpy(), seq_train["group"].to_numpy(), x_test,
        seq_test["label"].to_numpy(), params, "sequences")
    out.update(scored)
    return Evaluation(out, confusion, pd.DataFrame(columns=SCORED_COLUMNS))


def out_of_fold(model, x: np.ndarray, y: np.ndarray, folds) -> tuple[np.ndarray, np.ndarray]:
    """Each row's class probabilities from the fold that held it out, and the classes.

    Columns are every label of ``y``, sorted; a label a fold's training part lacks gets 0.
    """
    from sklearn.base import clone

    classes = np.unique(y)
    proba = np.zeros((len(y), len(classes)))
    for fit_idx, held_idx in folds:
        fitted = _fit(clone(model), x[fit_idx], y[fit_idx])
        cols = np.searchsorted(classes, fitted.classes_)
        proba[np.ix_(held_idx, cols)] = fitted.predict_proba(x[held_idx])
        del fitted  # one fold's forest at a time: memory is the model's, not k of them
    return proba, classes


def label_review(scored: pd.DataFrame, modality: str, decided: pd.DataFrame | None = None
                 ) -> pd.DataFrame:
    """The review queue of one table: flagged first, most likely wrong first.

    ``scored``: :func:`review_scores`' rows; ``decided``: rows a decision in ``reviews.csv``
    covers (``source_id, frame``: kept or relabelled), left out. One entry per image or
    frame (its lowest-scored row: a photo's two hands are one entry); the consecutive frames
    of a video with one label and one verdict are one entry, a time range (``start_s,
    end_s``: the first and last frame's times; ``frame``: the first frame; ``frames``: how
    many; ``score``: the lowest; ``predicted``: the commonest prediction of the range). Images
    have no times. Ties are broken by id and frame, so the queue is deterministic.
    """
    if not len(scored):
        return pd.DataFrame(columns=REVIEW_COLUMNS)
    df = scored
    if decided is not None and len(decided):
        gone = pd.MultiIndex.from_frame(decided[["source_id", "frame"]].astype(
            {"frame": "int64"}))
        df = df[~pd.MultiIndex.from_frame(df[["source_id", "frame"]].astype(
            {"frame": "int64"})).isin(gone)]
    df = (df.sort_values(["source_id", "frame", "score", "instance"], kind="stable")
          .drop_duplicates(["source_id", "frame"]).reset_index(drop=True))
    if not len(df):
        return pd.DataFrame(columns=REVIEW_COLUMNS)
    per_source = df.groupby("source_id")["frame"].transform("size")
    video = (per_source > 1) | (df.groupby("source_id")["timestamp_ms"].transform("max") > 0)
    new_run = ((df["source_id"] != df["source_id"].shift())
               | (df["label"] != df["label"].shift())
               | (df["flagged"] != df["flagged"].shift()))
    df = df.assign(run=new_run.cumsum(), video=video)

    def commonest(s: pd.Series) -> str:
        counts = s.value_counts()
        return sorted(counts.index[counts == counts.max()])[0]

    runs = df.groupby("run", sort=False).agg(
        source_id=("source_id", "first"), frame=("frame", "first"),
        start_ms=("timestamp_ms", "first"), end_ms=("timestamp_ms", "last"),
        frames=("frame", "size"), label=("label", "first"), predicted=("predicted", commonest),
        score=("score", "min"), flagged=("flagged", "first"), video=("video", "first"))
    runs["start_s"] = (runs["start_ms"] / 1000).where(runs["video"])
    runs["end_s"] = (runs["end_ms"] / 1000).where(runs["video"])
    runs["modality"] = modality
    return (runs.sort_values(["flagged", "score", "source_id", "frame"],
                             ascending=[False, True, True, True], kind="stable")
            [REVIEW_COLUMNS].reset_index(drop=True))


def one_queue(queues: list[pd.DataFrame]) -> pd.DataFrame:
    """The tables' review queues (:func:`label_review`) as one, most likely wrong first.

    Flagged entries first, then by score; ties by table, id and frame.
    """
    queue = pd.concat([q for q in queues if len(q)] or queues[:1], ignore_index=True)
    return queue.sort_values(["flagged", "score", "modality", "source_id", "frame"],
                             ascending=[False, True, True, True, True], kind="stable"
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

    The code stage evaluate runs (all it imports) and the versions of scikit-learn, numpy,
    scipy and cleanlab (the label review's ranking).
    """
    from landmark_datasets.core.cache import source_digest

    return source_digest("stages.evaluate",
                         libraries=("scikit-learn", "numpy", "scipy", "cleanlab"))


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

    from landmark_datasets.core.cache import key

    return key(MEMO, kind, modality, table_digests, asdict(params), code_digest())

