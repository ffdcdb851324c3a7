"""A corpus of bad (and merely unusual) inputs, generated on the spot: nothing downloaded.

``make(root, good)`` writes it under ``root`` in the ``<modality>/<label>/<file>`` layout,
from ``good`` (a real photo with a hand) and returns ``{relative path: expected outcome}``,
where the outcome is a ledger reason code or ``"dataset"`` (the file is used; whether a hand
is found in it is the landmarker's business: ``"used"`` accepts either).
"""

from __future__ import annotations

import io
import struct
import zlib
from pathlib import Path

import cv2
import numpy as np
from PIL import Image


def _png_bomb(path: Path, side: int = 20_000) -> None:
    """A valid grayscale PNG of side x side zero pixels, a few hundred kB on disk."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(
            ">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    comp = zlib.compressobj(9)
    row = b"\0" * (side + 1)
    body = b"".join(comp.compress(row) for _ in range(side)) + comp.flush()
    ihdr = struct.pack(">IIBBBBB", side, side, 8, 0, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", body)
                     + chunk(b"IEND", b""))


def _video(path: Path, frames: list[np.ndarray], fps: float = 10.0, fourcc: str = "MJPG") -> None:
    h, w = frames[0].shape[:2]
    out = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*fourcc), fps, (w, h))
    for f in frames:
        out.write(f)
    out.release()


def make(root: Path, good: Path) -> dict[str, str]:
    """Write the corpus; return ``{path: expected}`` (see the module docstring)."""
    bgr = cv2.imread(str(good))
    jpg = good.read_bytes()
    expected: dict[str, str] = {}

    def put(rel: str, data: bytes | None, outcome: str) -> Path:
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if data is not None:
            path.write_bytes(data)
        expected[rel] = outcome
        return path

    ok, png = cv2.imencode(".png", bgr)
    put("hands/ok/good.jpg", jpg, "used")
    put("hands/ok/zero.jpg", b"", "empty_file")
    put("hands/ok/truncated.jpg", jpg[: len(jpg) // 2], "truncated")
    put("hands/ok/truncated.png", png.tobytes()[: len(png) // 2], "truncated")
    put("hands/ok/text.jpg", b"this is not a picture\n" * 20, "unreadable")
    put("hands/ok/notes.xyz", b"whatever", "unsupported_extension")
    put("hands/ok/deep16.png", cv2.imencode(".png", bgr.astype(np.uint16) * 257)[1].tobytes(),
        "used")
    rgb = Image.fromarray(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))
    buf = io.BytesIO()
    rgb.convert("CMYK").save(buf, "JPEG", quality=95)
    put("hands/ok/cmyk.jpg", buf.getvalue(), "used")
    put("hands/ok/gray.png", cv2.imencode(".png", cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY))[1]
        .tobytes(), "used")
    rgba = np.dstack([bgr, np.where(np.arange(bgr.shape[1]) < bgr.shape[1] // 4, 0, 255)
                      .astype(np.uint8)[None, :].repeat(bgr.shape[0], 0)])
    put("hands/ok/rgba.png", cv2.imencode(".png", rgba)[1].tobytes(), "used")
    # Stored rotated 90 degrees clockwise with EXIF orientation 8: viewers show it upright.
    buf = io.BytesIO()
    exif = Image.Exif()
    exif[0x0112] = 8
    rgb.transpose(Image.Transpose.ROTATE_270).save(buf, "JPEG", quality=95, exif=exif)
    put("hands/ok/exif_rotated.jpg", buf.getvalue(), "used")
    put("hands/ok/one_pixel.png", cv2.imencode(".png", bgr[:1, :1])[1].tobytes(), "no_detection")
    _png_bomb(put("hands/ok/bomb.png", None, "too_large"))
    # Animated GIF with a variable frame rate (Pillow writes per-frame durations).
    frames = [Image.fromarray(cv2.cvtColor(np.roll(bgr, 8 * i, axis=1), cv2.COLOR_BGR2RGB))
              for i in range(6)]
    gif = put("hands/ok/vfr.gif", None, "used")
    frames[0].save(gif, save_all=True, append_images=frames[1:], duration=[40, 200, 40, 100,
                                                                             300, 40], loop=0)
    clip = [np.roll(bgr, 4 * i, axis=1) for i in range(8)]
    avi = put("hands/ok/clip.avi", None, "used")
    _video(avi, clip)
    data = bytearray(avi.read_bytes())
    at = data.find(b"avih") + 8 + 16  # dwTotalFrames
    data[at:at + 4] = struct.pack("<I", 99)  # the container now claims 99 frames
    put("hands/ok/wrong_count.avi", bytes(data), "used")
    put("hands/ok/truncated.avi", avi.read_bytes()[:2000], "truncated")
    mp4 = put("hands/ok/clip.mp4", None, "used")
    _video(mp4, clip, fourcc="mp4v")
    put("hands/ok/truncated.mp4", mp4.read_bytes()[: mp4.stat().st_size // 2], "truncated")
    # A well-formed AVI whose frames hold no picture: opens, but no frame decodes.
    data = bytearray(avi.read_bytes())
    at = 0
    while (at := data.find(b"00dc", at) + 1) > 0:
        size = struct.unpack("<I", data[at + 3:at + 7])[0]
        data[at + 7:at + 7 + size] = bytes(size)
    put("hands/ok/no_frames.avi", bytes(data), "no_frames")
    put("hands/ok/not_a_video.mp4", b"<html>an error page saved as a video</html>\n",
        "unreadable")
    # A very large (but valid) photo: refused by ingest.max_image_pixels before decoding.
    put("hands/ok/huge.jpg", cv2.imencode(".jpg", np.zeros((7000, 6000), np.uint8))[1].tobytes(),
        "too_large")
    for i, name in enumerate((" spaced name .jpg", "ünïcødé ✋.jpg", "-rf --all.jpg")):
        put(f"hands/odd names/{name}",
            cv2.imencode(".jpg", np.roll(bgr, 5 * (i + 1), axis=0))[1].tobytes(), "used")
    loop_a = root / "hands/ok/loop_a.jpg"
    loop_b = root / "hands/ok/loop_b.jpg"
    loop_a.symlink_to(loop_b.name)
    loop_b.symlink_to(loop_a.name)
    expected["hands/ok/loop_a.jpg"] = expected["hands/ok/loop_b.jpg"] = "broken_link"
    (root / "hands/ok/dangling.jpg").symlink_to("nowhere.jpg")
    expected["hands/ok/dangling.jpg"] = "broken_link"
    flipped = cv2.imencode(".jpg", cv2.flip(bgr, 1))[1].tobytes()
    put("hands/left/both.jpg", flipped, "label_conflict")
    put("hands/right/both.jpg", flipped, "label_conflict")
    put("hands/ok/good_copy.jpg", jpg, "duplicate")  # the first path in sorted order is kept
    put("hands/ok/.DS_Store", b"\0\0\0\1Bud1", "hidden")
    put("README.txt", b"photos from the 2024 sessions\n", "unlabelled")  # not in a label folder
    (root / ".git").mkdir()  # a hidden folder: not media, not listed
    (root / ".git/HEAD").write_text("ref: refs/heads/main\n")
    (root / "hands/empty label").mkdir(parents=True)
    put("hands/=weird? label!/good_again.jpg", cv2.imencode(".jpg", bgr[::-1])[1].tobytes(),
        "used")
    return expected


def mismatches(expected: dict[str, str], used: set[str], ledgered: dict[str, str],
               no_detection: set[str]) -> dict[str, tuple[str, str]]:
    """``{path: (expected, got)}`` for every corpus file whose outcome is not the expected one.

    ``used``: paths ingest passed on; ``ledgered``: ``{path: reason}`` of ingest's ledger;
    ``no_detection``: paths extract ledgered as such.
    """
    wrong = {}
    for rel, want in expected.items():
        got = ledgered.get(rel, "used" if rel in used else "MISSING")
        ok = rel in no_detection if want == "no_detection" else got == want
        if not ok:
            wrong[rel] = (want, got)
    return wrong
