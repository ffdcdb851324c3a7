"""Reading media: hashing, image decoding, video probing and frame sampling.

Only ingest and extract open pixels; they do it through this module. Decoding never raises on
bad input: it raises :class:`MediaError` with a ledger reason and a message that names the file
and what to do, and the stages turn that into a ledger row.
"""

from __future__ import annotations

import io
import math
import os
import re
import struct
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import cv2
import numpy as np
from PIL import Image

from landmark_datasets.core.schema import Reason

#: Decoded by OpenCV; :data:`PILLOW_EXTENSIONS` (phone formats) by Pillow with pillow-heif.
IMAGE_EXTENSIONS = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff",
                              ".heic", ".heif", ".hif", ".avif"})
#: HEIC/HEIF (the iPhone default) through pillow-heif, AVIF through Pillow's own plugin; both
#: with the EXIF orientation applied (pillow-heif applies HEIF's own rotation and mirroring).
PILLOW_EXTENSIONS = frozenset({".heic", ".heif", ".hif", ".avif"})
VIDEO_EXTENSIONS = frozenset({".mp4", ".mov", ".avi", ".mkv", ".webm", ".m4v", ".gif"})

Image.MAX_IMAGE_PIXELS = None  # header reads only; ingest.max_image_pixels is the limit
cv2.setNumThreads(1)  # workers parallelize across files; OpenCV threads would oversubscribe


class MediaError(Exception):
    """A file cannot be used; ``reason`` is its ledger code.

    The message says what is wrong and what to do, without the path: the caller prefixes the
    path in logs and keeps it out of published ledgers.
    """

    def __init__(self, reason: Reason, message: str):
        super().__init__(message)
        self.reason = reason


def media_kind(path: Path | str) -> str | None:
    """``"image"``, ``"video"`` or None (unsupported extension), from the file's extension."""
    ext = Path(path).suffix.lower()
    if ext in IMAGE_EXTENSIONS:
        return "image"
    if ext in VIDEO_EXTENSIONS:
        return "video"
    return None


def _register_heif() -> None:
    """Let Pillow open HEIC/HEIF (once per process; importing pillow-heif costs ~50 ms)."""
    global _HEIF_REGISTERED
    if not _HEIF_REGISTERED:
        import pillow_heif

        pillow_heif.register_heif_opener()
        _HEIF_REGISTERED = True


_HEIF_REGISTERED = False


