import pandas as pd
import pytest

from landmark_datasets.split import LeakageError, check_leakage, split


def _table(seed=0):
    rows = []
    for label, n_groups in [("a", 8), ("b", 4), ("c", 1)]:
        for g in range(n_groups):
            for frame in range(3 + g):
                rows.append({"source_id": f"{label}{g}", "frame": frame, "instance": 0,
                             "label": label, "group": f"G{label}{g}"})
    return pd.DataFrame(rows).sample(frac=1, random_state=seed)


def test_no_group_on_both_sides_and_labels_stratified():
    parts = split(_table(), "hands", 0.25, 42)
    train, test = parts["train"], parts["test"]
    assert not set(train["group"]) & set(test["group"])
    assert test.groupby("label")["group"].nunique().to_dict() == {"a": 2, "b": 1}
    assert train.groupby("label")["group"].nunique().to_dict() == {"a": 6, "b": 3, "c": 1}
    assert len(train) + len(test) == len(_table())


def test_deterministic_whatever_the_input_order():
    a = split(_table(0), "hands", 0.25, 42)
    b = split(_table(1), "hands", 0.25, 42)
    for side in ("train", "test"):
        pd.testing.assert_frame_equal(a[side], b[side])
    c = split(_table(0), "hands", 0.25, 7)
    assert set(c["test"]["group"]) != set(a["test"]["group"])


def test_leakage_check_fails_loudly():
    t = _table()
    with pytest.raises(LeakageError, match=r"hands: 1 groups on both sides of the split"):
        check_leakage(t[t["group"] == "Ga0"], t[t["group"] == "Ga0"].head(1), "hands")


@pytest.mark.parametrize(("label", "published"), [
    ("=HYPERLINK(\"http://x\",\"y\")", "'=HYPERLINK(\"http://x\",\"y\")"),
    ("+1", "'+1"), ("-2+3", "'-2+3"), ("@SUM(A1)", "'@SUM(A1)"), ("\tx", "'\tx"),
    ("thumbs_up", "thumbs_up"), ("a=b", "a=b"), ("", ""),
])
def test_formula_labels_are_neutralized_in_published_csvs(tmp_path, label, published):
    from landmark_datasets import schema, storage

    df = pd.DataFrame({"source_id": ["s1"], "label": [label], "x": [0.5]})
    storage.write_csv(schema.neutralize_table(df), tmp_path / "t.csv")
    back = pd.read_csv(tmp_path / "t.csv", keep_default_na=False, dtype=str)
    assert back.loc[0, "label"] == published
    assert back.loc[0, "x"] == "0.500000"  # numbers are untouched
    assert df.loc[0, "label"] == label  # the input is not modified


def test_the_split_entry_point_names_what_it_cannot_split(tmp_path):
    import subprocess
    import sys

    from tests.conftest import ROOT

    proc = subprocess.run([sys.executable, "-m", "stages.split", "hands", "bogus"], cwd=ROOT,
                          capture_output=True, text=True)
    assert proc.returncode == 1
    assert proc.stderr == ("split: error: bogus: expected one or more of hands, faces, "
                           "holistic, ledger\n")
