"""The whole pipeline: `dvc repro` on a temporary copy of the repository (slow: about 2 min)."""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
import yaml

from tests import bad_corpus
from tests.conftest import ROOT, SAMPLE, TESTDATA
from tests.shapes import Label, Shape, make

pytestmark = pytest.mark.slow

ENV = {
    **os.environ,
    "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
    "DVC_NO_ANALYTICS": "1", "GX_ANALYTICS_ENABLED": "false",
    "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.com",
    "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.com",
}


def sh(*cmd, cwd, check=True, env=None):
    proc = subprocess.run(cmd, cwd=cwd, env=env or ENV, capture_output=True, text=True)
    if check and proc.returncode != 0:
        raise AssertionError(f"{' '.join(cmd)} failed ({proc.returncode}):\n{proc.stdout}\n"
                             f"{proc.stderr}")
    return proc


def dvc(*args, cwd, check=True, env=None):
    return sh(sys.executable, "-m", "dvc", *args, cwd=cwd, check=check, env=env)


def assert_nothing_reran(out: str) -> None:
    """Only the always-run scan ran; every stage after it was skipped."""
    for stage in ("ingest", "extract", "preprocess", "validate", "review", "split@hands",
                  "split@faces", "split@holistic", "ledger", "evaluate", "report", "card"):
        assert f"Stage '{stage}' didn't change, skipping" in out, out


def digests(root: Path) -> dict[str, str]:
    files = sorted(p for d in ("data/dataset", "reports") for p in (root / d).rglob("*")
                   if p.is_file() and p.name != "validation.json")
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest() for p in files}


def copy_repo(tmp_path_factory) -> Path:
    """A built copy of the repository (git's files, the sample media, a cold cache)."""
    if not (SAMPLE / "manifest.csv").is_file():
        pytest.skip("sample media not fetched: run `python3.11 dev.py sample`")
    dest = tmp_path_factory.mktemp("repo")
    ENV["LANDMARK_CACHE_DIR"] = str(tmp_path_factory.mktemp("cache"))  # a cold cache
    listed = subprocess.run(["git", "ls-files", "-z", "--cached", "--others",
                             "--exclude-standard"], cwd=ROOT, capture_output=True, check=True)
    for rel in filter(None, listed.stdout.decode().split("\0")):
        if (ROOT / rel).is_file():
            (dest / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / rel, dest / rel)
    for d in ("reports", "data/dataset", "data/interim"):  # built, not copied
        shutil.rmtree(dest / d, ignore_errors=True)
    (dest / "dvc.lock").unlink(missing_ok=True)
    shutil.copytree(SAMPLE, dest / "data/raw")
    sh("git", "init", "-q", cwd=dest)
    dvc("add", "-q", "data/raw", cwd=dest)  # as dev.py does: the sample is in DVC's cache
    sh("git", "add", "-A", cwd=dest)
    sh("git", "commit", "-qm", "copy", cwd=dest)
    dvc("repro", cwd=dest)
    return dest


@pytest.fixture(scope="module")
def repo(tmp_path_factory):
    return copy_repo(tmp_path_factory)


def test_dataset_published(repo):
    tables = {(m, s): pd.read_csv(repo / f"data/dataset/{m}/{s}.csv")
              for m in ("hands", "faces", "holistic") for s in ("train", "test")}
    hands = pd.concat([tables["hands", "train"], tables["hands", "test"]])
    faces = pd.concat([tables["faces", "train"], tables["faces", "test"]])
    holistic = pd.concat([tables["holistic", "train"], tables["holistic", "test"]])
    assert hands.groupby("label").size().to_dict() == {"none": 3, "thumbs_up": 15, "victory": 26}
    assert faces.groupby("label").size().to_dict() == {"happiness": 78, "neutral": 1,
                                                      "sadness": 95}
    # the clip's and the GIF's labelled ranges as holistic items: a face in every kept frame
    assert holistic.groupby("label").size().to_dict() == {
        "happiness": 77, "sadness": 95, "thumbs_up": 15, "victory": 19}
    assert holistic[["face_present", "left_hand_present", "right_hand_present"]].sum(
        ).to_dict() == {"face_present": 206, "left_hand_present": 34, "right_hand_present": 18}
    for m in ("hands", "holistic"):
        assert not set(tables[m, "train"]["group"]) & set(tables[m, "test"]["group"])
    ledger = pd.read_csv(repo / "data/dataset/ledger.csv")
    assert ledger.groupby(["modality", "label", "reason"]).size().to_dict() == {
        ("faces", "no_face", "no_detection"): 3, ("hands", "no_hand", "no_detection"): 3,
        # a right hand at the clip's edge: the part is emptied, the frame kept with its face
        ("holistic", "sadness", "out_of_frame"): 10}
    metrics = pd.read_json(repo / "reports/metrics.json", typ="series")
    assert metrics["validation_success"]
    assert (repo / "reports/quality.md").read_text().count("![") == 9


