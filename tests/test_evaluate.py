"""The evaluate stage on the real rock-paper-scissors hands and expression faces."""

import pytest

from landmark_datasets.core.params import EvaluateParams, PreprocessParams
from landmark_datasets.evaluate import evaluate
from landmark_datasets.preprocess import preprocess
from landmark_datasets.split import split


@pytest.fixture(scope="module")
def hands_split(testdata_extracted):
    kept, _, _ = preprocess.preprocess(testdata_extracted["tables"]["hands"], "hands",
                                    PreprocessParams(scheme="wrist_palm"))
    sides = split.split(kept, "hands", 0.25, "landmark-datasets")
    return sides["train"], sides["test"]


def test_hands_baselines_are_deterministic_and_sensible(hands_split):
    train, test = hands_split
    params = EvaluateParams(models=list(evaluate.MODELS))
    first = evaluate.evaluate(train, test, "hands", params)
    again = evaluate.evaluate(train, test, "hands", params)
    assert first.metrics == again.metrics
    m = first.metrics
    assert (m["rows_train"], m["rows_test"], m["features"]) == (len(train), len(test), 63)
    assert m["logreg"]["cv"]["folds"] == 5
    assert set(m["logreg"]["test"]["recall"]) == {"rock", "paper", "scissors", "none"}
    # Four balanced classes: chance is 0.25; landmarks separate them far better than that,
    # also with 88 rows to learn from (LDA with a shrunk covariance: 0.73 in CV as logreg,
    # where unshrunk it had 0.59; 17 of the 28 test rows)
    for model in evaluate.MODELS:
        assert m[model]["cv"]["accuracy"] > 0.65
        assert m[model]["test"]["accuracy"] >= 0.6
    assert m["lda"]["cv"]["accuracy"] == pytest.approx(m["logreg"]["cv"]["accuracy"], abs=0.02)
    confusion = first.confusion
    assert len(confusion) == len(test)
    assert (confusion["actual"] == confusion["predicted"]).mean() == pytest.approx(
        m[evaluate.MODELS[0]]["test"]["accuracy"], abs=1e-4)


def test_label_review_ranks_planted_mislabels_first(hands_split):
    """Open hands relabelled as fists, in train and in test: every row is judged by models
    that never saw its source (grouped CV over train and test), and the planted ones lead
    the queue."""
    train, test = (t.reset_index(drop=True) for t in hands_split)
    planted = set()
    for rows in (train, test):
        paper = rows.index[rows["label"] == "paper"][::5]
        planted |= set(rows.loc[paper, "source_id"])
        rows.loc[paper, "label"] = "rock"
    assert len(planted) == 6
    result = evaluate.evaluate(train, test, "hands", EvaluateParams())
    assert "review_skipped" not in result.metrics
    scored = result.review
    assert len(scored) == len(train) + len(test)
    assert list(scored.columns) == evaluate.SCORED_COLUMNS
    queue = evaluate.label_review(scored, "hands")
    assert list(queue.columns) == evaluate.REVIEW_COLUMNS
    assert len(queue) == scored["source_id"].nunique()  # photos: one entry each
    assert queue["start_s"].isna().all()  # photos have no times
    top = queue.head(2 * len(planted))
    found = top[top["source_id"].isin(planted)]
    assert len(found) >= 4  # 4 of the 6 in the top 12 (with this split; 11.8 of 12 in the
    # top 24 on average in benchmarks/review.py)
    assert set(found["label"]) == {"rock"}
    assert set(found["predicted"]) <= {"paper", "none"}
    assert (found["score"] <= 0.3).all()
    assert result.metrics["review_flagged"] == int(scored["flagged"].sum())
    assert queue["flagged"].sum() == scored["flagged"].sum()
    # confident learning flags 5 photos, 4 of them planted: its per-class count of likely
    # errors is cautious; the ranking after the flagged ones still has the rest in the top 14
    flagged = set(queue.loc[queue["flagged"], "source_id"])
    assert len(flagged & planted) >= 4
    assert len(flagged - planted) <= 1
    # a decided photo leaves the queue; the others keep their order
    decided = found.head(3)[["source_id", "frame"]]
    fewer = evaluate.label_review(scored, "hands", decided)
    assert len(fewer) == len(queue) - 3
    assert list(fewer["source_id"]) == [s for s in queue["source_id"]
                                        if s not in set(decided["source_id"])]