def _is_heif(data: bytes) -> bool:
    """An ISO base media file whose brand is an image one (HEIC, HEIF, AVIF), not a video."""
    return data[4:8] == b"ftyp" and data[8:12] in (
        b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx", b"mif1", b"msf1", b"avif", b"avis")


def image_size(path: Path | str | BinaryIO) -> tuple[int, int]:
    """(width, height) read from the header only, without decoding the pixels."""
    _register_heif()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # Pillow's DecompressionBombWarning: we check ourselves
        with Image.open(path) as im:
            return im.size


def decode_image(path: Path | str, max_pixels: int) -> np.ndarray:
    """Decode an image file to an 8-bit BGR array, upright (EXIF orientation applied).

    Raises:
        MediaError: empty, too large (``max_pixels``) or undecodable file.
    """
    return decode_image_bytes(Path(path).read_bytes(), max_pixels)


#: JPEG decoding at 1/2, 1/4 or 1/8 of the size, in the decoder (DCT scaling): OpenCV's flags.
_REDUCED = {2: cv2.IMREAD_REDUCED_COLOR_2, 4: cv2.IMREAD_REDUCED_COLOR_4,
            8: cv2.IMREAD_REDUCED_COLOR_8}


def reduction(width: int, height: int, min_side: int) -> int:
    """The JPEG decode reduction (1, 2, 4 or 8) that keeps the shorter side >= ``min_side``.

    The largest that does; 1 (full size) when ``min_side`` is 0 or the image is small.
    """
    if min_side <= 0 or not width or not height:
        return 1
    return next((f for f in (8, 4, 2) if min(width, height) // f >= min_side), 1)


def decode_image_bytes(data: bytes, max_pixels: int, *, rgb: bool = False,
                       header_check: bool = True, reduce: int = 1) -> np.ndarray:
    """:func:`decode_image` on a file's bytes (read once, e.g. to hash them too).

    ``rgb`` decodes straight to a C-contiguous RGB array (what MediaPipe takes). Without
    ``header_check`` the size limit is applied after decoding, not before: only for bytes whose
    header was checked already (extract re-reads files ingest checked, verified by sha256).
    ``reduce`` (2, 4 or 8) decodes a JPEG at that fraction of its size, in the JPEG decoder:
    a 12-megapixel photo decodes 2-4 times faster at 1/2 (see :func:`reduction`). Other
    formats are decoded in full.

    Raises:
        MediaError: empty, too large (``max_pixels``) or undecodable bytes.
    """
    if not data:
        raise MediaError(Reason.EMPTY_FILE, "empty file (0 bytes); re-export it or remove it")
    if header_check:
        _check_complete(data)
        try:
            w, h = image_size(io.BytesIO(data))
        except Exception:  # noqa: BLE001 - Pillow raises many types; OpenCV has the final word
            w = h = None
        if w is not None:
            _check_pixels(w, h, max_pixels)
    if _is_heif(data):
        image = _decode_pillow(data, rgb)
    else:
        flags = cv2.IMREAD_COLOR_RGB if rgb else cv2.IMREAD_COLOR
        if reduce in _REDUCED and data[:2] == b"\xff\xd8":
            flags = (_REDUCED[reduce] & ~cv2.IMREAD_COLOR) | flags
        image = cv2.imdecode(np.frombuffer(data, dtype=np.uint8), flags)
    if image is None or image.size == 0:
        raise MediaError(
            Reason.UNREADABLE,
            "cannot decode as an image (corrupt, truncated or not an image); "
            "re-export it or remove it",
        )
    _check_pixels(image.shape[1], image.shape[0], max_pixels)
    return image


def _decode_pillow(data: bytes, rgb: bool) -> np.ndarray | None:
    """HEIC/HEIF/AVIF bytes to an upright 8-bit RGB (or BGR) array; None if they do not decode."""
    from PIL import ImageOps

    _register_heif()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with Image.open(io.BytesIO(data)) as im:
                upright = ImageOps.exif_transpose(im).convert("RGB")
    except Exception:  # noqa: BLE001 - a corrupt file raises many types; it is "unreadable"
        return None
    array = np.asarray(upright)
    return np.ascontiguousarray(array if rgb else array[..., ::-1])


#: After a JPEG scan: the next marker (0xFF then neither a stuffed 0x00, a restart marker
#: nor a fill byte).
_NEXT_MARKER = re.compile(rb"\xff[^\x00\xd0-\xd7\xff]")


def jpeg_length(data: bytes) -> int | None:
    """Bytes up to the first image's end-of-image marker, by walking the JPEG's segments.

    None: the data runs out first (the file was cut short). -1: a structure this walk does not
    follow (garbage between segments); the caller falls back to looking for the marker at the
    end. Data after the marker is not this image: a Motion Photo's MP4 (Pixel and Samsung
    cameras), a second picture (MPF) or padding.
    """
    pos, n = 2, len(data)
    while pos + 2 <= n:
        if data[pos] != 0xFF:
            return -1
        marker = data[pos + 1]
        if marker == 0xFF:  # fill byte
            pos += 1
            continue
        if marker == 0xD9:  # end of image
            return pos + 2
        if marker == 0x01 or 0xD0 <= marker <= 0xD7:  # no length
            pos += 2
            continue
        if pos + 4 > n:
            return None
        end = pos + 2 + int.from_bytes(data[pos + 2:pos + 4], "big")
        if end > n:
            return None
        if marker == 0xDA:  # start of scan: entropy-coded data up to the next marker
            found = _NEXT_MARKER.search(data, end)
            if found is None:
                return None
            end = found.start()
        pos = end
    return None


def png_length(data: bytes) -> int | None:
    """Bytes up to the end of the IEND chunk, by walking the chunks; None if cut short."""
    pos, n = 8, len(data)
    while pos + 12 <= n:
        length = int.from_bytes(data[pos:pos + 4], "big")
        end = pos + 12 + length
        if end > n:
            return None
        if data[pos + 4:pos + 8] == b"IEND":
            return end
        pos = end
    return None


def _check_complete(data: bytes) -> None:
    """Refuse a JPEG without its end marker or a PNG without its IEND chunk (cut short).

    Decoders fill the missing part of a truncated image with grey and carry on; landmarks of
    half a picture are not data. The end is found by walking the file's structure, so data after
    it is accepted: a Motion Photo (a JPEG followed by its MP4 video, which is ignored), a
    second picture, or padding.
    """
    if data.startswith(b"\xff\xd8"):
        end = jpeg_length(data)
        if end == -1:  # not a structure we can walk: the end marker near the end will do
            end = len(data) if b"\xff\xd9" in data[-4096:] else None
        kind = "JPEG (no end-of-image marker)"
    elif data.startswith(b"\x89PNG"):
        end = png_length(data)
        kind = "PNG (no IEND chunk)"
    else:
        return
    if end is None:
        raise MediaError(Reason.TRUNCATED, f"truncated {kind}: the file was cut short; "
                         "copy or export it again")


def _check_pixels(w: int, h: int, max_pixels: int) -> None:
    if w * h > max_pixels:
        raise MediaError(
            Reason.TOO_LARGE,
            f"{w}x{h} = {w * h} pixels exceeds ingest.max_image_pixels={max_pixels}; "
            "downscale it or raise the limit",
        )


def to_rgb(bgr: np.ndarray) -> np.ndarray:
    """BGR to a C-contiguous RGB array (what ``mp.Image`` requires: it takes the raw pointer)."""
    return np.ascontiguousarray(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))


@dataclass(frozen=True)
class VideoInfo:
    """What probing a video found: decoded frame count (not the container's claim), fps, size.

    ``times``: each frame's presentation time in seconds from the first (variable frame rates).
    """

    n_frames: int
    fps: float
    width: int
    height: int
    times: tuple[float, ...] = ()


def probe_video(path: Path | str) -> VideoInfo:
    """Count the frames that really decode and read fps and size.

    Raises:
        MediaError: empty file, not a video, or no decodable frame.
    """
    path = Path(path)
    size = os.path.getsize(path)
    if size == 0:
        raise MediaError(Reason.EMPTY_FILE, "empty file (0 bytes); re-export it or remove it")
    _check_container(path, size)
    cap = cv2.VideoCapture(str(path))
    try:
        if not cap.isOpened():
            raise MediaError(
                Reason.UNREADABLE,
                "cannot open as a video (corrupt or unsupported container); "
                "re-encode it (e.g. to H.264 MP4) or remove it",
            )
        fps = float(cap.get(cv2.CAP_PROP_FPS) or 0.0)
        width = int(cap.get(cv2.CAP_PROP_FRAME_WIDTH))
        height = int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT))
        stamps = []
        while cap.grab():
            stamps.append(cap.get(cv2.CAP_PROP_POS_MSEC) / 1000)
    finally:
        cap.release()
    n = len(stamps)
    if n == 0:
        raise MediaError(
            Reason.NO_FRAMES, "no decodable video frame; re-encode it or remove it"
        )
    if not math.isfinite(fps) or fps <= 0 or fps > 1000:
        fps = 30.0  # a container without a usable rate: timestamps assume 30 fps
    times = [t - stamps[0] for t in stamps]
    steady = np.arange(n) / fps
    if (not np.isfinite(times).all() or (np.diff(times) <= 0).any()  # no usable stamps
            or np.abs(np.asarray(times) - steady).max() < 5e-4):  # a constant rate
        times = steady.tolist()  # exactly index / fps: no rounding noise in the timestamps
    return VideoInfo(n_frames=n, fps=fps, width=width, height=height, times=tuple(times))


