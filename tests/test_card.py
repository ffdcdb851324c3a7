"""The dataset card and its Croissant metadata, on generated tables (the built sample's card is
checked in test_pipeline.py)."""

from __future__ import annotations

import re

import pytest
import yaml

from landmark_datasets.core import schema
from landmark_datasets.report import card
from tests.conftest import ROOT


def _build(tmp_path, license="unknown", privacy="raw_mesh", rows=(5, 2)) -> card.Build:
    import numpy as np
    import pandas as pd

    from landmark_datasets.core import storage

    for m in schema.MODALITIES:
        cols = schema.published_columns(m, privacy)
        for split, n in zip(card.SPLITS, rows if m == "hands" else (0, 0), strict=True):
            df = pd.DataFrame({c: np.zeros(n) for c in cols})
            df = df.astype({c: "int64" for c in cols if c in schema.INT_COLUMNS})
            df = df.assign(**{c: [f"id{i}" for i in range(n)] for c in cols
                              if c in schema.STR_COLUMNS})
            df["label"] = ["fist", "palm"][:1] * n if split == "test" else (
                ["fist", "palm", "palm", "palm", "fist"][:n])
            (tmp_path / m).mkdir(exist_ok=True)
            storage.write_parquet(df, tmp_path / m / f"{split}.parquet")
    tables = [card.read_table_facts(tmp_path, m, s) for m in schema.MODALITIES
              for s in card.SPLITS]
    return card.Build(
        tables=tables, ledger={"no_detection": 3}, ledger_sha256="0" * 64,
        ledger_columns=[("stage", "string"), ("reason", "string"), ("frame", "int64")],
        license=license, name="Gestures", citation="", version="1.0.0",
        preprocessing="hands **bbox**, faces **interocular**. Privacy: **raw_mesh**.",
        schemes={"hands": "`bbox`", "faces": "`interocular`", "holistic": "`bbox`"},
        privacy=privacy, models={"hand_landmarker.task": "a" * 64},
        libraries={"mediapipe": "1.2.2"}, params_text="ingest:\n  raw_dir: <not published>\n")


def test_a_hands_only_build_lists_only_its_tables_and_says_the_license_is_unset(tmp_path):
    build = _build(tmp_path)
    text = card.render(build)
    _, head, body = text.split("---\n", 2)
    meta = yaml.safe_load(head)
    assert meta == {
        "pretty_name": "Gestures", "license": "unknown",
        "task_categories": ["tabular-classification"],
        "tags": ["mediapipe", "landmarks", "hand-gesture-recognition"],
        "size_categories": ["n<1K"],
        "configs": [{"config_name": "hands", "data_files": [
            {"split": "train", "path": "hands/train.parquet"},
            {"split": "test", "path": "hands/test.parquet"}]},
            {"config_name": "ledger", "data_files": "ledger.parquet"}]}
    assert "License of the data: **not set**" in body
    assert "| hands | train | 5 | 2 | 137 |" in body
    assert "| hands/train | palm | 3 |" in body
    assert "| faces | train | 0 | 0 | 1511 |" in body  # empty tables are still listed
    assert "### faces" not in body  # ... but not described
    assert "| no_detection | 3 |" in body
    assert "params" not in body.lower() or "sha256 `" in body
    assert re.search(r"Parameters \(sha256 `[0-9a-f]{64}`", body)


def test_a_set_license_goes_into_the_header_and_the_body(tmp_path):
    build = _build(tmp_path, license="cc-by-4.0")
    text = card.render(build)
    assert "\nlicense: cc-by-4.0\n" in text
    assert "License of the data: **cc-by-4.0**" in text
    assert card.croissant(build)["license"] == "cc-by-4.0"


@pytest.mark.parametrize(("privacy", "says"), [
    ("raw_mesh", "478-point face meshes"), ("pose_normalized", "head pose removed"),
    ("blendshapes", "the 52 blendshape scores only")])
def test_each_privacy_level_states_its_residual_risk(tmp_path, privacy, says):
    assert says in card.render(_build(tmp_path, privacy=privacy))


def test_column_groups_cover_every_published_column_with_units():
    for modality in schema.MODALITIES:
        for privacy in schema.PRIVACY_LEVELS:
            cols = schema.published_columns(modality, privacy, velocities=privacy != "blendshapes")
            groups = card.column_groups(cols, "`bbox`", "`interocular`")
            assert all(kind != "?" for _, kind, _ in groups), (modality, privacy, groups)
            counted = sum(int(m.group(1)) if (m := re.search(r"\((\d+)\)$", c)) else 1
                          for c, _, _ in groups)
            assert counted == len(cols)
    hands = dict((c, m) for c, _, m in card.column_groups(
        schema.published_columns("hands"), "`bbox`", "`interocular`"))
    assert hands["`wrist_x` ... `pinky_tip_z` (63)"] == \
        "the 21 hand landmarks, normalized as `bbox`"
    assert hands["`world_wrist_x` ... `world_pinky_tip_z` (63)"].startswith(
        "MediaPipe's world landmarks: metres")


def test_size_categories():
    assert [card.size_category(n) for n in (0, 999, 1000, 9088, 40_000, 1_000_000)] == [
        "n<1K", "n<1K", "1K<n<10K", "1K<n<10K", "10K<n<100K", "1M<n<10M"]


def test_croissant_types_and_files(tmp_path):
    meta = card.croissant(_build(tmp_path))
    assert meta["conformsTo"] == "http://mlcommons.org/croissant/1.0"
    assert [f["contentUrl"] for f in meta["distribution"]] == [
        "hands/train.parquet", "hands/test.parquet", "ledger.parquet"]
    train = next(rs for rs in meta["recordSet"] if rs["name"] == "hands_train")
    types = {f["name"]: f["dataType"] for f in train["field"]}
    assert len(types) == 137
    assert (types["source_id"], types["frame"], types["wrist_x"], types["interpolated"]) == (
        "sc:Text", "sc:Integer", "sc:Float", "sc:Integer")


def test_the_code_has_an_apache_license_file_as_pyproject_says():
    text = (ROOT / "LICENSE").read_text()
    assert "Apache License\n                           Version 2.0, January 2004" in text
    assert "END OF TERMS AND CONDITIONS" in text
    assert 'license = "Apache-2.0"' in (ROOT / "pyproject.toml").read_text()