def test_every_input_file_in_tables_or_ledger(repo):
    items = pd.read_csv(repo / "data/interim/ingest/items.csv")
    frames = pd.read_parquet(repo / "data/interim/ingest/frames.parquet")
    manifest = pd.read_csv(repo / "data/raw/manifest.csv")
    assert set(items["path"]) == set(manifest["path"])
    published = pd.concat([pd.read_csv(p, usecols=["source_id", "frame"])
                           for p in (repo / "data/dataset").glob("*/*.csv")])
    ledger = pd.read_csv(repo / "data/dataset/ledger.csv")
    seen = set(zip(published["source_id"], published["frame"], strict=True)) | set(
        zip(ledger["source_id"], ledger["frame"], strict=True))
    assert set(zip(frames["source_id"], frames["frame"], strict=True)) <= seen


def test_no_file_names_in_published_files(repo):
    names = {Path(p).stem for p in pd.read_csv(repo / "data/raw/manifest.csv")["path"]}
    names |= {"pexels", "fingerpose", "grace", "astronaut", ".jpg", ".png", ".mp4", ".gif",
              "data/raw"}
    for path in (repo / "data/dataset").rglob("*.csv"):
        text = path.read_text().lower()
        leaked = sorted(n for n in names if n.lower() in text)
        assert not leaked, f"{path.name} mentions {leaked}"
    # the card and the Croissant metadata are prose: whole file names (a stem such as `text`
    # is also a word)
    names = {Path(p).name for p in pd.read_csv(repo / "data/raw/manifest.csv")["path"]} | {
        "pexels", "fingerpose", "astronaut", "data/raw"}
    for path in (repo / "data/dataset/README.md", repo / "data/dataset/croissant.json"):
        text = path.read_text().lower()
        leaked = sorted(n for n in names if n.lower() in text)
        assert not leaked, f"{path.name} mentions {leaked}"


def _card(repo) -> tuple[dict, str]:
    """The dataset card's YAML header and its body."""
    _, head, body = (repo / "data/dataset/README.md").read_text().split("---\n", 2)
    return yaml.safe_load(head), body


def test_the_dataset_card_describes_the_build(repo):
    head, body = _card(repo)
    assert head["license"] == "unknown"  # until the user sets card.license
    assert head["size_categories"] == ["n<1K"]
    assert head["task_categories"] == ["tabular-classification"]
    assert head["configs"] == [
        *({"config_name": m, "data_files": [{"split": "train", "path": f"{m}/train.parquet"},
                                            {"split": "test", "path": f"{m}/test.parquet"}]}
          for m in ("hands", "faces", "holistic")),
        {"config_name": "ledger", "data_files": "ledger.parquet"}]
    assert "License of the data: **not set** (`card.license: unknown`)" in body
    assert "| hands | test | 22 | 2 | 137 |" in body  # rows, labels, columns
    assert "| faces/train | sadness | 45 |" in body
    assert "| faces/test | sadness | 50 |" in body
    assert "| `f000_x` ... `f477_z` (1434) | float | the 478 face landmarks (Face Mesh V2 " \
        "indices), normalized as `interocular` |" in body
    assert "| `world_wrist_x` ... `world_pinky_tip_z` (63) | float | MediaPipe's world " \
        "landmarks: metres" in body
    assert "- `wrist_palm`: p' = (p - p_wrist) / |p_middle_mcp - p_wrist|" in body
    assert "Privacy level: **raw_mesh**. The face tables hold 478-point face meshes" in body
    assert "re-identify a person" in body
    assert "| out_of_frame | 10 |" in body
    assert "| no_detection | 6 |" in body
    for line in (repo / "models/SHA256SUMS").read_text().splitlines():
        digest, name = line.split()
        assert f"| {name.lstrip('*')} | {digest} |" in body
    assert "raw_dir: <not published>" in body  # no folder name of the user's
    assert "```bibtex" in body