def _check_container(path: Path, size: int) -> None:
    """Refuse an AVI or MP4/MOV whose structure runs past the end of the file (cut short).

    AVI: the RIFF header's length. MP4/MOV: the top-level boxes, and the ``moov`` index that a
    recording cut short never got. Other containers are left to the decoder.
    """
    with open(path, "rb") as f:
        head = f.read(12)
        if head[:4] == b"RIFF" and len(head) >= 8:
            declared = 8 + struct.unpack("<I", head[4:8])[0]
            if declared > size:
                kind = f"AVI (its header says {declared} bytes, the file has {size})"
            else:
                return
        elif head[4:8] == b"ftyp":
            pos, boxes, kind = 0, set(), None
            while pos + 8 <= size:
                f.seek(pos)
                hdr = f.read(16)
                n, box = struct.unpack(">I4s", hdr[:8])
                if n == 1 and len(hdr) == 16:
                    n = struct.unpack(">Q", hdr[8:16])[0]
                elif n == 0:
                    n = size - pos
                if n < 8:
                    return  # not a box structure this check understands: the decoder decides
                if pos + n > size:
                    kind = f"MP4 (its {box.decode('latin-1')!r} box runs past the end)"
                    break
                boxes.add(box)
                pos += n
            if kind is None and b"moov" not in boxes:
                kind = "MP4 (no 'moov' index box: the recording was not finished)"
            if kind is None:
                return
        else:
            return
    raise MediaError(Reason.TRUNCATED, f"truncated {kind}: the file was cut short; "
                     "copy or export it again")


