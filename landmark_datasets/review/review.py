"""Review: a person's label decisions (``reviews.csv``, in git) and how a build applies them.

Entry point: ``stages/review.py`` (matches the decisions against this build's tables); split
applies what matched (:func:`apply`), the ledger lists what was dropped (:func:`ledger_rows`)
and evaluate leaves decided rows out of the review queue. The review page
(:mod:`.reviewpage`) appends decisions with :func:`append`.

``reviews.csv`` has one decision a row, against the published pseudonymous ``source_id`` (it
is derived from the file's content and salt, so it survives renames and moves):

- ``frame``: the frame it is about; empty with ``start_s`` and ``end_s``: the frames of a
  video between these times (seconds, both ends included); all three empty: every frame of
  the source (an image has one).
- ``decision``: ``keep`` (the label is right: the row leaves the review queue), ``relabel``
  (``label`` is the new label, in every table the rows are in) or ``drop`` (the rows leave
  the tables and enter the ledger as ``review_drop``, with the note).
- ``note``, ``reviewer``, ``date``: free text, kept with the decision.

Where two decisions cover a row, the later one in the file wins: the page appends, so the last
decision made is the one applied. A decision that matches nothing in this build (a file no
longer there, a frame another sweep dropped) is counted and listed in the report, never
fatal. A malformed row stops the build with one line naming the file, the row and what to
write instead. Applying decisions re-extracts nothing: landmarks depend on content, not labels.
"""
from __future__ import annotations

import csv
import io
import logging
import math
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from landmark_datasets import UserError
from landmark_datasets.core import paths, schema, storage

log = logging.getLogger("review")

#: The columns of ``reviews.csv``, in the order the page writes them.
COLUMNS: tuple[str, ...] = ("source_id", "frame", "start_s", "end_s", "decision", "label",
                            "note", "reviewer", "date")
DECISIONS: tuple[str, ...] = ("keep", "relabel", "drop")
#: The columns of the matched decisions (``data/interim/review/decisions.parquet``): one row
#: per table row a decision covers, the winning decision's.
MATCHED_COLUMNS: tuple[str, ...] = ("modality", "source_id", "frame", "instance", "given",
                                    "decision", "label", "note", "row")
#: Key columns a table is matched on.
MATCH_KEYS: tuple[str, ...] = (*schema.KEY_COLUMNS, "timestamp_ms", "label")
#: The ledger's stage name for rows a decision dropped.
STAGE = "review"


@dataclass(frozen=True)
class Decision:
    """One row of ``reviews.csv``; ``row`` is its line in the file (the header is line 1)."""

    row: int
    source_id: str
    frame: int | None
    start_s: float | None
    end_s: float | None
    decision: str
    label: str
    note: str = ""
    reviewer: str = ""
    date: str = ""

    def target(self) -> str:
        """What the decision covers, in words: ``frame 12``, ``1.200-3.400 s``, ``every frame``."""
        if self.frame is not None:
            return f"frame {self.frame}"
        if self.start_s is not None:
            return f"{self.start_s:.3f}-{self.end_s:.3f} s"
        return "every frame"


def _number(text: str, what: str, where: str, fix: str, *, whole: bool) -> float | int:
    try:
        value = int(text) if whole else float(text)
    except ValueError:
        value = None
    if value is None or (not whole and not math.isfinite(value)) or value < 0:
        raise UserError(f"{where}: {what} {text!r} is not a {'whole ' if whole else ''}number "
                        f">= 0; {fix}")
    return value