def test_label_review_shows_a_videos_flagged_frames_as_one_time_range():
    import numpy as np
    import pandas as pd

    frames = np.arange(10)
    scored = pd.DataFrame({
        "source_id": "v", "frame": frames, "instance": 0, "timestamp_ms": frames * 100,
        "label": ["a"] * 6 + ["b"] * 4, "predicted": ["a", "a", "b", "b", "b", "a", "b", "b",
                                                      "b", "b"],
        "score": [0.9, 0.8, 0.1, 0.05, 0.2, 0.7, 0.9, 0.9, 0.95, 0.9],
        "flagged": [False, False, True, True, True, False, False, False, False, False]})
    queue = evaluate.label_review(scored, "holistic")
    assert queue[["frame", "start_s", "end_s", "frames", "label", "predicted", "score",
                  "flagged"]].values.tolist() == [
        [2, 0.2, 0.4, 3, "a", "b", 0.05, True],
        [5, 0.5, 0.5, 1, "a", "a", 0.7, False],
        [0, 0.0, 0.1, 2, "a", "a", 0.8, False],
        [6, 0.6, 0.9, 4, "b", "b", 0.9, False]]


def test_one_label_is_not_evaluated(hands_split):
    train, test = hands_split
    only = train[train["label"] == "rock"]
    result = evaluate.evaluate(only, test, "hands", EvaluateParams())
    assert result.metrics["skipped"] == "train holds 1 label; a classifier needs two or more"
    assert "extra_trees" not in result.metrics
    assert evaluate.evaluate(only.iloc[:0], test, "hands", EvaluateParams()).metrics[
        "skipped"] == "no rows in train"


def test_a_label_with_one_group_gets_no_cross_validation_score(hands_split):
    """Grouped CV cannot score a label whose only group is held out: no number, a reason."""
    train, test = hands_split
    train = train.assign(group=train["group"].where(train["label"] != "rock", "one-subject"))
    m = evaluate.evaluate(train, test, "hands", EvaluateParams()).metrics
    assert m["cv_skipped"] == ("1 label with a single group (rock): grouped cross-validation "
                               "needs two or more sources or subjects per label")
    assert "cv" not in m["extra_trees"]
    assert "cv" not in m["lda"]
    assert m["extra_trees"]["test"]["accuracy"] > 0.6  # the test split still scores
    folds, why = evaluate.grouped_folds(train["label"].to_numpy(), train["group"].to_numpy(),
                                        5, 42)
    assert folds is None
    assert why == m["cv_skipped"]


def test_an_empty_test_split_is_not_scored(hands_split):
    train, test = hands_split
    m = evaluate.evaluate(train, test.iloc[:0], "hands", EvaluateParams()).metrics
    assert m["test_skipped"].startswith("the test split is empty")
    assert "test" not in m["extra_trees"]
    assert m["extra_trees"]["cv"]["folds"] == 5


def test_lda_with_no_more_rows_than_labels_says_why(hands_split):
    """LDA needs more rows than labels (a covariance within them): with one row per label it
    is not fitted, and says why; the trees still score."""
    train, test = hands_split
    one_each = train.groupby("label").head(1)
    m = evaluate.evaluate(one_each, test, "hands", EvaluateParams()).metrics
    assert m["lda"] == {"skipped": "lda needs more rows than labels (4 rows, 4 labels); add "
                                   "rows or use another model"}
    assert set(m["extra_trees"]["test"]) == {"accuracy", "macro_f1", "recall"}
    two_each = train.groupby("label").head(2).assign(group=lambda d: d["source_id"])
    m = evaluate.evaluate(two_each, test, "hands", EvaluateParams(cv_folds=2)).metrics
    assert m["lda"]["cv_skipped"].startswith("a fold's training part: lda needs more rows")
    assert "test" in m["lda"]
    assert m["extra_trees"]["cv"]["folds"] == 2


def test_lda_shrinks_its_covariance_only_with_fewer_rows_than_twice_the_features():
    small = evaluate.make_model("lda", 42, (86, 63))
    large = evaluate.make_model("lda", 42, (3706, 63))
    assert (small.solver, small.shrinkage) == ("lsqr", "auto")
    assert (large.solver, large.shrinkage) == ("svd", None)