def test_croissant_metadata_validates_and_loads_the_records(repo):
    import mlcroissant as mlc

    meta = json.loads((repo / "data/dataset/croissant.json").read_text())
    for f in meta["distribution"]:  # every file, with its sha256
        path = repo / "data/dataset" / f["contentUrl"]
        assert f["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
    dataset = mlc.Dataset(jsonld=repo / "data/dataset/croissant.json")
    assert not dataset.metadata.ctx.issues.errors
    # no date: a build's bytes do not depend on the day it ran
    assert {w.split('"')[1] for w in dataset.metadata.ctx.issues.warnings} == {
        "https://schema.org/datePublished"}
    table = pd.read_parquet(repo / "data/dataset/hands/test.parquet")
    records = list(dataset.records("hands_test"))
    assert len(records) == len(table) == 22
    first = records[0]
    assert first["hands_test/label"].decode() == table["label"][0]
    assert first["hands_test/wrist_x"] == pytest.approx(table["wrist_x"][0])
    fields = {f["name"]: f["dataType"] for rs in meta["recordSet"] if rs["name"] == "faces_train"
              for f in rs["field"]}
    assert len(fields) == 1511
    assert (fields["label"], fields["frame"], fields["bs_neutral"]) == (
        "sc:Text", "sc:Integer", "sc:Float")


def _readme_block(section: str, lang: str) -> str:
    """The ``lang`` code block of the README's ``section``."""
    text = (ROOT / "README.md").read_text().split(f"## {section}\n", 1)[1].split("\n## ")[0]
    return re.search(rf"```{lang}\n(.*?)```", text, re.S).group(1)


def test_the_readme_load_it_lines_run(repo, monkeypatch, tmp_path):
    """Every Python line of the README's "Load it", run as written in the built repository."""
    monkeypatch.chdir(repo)
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))  # offline, a cache of its own
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    monkeypatch.setenv("HF_DATASETS_CACHE", str(tmp_path / "hf" / "datasets"))
    scope: dict = {}
    exec(_readme_block("Load it", "python"), scope)
    hands, csv, faces, records = (scope[k] for k in ("hands", "hands_csv", "faces", "records"))
    assert hands.shape == (22, 137)
    # the CSV as written: the same rows; a label "None" would stay text
    pd.testing.assert_frame_equal(csv, hands, check_exact=False, rtol=0, atol=5e-7)
    assert (faces["train"].num_rows, faces["test"].num_rows) == (86, 88)
    assert set(faces["train"].column_names) == set(pd.read_parquet(
        "data/dataset/faces/train.parquet").columns)
    by_card = scope["by_card"]["test"]
    assert by_card.num_rows == 22, by_card.cache_files  # the card's config of hands
    assert len(list(records)) == 22


