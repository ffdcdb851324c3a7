"""Ingest: inventory of the raw media, with hashes, decode checks, labels, groups and frames.

Entry point: ``stages/ingest.py`` (reads params, calls these functions, writes outputs).

Ids are pseudonymous: ``source_id`` is a salted HMAC of the file's sha256, and a manifest
``group`` (often a person) is replaced by a salted HMAC of its name.

Files are hashed by the scan stage. A file's decode check (a full decode; every frame of a
video) is cached under its hash (:mod:`.cache`), so a rebuild after adding files decodes
only the new ones. Broken links and unreadable files in the listing are ledgered.
"""
from __future__ import annotations

import hashlib
import hmac
import logging
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from landmark_datasets import UserError, media, schema
from landmark_datasets import listing as raw_listing
from landmark_datasets.cache import Cache
from landmark_datasets.cache import key as cache_key
from landmark_datasets.params import IngestParams
from landmark_datasets.progress import Progress
from landmark_datasets.schema import MODALITIES, Reason

log = logging.getLogger("ingest")

MANIFEST_NAME = "manifest.csv"
MANIFEST_REQUIRED = ("path", "modality", "label")
MANIFEST_OPTIONAL = ("group", "start_s", "end_s")

ITEM_COLUMNS = (
    "item", "source_id", "path", "modality", "label", "group", "media", "sha256", "bytes",
    "width", "height", "fps", "n_frames", "start_s", "end_s",
)
FRAME_COLUMNS = ("item", "source_id", "frame", "timestamp_ms")


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


