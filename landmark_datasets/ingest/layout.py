"""What a raw folder says each file is: its modality, label, group and time range.

Two layouts: folders (``<modality>/<label>/[<group>/...]<file>``) or a manifest
(``manifest.csv``: ``path, modality, label[, group, start_s, end_s]``). :func:`discover` reads
either into :class:`Entry` rows; files that neither labels (outside a label folder, not in the
manifest, hidden) are ledger rows, and a folder with no media at all is one error
(:class:`NoMediaError`); a bad manifest is :class:`ManifestError`, naming its rows.

Groups (what never crosses the split): the manifest's ``group``, else the first folder below
the label (``hands/fist/alice/1.jpg``: the subject or session ``alice``, the same group under
every label and modality), else the file itself. Labels and groups are Unicode NFC, so a name
typed on macOS (NFD) and on Linux is one name; labels that differ only in case, spacing or
accents are logged and kept apart unless ``ingest.fold_labels`` merges them.
"""

from __future__ import annotations

import logging
import os
import unicodedata
from collections import Counter
from dataclasses import dataclass, replace
from pathlib import Path

from landmark_datasets import UserError
from landmark_datasets.core import schema
from landmark_datasets.core.params import IngestParams
from landmark_datasets.core.schema import MODALITIES, Reason
from landmark_datasets.ingest import listing as raw_listing
from landmark_datasets.ingest import manifest, media
from landmark_datasets.ingest.manifest import ManifestError

log = logging.getLogger("ingest")

MANIFEST_NAME = "manifest.csv"
MANIFEST_REQUIRED = ("path", "modality", "label")
MANIFEST_OPTIONAL = ("group", "start_s", "end_s")


class NoMediaError(UserError):
    """The raw folder holds no labelled image or video: there is nothing to build from."""


LAYOUT_HELP = (f"lay your media out as <modality>/<label>/<file> (modality one of "
               f"{', '.join(MODALITIES)}) or list it in {MANIFEST_NAME} (columns path, "
               "modality, label), then run again")


def require_media(raw_dir: Path, entries: list[Entry], strays: list[dict]) -> None:
    """Raise :class:`NoMediaError` unless some entry is an image or a video by its extension.

    A folder whose media all fail later (unreadable, nothing detected) still builds: its files
    end in the ledger. A folder with no media at all has nothing to publish or ledger.
    """
    if any(media.media_kind(e.path) for e in entries):
        return
    if not entries and not strays:
        raise NoMediaError(f"{raw_dir}: no files there; {LAYOUT_HELP}")
    found = sorted({Path(e.path).suffix.lower() or "no extension" for e in entries})
    why = {r["reason"] for r in strays}
    parts = [f"{len(entries)} labelled files with no image or video extension: "
             f"{', '.join(found)}"] if entries else []
    parts += [f"{sum(r['reason'] == w for r in strays)} {w}" for w in sorted(why)]
    raise NoMediaError(f"{raw_dir}: no labelled image or video ({', '.join(parts)}); "
                       f"{LAYOUT_HELP}")



@dataclass(frozen=True)
class Entry:
    """One labelled input: a file, or a time range of a video, under a modality and label."""

    path: str  # relative to raw_dir, POSIX separators
    modality: str
    label: str
    group: str | None = None
    start_s: float | None = None
    end_s: float | None = None
    where: str = ""  # "<manifest>:<line>" for a manifest row, for error messages
    group_from: str = "file"  # where the group came from: manifest, folder or file


def walk_folders(raw_dir: Path, listing: dict[str, raw_listing.Record] | None = None,
                 folder_groups: bool = True) -> tuple[list[Entry], list[dict]]:
    """Entries from a ``<modality>/<label>/<file>`` tree, sorted; plus ledger rows for strays.

    ``listing`` is the scan stage's (default: scan ``raw_dir`` now). Files below a label folder
    (at any depth) take that label, and with ``folder_groups`` the group of the first folder
    below it. Files that are not below ``<modality>/<label>/`` are ledgered as ``unlabelled``
    and hidden files as ``hidden``, never silently skipped.
    """
    if listing is None:
        listing = {r.path: r for r in raw_listing.scan(raw_dir)}
    entries, ledger = [], []
    for name in sorted(listing):
        rel = Path(name)
        parts = rel.parts
        if name == MANIFEST_NAME:
            continue
        if rel.name.startswith("."):
            ledger.append(hidden_row(name))
            continue
        if len(parts) < 3 or parts[0] not in MODALITIES:
            ledger.append(ledger_row(
                rel.as_posix(), Reason.UNLABELLED,
                f"not under <modality>/<label>/ (modality one of {', '.join(MODALITIES)}); "
                "move it there or list it in a manifest",
            ))
            continue
        group = nfc(parts[2]) if folder_groups and len(parts) > 3 else None
        entries.append(Entry(rel.as_posix(), parts[0], nfc(parts[1]), group,
                             group_from="folder" if group else "file"))
    labelled = {Path(e.path).parts[:2] for e in entries}
    for modality in MODALITIES:
        for folder in sorted((raw_dir / modality).glob("*/")):
            if folder.is_dir() and (modality, folder.name) not in labelled:
                log.warning("%s: empty label folder; nothing to ingest there", folder)
    return entries, ledger


