"""Shared fixtures: the real media in ../shared/testdata (skipped cleanly when absent)."""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd
import pytest

ROOT = Path(__file__).resolve().parents[1]
TESTDATA = Path(os.environ.get("LANDMARK_TESTDATA", ROOT.parent / "shared" / "testdata"))
SAMPLE = ROOT / "data" / "raw"

os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
os.environ.setdefault("DVC_NO_ANALYTICS", "1")


@pytest.fixture(autouse=True)
def _repo_cwd(monkeypatch):
    """Stages resolve models/ and params.yaml from the repository root."""
    monkeypatch.chdir(ROOT)


@pytest.fixture(scope="session")
def testdata() -> Path:
    if not (TESTDATA / "README.md").is_file():
        pytest.skip(f"real test media not found at {TESTDATA}")
    return TESTDATA


@pytest.fixture(scope="session")
def detections(testdata) -> pd.DataFrame:
    """DETECTIONS.tsv: what MediaPipe found in each test image (measured independently)."""
    return pd.read_csv(testdata / "DETECTIONS.tsv", sep="\t", keep_default_na=False)


def run_extract(items, frames, params, raw_dir, out_dir, cache=None, workers=1,
                max_pixels=40_000_000):
    """extract.extract() into ``out_dir``; returns ``(tables, ledger, summary)``."""
    from landmark_datasets.core import storage
    from landmark_datasets.extract import extract

    summary = extract.extract(items, frames, params, Path(raw_dir), max_pixels, Path(out_dir),
                              cache, workers)
    tables = {m: storage.read_table(Path(out_dir) / f"{m}.parquet") for m in extract.TABLES}
    return tables, storage.read_table(Path(out_dir) / "ledger.csv"), summary


@pytest.fixture(scope="session")
def testdata_extracted(testdata, tmp_path_factory):
    """ingest + extract over every image of ../shared/testdata (about 10 s), run once."""
    from landmark_datasets.core.params import Params
    from landmark_datasets.ingest import ingest, layout

    os.chdir(ROOT)
    params = Params()
    params.ingest.raw_dir = str(testdata)
    raw_dir, entries, strays = layout.discover(params.ingest)
    items, frames, ledger = ingest.build_inventory(raw_dir, entries, params.ingest)
    tables, extract_ledger, _ = run_extract(items, frames, params.extract, raw_dir,
                                            tmp_path_factory.mktemp("extract"), workers=1)
    return {"items": items, "frames": frames, "ingest_ledger": ingest.ledger_frame(strays + ledger),
            "tables": tables, "ledger": extract_ledger}
