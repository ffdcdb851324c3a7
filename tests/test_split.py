import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from landmark_datasets.split.split import LeakageError, assign, check_leakage, draw, split


def _table(seed=0, groups=(("a", 8), ("b", 4), ("c", 1))):
    rows = []
    for label, n_groups in groups:
        for g in range(n_groups):
            for frame in range(3 + g):
                rows.append({"source_id": f"{label}{g}", "frame": frame, "instance": 0,
                             "label": label, "group": f"G{label}{g}"})
    return pd.DataFrame(rows).sample(frac=1, random_state=seed)


def test_a_group_is_in_test_when_its_salted_hash_is_below_the_share():
    parts = split(_table(), "hands", 0.25, "landmark-datasets")
    train, test = parts["train"], parts["test"]
    assert not set(train["group"]) & set(test["group"])
    # the first 8 bytes of sha256("landmark-datasets:<group>") / 2**64, below 0.25 for these 5
    # of the 13 groups: 3 of b's 4 (a small label's share can be far from 0.25)
    assert sorted(set(test["group"])) == ["Ga0", "Ga1", "Gb1", "Gb2", "Gb3"]
    assert len(train) + len(test) == len(_table())
    names = ["Ga0", "Gb0", "Gb2"]
    assert dict(zip(names, draw(names, "landmark-datasets"), strict=True)) == pytest.approx(
        {"Ga0": 0.1217, "Gb0": 0.8678, "Gb2": 0.2420}, abs=1e-4)


def test_every_label_tends_to_the_test_share():
    """4,000 groups of 4 labels: each label's test share within 0.03 of 0.25."""
    df = _table(groups=[(lab, 1000) for lab in "wxyz"]).drop_duplicates("group")
    sides = assign(df, 0.25, "landmark-datasets")
    share = pd.Series(sides == "test").groupby(df["label"].to_numpy()).mean()
    assert ((share - 0.25).abs() < 0.03).all(), share.to_dict()


def test_deterministic_whatever_the_input_order_and_salted():
    a = split(_table(0), "hands", 0.25, "s")
    b = split(_table(1), "hands", 0.25, "s")
    for side in ("train", "test"):
        pd.testing.assert_frame_equal(a[side], b[side])
    c = split(_table(0), "hands", 0.25, "another salt")
    assert set(c["test"]["group"]) != set(a["test"]["group"])


def test_a_smaller_test_share_takes_a_subset_of_the_test_groups():
    df = _table(groups=[("a", 200)])
    small = set(df.loc[assign(df, 0.1, "s") == "test", "group"])
    large = set(df.loc[assign(df, 0.3, "s") == "test", "group"])
    assert small < large
    assert len(small) > 5


@settings(max_examples=60, deadline=None)
@given(st.data())
def test_growing_or_shrinking_the_data_moves_no_surviving_row(data):
    """Generated versions of one dataset: rows that are in both keep their side."""
    labels = data.draw(st.lists(st.sampled_from("abcdef"), min_size=1, max_size=6, unique=True))
    v1 = _table(groups=[(lab, data.draw(st.integers(1, 12))) for lab in labels])
    keep = data.draw(st.lists(st.booleans(), min_size=len(v1), max_size=len(v1)))
    grown = [(lab, data.draw(st.integers(0, 15))) for lab in "abcdefgh"]
    v2 = pd.concat([v1[keep], _table(groups=grown)]).drop_duplicates(
        ["source_id", "frame", "instance"])
    test_size = data.draw(st.sampled_from([0.1, 0.25, 0.5]))
    side = {}
    for version in (v1, v2):
        for s, part in split(version, "hands", test_size, "landmark-datasets").items():
            for key in part[["source_id", "frame"]].itertuples(index=False):
                assert side.setdefault(tuple(key), s) == s, f"{tuple(key)} moved"


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
    from landmark_datasets.core import schema, storage

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
