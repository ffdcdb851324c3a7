"""Split: train/test by a salted hash of each group, stable across versions; publishes the dataset.

Entry point: ``stages/split.py`` (reads params, calls these functions). Each table is
published as CSV and Parquet with the same rows and values (:func:`publish_pieces`).

Text cells a spreadsheet would run as a formula (a label such as ``=HYPERLINK(...)``, starting
with ``= + - @``, tab or CR) are published with a leading ``'`` (CSV injection).

Groups (a subject or session folder, the manifest's group, else the file) never cross the
split: a leakage check fails the stage if one does. A group's side depends on its id alone
(:func:`assign`), so a grown or shrunk dataset keeps every remaining row on its side. Rows are
sorted by key, floats written with one format, so the same inputs give the same bytes.
Published tables carry landmarks, labels and pseudonymous ids only: no pixels, no file names or
paths (the ledger drops its path column).
"""
from __future__ import annotations

import hashlib
import logging

import numpy as np
import pandas as pd

from landmark_datasets.core import paths, schema, storage

log = logging.getLogger("split")

LEDGERS = (paths.INGEST_LEDGER, paths.EXTRACT_LEDGER, paths.PREPROCESS_LEDGER)


class LeakageError(RuntimeError):
    """A group (source or subject) is on both sides of the split."""


def draw(groups, salt: str) -> np.ndarray:
    """Per group id, a number in [0, 1) from the salted sha256 of that id alone."""
    return np.array([int.from_bytes(hashlib.sha256(f"{salt}:{g}".encode()).digest()[:8], "big")
                     / 2.0**64 for g in groups], dtype=float)


def assign(df: pd.DataFrame, test_size: float, salt: str) -> np.ndarray:
    """``"train"``/``"test"`` per row: a group is in test when its :func:`draw` < ``test_size``.

    The side of a group is a function of its id and ``salt`` alone, so adding or removing
    files, groups or labels never moves an existing group: version 2 of a dataset keeps
    version 1's test rows in test. A smaller ``test_size`` takes a subset of the test groups
    of a larger one. Stratification is what this allows: each group is in test with
    probability ``test_size`` whatever its label, so every label's test share tends to it as
    its groups grow (within about ``sqrt(test_size * (1 - test_size) / groups)``), and a label
    with few groups can fall on one side only: the quality report lists such labels; more
    groups, or another ``split.salt``, change that. Whole groups move, so no group crosses the
    split, and a group (a subject) is on the same side in every table.
    """
    groups = pd.unique(df["group"])
    test = dict(zip(groups, draw(groups, salt) < test_size, strict=True))
    return np.where(df["group"].map(test).to_numpy(dtype=bool), "test", "train").astype(object)


def check_leakage(train: pd.DataFrame, test: pd.DataFrame, modality: str) -> None:
    """Raise :class:`LeakageError` if any group is on both sides."""
    shared = sorted(set(train["group"]) & set(test["group"]))
    if shared:
        raise LeakageError(
            f"{modality}: {len(shared)} groups on both sides of the split, e.g. {shared[:5]}; "
            "this is a bug in the split, please report it"
        )


def order(keys: pd.DataFrame, modality: str, test_size: float, salt: str
          ) -> dict[str, np.ndarray]:
    """``{"train": rows, "test": rows}``: positions in ``keys`` per side, in key order.

    ``keys`` holds the table's key columns, ``label`` and ``group``: enough to split a table
    that is then published a piece at a time (:func:`pieces`).
    """
    positions = keys.sort_values(list(schema.KEY_COLUMNS), kind="stable").index.to_numpy()
    ordered = keys.iloc[positions].reset_index(drop=True)
    sides = assign(ordered, test_size, salt) if len(keys) else np.zeros(0, dtype=object)
    out = {s: positions[sides == s] for s in ("train", "test")}
    check_leakage(*(ordered.loc[sides == s, ["group"]] for s in ("train", "test")), modality)
    return out