def test_push_to_a_remote_and_pull_or_get_the_same_bytes(repo, tmp_path):
    """The README's remote lines: push the dataset to a directory remote, pull it into a
    fresh clone, and get it from elsewhere by path, by artifact name and through dvc.api."""
    remote = tmp_path / "remote"
    dvc("remote", "add", "-d", "storage", str(remote), cwd=repo)
    for line in _readme_block("Share it", "sh").splitlines():
        if line.startswith("dvc push"):
            dvc(*line.split("#")[0].split()[1:], cwd=repo)
    sh("git", "add", "-A", cwd=repo)
    sh("git", "commit", "-qm", "built, remote set", cwd=repo)
    tag = next(line.split("#")[0] for line in _readme_block("Share it", "sh").splitlines()
               if line.startswith("git tag"))
    sh("bash", "-c", tag, cwd=repo)
    published = {str(p.relative_to(repo)): p.read_bytes()
                 for p in sorted((repo / "data/dataset").rglob("*")) if p.is_file()}
    assert len(published) == 16  # 6 tables x 2 formats, the ledger x 2, the card, croissant
    clone = tmp_path / "clone"
    sh("git", "clone", "-q", str(repo), str(clone), cwd=tmp_path)
    dvc("pull", "split", "ledger", "card", cwd=clone)
    assert {str(p.relative_to(clone)): p.read_bytes()
            for p in sorted((clone / "data/dataset").rglob("*")) if p.is_file()} == published
    got = tmp_path / "got"
    got.mkdir()
    dvc("get", str(repo), "data/dataset", "-o", "by-path", cwd=got)
    dvc("artifacts", "get", str(repo), "landmarks", "-o", "by-name", cwd=got)
    for name in ("by-path", "by-name"):
        assert {str(Path("data/dataset") / p.relative_to(got / name)): p.read_bytes()
                for p in sorted((got / name).rglob("*")) if p.is_file()} == published
    proc = sh(sys.executable, "-c", "import dvc.api, pandas as pd, sys\n"
              f"with dvc.api.open('data/dataset/hands/train.parquet', repo={str(repo)!r}, "
              "mode='rb') as f:\n    print(len(pd.read_parquet(f)))", cwd=got)
    assert proc.stdout.strip() == "22"
    proc = sh(sys.executable, "-c", "import dvc.api\n"
              f"print(dvc.api.artifacts_show('landmarks', repo={str(repo)!r})['path'])", cwd=got)
    assert proc.stdout.strip() == "data/dataset"


def test_second_repro_does_nothing_and_forced_repro_is_byte_identical(repo):
    out = dvc("repro", cwd=repo).stdout
    assert_nothing_reran(out)
    before = digests(repo)
    assert len(before) >= 15
    interim = {str(p): p.read_bytes() for p in (repo / "data/interim").rglob("*") if p.is_file()}
    dvc("repro", "-f", cwd=repo)  # extract's results come from the cache now
    assert digests(repo) == before
    # From scratch again, without the cache and with another worker count: the same bytes.
    params = repo / "params.yaml"
    original = params.read_text()
    try:
        params.write_text(original.replace("workers: 0", "workers: 1"))
        out = dvc("repro", cwd=repo).stdout
        assert_nothing_reran(out)  # workers decide nothing
        env_off = {**ENV, "LANDMARK_CACHE_DIR": "off"}
        proc = subprocess.run([sys.executable, "-m", "dvc", "repro", "-f", "extract"], cwd=repo,
                              env=env_off, capture_output=True, text=True, check=True)
        assert "0 from the cache" in proc.stderr + proc.stdout
        assert {str(p): p.read_bytes() for p in (repo / "data/interim").rglob("*")
                if p.is_file()} == interim
    finally:
        params.write_text(original)
    dvc("repro", cwd=repo)
    assert digests(repo) == before


def _temps(*roots: Path) -> list[str]:
    return sorted(str(p) for r in roots for p in r.rglob(".tmp-*") if ".dvc" not in p.parts)


def _everything(root: Path) -> dict[str, str]:
    out = digests(root)
    out.update((str(p.relative_to(root)), hashlib.sha256(p.read_bytes()).hexdigest())
               for p in sorted((root / "data/interim").rglob("*")) if p.is_file())
    out["dvc.lock"] = hashlib.sha256((root / "dvc.lock").read_bytes()).hexdigest()
    return out