def parse(text: str, name: str = "reviews.csv") -> list[Decision]:
    """The decisions in ``text`` (a ``reviews.csv``), checked row by row.

    Raises :class:`UserError` naming ``name``, the row and what to write instead on the first
    malformed row: an unknown column or decision, a relabel without a label, a frame or time
    that is not a number, a range with one end or with a frame. Blank rows are skipped.
    """
    reader = csv.reader(io.StringIO(text.lstrip("\ufeff"), newline=""))
    header = [h.strip() for h in next(reader, [])]
    if not header:
        return []
    unknown = [h for h in header if h not in COLUMNS]
    missing = [c for c in ("source_id", "decision") if c not in header]
    if unknown or missing:
        what = (f"unknown column{'s' * (len(unknown) > 1)} {', '.join(map(repr, unknown))}"
                if unknown else f"no {' or '.join(missing)} column")
        raise UserError(f"{name}, row 1: {what}; the header is {','.join(COLUMNS)} "
                        "(source_id and decision are required)")
    out = []
    for line, cells in enumerate(reader, start=2):
        if not any(c.strip() for c in cells):
            continue
        where = f"{name}, row {line}"
        if len(cells) > len(header):
            raise UserError(f"{where}: {len(cells)} cells for {len(header)} columns; quote a "
                            "note that holds a comma (\"like, this\")")
        get = dict(zip(header, (c.strip() for c in cells), strict=False)).get
        if not get("source_id", ""):
            raise UserError(f"{where}: no source_id; copy it from {paths.LABEL_REVIEW} "
                            "or the published tables")
        decision = get("decision", "").lower()
        if decision not in DECISIONS:
            raise UserError(f"{where}: decision {get('decision', '')!r} is not one of "
                            f"{', '.join(DECISIONS)}; write one of them (relabel with the new "
                            "label in the label column)")
        label = get("label", "")
        if decision == "relabel" and not label:
            raise UserError(f"{where}: relabel without a label; write the new label in the "
                            "label column, or decide keep or drop")
        if any(ch in label for ch in "\n\r\t"):
            raise UserError(f"{where}: the label {label!r} holds a line break or tab; write "
                            "it on one line")
        frame = start = end = None
        if get("frame", ""):
            frame = _number(get("frame", ""), "frame", where, "write the frame column of "
                            f"{paths.LABEL_REVIEW}, or leave it empty for every frame",
                            whole=True)
        if get("start_s", "") or get("end_s", ""):
            fix = "write both start_s and end_s in seconds (the video's times), or neither"
            if not (get("start_s", "") and get("end_s", "")):
                raise UserError(f"{where}: a time range needs both start_s and end_s; {fix}")
            if frame is not None:
                raise UserError(f"{where}: both a frame and a time range; keep one of them "
                                "(an empty frame with start_s and end_s is a range)")
            start = _number(get("start_s", ""), "start_s", where, fix, whole=False)
            end = _number(get("end_s", ""), "end_s", where, fix, whole=False)
            if start > end:
                raise UserError(f"{where}: start_s {start:g} is after end_s {end:g}; swap them")
        out.append(Decision(line, get("source_id", ""), frame, start, end, decision,
                            label if decision == "relabel" else "", get("note", ""),
                            get("reviewer", ""), get("date", "")))
    return out


def read(path: Path | str) -> list[Decision]:
    """The decisions in the file at ``path`` (none when it does not exist); see :func:`parse`."""
    path = Path(path)
    if not path.is_file():
        return []
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as err:
        raise UserError(f"{path}: not UTF-8 text (byte {err.start}); save it as UTF-8 "
                        "CSV") from None
    return parse(text, str(path))


def match(decisions: list[Decision], keys: pd.DataFrame) -> tuple[pd.DataFrame, list[int]]:
    """The table rows each decision covers, and the decisions that cover none.

    ``keys``: ``modality`` and :data:`MATCH_KEYS` of every row of every table. Returns the
    matched rows (:data:`MATCHED_COLUMNS`; a row covered by several decisions gets the last
    one's) in key order, and the positions in ``decisions`` of those that matched nothing.
    """
    winner = np.full(len(keys), -1, dtype=np.int64)
    by_source = keys.groupby("source_id", sort=False).indices
    frames, ms = keys["frame"].to_numpy(), keys["timestamp_ms"].to_numpy()
    unmatched = []
    for i, d in enumerate(decisions):
        rows = by_source.get(d.source_id, np.zeros(0, dtype=np.int64))
        if d.frame is not None:
            rows = rows[frames[rows] == d.frame]
        elif d.start_s is not None:
            # times are whole milliseconds; the range's ends are rounded to them
            lo, hi = round(d.start_s * 1000), round(d.end_s * 1000)
            rows = rows[(ms[rows] >= lo) & (ms[rows] <= hi)]
        if not len(rows):
            unmatched.append(i)
        winner[rows] = i
    hit = np.flatnonzero(winner >= 0)
    chosen = [decisions[j] for j in winner[hit]]
    out = _typed(pd.DataFrame({
        "modality": keys["modality"].to_numpy()[hit],
        "source_id": keys["source_id"].to_numpy()[hit],
        "frame": frames[hit].astype(np.int64),
        "instance": keys["instance"].to_numpy()[hit].astype(np.int64),
        "given": keys["label"].to_numpy()[hit],
        "decision": [d.decision for d in chosen],
        "label": [d.label for d in chosen],
        "note": [d.note for d in chosen],
        "row": np.array([d.row for d in chosen], dtype=np.int64),
    }, columns=list(MATCHED_COLUMNS)))
    return (out.sort_values(["modality", *schema.KEY_COLUMNS], kind="stable")
            .reset_index(drop=True), unmatched)


def summary(decisions: list[Decision], matched: pd.DataFrame, unmatched: list[int]) -> dict:
    """What the report says of the decisions: applied by kind, matched nothing, relabels."""
    applied = {k: {"decisions": 0, "rows": 0} for k in DECISIONS}
    for kind, part in matched.groupby("decision"):
        applied[kind] = {"decisions": int(part["row"].nunique()), "rows": len(part)}
    winning = set(matched["row"].tolist())
    lost = set(unmatched)
    superseded = [d.row for i, d in enumerate(decisions)
                  if i not in lost and d.row not in winning]
    relabels = (matched[matched["decision"] == "relabel"]
                .groupby(["given", "label"]).size().rename("rows").reset_index())
    return {
        "decisions": len(decisions),
        "applied": applied,
        "superseded": superseded,
        "unmatched": [{k: v for k, v in asdict(decisions[i]).items()
                       if k in ("row", "source_id", "decision", "label", "note")}
                      | {"target": decisions[i].target()} for i in unmatched],
        "relabelled": [{"from": r.given, "to": r.label, "rows": int(r.rows)}
                       for r in relabels.itertuples()],
    }