def split(df: pd.DataFrame, modality: str, test_size: float, salt: str
          ) -> dict[str, pd.DataFrame]:
    """``{"train": ..., "test": ...}`` for one modality, rows sorted by key."""
    df = df.reset_index(drop=True)
    return {s: df.iloc[rows].reset_index(drop=True)
            for s, rows in order(df, modality, test_size, salt).items()}


#: Rows per published piece: the published Parquet's row group, and what split holds in
#: pandas at a time.
PIECE_ROWS = 4096


def pieces(path, modality: str, test_size: float, salt: str, rows: int = PIECE_ROWS,
           decisions: pd.DataFrame | None = None):
    """The Parquet table at ``path`` split: ``({side: iterator of pieces}, groups per side)``.

    ``decisions``: the table's reviewed rows (:func:`..review.review.for_modality`),
    applied before the split: relabelled rows are split and published with their new label,
    dropped rows are not published.

    Each side's rows come in key order, ``rows`` at a time, as :func:`split` would give them.
    The table is held once, in Arrow's columnar memory; pandas sees only a piece at a time
    (sorting and splitting a whole wide table in pandas took several copies of it).
    """
    import pyarrow.parquet as pq

    from landmark_datasets.review import review

    table = pq.read_table(path)
    if decisions is not None:
        table = review.apply(table, decisions)
    keys = table.select([*schema.KEY_COLUMNS, "label", "group"]).to_pandas()
    sides = order(keys, modality, test_size, salt)

    def side_pieces(positions: np.ndarray):
        if not len(positions):
            yield table.slice(0, 0).to_pandas()
        for start in range(0, len(positions), rows):
            yield table.take(positions[start:start + rows]).to_pandas()

    groups = {s: int(keys["group"].iloc[p].nunique()) for s, p in sides.items()}
    return {s: side_pieces(p) for s, p in sides.items()}, groups


def public_ledger(paths=LEDGERS, reviewed: pd.DataFrame | None = None) -> pd.DataFrame:
    """The stage ledgers merged, without paths, in a stable order.

    ``reviewed``: the matched review decisions (:mod:`..review.review`), whose drops
    join the ledger as ``review_drop`` rows after the stages' own.
    """
    from landmark_datasets.review import review

    frames = [storage.read_table(p) for p in paths]
    if reviewed is not None:
        frames.append(review.ledger_rows(reviewed))
    ledger = pd.concat([f for f in frames if len(f)] or frames[:1], ignore_index=True)
    ledger = ledger.reindex(columns=list(schema.LEDGER_COLUMNS))
    for col in ("frame", "instance"):
        ledger[col] = ledger[col].astype("Int64")
    stage_order = {"ingest": 0, "extract": 1, "preprocess": 2, review.STAGE: 3}
    return ledger.sort_values(
        ["stage", "source_id", "modality", "label", "frame", "instance", "reason"],
        key=lambda s: s.map(stage_order) if s.name == "stage" else s,
        kind="stable", na_position="first",
    ).reset_index(drop=True)


def publish(df, csv, float_format: str) -> None:
    """``df`` as CSV (text cells neutralized) and as Parquet beside it, with the same values.

    The Parquet floats are the CSV's, rounded as it prints them; its text is the true text.
    """
    publish_pieces([df], csv, float_format)


def publish_pieces(chunks, csv, float_format: str, arrow_schema=None) -> int:
    """:func:`publish` for a table that comes a piece at a time; return its rows.

    A piece's Parquet is written in a second thread while its CSV is formatted (both mostly
    in Arrow, outside the GIL): each file still gets its pieces in order, one writer each.
    """
    from concurrent.futures import ThreadPoolExecutor

    with storage.CsvAppender(csv, float_format) as text, \
            storage.ParquetAppender(csv.with_suffix(".parquet"), arrow_schema) as typed, \
            ThreadPoolExecutor(1, thread_name_prefix="parquet") as pool:
        pending = None
        for piece in chunks:
            if pending is not None:
                pending.result()
            pending = pool.submit(typed.write, storage.rounded(piece, float_format))
            text.write(schema.neutralize_table(piece))
        if pending is not None:
            pending.result()
    return text.rows