@pytest.mark.parametrize(("groups_per_label", "wanted"), [(7, 5), (3, 5), (1, 5), (40, 3)])
def test_remembered_folds_are_scikit_learns_folds(tmp_path, monkeypatch, groups_per_label,
                                                   wanted):
    """Folds come back from the cache as the same index arrays (or the same reason there
    are none), without folding again; other labels or groups are folded anew."""
    import numpy as np

    from landmark_datasets.core.cache import Cache

    rng = np.random.default_rng(groups_per_label)
    labels = np.repeat(np.array(["a", "b", "c"], dtype=object), groups_per_label * 4)
    groups = np.array([f"{lab}{i // 4}" for lab, i in zip(
        labels, np.tile(np.arange(groups_per_label * 4), 3), strict=True)], dtype=object)
    order = rng.permutation(len(labels))
    labels, groups = labels[order], groups[order]
    expected = evaluate.grouped_folds(labels, groups, wanted, 0)
    cache = Cache(tmp_path)
    assert _same(evaluate.remembered_folds(labels, groups, wanted, 0, cache), expected)
    with monkeypatch.context() as m:
        m.setattr(evaluate, "grouped_folds", lambda *a: pytest.fail("folded again"))
        assert _same(evaluate.remembered_folds(labels, groups, wanted, 0, cache), expected)
        with pytest.raises(pytest.fail.Exception, match="folded again"):
            evaluate.remembered_folds(labels, groups[::-1].copy(), wanted, 0, cache)
        with pytest.raises(pytest.fail.Exception, match="folded again"):
            evaluate.remembered_folds(labels, groups, wanted, 1, cache)
    assert (expected[0] is None) == (groups_per_label == 1)


def _same(a, b) -> bool:
    import numpy as np

    (folds_a, why_a), (folds_b, why_b) = a, b
    if folds_a is None or folds_b is None:
        return folds_a is folds_b and why_a == why_b
    return why_a == why_b and len(folds_a) == len(folds_b) and all(
        np.array_equal(x, y) and x.dtype == y.dtype
        for fa, fb in zip(folds_a, folds_b, strict=True) for x, y in zip(fa, fb, strict=True))


def test_twelve_planted_errors_in_eighty_photos_lead_the_queue(hands_split):
    """15% noise, as crowd-sourced labels have: 80 photos (20 per label), 12 given another
    label at random. benchmarks/review.py measures 11.8 of 12 in the top 24 over 10 draws
    (never fewer than 11); the floor here is the issue's 10. Correcting what the top 24 shows
    lifts grouped cross-validation accuracy."""
    import pandas as pd

    from benchmarks.review import cv_accuracy, plant

    rows = pd.concat(hands_split, ignore_index=True)
    noisy, planted, truth = plant(rows, 20, 12, seed=0)
    assert (len(noisy), noisy["source_id"].nunique(), len(planted)) == (80, 80, 12)
    params = EvaluateParams()
    scored, why = evaluate.review_scores(evaluate.review_features(noisy, "hands"), noisy,
                                         params)
    assert why is None
    queue = evaluate.label_review(scored, "hands")
    shown = set(queue["source_id"][:24])
    assert len(shown & planted) >= 10
    fixed = noisy.copy()
    at = fixed["source_id"].isin(shown & planted)
    fixed.loc[at, "label"] = truth[at]
    assert cv_accuracy(fixed) >= cv_accuracy(noisy) + 0.05


def test_model_warnings_are_one_log_line_per_table(caplog):
    import logging
    import warnings

    from sklearn.exceptions import UndefinedMetricWarning

    caplog.set_level(logging.INFO, logger="evaluate")
    with evaluate.warnings_summarized("hands"):
        for _ in range(3):
            warnings.warn("Recall is ill-defined and\n being set to 0.0", UndefinedMetricWarning,
                          stacklevel=1)
        warnings.warn("Variables are collinear", UserWarning, stacklevel=1)
    assert [r.getMessage() for r in caplog.records] == [
        "hands: 4 warnings from the models: 3 x UndefinedMetricWarning (Recall is ill-defined "
        "and being set to 0.0); 1 x UserWarning (Variables are collinear)"]
    caplog.clear()
    with evaluate.warnings_summarized("faces"):
        pass
    assert caplog.records == []
