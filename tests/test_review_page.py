"""The review loop end to end: the page in a real browser, reviews.csv, the rebuild.

On a built copy of the repository (the sample media): Debian's chromium, driven by Selenium
through /usr/bin/chromedriver, relabels one queue entry and drops the next with the keyboard;
reviews.csv gets the two rows; nothing is written into reports/ or data/dataset/ meanwhile;
`dvc repro` then publishes the new label in every table, ledgers the dropped rows as
review_drop, leaves both out of the queue and reports them; an unmatched decision is listed,
a malformed one stops the build with one line, and an emptied reviews.csv rebuilds the
dataset as it was. Skips when chromium is not installed (`dev.py test` installs it as root).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pandas as pd
import pytest

from tests.test_pipeline import ENV, copy_repo, digests, dvc, sh

pytestmark = pytest.mark.slow

CHROMIUM, DRIVER = Path("/usr/bin/chromium"), Path("/usr/bin/chromedriver")
HEADER = "source_id,frame,start_s,end_s,decision,label,note,reviewer,date\n"


@pytest.fixture(scope="module")
def repo(tmp_path_factory):
    if not (CHROMIUM.exists() and DRIVER.exists()):
        pytest.skip("Debian's chromium and chromium-driver are not installed (as root, "
                    "`python3.11 dev.py test` installs them)")
    return copy_repo(tmp_path_factory)


@pytest.fixture
def server(repo):
    """The review page of the built copy, on a free port of 127.0.0.1."""
    proc = subprocess.Popen([sys.executable, "-m", "landmark_datasets.review.reviewpage", "--port",
                             "0", "--reviewer", "tester"], cwd=repo, env=ENV,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    line = proc.stdout.readline()
    if "http://127.0.0.1:" not in line:
        proc.kill()
        raise AssertionError(f"the review page did not start: {line}{proc.stderr.read()}")
    url = line.split(" at ", 1)[1].split()[0]
    yield url
    proc.terminate()
    proc.wait(10)


@pytest.fixture
def browser(tmp_path):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    os.environ["SE_OFFLINE"] = "true"  # Selenium Manager must not look for a driver online
    opts = webdriver.ChromeOptions()
    opts.binary_location = str(CHROMIUM)
    for arg in ("--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                "--disable-background-networking", "--disable-component-update",
                "--disable-sync", f"--user-data-dir={tmp_path / 'profile'}"):
        opts.add_argument(arg)
    driver = webdriver.Chrome(service=Service(str(DRIVER)), options=opts)
    yield driver
    driver.quit()


def wait(driver, condition, timeout=20.0):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if driver.execute_script(f"return {condition};"):
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {condition}")


def published(repo: Path, modality: str) -> pd.DataFrame:
    return pd.concat([pd.read_parquet(repo / f"data/dataset/{modality}/{s}.parquet")
                      for s in ("train", "test")], ignore_index=True)


def test_relabel_and_drop_from_the_page_reach_every_table(repo, server, browser):
    from selenium.webdriver.common.by import By

    before = digests(repo)
    dataset_before = {k: v for k, v in before.items() if k.startswith("data/dataset/")}
    state = json.load(urllib.request.urlopen(server + "api/state"))
    first, second = state["entries"][0], state["entries"][1]
    assert not first["decided"]
    assert not second["decided"]
    assert first["flagged"] or not any(e["flagged"] for e in state["entries"])
    known = [lab for lab in state["labels"][first["modality"]] if lab != first["label"]]

    browser.get(server)
    wait(browser, "document.body.dataset.ready === '1'")
    assert browser.find_element(By.ID, "source").text == first["source_id"]
    assert browser.find_element(By.ID, "given").text == first["label"]
    wait(browser, "document.getElementById('frame').naturalWidth > 0")
    body = browser.find_element(By.TAG_NAME, "body")
    body.send_keys("r")
    body.send_keys("1")  # the first known label that is not the given one
    wait(browser, "document.body.dataset.saved === '1'")
    assert browser.find_element(By.ID, "source").text == second["source_id"]  # next follows
    body.send_keys("m")
    browser.switch_to.active_element.send_keys("no hand, a blurred arm")
    body.send_keys("\ue00c")  # Escape leaves the note field
    browser.find_element(By.TAG_NAME, "body").send_keys("d")
    wait(browser, "document.body.dataset.saved === '2'")
    assert "reviews.csv row 3" in browser.find_element(By.ID, "status").text

    rows = pd.read_csv(repo / "reviews.csv", dtype=str, keep_default_na=False)
    today = time.strftime("%Y-%m-%d", time.gmtime())
    for row, entry in zip(rows.itertuples(), (first, second), strict=True):
        assert row.source_id == entry["source_id"]
        if entry["frames"] > 1:
            assert (row.frame, row.start_s, row.end_s) == (
                "", f"{entry['start_s']:.3f}", f"{entry['end_s']:.3f}")
        else:
            assert (row.frame, row.start_s) == (str(entry["frame"]), "")
        assert (row.reviewer, row.date) == ("tester", today)
    assert rows["decision"].tolist() == ["relabel", "drop"]
    assert rows["label"].tolist() == [known[0], ""]
    assert rows["note"].tolist() == ["", "no hand, a blurred arm"]
    assert digests(repo) == before  # the page wrote nothing into reports/ or data/dataset/

    out = dvc("repro", cwd=repo).stdout
    assert "Stage 'extract' didn't change, skipping" in out  # labels are not landmarks
    assert "Stage 'preprocess' didn't change, skipping" in out
    for table in ("hands", "faces", "holistic"):
        rows_of = published(repo, table)
        mine = rows_of[rows_of["source_id"] == first["source_id"]]
        if first["frames"] == 1:
            mine = mine[mine["frame"] == first["frame"]]
        else:
            ms = mine["timestamp_ms"]
            mine = mine[(ms >= first["start_s"] * 1000) & (ms <= first["end_s"] * 1000)]
        if table == first["modality"]:
            assert len(mine) >= 1
        assert set(mine["label"]) <= {known[0]}
    dropped = published(repo, second["modality"])
    assert second["source_id"] not in set(dropped["source_id"]) or second["frames"] > 1
    ledger = pd.read_parquet(repo / "data/dataset/ledger.parquet")
    drops = ledger[ledger["reason"] == "review_drop"]
    assert set(drops["source_id"]) == {second["source_id"]}
    assert set(drops["stage"]) == {"review"}
    assert drops["detail"].str.contains("reviews.csv row 3: no hand, a blurred arm").all()
    assert second["modality"] in set(drops["modality"])
    queue = pd.read_csv(repo / "reports/label_review.csv", dtype={"source_id": str})
    for entry in (first, second):
        same = queue[(queue["source_id"] == entry["source_id"])
                     & (queue["frame"] == entry["frame"])]
        assert same.empty
    report = (repo / "reports/quality.md").read_text()
    section = report[report.index("## Review"):report.index("## Video gaps")]
    assert "**Decisions** (`reviews.csv`): 2 rows; applied: keep 0 (0 rows), relabel 1 (" \
        in section
    assert "drop 1 (" in section
    assert "Decisions that matched nothing in this build: 0." in section
    metrics = json.loads((repo / "reports/metrics.json").read_text())
    assert metrics["evaluate"][first["modality"]]["review_queue"] == sum(
        queue["modality"] == first["modality"])

    # a decision on a file that is not in this build: counted and listed, never fatal
    with open(repo / "reviews.csv", "a") as f:
        f.write("0123456789abcdef,,,,keep,,a photo we deleted,tester,2026-12-04\n")
    dvc("repro", cwd=repo)
    report = (repo / "reports/quality.md").read_text()
    assert "Decisions that matched nothing in this build: 1 (" in report
    assert "| 4 | 0123456789abcdef | every frame | keep |  | a photo we deleted |" in report

    # a malformed row stops the build with one line naming the file, the row and the fix
    good = (repo / "reviews.csv").read_text()
    (repo / "reviews.csv").write_text(good + f"{first['source_id']},,,,relable,x,,,\n")
    failed = dvc("repro", cwd=repo, check=False)
    assert failed.returncode != 0
    errors = [ln for ln in failed.stderr.splitlines() if ln.startswith("review: error:")]
    assert errors == ["review: error: reviews.csv, row 5: decision 'relable' is not one of "
                      "keep, relabel, drop; write one of them (relabel with the new label in "
                      "the label column)"]
    assert "Traceback" not in failed.stderr

    # every decision undone by deleting the file: the dataset is the one built before any
    # review, byte for byte (the scan stage writes an empty reviews.csv back)
    (repo / "reviews.csv").unlink()
    dvc("repro", cwd=repo)
    assert (repo / "reviews.csv").read_text() == HEADER
    after = {k: v for k, v in digests(repo).items() if k.startswith("data/dataset/")}
    assert after == dataset_before
    sh("git", "status", "--short", cwd=repo)  # the copy is still a working repository
