"""The decode check of one file: does it decode, fully, and what are its size and frames.

:func:`probe` answers from the cache when it can: a check is keyed by the file's sha256 and the
decoding code only (:data:`PROBE_CODE`, the source of :mod:`.media`), so a
rebuild after adding files decodes only the new ones and renaming or relabelling decodes
nothing. Broken links and unreadable files in scan's listing fail here with their reason.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from landmark_datasets.core.cache import Cache
from landmark_datasets.core.cache import key as cache_key
from landmark_datasets.core.params import IngestParams
from landmark_datasets.core.schema import Reason
from landmark_datasets.ingest import listing as raw_listing
from landmark_datasets.ingest import media


@dataclass
class Probe:
    """What a decode check found: the file's hash, size, media kind, frame size and frames."""

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
          rec: raw_listing.Record | None = None) -> Probe:
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
    return Probe(digest, size, kind, int(width), int(height), fps, int(n_frames),
                  tuple(hit["times"].tolist()))


#: The code behind a decode check: :mod:`.media` alone (a new version misses
#: every cached probe; editing this module, its messages or its inventory, does not).
PROBE_CODE = hashlib.sha256(Path(media.__file__).read_bytes()).hexdigest()
