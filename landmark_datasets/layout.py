"""What a raw folder says each file is: its modality, label, group and time range.

Two layouts: folders (``<modality>/<label>/<file>``) or a manifest (``manifest.csv``: ``path,
modality, label[, group, start_s, end_s]``). :func:`discover` reads either into
:class:`Entry` rows; files that neither labels (outside a label folder, not in the manifest,
hidden) are ledger rows, and a folder with no media at all is one error
(:class:`NoMediaError`); a bad manifest is :class:`ManifestError`, naming its rows.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from landmark_datasets import UserError, media, schema
from landmark_datasets import listing as raw_listing
from landmark_datasets.params import IngestParams
from landmark_datasets.schema import MODALITIES, Reason

log = logging.getLogger("ingest")

MANIFEST_NAME = "manifest.csv"
MANIFEST_REQUIRED = ("path", "modality", "label")
MANIFEST_OPTIONAL = ("group", "start_s", "end_s")


class ManifestError(UserError, ValueError):
    """The manifest cannot be used; the message names the rows and the fix."""


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


def walk_folders(raw_dir: Path, listing: dict[str, raw_listing.Record] | None = None
                 ) -> tuple[list[Entry], list[dict]]:
    """Entries from a ``<modality>/<label>/<file>`` tree, sorted; plus ledger rows for strays.

    ``listing`` is the scan stage's (default: scan ``raw_dir`` now). Files below a label folder
    (at any depth) take that label. Files that are not below ``<modality>/<label>/`` are
    ledgered as ``unlabelled`` and hidden files as ``hidden``, never silently skipped.
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
        entries.append(Entry(rel.as_posix(), parts[0], parts[1]))
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


def manifest_strays(entries: list[Entry], listing: dict[str, raw_listing.Record], manifest: str
                    ) -> list[dict]:
    """Ledger rows for the listed files that no manifest row names (and hidden files)."""
    named = {e.path for e in entries} | {manifest}
    return [hidden_row(p) if Path(p).name.startswith(".") else ledger_row(
                p, Reason.UNLABELLED, "not in the manifest; add a row for it or move it out "
                "of ingest.raw_dir") for p in sorted(listing) if p not in named]


def read_manifest(path: Path, raw_dir: Path) -> list[Entry]:
    """Entries from a manifest CSV, checked before anything is decoded.

    Raises:
        ManifestError: missing columns, or rows with a bad path, modality, label or time range.
    """
    df = pd.read_csv(path, dtype=str, keep_default_na=False)
    missing = [c for c in MANIFEST_REQUIRED if c not in df.columns]
    unknown = [c for c in df.columns if c not in MANIFEST_REQUIRED + MANIFEST_OPTIONAL]
    if missing or unknown:
        raise ManifestError(
            f"{path}: missing columns {missing}, unknown columns {unknown}; allowed columns are "
            f"{', '.join(MANIFEST_REQUIRED + MANIFEST_OPTIONAL)} (the first three required)"
        )
    root = raw_dir.resolve()
    errors, entries = [], []
    for i, row in enumerate(df.to_dict("records"), start=2):  # line 1 is the header
        where = f"{path}:{i}"
        rel = row["path"].strip()
        target = (raw_dir / rel).resolve()
        norm = os.path.normpath(rel)  # the path as written (a link stays a link), tidied
        if not rel or not target.is_relative_to(root) or os.path.isabs(norm) or (
                norm.split(os.sep)[0] == ".."):
            errors.append(f"{where}: path {rel!r} is outside ingest.raw_dir ({raw_dir})")
            continue
        if row["modality"] not in MODALITIES:
            errors.append(f"{where}: modality {row['modality']!r} is not one of {MODALITIES}")
            continue
        label = row["label"].strip()
        if not label:
            errors.append(f"{where}: empty label")
            continue
        times = []
        for key in ("start_s", "end_s"):
            text = str(row.get(key, "") or "").strip()
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
        group = str(row.get("group", "") or "").strip() or None
        entries.append(Entry(Path(norm).as_posix(), row["modality"], label,
                             group, start, end, where))
    if errors:
        raise ManifestError(
            f"{len(errors)} bad manifest rows; fix them and run again:\n  " + "\n  ".join(errors)
        )
    return entries


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
        entries = read_manifest(manifest, raw_dir)
        rel = manifest.resolve().relative_to(raw_dir.resolve()).as_posix() if (
            manifest.resolve().is_relative_to(raw_dir.resolve())) else ""
        strays = manifest_strays(entries, listing, rel)
    else:
        entries, strays = walk_folders(raw_dir, listing)
    require_media(raw_dir, entries, strays)
    return raw_dir, entries, strays


def ledger_row(path: str, reason: Reason, detail: str, entry: Entry | None = None,
                source_id: str = "") -> dict:
    """An ingest ledger row for ``path``: the reason, what to do, and the entry's labels."""
    return schema.ledger_row("ingest", reason, detail, path=path, source_id=source_id,
                             modality=entry.modality if entry else "",
                             label=entry.label if entry else "")