def sample_frames(
    n_frames: int,
    fps: float,
    video_fps: float | None,
    start_s: float | None = None,
    end_s: float | None = None,
    times: tuple[float, ...] | list[float] | None = None,
) -> list[tuple[int, int]]:
    """Frames to extract, as ``(frame_index, timestamp_ms)`` with strictly increasing timestamps.

    A frame's time is ``times[index]`` (its presentation time, so variable frame rates keep
    their real timing), else ``index / fps``; frames in ``[start_s, end_s)`` are kept. With
    ``video_fps`` set, the first frame of each ``1 / video_fps`` interval is kept, so a 24 fps
    clip sampled at 10 fps yields 10 frames a second; ``None`` keeps every frame.
    """
    out: list[tuple[int, int]] = []
    last_bucket = None
    last_ts = -1
    for i in range(n_frames):
        t = times[i] if times else i / fps
        if start_s is not None and t < start_s - 1e-9:
            continue
        if end_s is not None and t >= end_s - 1e-9:
            break
        if video_fps is not None and video_fps < fps:
            bucket = math.floor(t * video_fps + 1e-9)
            if bucket == last_bucket:
                continue
            last_bucket = bucket
        ts = max(round(t * 1000), last_ts + 1)
        out.append((i, ts))
        last_ts = ts
    return out


def iter_video_frames(path: Path | str, wanted: list[int]) -> Iterator[tuple[int, np.ndarray]]:
    """Yield ``(index, bgr)`` for the wanted frame indices (ascending), decoding sequentially."""
    if not wanted:
        return
    wanted_set = set(wanted)
    last = max(wanted)
    cap = cv2.VideoCapture(str(path))
    try:
        i = 0
        while i <= last and cap.grab():
            if i in wanted_set:
                ok, frame = cap.retrieve()
                if ok and frame is not None:
                    yield i, frame
            i += 1
    finally:
        cap.release()


def decode_check(path: Path, kind: str, max_pixels: int
                 ) -> tuple[tuple[int, int, float, int], tuple[float, ...]]:
    """``(width, height, fps, n_frames)`` and frame times of a file that decodes (fully).

    Videos are decoded frame by frame; images have no frame times. Ingest caches the answer
    under the file's sha256 and this module's code.

    Raises:
        MediaError: the file cannot be used (with its ledger reason).
    """
    if kind == "image":
        img = decode_image(path, max_pixels)
        return (img.shape[1], img.shape[0], 0.0, 1), ()
    info = probe_video(path)
    return (info.width, info.height, info.fps, info.n_frames), info.times
