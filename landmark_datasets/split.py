"""Split: train/test stratified by label and grouped by source; publishes the dataset.

Entry point: ``stages/split.py`` (reads params, calls these functions, writes outputs).

Text cells a spreadsheet would run as a formula (a label such as ``=HYPERLINK(...)``, starting
with ``= + - @``, tab or CR) are published with a leading ``'`` (CSV injection).

Groups (a source video, a subject from the manifest, or the file) never cross the split: a
leakage check fails the stage if one does. Rows are sorted by key, floats written with one
format, so the same inputs give the same bytes. Published tables carry landmarks, labels and
pseudonymous ids only: no pixels, no file names or paths (the ledger drops its path column).
"""
from __future__ import annotations

import logging

import numpy as np
import pandas as pd

from landmark_datasets import paths, schema, storage

log = logging.getLogger("split")

LEDGERS = (paths.INGEST_LEDGER, paths.EXTRACT_LEDGER, paths.PREPROCESS_LEDGER)


class LeakageError(RuntimeError):
    """A group (source or subject) is on both sides of the split."""


def assign(df: pd.DataFrame, test_size: float, seed: int) -> np.ndarray:
    """``"train"``/``"test"`` per row: stratified by label, grouped by ``group``, seeded.

    Each group gets its majority label. For every label with at least two groups,
    ``max(1, round(test_size * n_groups))`` of its groups, drawn with ``seed``, go to test
    and the rest to train; a label with a single group stays in train (it cannot be on both
    sides without leaking). Whole groups move, so no group crosses the split. Unlike
    scikit-learn's StratifiedGroupKFold, this keeps every label with two or more groups on
    both sides even when there are only a handful of groups, as in small or pilot datasets.
    """
    rng = np.random.default_rng(seed)
    majority = (df.groupby(["group", "label"]).size().rename("n").reset_index()
                .sort_values(["group", "n", "label"], ascending=[True, False, True])
                .drop_duplicates("group"))
    test_groups: set[str] = set()
    for _, groups in majority.groupby("label", sort=True):
        names = sorted(groups["group"])
        if len(names) < 2:
            continue
        n_test = min(len(names) - 1, max(1, round(test_size * len(names))))
        test_groups.update(rng.permutation(names)[:n_test].tolist())
    return np.where(df["group"].isin(test_groups), "test", "train").astype(object)


def check_leakage(train: pd.DataFrame, test: pd.DataFrame, modality: str) -> None:
    """Raise :class:`LeakageError` if any group is on both sides."""
    shared = sorted(set(train["group"]) & set(test["group"]))
    if shared:
        raise LeakageError(
            f"{modality}: {len(shared)} groups on both sides of the split, e.g. {shared[:5]}; "
            "this is a bug in the split, please report it"
        )


def split(df: pd.DataFrame, modality: str, test_size: float, seed: int
          ) -> dict[str, pd.DataFrame]:
    """``{"train": ..., "test": ...}`` for one modality, rows sorted by key."""
    df = df.sort_values(list(schema.KEY_COLUMNS), kind="stable").reset_index(drop=True)
    sides = assign(df, test_size, seed) if len(df) else np.zeros(0, dtype=object)
    out = {s: df.loc[sides == s].reset_index(drop=True) for s in ("train", "test")}
    check_leakage(out["train"], out["test"], modality)
    return out


def public_ledger(paths=LEDGERS) -> pd.DataFrame:
    """The stage ledgers merged, without paths, in a stable order."""
    frames = [storage.read_table(p) for p in paths]
    ledger = pd.concat([f for f in frames if len(f)] or frames[:1], ignore_index=True)
    ledger = ledger.reindex(columns=list(schema.LEDGER_COLUMNS))
    for col in ("frame", "instance"):
        ledger[col] = ledger[col].astype("Int64")
    stage_order = {"ingest": 0, "extract": 1, "preprocess": 2}
    return ledger.sort_values(
        ["stage", "source_id", "modality", "label", "frame", "instance", "reason"],
        key=lambda s: s.map(stage_order) if s.name == "stage" else s,
        kind="stable", na_position="first",
    ).reset_index(drop=True)