def test_sigkill_mid_stage_then_rerun_gives_the_same_bytes(repo, tmp_path):
    """SIGKILL halfway through extract (cold cache), and in every stage between writing an
    artifact and moving it into place; each rerun gives the uninterrupted build's bytes."""
    dvc("repro", cwd=repo)
    before = _everything(repo)
    assert len(before) >= 30
    cache = tmp_path / "cache"  # cold: extraction takes long enough to be interrupted
    env = {**ENV, "LANDMARK_CACHE_DIR": str(cache)}
    with open(tmp_path / "log", "w") as log:
        proc = subprocess.Popen([sys.executable, "-m", "dvc", "repro", "-f", "-s", "extract"],
                                cwd=repo, env=env, stdout=log, stderr=log, start_new_session=True)
        while len(list(cache.glob("extract*/*/*.npz"))) < 3:  # a few items done, most not
            assert proc.poll() is None, (tmp_path / "log").read_text()
            time.sleep(0.02)
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    assert not (repo / "data/interim/extract/hands.parquet").exists()  # killed mid-stage
    left = _temps(repo / "data", cache)
    assert left  # the killed run's half-written tables (and maybe cache entries)
    # What a user does next. DVC restores the outputs its lock file names from its own cache
    # when it has them; scan, first in every run, sweeps the dead run's temporary files.
    dvc("repro", cwd=repo, env=env)
    assert _everything(repo) == before
    assert _temps(repo, cache) == []
    # Recomputed, partly from the entries the killed run left in the cache: the same bytes.
    hits = len(list(cache.glob("extract*/*/*.npz")))
    proc = dvc("repro", "-f", "-s", "extract", cwd=repo, env=env)
    assert f"({hits} from the cache" in proc.stderr + proc.stdout
    assert _everything(repo) == before

    for stage, artifact in [("scan", "files.csv"), ("ingest", "items.csv"),
                            ("extract", "faces.parquet"), ("preprocess", "hands.parquet"),
                            ("validate", "validation.json"), ("split@faces", "train.csv"),
                            ("ledger", "ledger.parquet"),
                            ("evaluate", "evaluation.json"), ("report", "quality.md"),
                            ("card", "croissant.json")]:
        killed = {**env, "LANDMARK_FAILPOINT": artifact}
        proc = dvc("repro", "-f", "-s", stage, cwd=repo, env=killed, check=False)
        assert proc.returncode != 0, stage
        assert any(artifact in t for t in _temps(repo)), stage  # killed before the rename
        dvc("repro", cwd=repo, env=env)
        assert _everything(repo) == before, stage
        assert _temps(repo, cache) == [], stage


def test_a_preprocess_change_reruns_no_extraction(repo):
    params = repo / "params.yaml"
    original = params.read_text()
    try:
        params.write_text(original.replace("min_extent: 0.02", "min_extent: 0.03"))
        out = dvc("repro", cwd=repo).stdout
        assert "Stage 'ingest' didn't change, skipping" in out
        assert "Stage 'extract' didn't change, skipping" in out
        assert "Running stage 'preprocess'" in out
    finally:
        params.write_text(original)
        dvc("repro", cwd=repo)


def test_a_hand_scheme_sweep_point_leaves_the_faces_and_the_ledger_alone(repo):
    """A sweep point of the hand scheme preprocesses, validates and publishes the tables it
    changes: the faces come from the preprocess and validate memos with the same bytes, and
    the faces' split and the ledger do not run."""
    params = repo / "params.yaml"
    original = params.read_text()
    faces = repo / "data/interim/preprocess/faces.parquet"
    before = hashlib.sha256(faces.read_bytes()).hexdigest()
    try:
        params.write_text(original.replace("  scheme: wrist_palm", "  scheme: bbox"))
        proc = dvc("repro", cwd=repo)
        out = proc.stdout + proc.stderr
        assert re.search(r"preprocess: faces: \d+ kept, .*; memo: unchanged\)", out), out
        assert not re.search(r"preprocess: hands: .*memo", out), out
        for stage in ("split@faces", "ledger"):
            assert f"Stage '{stage}' didn't change, skipping" in out, stage
        assert "Running stage 'split@hands'" in out
        assert hashlib.sha256(faces.read_bytes()).hexdigest() == before
    finally:
        params.write_text(original)
        dvc("repro", cwd=repo)


def test_validation_failure_fails_the_build(repo):
    params = repo / "params.yaml"
    original = params.read_text()
    try:
        params.write_text(original.replace("    faces: 0", "    faces: 100000"))
        proc = dvc("repro", "validate", cwd=repo, check=False)
        assert proc.returncode != 0
        assert "expectations failed" in proc.stderr + proc.stdout
        assert "table_row_count_to_be_between {'min_value': 100000}: observed 174" in (
            proc.stderr + proc.stdout)
    finally:
        params.write_text(original)
        dvc("repro", cwd=repo)


