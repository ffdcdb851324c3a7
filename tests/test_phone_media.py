"""Photos and clips straight from phones, made by the test from a real hand photo.

- A Motion Photo (Pixel, Samsung): a JPEG followed by an MP4. It is the still image; the video
  is ignored. A JPEG cut short before its end marker is still refused.
- HEIC (the iPhone default) and AVIF, stored rotated with an EXIF orientation: read upright.
- Upper-case extensions (``.JPG``, ``.HEIC``, ``.MOV``, ``.GIF``).
"""

from __future__ import annotations

import io
import shutil

import cv2
import numpy as np
import pytest
from PIL import Image

from landmark_datasets.core import schema
from landmark_datasets.core.params import ExtractParams, IngestParams
from landmark_datasets.core.schema import Reason
from landmark_datasets.ingest import ingest, layout, media
from landmark_datasets.ingest.media import MediaError
from tests.conftest import run_extract

#: Largest difference of a landmark (normalized image units) between a photo and the same
#: photo re-encoded lossily as HEIC or AVIF.
REENCODED_TOLERANCE = 0.02


def _mp4(path, frames: int = 5) -> bytes:
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 10.0, (64, 48))
    for i in range(frames):
        writer.write(np.full((48, 64, 3), 20 * i, np.uint8))
    writer.release()
    return path.read_bytes()


def _rotated_with_exif(jpeg: bytes, fmt: str) -> bytes:
    """The photo stored turned 90 degrees, with EXIF orientation 6 saying how to turn it back.

    Given as bytes, the orientation also becomes HEIF's own rotation box (irot), as phones
    write it: inside a HEIF file that box is what counts (the EXIF tag is informative only).
    """
    import pillow_heif

    pillow_heif.register_heif_opener()  # lets Pillow write HEIF (AVIF it writes itself)
    rgb = Image.open(io.BytesIO(jpeg)).convert("RGB")
    exif = Image.Exif()
    exif[0x0112] = 6
    buf = io.BytesIO()
    rgb.transpose(Image.Transpose.ROTATE_90).save(buf, fmt, quality=95, exif=exif.tobytes())
    return buf.getvalue()


@pytest.fixture(scope="module")
def phone(testdata, tmp_path_factory):
    """A raw folder of phone media and its ingest + extract."""
    root = tmp_path_factory.mktemp("phone")
    photo = sorted((testdata / "hands/paper").glob("*.jpg"))[0]
    jpeg = photo.read_bytes()
    motion = jpeg + _mp4(tmp_path_factory.mktemp("mp4") / "clip.mp4")
    end = media.jpeg_length(jpeg)
    files = {
        "hands/paper/upright.jpg": jpeg,
        "hands/paper/MOTION.JPG": motion,
        "hands/paper/rotated.HEIC": _rotated_with_exif(jpeg, "HEIF"),
        "hands/paper/rotated.avif": _rotated_with_exif(jpeg, "AVIF"),
        "hands/paper/cut_motion.jpg": motion[:end - 600],  # cut inside the JPEG part
    }
    for rel, data in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(data)
    (root / "hands/thumbs").mkdir()
    shutil.copy(testdata / "videos/fingerpose_fingers.gif", root / "hands/thumbs/CLIP.GIF")
    (root / "faces/turning").mkdir(parents=True)
    shutil.copy(testdata / "videos/face_noface.mov", root / "faces/turning/FACE.MOV")

    params = IngestParams(raw_dir=str(root))
    raw, entries, strays = layout.discover(params)
    items, frames, ledger = ingest.build_inventory(raw, entries, params)
    tables, extract_ledger, _ = run_extract(items, frames, ExtractParams(), raw,
                                            tmp_path_factory.mktemp("out"))
    return {"jpeg": jpeg, "motion": motion, "items": items.set_index("path"),
            "ledger": ingest.ledger_frame(strays + ledger), "hands": tables["hands"]}


def test_every_phone_file_is_used_but_the_cut_one(phone):
    items = phone["items"]
    assert sorted(items.index) == ["faces/turning/FACE.MOV", "hands/paper/MOTION.JPG",
                                   "hands/paper/rotated.HEIC", "hands/paper/rotated.avif",
                                   "hands/paper/upright.jpg", "hands/thumbs/CLIP.GIF"]
    assert items.loc["faces/turning/FACE.MOV", "media"] == "video"
    assert items.loc["faces/turning/FACE.MOV", "n_frames"] == 169
    assert items.loc["hands/thumbs/CLIP.GIF", "n_frames"] == 43
    # HEIC and AVIF are read upright: width and height of the upright photo, not swapped
    size = tuple(items.loc["hands/paper/upright.jpg", ["width", "height"]])
    for rel in ("hands/paper/rotated.HEIC", "hands/paper/rotated.avif", "hands/paper/MOTION.JPG"):
        assert tuple(items.loc[rel, ["width", "height"]]) == size
    ledger = phone["ledger"]
    assert ledger[["path", "reason"]].values.tolist() == [
        ["hands/paper/cut_motion.jpg", "truncated"]]


def test_motion_photo_is_its_still_image(phone):
    """The JPEG part decodes to exactly the photo; the MP4 after it changes nothing."""
    still = media.decode_image_bytes(phone["jpeg"], 10**8)
    assert np.array_equal(media.decode_image_bytes(phone["motion"], 10**8), still)
    hands = phone["hands"].set_index("source_id")
    items = phone["items"]
    a = hands.loc[items.loc["hands/paper/upright.jpg", "source_id"]]
    b = hands.loc[items.loc["hands/paper/MOTION.JPG", "source_id"]]
    cols = list(schema.HAND_LANDMARK_COLUMNS)
    assert np.array_equal(a[cols].to_numpy(float), b[cols].to_numpy(float))


@pytest.mark.parametrize("rel", ["hands/paper/rotated.HEIC", "hands/paper/rotated.avif"])
def test_heic_and_avif_give_the_upright_landmarks(phone, rel):
    hands = phone["hands"].set_index("source_id")
    items = phone["items"]
    upright = hands.loc[items.loc["hands/paper/upright.jpg", "source_id"]]
    other = hands.loc[items.loc[rel, "source_id"]]
    cols = list(schema.HAND_LANDMARK_COLUMNS)
    xy = np.array([i % 3 != 2 for i in range(len(cols))])
    diff = np.abs(upright[cols].to_numpy(float) - other[cols].to_numpy(float))[xy]
    assert diff.max() < REENCODED_TOLERANCE, rel
    assert upright["handedness"] == other["handedness"]


def test_jpeg_end_is_found_by_walking_its_segments(phone):
    jpeg = phone["jpeg"]
    assert media.jpeg_length(jpeg) == len(jpeg)
    assert media.jpeg_length(phone["motion"]) == len(jpeg)
    assert media.jpeg_length(jpeg[: len(jpeg) // 2]) is None
    assert media.jpeg_length(jpeg[:300]) is None


def test_png_followed_by_data_is_used_and_a_cut_png_is_not():
    ok, png = cv2.imencode(".png", np.full((30, 40, 3), 90, np.uint8))
    png = png.tobytes()
    assert media.decode_image_bytes(png + b"trailing bytes", 10**8).shape == (30, 40, 3)
    with pytest.raises(MediaError) as err:
        media.decode_image_bytes(png[:-20], 10**8)
    assert err.value.reason is Reason.TRUNCATED


def test_a_broken_heic_is_unreadable():
    header = b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic"
    with pytest.raises(MediaError) as err:
        media.decode_image_bytes(header + b"\x00" * 500, 10**8)
    assert err.value.reason is Reason.UNREADABLE
