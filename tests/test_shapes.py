"""Every dataset shape builds, or stops with one clear line: generated shapes, built in-process.

Hypothesis draws raw folders (:mod:`tests.shapes`: hands, faces or both; 1, 2 or 4 labels of
0, 1, 3 or 5 files; images, videos or both; folders, subject folders, or a manifest, plain or as
Excel on Windows writes it, with a time range; labels with nothing to detect) crossed with the
hand and face schemes, privacy levels, velocities, gap filling and per-modality row minimums,
and runs every stage's entry point over each. The property: no traceback; every input file in
the tables or the ledger; no subject on both sides of the split; validate's verdict is exactly
"every modality has its minimum of rows"; the published tables have the schema's columns;
evaluate scores only what can be scored; the report says why a modality is empty.

``LANDMARK_SHAPE_EXAMPLES`` sets how many shapes are drawn (default 30; derandomized, so CI
draws the same ones every run); ``LANDMARK_SHAPE_LOG=<file>`` appends one line per shape with
what its build gave (rows, ledger reasons, or the error line).
"""

from __future__ import annotations

import json
import os
import re

import pandas as pd
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from landmark_datasets.core import schema
from tests.shapes import Shape, build, make, preprocess_overrides, shapes

EXAMPLES = int(os.environ.get("LANDMARK_SHAPE_EXAMPLES", "30"))


@pytest.fixture(scope="module")
def shape_env(testdata, tmp_path_factory):
    """A cache shared by every drawn shape (each source is extracted once) and a media pool."""
    mp = pytest.MonkeyPatch()
    mp.setenv("LANDMARK_CACHE_DIR", str(tmp_path_factory.mktemp("cache")))
    yield {"testdata": testdata, "media": tmp_path_factory.mktemp("media"),
           "builds": tmp_path_factory.mktemp("builds")}
    mp.undo()


def _published(work, modality: str) -> pd.DataFrame:
    from landmark_datasets.core import storage

    return pd.concat([storage.read_table(work / f"data/dataset/{modality}/{s}.csv")
                      for s in ("train", "test")], ignore_index=True)


def _log(shape: Shape, overrides: dict, minimum: dict, result) -> None:
    from landmark_datasets.core import storage

    if not (path := os.environ.get("LANDMARK_SHAPE_LOG")):
        return
    work = result.work
    if result.error is None:
        rows = {m: len(_published(work, m)) for m in schema.MODALITIES}
        reasons = storage.read_table(work / "data/dataset/ledger.csv")["reason"].value_counts()
        outcome = (", ".join(f"{m} {n} rows" for m, n in rows.items()) + "; ledger: "
                   + (", ".join(f"{r} {n}" for r, n in sorted(reasons.items())) or "empty"))
    else:
        outcome = result.error[:160]
    with open(path, "a") as f:
        f.write(f"| {shape.describe()} | {overrides['preprocess.scheme']}/"
                f"{overrides['preprocess.face_scheme']}/{overrides['preprocess.privacy']} "
                f"min_rows {minimum} | {outcome} |\n")


min_rows = st.fixed_dictionaries({m: st.sampled_from([0, 0, 0, 1]) for m in schema.MODALITIES})


@settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                 HealthCheck.data_too_large])
@given(shape=shapes(), overrides=preprocess_overrides(), minimum=min_rows)
def test_every_shape_builds_or_stops_with_one_line(shape_env, shape: Shape, overrides: dict,
                                                   minimum: dict):
    from landmark_datasets.core import storage

    n = len(list(shape_env["builds"].iterdir()))
    root = shape_env["builds"] / f"{n:03d}"
    made = make(shape, root / "raw", shape_env["testdata"], shape_env["media"])
    result = build(root / "raw", root / "work",
                   {**overrides, "validate.min_rows": minimum})
    work = result.work
    note = f"{shape.describe()} {overrides} min_rows={minimum}: {result.error}"
    _log(shape, overrides, minimum, result)

    if not made.files:  # nothing to build from: one line from ingest, naming the folder
        assert result.error is not None, note
        assert result.error.startswith(f"ingest: error: {root / 'raw'}: no "), note
        assert "<modality>/<label>/<file>" in result.error, note
        return

    items = storage.read_table(work / "data/interim/ingest/items.csv")
    frames = storage.read_table(work / "data/interim/ingest/frames.parquet")
    published = {m: _published(work, m) for m in schema.MODALITIES} if result.error is None \
        else {m: storage.read_table(work / f"data/interim/preprocess/{m}.parquet")
              for m in schema.MODALITIES}
    rows = {m: len(t) for m, t in published.items()}

    # validate's verdict: exactly "each modality has at least its minimum of rows"
    short = [m for m in schema.MODALITIES if rows[m] < minimum[m]]
    validation = json.loads((work / "reports/validation.json").read_text())
    assert validation["success"] == (not short), note
    for m in schema.MODALITIES:
        assert validation["tables"][m] == {
            "rows": rows[m], "inputs": int((items["modality"] == m).sum()),
            "min_rows": minimum[m]}, note
    if short:
        assert result.error is not None, note
        assert result.error.startswith("validate: error: "), note
        assert result.stopped_at == "validate", note
        return
    assert result.error is None, note

    # every input file is an item or in the ingest ledger; every frame in a table or the ledger
    ingest_ledger = storage.read_table(work / "data/interim/ingest/ledger.csv")
    assert set(made.files) == set(items["path"]) | set(ingest_ledger["path"]), note
    ledger = storage.read_table(work / "data/dataset/ledger.csv")
    seen = {(s, int(f)) for t in published.values()
            for s, f in zip(t["source_id"], t["frame"], strict=True)}
    seen |= {(s, int(f)) for s, f in zip(ledger["source_id"], ledger["frame"], strict=True)
             if pd.notna(f)}
    wanted = set(zip(frames["source_id"], frames["frame"].astype(int), strict=True))
    assert wanted <= seen, f"{note}: frames neither published nor ledgered: {wanted - seen}"
    if made.ranged:  # the manifest's time range [0.1, 0.3) of a 10 fps clip: frames 1 and 2
        ranged = items.loc[items["path"] == made.ranged, "item"]
        assert sorted(frames.loc[frames["item"].isin(ranged), "frame"]) == [1, 2], note

    # subject folders: a subject is one group, on one side of the split in every table
    if made.subjects:
        subject_of = dict(zip(items["source_id"], items["path"].map(made.subjects),
                              strict=True))
        sides: dict[str, set[str]] = {}
        for m in schema.MODALITIES:
            for s in ("train", "test"):
                t = storage.read_table(work / f"data/dataset/{m}/{s}.csv")
                for sid in t["source_id"]:
                    sides.setdefault(subject_of[sid], set()).add(s)
        assert all(len(v) == 1 for v in sides.values()), f"{note}: {sides}"
        assert set(items["group_from"]) == {"folder"}, note

    # labels with nothing to detect: no rows, and every frame of theirs ledgered as no_detection
    for modality, label in made.undetectable:
        assert not (published[modality]["label"] == label).any(), note
        theirs = ledger[(ledger["modality"] == modality) & (ledger["label"] == label)]
        assert set(theirs["reason"]) <= {"no_detection"}, note
        assert len(theirs) == int(frames["item"].isin(
            items.loc[(items["modality"] == modality) & (items["label"] == label), "item"]
        ).sum()), note

    # published tables: the schema's columns, with or without rows; no file names
    for m in schema.MODALITIES:
        expected = schema.published_columns(m, overrides["preprocess.privacy"],
                                            overrides["preprocess.velocities"])
        for s in ("train", "test"):
            text = (work / f"data/dataset/{m}/{s}.csv").read_text()
            assert text.splitlines()[0].split(",") == expected, note
            assert not re.search(r"\.(jpg|png|avi|gif|mp4)|media/", text), note

    # the dataset card: a config for each table with rows, the ledger; no file names
    card = (work / "data/dataset/README.md").read_text()
    head = yaml.safe_load(card.split("---\n")[1])
    assert [c["config_name"] for c in head["configs"]] == [
        *(m for m in schema.MODALITIES if rows[m]), "ledger"], note
    assert not re.search(r"\.(jpg|png|avi|gif|mp4)\b|media/", card), note
    croissant = json.loads((work / "data/dataset/croissant.json").read_text())
    assert {rs["name"] for rs in croissant["recordSet"]} == {
        f"{m}_{s}" for m in schema.MODALITIES if rows[m] for s in ("train", "test")} | {
        "ledger"}, note

    # evaluate: a score only where it can be one, a reason everywhere else
    evaluation = json.loads((work / "reports/evaluation.json").read_text())
    for m in schema.MODALITIES:
        result_m = evaluation[m]
        train = published[m]  # labels and groups of train are a subset of these
        if "skipped" in result_m:
            assert not any(k in result_m for k in schema.CLASSIFIERS), note
            continue
        assert train["label"].nunique() >= 2, note
        for model in schema.DEFAULT_CLASSIFIERS:
            if "cv" in result_m[model]:
                groups = train.groupby("label")["group"].nunique()
                assert groups.min() >= 2, note
            assert ("test" in result_m[model]) == ("test_skipped" not in result_m), note

    # the report: written, says why an empty modality is empty, links only figures it drew
    quality = (work / "reports/quality.md").read_text()
    for m in schema.MODALITIES:
        has_input = (items["modality"] == m).any() or (ingest_ledger["modality"] == m).any()
        if not has_input:
            assert f"No {m} in this build" in quality, note
        elif not rows[m]:
            assert f"No {m} kept" in quality, note
    linked = set(re.findall(r"\]\((figures/[^)]+)\)", quality))
    drawn = {f"figures/{p.name}" for p in (work / "reports/figures").glob("*.png")}
    assert linked == drawn, note
    assert json.loads((work / "reports/metrics.json").read_text())["validation_success"], note