def test_exp_run_on_another_folder_with_bad_inputs(repo, tmp_path):
    """`dvc exp run` on good media mixed with the bad-input corpus: the build finishes, every
    file is in the tables or the ledger with its reason, and the report counts the reasons."""
    if not (TESTDATA / "README.md").is_file():
        pytest.skip("real test media not found")
    picks = {"hands/paper": 3, "hands/scissors": 3, "hands/no_hand": 2, "faces/happiness": 3,
             "faces/neutral": 3}
    for folder, n in picks.items():
        # a label a spreadsheet would run as a formula: published neutralized (CSV injection)
        dest = tmp_path / folder.replace("faces/neutral", "faces/@neutral")
        dest.mkdir(parents=True)
        for f in sorted((TESTDATA / folder).iterdir())[1:n + 1]:
            shutil.copy(f, dest / f.name)
    expected = bad_corpus.make(tmp_path, sorted((TESTDATA / "hands/paper").iterdir())[0])
    dvc("exp", "run", "-S", f"ingest.raw_dir={tmp_path}", cwd=repo)

    hands = pd.concat(pd.read_csv(p) for p in (repo / "data/dataset/hands").glob("*.csv"))
    faces = pd.concat(pd.read_csv(p) for p in (repo / "data/dataset/faces").glob("*.csv"))
    assert hands.groupby("label").size().to_dict() == {
        "paper": 3, "scissors": 3, "ok": 35, "odd names": 3, "'=weird? label!": 1}
    assert faces.groupby("label").size().to_dict() == {"happiness": 3, "'@neutral": 3}
    quality = (repo / "reports/quality.md").read_text()
    assert "(CSV injection): 2 such labels here" in quality

    interim = repo / "data/interim"
    items = pd.read_csv(interim / "ingest/items.csv")
    ingest_ledger = pd.read_csv(interim / "ingest/ledger.csv")
    extract_ledger = pd.read_csv(interim / "extract/ledger.csv")
    no_detection = set(extract_ledger.loc[extract_ledger["reason"] == "no_detection", "path"])
    ledgered = dict(zip(ingest_ledger["path"], ingest_ledger["reason"], strict=True))
    assert bad_corpus.mismatches(expected, set(items["path"]), ledgered, no_detection) == {}

    ledger = pd.read_csv(repo / "data/dataset/ledger.csv")
    counts = ledger.groupby(["stage", "reason"]).size().to_dict()
    assert counts == {
        ("extract", "no_detection"): 4, ("ingest", "broken_link"): 3, ("ingest", "duplicate"): 1,
        ("ingest", "empty_file"): 1, ("ingest", "label_conflict"): 2, ("ingest", "no_frames"): 1,
        ("ingest", "too_large"): 2, ("ingest", "truncated"): 4, ("ingest", "unreadable"): 2,
        ("ingest", "unsupported_extension"): 1, ("ingest", "hidden"): 1,
        ("ingest", "unlabelled"): 1}
    for (stage, reason), n in counts.items():  # the report's table of reasons
        assert f"| {stage} | {reason} | {n} |" in quality

    # Media named after people (the face photos carry their names): no name, no file name and
    # no path in any published table or in the report.
    people = {f.stem.rsplit("_", 1)[0] for f in tmp_path.glob("faces/*/*")}
    assert len(people) == 6
    needles = {n.lower() for p in people for n in (p, p.replace("_", " "))}
    needles |= {f.name.lower() for f in tmp_path.rglob("*")
                if (f.is_file() or f.is_symlink()) and ".git" not in f.parts}
    needles.add(str(tmp_path).lower())
    published = [p for d in ("data/dataset", "reports") for p in (repo / d).rglob("*")
                 if p.suffix in (".csv", ".md", ".json")]
    assert len(published) >= 12
    for path in published:
        text = path.read_text(encoding="utf-8").lower()
        leaked = sorted(n for n in needles if n in text)
        assert not leaked, f"{path.relative_to(repo)} mentions {leaked}"