def table_keys(tables: dict[str, Path]) -> pd.DataFrame:
    """``modality`` and :data:`MATCH_KEYS` of the Parquet tables ``{modality: path}``."""
    import pyarrow.parquet as pq

    frames = [pq.read_table(p, columns=list(MATCH_KEYS)).to_pandas().assign(modality=m)
              for m, p in tables.items()]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(
        {c: pd.Series(dtype="int64" if c in schema.INT_COLUMNS else object)
         for c in ("modality", *MATCH_KEYS)})


def for_modality(matched: pd.DataFrame, modality: str) -> pd.DataFrame:
    """The matched decisions of one table."""
    return matched[matched["modality"] == modality].reset_index(drop=True)


def apply(table, matched: pd.DataFrame):
    """The Arrow ``table`` with one modality's ``matched`` decisions applied.

    A relabelled row carries its new label; a dropped row is left out; a kept row is as it
    was. Rows stay in their order.
    """
    import pyarrow as pa

    if not len(matched) or not table.num_rows:
        return table
    keys = table.select(list(schema.KEY_COLUMNS)).to_pandas()
    joined = keys.merge(matched[[*schema.KEY_COLUMNS, "decision", "label"]],
                        on=list(schema.KEY_COLUMNS), how="left", sort=False)
    relabel = (joined["decision"] == "relabel").to_numpy()
    if relabel.any():
        i = table.schema.get_field_index("label")
        labels = table.column("label").to_pandas().to_numpy(dtype=object)
        labels[relabel] = joined["label"].to_numpy(dtype=object)[relabel]
        table = table.set_column(i, table.schema.field(i),
                                 pa.array(labels, type=table.schema.field(i).type))
    keep = (joined["decision"] != "drop").to_numpy()
    return table if keep.all() else table.filter(pa.array(keep))


def ledger_rows(matched: pd.DataFrame) -> pd.DataFrame:
    """The internal ledger rows of the dropped rows: reason ``review_drop``, with the note."""
    drops = matched[matched["decision"] == "drop"]
    rows = [schema.ledger_row(
        STAGE, schema.Reason.REVIEW_DROP,
        f"dropped by reviews.csv row {r.row}" + (f": {r.note}" if r.note else "")
        + "; delete that row of reviews.csv to bring it back",
        source_id=r.source_id, modality=r.modality, label=r.given, frame=int(r.frame),
        instance=int(r.instance)) for r in drops.itertuples()]
    return pd.DataFrame(rows, columns=list(schema.INTERNAL_LEDGER_COLUMNS))


def read_matched(path: Path | str) -> pd.DataFrame:
    """The matched decisions the review stage wrote (none when there is no such file)."""
    path = Path(path)
    return _typed(pd.read_parquet(path) if path.is_file() else
                  pd.DataFrame(columns=list(MATCHED_COLUMNS)))


def _typed(matched: pd.DataFrame) -> pd.DataFrame:
    """``matched`` with its text columns as Python strings (the tables' label type aside)."""
    text = [c for c in MATCHED_COLUMNS if c not in ("frame", "instance", "row")]
    return matched.astype(dict.fromkeys(text, object))


def header() -> str:
    """The header line of a new ``reviews.csv``."""
    return ",".join(COLUMNS) + "\n"


def restore(path: Path | str) -> bool:
    """Write an empty ``reviews.csv`` (its header) where there is none; whether it did.

    The file is a dependency of the review stage, and DVC stops on a missing dependency. The
    scan stage, which runs first in every ``dvc repro``, calls this: deleting the file undoes
    every decision, as deleting its rows does.
    """
    path = Path(path)
    if path.exists():
        return False
    storage.write_text(header(), path)
    return True


def append(path: Path | str, decision: dict) -> int:
    """Append one decision (a dict of :data:`COLUMNS`) to ``reviews.csv``, atomically.

    The file is read, checked (:func:`parse`, with the new row), and written whole beside
    itself before it replaces the old one: an interrupted write leaves the old file, never
    half a row. Returns the new row's line number.
    """
    path = Path(path)
    old = path.read_text(encoding="utf-8") if path.is_file() else ""
    if not old.strip():
        old = header()
    if not old.endswith("\n"):
        old += "\n"
    present = [h.strip() for h in next(csv.reader(io.StringIO(old.lstrip("\ufeff"))))]
    lost = [c for c in COLUMNS if c not in present and decision.get(c) not in (None, "")]
    if lost:
        raise UserError(f"{path}: the header has no {', '.join(lost)} column; add "
                        f"{'it' if len(lost) == 1 else 'them'} to the header line")
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerow(
        ["" if decision.get(c) is None else str(decision.get(c, "")) for c in present])
    new = old + buf.getvalue()
    decisions = parse(new, str(path))  # refuses a malformed decision before it is written
    storage.write_text(new, path)
    return decisions[-1].row