def pseudonym(salt: str, value: str, n: int = 16) -> str:
    """A salted, keyed hash of ``value``: stable for one salt, unlinkable across salts."""
    return hmac.new(salt.encode(), value.encode(), hashlib.sha256).hexdigest()[:n]


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
            ledger.append(_hidden_row(name))
            continue
        if len(parts) < 3 or parts[0] not in MODALITIES:
            ledger.append(_ledger_row(
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


def _hidden_row(path: str) -> dict:
    return _ledger_row(path, Reason.HIDDEN, "hidden file (its name starts with '.'); ignored: "
                       "rename it to use it, or remove it")


def manifest_strays(entries: list[Entry], listing: dict[str, raw_listing.Record], manifest: str
                    ) -> list[dict]:
    """Ledger rows for the listed files that no manifest row names (and hidden files)."""
    named = {e.path for e in entries} | {manifest}
    return [_hidden_row(p) if Path(p).name.startswith(".") else _ledger_row(
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


def _ledger_row(path: str, reason: Reason, detail: str, entry: Entry | None = None,
                source_id: str = "") -> dict:
    return schema.ledger_row("ingest", reason, detail, path=path, source_id=source_id,
                             modality=entry.modality if entry else "",
                             label=entry.label if entry else "")


@dataclass
class _Probe:
    sha256: str
    bytes: int
    media: str
    width: int
    height: int
    fps: float
    n_frames: int
    times: tuple[float, ...] = ()  # video frames' presentation times (s)

    @property
    def duration(self) -> float:
        """Seconds of video: the last frame's time plus one frame."""
        last = self.times[-1] if self.times else (self.n_frames - 1) / self.fps
        return last + 1 / self.fps


PROBE_NAMESPACE = "ingest-probe"

#: The ledger reason of each scan status other than ``file``.
_STATUS_REASON = {raw_listing.DANGLING: Reason.BROKEN_LINK,
                  raw_listing.LOOP: Reason.BROKEN_LINK,
                  raw_listing.MISSING: Reason.MISSING_FILE,
                  raw_listing.UNREADABLE: Reason.UNREADABLE}


def probe(path: Path, params: IngestParams, cache: Cache | None = None,
          rec: raw_listing.Record | None = None) -> _Probe:
    """Decode-check one file (cached under its sha256, from ``rec`` or hashed now).

    Raises:
        media.MediaError: the file cannot be used (with its ledger reason).
    """
    kind = media.media_kind(path)
    if kind is None:
        raise media.MediaError(
            Reason.UNSUPPORTED_EXTENSION,
            f"extension {path.suffix!r} is not a supported image "
            f"({' '.join(sorted(media.IMAGE_EXTENSIONS))}) or video "
            f"({' '.join(sorted(media.VIDEO_EXTENSIONS))}); convert it or remove it",
        )
    rec = rec or raw_listing.record(path, path.name)
    if rec.status != raw_listing.FILE:
        raise media.MediaError(_STATUS_REASON[rec.status], raw_listing.ADVICE[rec.status])
    size, digest = rec.bytes, rec.sha256
    cache = cache if cache is not None else Cache(None)
    k = cache_key(digest, kind, params.max_image_pixels if kind == "image" else None,
                  PROBE_CODE)
    hit = cache.get(PROBE_NAMESPACE, k)
    if hit is None:
        try:
            found, times = media.decode_check(path, kind, params.max_image_pixels)
            hit = {"reason": np.array(""), "message": np.array(""),
                   "size": np.array(found, dtype=np.float64),
                   "times": np.array(times, dtype=np.float64)}
        except media.MediaError as err:
            hit = {"reason": np.array(err.reason.value), "message": np.array(str(err)),
                   "size": np.zeros(4), "times": np.zeros(0)}
        cache.put(PROBE_NAMESPACE, k, hit)
    if str(hit["reason"]):
        raise media.MediaError(Reason(str(hit["reason"])), str(hit["message"]))
    width, height, fps, n_frames = hit["size"].tolist()
    return _Probe(digest, size, kind, int(width), int(height), fps, int(n_frames),
                  tuple(hit["times"].tolist()))


#: The code behind a decode check: :mod:`landmark_datasets.media` alone (a new version misses
#: every cached probe; editing this module, its messages or its inventory, does not).
PROBE_CODE = hashlib.sha256(Path(media.__file__).read_bytes()).hexdigest()


def build_inventory(
    raw_dir: Path, entries: list[Entry], params: IngestParams, cache: Cache | None = None,
    listing: dict[str, raw_listing.Record] | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame, list[dict]]:
    """Probe every entry's file once; return (items, frames, ledger rows).

    ``listing``: the scan stage's records (sha256s); paths it lacks are hashed now.

    Duplicates (same bytes under another path) keep the first path in sorted order; the same
    bytes under two labels of one modality are a label conflict and all copies are ledgered.
    """
    probes: dict[str, _Probe | media.MediaError] = {}
    paths = sorted({e.path for e in entries})
    progress = Progress(len(paths), "ingest", log)
    for rel in paths:
        try:
            probes[rel] = probe(raw_dir / rel, params, cache, (listing or {}).get(rel))
        except media.MediaError as err:
            probes[rel] = err
            log.warning("%s: %s", raw_dir / rel, err)
        except OSError as err:
            probes[rel] = media.MediaError(Reason.UNREADABLE, f"cannot read: {err.strerror}; "
                                           "check permissions or remove it")
            log.warning("%s: cannot read (%s)", raw_dir / rel, err.strerror)
        progress.update()
    progress.close()

    ledger: list[dict] = []
    good: list[tuple[Entry, _Probe]] = []
    for e in entries:
        p = probes[e.path]
        if isinstance(p, media.MediaError):
            ledger.append(_ledger_row(e.path, p.reason, str(p), e))
        else:
            good.append((e, p))

    # Same bytes at several paths: conflicts across labels, duplicates within one label.
    by_content: dict[tuple[str, str], list[tuple[Entry, _Probe]]] = {}
    for e, p in good:
        by_content.setdefault((e.modality, p.sha256), []).append((e, p))
    kept: list[tuple[Entry, _Probe]] = []
    for (modality, _), group in by_content.items():
        labels = sorted({e.label for e, _ in group})
        first_path = min(e.path for e, _ in group)
        sid = pseudonym(params.id_salt, group[0][1].sha256)
        labels_per_path = {
            path: {e.label for e, _ in group if e.path == path}
            for path in {e.path for e, _ in group}
        }
        if len({frozenset(v) for v in labels_per_path.values()}) > 1:
            for e, _ in group:
                ledger.append(_ledger_row(
                    e.path, Reason.LABEL_CONFLICT,
                    f"the same file is labelled {' and '.join(labels)} in {modality}; "
                    "keep one label and remove the other copies", e, sid))
            continue
        for e, p in group:
            if e.path != first_path:
                ledger.append(_ledger_row(
                    e.path, Reason.DUPLICATE,
                    f"identical to another file under label {e.label}; kept once", e, sid))
            else:
                kept.append((e, p))

    outside = [_outside_message(e, p) for e, p in good]
    outside = [m for m in outside if m]
    if outside:
        raise ManifestError(f"{len(outside)} manifest rows with a time range outside their "
                            "video; fix start_s/end_s and run again:\n  " + "\n  ".join(outside))

    items, frames = [], []
    for e, p in sorted(kept, key=lambda ep: (ep[0].path, ep[0].start_s or 0.0)):
        sid = pseudonym(params.id_salt, p.sha256)
        group = "g" + pseudonym(params.id_salt, "group:" + e.group, 15) if e.group else sid
        item = len(items)
        if p.media == "image":
            sampled = [(0, 0)]
        else:
            sampled = media.sample_frames(p.n_frames, p.fps, params.video_fps, e.start_s,
                                          e.end_s, p.times)
        if not sampled:
            ledger.append(_ledger_row(
                e.path, Reason.NO_FRAMES,
                f"no frame in the time range [{e.start_s}, {e.end_s}) of a "
                f"{p.duration:.2f} s video; fix the manifest's start_s/end_s", e, sid))
            continue
        items.append({
            "item": item, "source_id": sid, "path": e.path, "modality": e.modality,
            "label": e.label, "group": group, "media": p.media, "sha256": p.sha256,
            "bytes": p.bytes, "width": p.width, "height": p.height, "fps": round(p.fps, 6),
            "n_frames": p.n_frames, "start_s": e.start_s, "end_s": e.end_s,
        })
        frames.extend((item, sid, f, ts) for f, ts in sampled)
    items_df = pd.DataFrame(items, columns=list(ITEM_COLUMNS))
    frames_df = pd.DataFrame(frames, columns=list(FRAME_COLUMNS)).astype(
        {"item": "int64", "frame": "int64", "timestamp_ms": "int64"})
    return items_df, frames_df, ledger


def _outside_message(e: Entry, p: _Probe) -> str | None:
    """Why a manifest time range does not fit its video (one frame of slack at the end)."""
    if e.start_s is None and e.end_s is None:
        return None
    if p.media != "video":
        return f"{e.where}: start_s/end_s given for an image ({e.path}); leave them empty"
    duration = p.duration
    if (e.start_s is not None and e.start_s >= duration) or (
            e.end_s is not None and e.end_s > duration + 1 / p.fps):
        return (f"{e.where}: time range [{e.start_s}, {e.end_s}) is outside the video "
                f"({e.path}, {duration:.2f} s long)")
    return None


def ledger_frame(rows: list[dict]) -> pd.DataFrame:
    """Ledger rows as a table with the internal ledger columns, in a stable order."""
    df = pd.DataFrame(rows, columns=list(schema.INTERNAL_LEDGER_COLUMNS))
    df["frame"] = df["frame"].astype("Int64")
    df["instance"] = df["instance"].astype("Int64")
    return df.sort_values(["path", "frame", "instance", "reason"], kind="stable",
                          na_position="first").reset_index(drop=True)



