"""Split: train/test stratified by label and grouped by source; publishes the dataset.

Reads:   ``data/interim/preprocess/{hands,faces}.parquet``, the three stage ledgers
         (``data/interim/{ingest,extract,preprocess}/ledger.csv``), ``reports/validation.json``
         (split runs only on a validated build).
Writes:  ``data/dataset/{hands,faces}/{train,test}.csv`` and ``data/dataset/ledger.csv``.
Params:  ``split`` (test_size, seed), ``preprocess.float_format``.

Text cells a spreadsheet would run as a formula (a label such as ``=HYPERLINK(...)``, starting
with ``= + - @``, tab or CR) are published with a leading ``'`` (CSV injection).

Groups (a source video, a subject from the manifest, or the file) never cross the split: a
leakage check fails the stage if one does. Rows are sorted by key, floats written with one
format, so the same inputs give the same bytes. Published tables carry landmarks, labels and
pseudonymous ids only: no pixels, no file names or paths (the ledger drops its path column).
"""

from __future__ import annotations

import json
import logging

import numpy as np
import pandas as pd

from stages import UserError, io, paths, schema

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
    frames = [io.read_table(p) for p in paths]
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


def main() -> None:
    """Entry point of the ``split`` stage."""
    from stages import params as params_mod

    io.setup_logging()
    params = params_mod.load()
    if not json.loads(paths.VALIDATION.read_text())["success"]:
        raise UserError(f"{paths.VALIDATION}: validation failed; fix what it lists and run "
                        "the validate stage again")
    for modality in schema.MODALITIES:
        df = io.read_table(paths.PREPROCESS / f"{modality}.parquet")
        parts = split(df, modality, params.split.test_size, params.split.seed)
        for side, part in parts.items():
            io.write_csv(schema.neutralize_table(part), paths.table(modality, side),
                         params.preprocess.float_format)
        log.info("%s: %d train, %d test rows; %d + %d groups", modality, len(parts["train"]),
                 len(parts["test"]), parts["train"]["group"].nunique(),
                 parts["test"]["group"].nunique())
    ledger = public_ledger()
    io.write_csv(schema.neutralize_table(ledger), paths.DATASET / "ledger.csv")
    log.info("ledger: %d rows %s", len(ledger), ledger["reason"].value_counts().to_dict())


if __name__ == "__main__":
    io.run_stage(main)