def hidden_row(path: str) -> dict:
    """The ledger row of a hidden file (its name starts with a dot)."""
    return ledger_row(path, Reason.HIDDEN, "hidden file (its name starts with '.'); ignored: "
                       "rename it to use it, or remove it")


def manifest_strays(named: set[str], listing: dict[str, raw_listing.Record], manifest_rel: str
                    ) -> list[dict]:
    """Ledger rows for the listed files that no manifest row names (and hidden files)."""
    named = named | {manifest_rel}
    return [hidden_row(p) if Path(p).name.startswith(".") else ledger_row(
                p, Reason.UNLABELLED, "not in the manifest; add a row for it or move it out "
                "of ingest.raw_dir") for p in sorted(listing) if p not in named]


def read_manifest(path: Path, raw_dir: Path) -> tuple[list[Entry], list[dict]]:
    r"""Entries from a manifest CSV, checked before anything is decoded; plus ledger rows.

    Paths are relative to the manifest's folder, with ``/`` or ``\`` (as Windows writes
    them) between folders, and must stay below ``raw_dir``. The dialect is whatever a
    spreadsheet wrote (:mod:`.manifest`). Rows that list a file again (or an overlapping range
    of a video) are ledgered as ``duplicate``, rows that give one file or frame two labels as
    ``label_conflict``, with their line numbers (:func:`overlapping_rows`).

    Raises:
        ManifestError: unreadable file, missing columns, or rows with a bad path, modality,
            label or time range.
    """
    columns, rows = manifest.read(path)
    missing = [c for c in MANIFEST_REQUIRED if c not in columns]
    unknown = [c for c in columns if c not in MANIFEST_REQUIRED + MANIFEST_OPTIONAL]
    if missing or unknown:
        hint = next((f"; the separator looks like {s!r}: save the file with commas" for s in
                     manifest.SEPARATORS if any(s in c for c in columns)), "")
        raise ManifestError(
            f"{path}: missing columns {missing}, unknown columns {unknown}; allowed columns are "
            f"{', '.join(MANIFEST_REQUIRED + MANIFEST_OPTIONAL)} (the first three required)"
            + hint)
    root = raw_dir.resolve()
    base = os.path.relpath(path.parent, raw_dir)
    errors, entries = [], []
    for line, row in rows:
        where = f"{path}:{line}"
        rel = row["path"]
        if "\\" in rel and not os.path.lexists(path.parent / rel):
            rel = rel.replace("\\", "/")  # Windows separators (no file has this name)
        norm = os.path.normpath(os.path.join(base, rel)) if rel else ""
        if not rel or os.path.isabs(rel) or norm.split(os.sep)[0] == ".." or not (
                raw_dir / norm).resolve().is_relative_to(root):
            errors.append(f"{where}: path {rel!r} is outside ingest.raw_dir ({raw_dir})" if rel
                          else f"{where}: empty path")
            continue
        modality = row["modality"].lower()
        if modality not in MODALITIES:
            errors.append(f"{where}: modality {row['modality']!r} is not one of {MODALITIES}")
            continue
        label = nfc(row["label"])
        if not label:
            errors.append(f"{where}: empty label")
            continue
        times = []
        for key in ("start_s", "end_s"):
            text = row.get(key, "")
            try:
                times.append(float(text) if text else None)
            except ValueError:
                errors.append(f"{where}: {key}={text!r} is not a number of seconds")
                times.append(None)
        start, end = times
        if (start is not None and start < 0) or (
            start is not None and end is not None and end <= start
        ):
            errors.append(f"{where}: time range [{start}, {end}) is empty or negative")
            continue
        group = nfc(row.get("group", "")) or None
        entries.append(Entry(raw_listing.escape(Path(norm).as_posix()), modality, label,
                             group, start, end, where, "manifest" if group else "file"))
    if errors:
        raise ManifestError(
            f"{len(errors)} bad manifest rows; fix them and run again:\n  " + "\n  ".join(errors)
        )
    return overlapping_rows(entries)