SHAPES = {
    "hands only": (Shape((("hands", (Label("rock", 3, "images", True),
                                      Label("paper", 3, "images", True))),)),
                   {"hands": 6, "faces": 0, "holistic": 0}, "No faces in this build"),
    "videos only, one per modality, manifest": (
        Shape((("hands", (Label("wave", 1, "videos", True),)),
               ("faces", (Label("smile", 1, "videos", True),))), "manifest"),
        {"hands": 2, "faces": 4, "holistic": 0}, "faces: not evaluated: train holds 1 label"),
    "holistic only, a clip and photos": (
        Shape((("holistic", (Label("sign_a", 1, "videos", True),
                             Label("sign_b", 2, "images", True))),)),
        {"hands": 0, "faces": 0, "holistic": 6}, "No hands in this build"),
    "nothing detected": (Shape((("faces", (Label("calm", 3, "images", False),
                                           Label("angry", 1, "mixed", False))),)),
                         {"hands": 0, "faces": 0, "holistic": 0}, "**Nothing was kept**"),
}


@pytest.mark.parametrize("name", SHAPES)
def test_exp_run_on_generated_shapes(repo, tmp_path, name):
    """A few generated shapes through `dvc exp run`, as a new user would point it at them."""
    if not (TESTDATA / "README.md").is_file():
        pytest.skip("real test media not found")
    shape, rows, said = SHAPES[name]
    make(shape, tmp_path / "raw", TESTDATA, tmp_path / "media")
    proc = dvc("exp", "run", "-S", f"ingest.raw_dir={tmp_path / 'raw'}", cwd=repo)
    assert "Traceback" not in proc.stdout + proc.stderr
    for modality, n in rows.items():
        published = [pd.read_csv(repo / f"data/dataset/{modality}/{s}.csv")
                     for s in ("train", "test")]
        assert sum(len(t) for t in published) == n, modality
    assert said in (repo / "reports/quality.md").read_text()
    metrics = json.loads((repo / "reports/metrics.json").read_text())
    assert metrics["validation_success"]


def test_exp_run_on_a_folder_without_media_is_one_error_line(repo, tmp_path):
    (tmp_path / "raw/hands/rock").mkdir(parents=True)  # a label folder, but no file
    proc = dvc("exp", "run", "-S", f"ingest.raw_dir={tmp_path / 'raw'}", cwd=repo, check=False)
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0
    assert "Traceback" not in out
    assert (f"ingest: error: {tmp_path / 'raw'}: no files there; lay your media out as "
            "<modality>/<label>/<file>") in out


def test_pr_comment_on_a_before_after_pair_of_builds(repo):
    """The workflow's comment script, on a real base build and a PR build (other schemes)."""
    sh("git", "checkout", "--", "params.yaml", cwd=repo)
    dvc("repro", cwd=repo)
    sh("git", "add", "-A", cwd=repo)
    sh("git", "commit", "-qm", "base build", "--allow-empty", cwd=repo)
    base = sh("git", "rev-parse", "HEAD", cwd=repo).stdout.strip()
    dvc("exp", "run", "-S", "preprocess=bbox", "-S", "preprocess.face_scheme=head_pose", cwd=repo)
    proc = sh(sys.executable, str(ROOT / ".ci/pr_comment.py"), "--base", base,
              "--artifact-url", "https://example.invalid/artifact", cwd=repo)
    comment = proc.stdout
    assert comment.startswith("<!-- landmark-datasets-report -->")
    metrics = comment.split("### Metrics")[1].split("### Parameters")[0]
    params = comment.split("### Parameters")[1].split("<details>")[0]
    assert "| Path" in metrics
    assert "evaluate.faces.extra_trees.test.accuracy" in metrics
    assert "preprocess.scheme" in params
    assert "wrist_palm" in params
    assert "bbox" in params
    assert "![" not in comment  # figures are never inlined or uploaded
    assert comment.count("_(figure: ") == 9
    assert "hands **bbox**, faces **head_pose**" in comment
    assert "- `head_pose`: p' = F R^T F" in comment  # the report states the formulas in use
    # `dvc plots diff` draws every plot before and after: the figures as images, the
    # categorical plots as bars from zero (a label on an axis of numbers draws nothing)
    shown = json.loads(dvc("plots", "diff", base, "--json", cwd=repo).stdout)["data"]
    figures = sorted(p.name for p in (repo / "reports/figures").glob("*.png"))
    assert len(figures) == 9
    for name in figures:
        assert sorted(x["revisions"][0] for x in shown[f"reports/figures/{name}"]) == sorted(
            [base, "workspace"])
    for name, y in (("class_balance", "class"), ("detection_rate", "class"),
                    ("ledger_reasons", "reason")):
        (plot,) = shown[f"reports/plots/{name}.csv"]
        spec = plot["content"]
        assert (spec["mark"]["type"], spec["encoding"]["y"]["field"]) == ("bar", y)
        assert spec["encoding"]["y"]["type"] == "nominal"
        assert spec["encoding"]["x"]["scale"] == {"zero": True}
        assert {v["rev"] for v in spec["data"]["values"]} == {base, "workspace"}
    html = repo / "plots-diff"
    dvc("plots", "diff", base, "--out", str(html), cwd=repo)
    page = (html / "index.html").read_text()
    assert page.count("<img") == 18  # 9 figures, before and after
    assert '"mark": {"type": "bar"}' in page or '"type": "bar"' in page
    shutil.rmtree(html)
    sh("git", "checkout", "--", ".", cwd=repo)
    dvc("checkout", cwd=repo)


