"""Ingest: inventory of the raw media, with hashes, decode checks, labels, groups and frames.

Entry point: ``stages/ingest.py`` (reads params, calls these functions, writes outputs).

Ids are pseudonymous: ``source_id`` is a salted HMAC of the file's sha256, and a group (a
subject folder or a manifest ``group``, often a person) is replaced by a salted HMAC of its
name; ``group_from`` says which (``folder``, ``manifest``, or ``file``: its own id).

What each file is comes from :mod:`.layout` (folders or a manifest), whether it decodes from
:mod:`.probe` (cached by content); this module turns them into the inventory: one item per
labelled file or time range, its frames to extract, and the ledger of what cannot be used
(conflicting labels, duplicates, nothing to decode, ranges outside their video).
"""

from __future__ import annotations

import hashlib
import hmac
import logging
from pathlib import Path

import pandas as pd

from landmark_datasets.core import schema
from landmark_datasets.core.cache import Cache
from landmark_datasets.core.params import IngestParams
from landmark_datasets.core.progress import Progress
from landmark_datasets.core.schema import Reason
from landmark_datasets.ingest import listing as raw_listing
from landmark_datasets.ingest import media
from landmark_datasets.ingest.inventory import FRAME_COLUMNS, ITEM_COLUMNS
from landmark_datasets.ingest.layout import Entry, ManifestError, ledger_row
from landmark_datasets.ingest.probe import Probe, probe

log = logging.getLogger("ingest")


def pseudonym(salt: str, value: str, n: int = 16) -> str:
    """A salted, keyed hash of ``value``: stable for one salt, unlinkable across salts."""
    return hmac.new(salt.encode(), value.encode(), hashlib.sha256).hexdigest()[:n]


def build_inventory(
    raw_dir: Path, entries: list[Entry], params: IngestParams, cache: Cache | None = None,
    listing: dict[str, raw_listing.Record] | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame, list[dict]]:
    """Probe every entry's file once; return (items, frames, ledger rows).

    ``listing``: the scan stage's records (sha256s); paths it lacks are hashed now.

    Duplicates (same bytes under another path) keep the first path in sorted order; the same
    bytes under two labels of one modality are a label conflict and all copies are ledgered.
    """
    probes: dict[str, Probe | media.MediaError] = {}
    paths = sorted({e.path for e in entries})
    progress = Progress(len(paths), "ingest", log)
    for rel in paths:
        try:
            probes[rel] = probe(raw_listing.locate(raw_dir, rel), params, cache,
                                (listing or {}).get(rel))
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
    good: list[tuple[Entry, Probe]] = []
    for e in entries:
        p = probes[e.path]
        if isinstance(p, media.MediaError):
            ledger.append(ledger_row(e.path, p.reason, str(p), e))
        else:
            good.append((e, p))

    # Same bytes at several paths: conflicts across labels, duplicates within one label.
    by_content: dict[tuple[str, str], list[tuple[Entry, Probe]]] = {}
    for e, p in good:
        by_content.setdefault((e.modality, p.sha256), []).append((e, p))
    kept: list[tuple[Entry, Probe]] = []
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
                ledger.append(ledger_row(
                    e.path, Reason.LABEL_CONFLICT,
                    f"the same file is labelled {' and '.join(labels)} in {modality}; "
                    "keep one label and remove the other copies", e, sid))
            continue
        for e, p in group:
            if e.path != first_path:
                ledger.append(ledger_row(
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
            ledger.append(ledger_row(
                e.path, Reason.NO_FRAMES,
                f"no frame in the time range [{e.start_s}, {e.end_s}) of a "
                f"{p.duration:.2f} s video; fix the manifest's start_s/end_s", e, sid))
            continue
        items.append({
            "item": item, "source_id": sid, "path": e.path, "modality": e.modality,
            "label": e.label, "group": group, "group_from": e.group_from, "media": p.media,
            "sha256": p.sha256, "bytes": p.bytes, "width": p.width, "height": p.height,
            "fps": round(p.fps, 6), "n_frames": p.n_frames, "start_s": e.start_s, "end_s": e.end_s,
        })
        frames.extend((item, sid, f, ts) for f, ts in sampled)
    items_df = pd.DataFrame(items, columns=list(ITEM_COLUMNS))
    frames_df = pd.DataFrame(frames, columns=list(FRAME_COLUMNS)).astype(
        {"item": "int64", "frame": "int64", "timestamp_ms": "int64"})
    return items_df, frames_df, ledger


def _outside_message(e: Entry, p: Probe) -> str | None:
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


def identify(rows: list[dict], listing: dict[str, raw_listing.Record], salt: str) -> list[dict]:
    """``rows`` with the ``source_id`` of every listed, readable file that lacks one.

    A file ingest refuses before probing it (unlabelled, hidden, a manifest repeat) still has
    the sha256 scan took, so its ledger row names it by the same pseudonymous id it would have
    in the dataset. The log names the first few such files of each reason.
    """
    out = []
    for r in rows:
        rec = listing.get(r["path"])
        if not r.get("source_id") and rec is not None and rec.sha256:
            r = {**r, "source_id": pseudonym(salt, rec.sha256)}
        out.append(r)
    by_reason: dict[str, list[str]] = {}
    for r in out:
        by_reason.setdefault(str(r["reason"]), []).append(r["path"])
    for reason, names in sorted(by_reason.items()):
        log.warning("%d files ledgered as %s: %s%s", len(names), reason, ", ".join(names[:3]),
                    f" and {len(names) - 3} more" if len(names) > 3 else "")
    return out


def ledger_frame(rows: list[dict]) -> pd.DataFrame:
    """Ledger rows as a table with the internal ledger columns, in a stable order."""
    df = pd.DataFrame(rows, columns=list(schema.INTERNAL_LEDGER_COLUMNS))
    df["frame"] = df["frame"].astype("Int64")
    df["instance"] = df["instance"].astype("Int64")
    return df.sort_values(["path", "frame", "instance", "reason"], kind="stable",
                          na_position="first").reset_index(drop=True)