def overlapping_rows(entries: list[Entry]) -> tuple[list[Entry], list[dict]]:
    """The manifest's entries without repeats; ledger rows for the rows left out.

    Two rows of one file and modality overlap when their time ranges do (an image, or a row
    without a range, covers the whole file). Rows that overlap a row of another label are all
    ``label_conflict``; a row that overlaps an earlier row of its label is a ``duplicate`` (the
    earlier one is kept). A video's disjoint ranges are separate entries, as they should be.
    """
    def span(e: Entry) -> tuple[float, float]:
        return (e.start_s or 0.0, float("inf") if e.end_s is None else e.end_s)

    def overlap(a: Entry, b: Entry) -> bool:
        (a0, a1), (b0, b1) = span(a), span(b)
        return max(a0, b0) < min(a1, b1)

    by_file: dict[tuple[str, str], list[Entry]] = {}
    for e in entries:
        by_file.setdefault((e.path, e.modality), []).append(e)
    kept, ledger = [], []
    for rows in by_file.values():
        if len(rows) == 1:
            kept.extend(rows)
            continue
        clash = {i for i, a in enumerate(rows) for b in rows if a.label != b.label and
                 overlap(a, b)}
        for i in sorted(clash):
            e = rows[i]
            others = [r for r in rows if r.label != e.label and overlap(e, r)]
            ledger.append(ledger_row(
                e.path, Reason.LABEL_CONFLICT,
                f"manifest line {_line(e)} labels it {e.label!r}, "
                + "; ".join(f"line {_line(r)} {r.label!r}" for r in others)
                + (" over the same time" if e.start_s is not None or e.end_s is not None
                   else "") + ": keep one of these rows", e))
        first: list[Entry] = []
        for i, e in enumerate(rows):
            if i in clash:
                continue
            earlier = next((f for f in first if f.label == e.label and overlap(e, f)), None)
            if earlier is None:
                first.append(e)
                continue
            same = span(e) == span(earlier)
            ledger.append(ledger_row(
                e.path, Reason.DUPLICATE,
                f"manifest line {_line(e)} lists it again (first at line {_line(earlier)}); "
                + ("kept once" if same else "their time ranges overlap: merge them into one "
                   "row"), e))
        kept.extend(first)
    return kept, ledger


def _line(e: Entry) -> str:
    """The line number of a manifest entry."""
    return e.where.rsplit(":", 1)[1]


def discover(params: IngestParams, listing: dict[str, raw_listing.Record] | None = None
             ) -> tuple[Path, list[Entry], list[dict]]:
    """The raw folder, its entries (from the manifest or the folders) and stray-file ledger rows.

    ``listing``: the scan stage's listing of the folder (default: scan it now).
    """
    raw_dir = Path(params.raw_dir)
    if not raw_dir.is_dir():
        raise ManifestError(
            f"{raw_dir}: ingest.raw_dir is not a folder; point it at your media "
            "(`dvc exp run -S ingest.raw_dir=...`) or fetch the sample (`python3.11 dev.py sample`)"
        )
    if params.manifest is not None:
        manifest = raw_dir / params.manifest
        if not manifest.is_file():
            raise ManifestError(f"{manifest}: ingest.manifest not found; fix the param "
                                "(a path relative to ingest.raw_dir) or create the file")
    else:
        manifest = raw_dir / MANIFEST_NAME
    if listing is None:
        listing = {r.path: r for r in raw_listing.scan(raw_dir)}
    if manifest.is_file():
        log.info("labels from manifest %s", manifest)
        entries, repeats = read_manifest(manifest, raw_dir)
        rel = manifest.resolve().relative_to(raw_dir.resolve()).as_posix() if (
            manifest.resolve().is_relative_to(raw_dir.resolve())) else ""
        strays = repeats + manifest_strays({e.path for e in entries} |
                                           {r["path"] for r in repeats}, listing, rel)
    else:
        entries, strays = walk_folders(raw_dir, listing, params.folder_groups)
    require_media(raw_dir, entries, strays)
    return raw_dir, spellings(entries, params.fold_labels), strays


def nfc(text: str) -> str:
    """``text`` in Unicode normal form C: one spelling of every accented letter."""
    return unicodedata.normalize("NFC", text)


def spellings(entries: list[Entry], fold: bool) -> list[Entry]:
    """``entries``, with labels that differ only in spelling logged, and merged if ``fold``.

    Labels are one label to :func:`..core.schema.spelling_key` when they differ only in case,
    spaces, ``_``/``-`` or compatibility forms (``Rock``, ``rock ``, ``ｒｏｃｋ``). Folded, each
    takes the spelling most of its entries have (the first in sorted order on a tie).
    """
    variants = schema.spelling_variants(e.label for e in entries)
    if not variants:
        return entries
    counts = Counter(e.label for e in entries)
    for names in variants:
        log.warning("labels %s differ only in case, spacing or Unicode form; %s",
                    ", ".join(repr(n) for n in names),
                    f"merged into {max(names, key=lambda n: (counts[n], -names.index(n)))!r} "
                    "(ingest.fold_labels)" if fold else
                    "kept apart: rename the folders or rows, or set ingest.fold_labels=true")
    if not fold:
        return entries
    to = {n: max(names, key=lambda m: (counts[m], -names.index(m)))
          for names in variants for n in names}
    return [replace(e, label=to.get(e.label, e.label)) for e in entries]


def ledger_row(path: str, reason: Reason, detail: str, entry: Entry | None = None,
                source_id: str = "") -> dict:
    """An ingest ledger row for ``path``: the reason, what to do, and the entry's labels."""
    return schema.ledger_row("ingest", reason, detail, path=path, source_id=source_id,
                             modality=entry.modality if entry else "",
                             label=entry.label if entry else "")