def _built(repo) -> dict[str, str]:
    """sha256 of every published table and of the metrics and evaluation of ``repo``."""
    files = sorted((repo / "data/dataset").rglob("*.*")) + [repo / "reports/metrics.json",
                                                           repo / "reports/evaluation.json"]
    return {str(p.relative_to(repo)): hashlib.sha256(p.read_bytes()).hexdigest() for p in files}


def test_two_queued_sweep_points_run_at_once_and_equal_their_serial_builds(repo):
    """``dvc queue start --jobs 2``: two sweep points run at the same time, sharing the
    landmark cache and its validate and evaluate memos. Neither extracts again, and each one's
    published tables, metrics and evaluation are byte-identical to a serial build of its params
    with no cache at all (and DVC's run cache off)."""
    sh("git", "checkout", "--", "params.yaml", cwd=repo)
    dvc("repro", cwd=repo)
    sh("git", "add", "-A", cwd=repo)
    sh("git", "commit", "-qm", "built", "--allow-empty", cwd=repo)  # queued runs start from HEAD
    points = ("none", "wrist_maxabs")
    dvc("exp", "run", "--queue", "-S", f"preprocess={','.join(points)}", cwd=repo)
    dvc("queue", "start", "--jobs", "2", cwd=repo)
    deadline = time.monotonic() + 900
    while True:  # workers run in the background
        status = dvc("queue", "status", cwd=repo).stdout
        if not re.search(r"\b(Queued|Running)\b", status) or time.monotonic() > deadline:
            break
        time.sleep(2)
    done = [line.split()[1] for line in status.splitlines() if "Success" in line]
    assert len(done) == 2, status
    queued = {}
    for name in done:
        log = dvc("queue", "logs", name, cwd=repo).stdout
        assert "Stage 'extract' didn't change, skipping" in log
        assert "Running stage 'evaluate'" in log
        dvc("exp", "apply", name, cwd=repo)
        scheme = yaml.safe_load((repo / "params.yaml").read_text())["preprocess"]["scheme"]
        queued[scheme] = _built(repo)
    assert set(queued) == set(points)
    table = dvc("exp", "show", "--md", "--drop", ".*", "--keep",
                r"Experiment|preprocess\.scheme|.*hands\.extra_trees\.test\.accuracy",
                cwd=repo).stdout
    assert "wrist_maxabs" in table
    assert "evaluate.hands.extra_trees.test.accuracy" in table
    off = {**ENV, "LANDMARK_CACHE_DIR": "off"}
    for point in points:
        sh("git", "checkout", "--", ".", cwd=repo)
        sh(sys.executable, "-c", "import sys; from landmark_datasets.core.params import compose; "
           "compose('params.yaml', sys.argv[1:])", f"preprocess={point}", cwd=repo)
        dvc("repro", "--no-run-cache", cwd=repo, env=off)
        assert _built(repo) == queued[point], point
    sh("git", "checkout", "--", ".", cwd=repo)
    dvc("checkout", cwd=repo)
