import numpy as np
import pytest

from landmark_datasets.core.schema import Reason
from landmark_datasets.ingest import media
from landmark_datasets.ingest.media import MediaError


def test_sample_frames_every_frame_and_range():
    frames = media.sample_frames(43, 10.0, None)
    assert [f for f, _ in frames] == list(range(43))
    assert frames[5] == (5, 500)
    ranged = media.sample_frames(43, 10.0, None, 1.4, 2.4)
    assert [f for f, _ in ranged] == list(range(14, 24))


def test_sample_frames_subsamples_to_video_fps():
    frames = media.sample_frames(240, 24.0, 10.0)  # 10 s at 24 fps
    assert len(frames) == 100
    ts = [t for _, t in frames]
    assert all(b > a for a, b in zip(ts, ts[1:], strict=False))
    assert frames[:3] == [(0, 0), (3, 125), (5, 208)]


def test_timestamps_strictly_increase_even_at_high_fps():
    ts = [t for _, t in media.sample_frames(5000, 2000.0, None)]
    assert all(b > a for a, b in zip(ts, ts[1:], strict=False))


def test_empty_file(tmp_path):
    f = tmp_path / "a.jpg"
    f.write_bytes(b"")
    with pytest.raises(MediaError) as err:
        media.decode_image(f, 10**8)
    assert err.value.reason is Reason.EMPTY_FILE


def test_text_named_jpg_is_unreadable(tmp_path):
    f = tmp_path / "notes.jpg"
    f.write_text("hello, not an image\n" * 20)
    with pytest.raises(MediaError, match="cannot decode as an image") as err:
        media.decode_image(f, 10**8)
    assert err.value.reason is Reason.UNREADABLE


def test_truncated_jpeg(tmp_path, testdata):
    src = (testdata / "hands/paper/1058.jpg").read_bytes() if (
        testdata / "hands/paper/1058.jpg").exists() else next(
        (testdata / "hands/paper").glob("*.jpg")).read_bytes()
    f = tmp_path / "cut.jpg"
    f.write_bytes(src[:200])
    with pytest.raises(MediaError) as err:
        media.decode_image(f, 10**8)
    assert err.value.reason is Reason.TRUNCATED
    assert "cut short; copy or export it again" in str(err.value)


def test_too_large_is_refused_before_decoding(tmp_path):
    import cv2

    f = tmp_path / "big.png"
    cv2.imwrite(str(f), np.zeros((300, 400, 3), np.uint8))
    with pytest.raises(MediaError, match=r"400x300 = 120000 pixels exceeds") as err:
        media.decode_image(f, 100_000)
    assert err.value.reason is Reason.TOO_LARGE
    assert media.decode_image(f, 120_000).shape == (300, 400, 3)


@pytest.mark.parametrize(("name", "frames", "fps", "size"), [
    ("pyfeat_WolfgangLanger_Pexels.mp4", 472, 23.98, (640, 360)),
    ("pyfeat_single_face.mp4", 72, 30.0, (640, 360)),
    ("face_noface.mov", 169, 26.40, (960, 540)),
    ("no_face.mp4", 95, 23.67, (960, 540)),  # the container claims 98
    ("fingerpose_fingers.gif", 43, 10.0, (320, 240)),
])
def test_probe_counts_decodable_frames(testdata, name, frames, fps, size):
    info = media.probe_video(testdata / "videos" / name)
    assert info.n_frames == frames
    assert info.fps == pytest.approx(fps, abs=0.01)
    assert (info.width, info.height) == size


def test_video_that_is_not_a_video(tmp_path):
    f = tmp_path / "clip.mp4"
    f.write_bytes(b"\x00" * 4096)
    with pytest.raises(MediaError) as err:
        media.probe_video(f)
    assert err.value.reason in (Reason.UNREADABLE, Reason.NO_FRAMES)


def test_variable_frame_rate_keeps_each_frames_real_time(tmp_path):
    """A GIF whose frames last 40, 200, 40, 100, 300 and 40 ms: stamped at their real times."""
    from PIL import Image

    frames = [Image.new("RGB", (32, 24), (40 * i, 0, 0)) for i in range(6)]
    path = tmp_path / "vfr.gif"
    frames[0].save(path, save_all=True, append_images=frames[1:],
                   duration=[40, 200, 40, 100, 300, 40], loop=0)
    info = media.probe_video(path)
    assert info.n_frames == 6
    assert info.times == pytest.approx((0.0, 0.04, 0.24, 0.28, 0.38, 0.68))
    sampled = media.sample_frames(info.n_frames, info.fps, None, 0.2, 0.5, info.times)
    assert sampled == [(2, 240), (3, 280), (4, 380)]
    # sampled at 5 fps: the first frame of each 200 ms bucket (0-200, 200-400, 600-800 ms)
    assert media.sample_frames(6, info.fps, 5.0, times=info.times) == [
        (0, 0), (2, 240), (5, 680)]


@pytest.mark.parametrize(("size", "min_side", "factor"), [
    ((4000, 3000), 0, 1), ((4000, 3000), 720, 4), ((4000, 3000), 1000, 2),
    ((4000, 3000), 1500, 2), ((4000, 3000), 1501, 1), ((3000, 4000), 720, 4),
    ((640, 480), 720, 1), ((12000, 9000), 720, 8), ((0, 0), 720, 1),
])
def test_reduction_keeps_the_shorter_side_at_least_min_side(size, min_side, factor):
    assert media.reduction(*size, min_side) == factor


def test_a_jpeg_decodes_reduced_and_other_formats_in_full():
    import cv2

    rng = np.random.default_rng(3)
    big = cv2.resize(rng.integers(0, 255, (30, 40, 3), dtype=np.uint8), (4000, 3000),
                     interpolation=cv2.INTER_LINEAR)
    jpeg = cv2.imencode(".jpg", big)[1].tobytes()
    png = cv2.imencode(".png", big[:300, :400])[1].tobytes()
    full = media.decode_image_bytes(jpeg, 10**9, rgb=True)
    half = media.decode_image_bytes(jpeg, 10**9, rgb=True, reduce=2)
    quarter = media.decode_image_bytes(jpeg, 10**9, reduce=4)
    assert full.shape == (3000, 4000, 3)
    assert half.shape == (1500, 2000, 3)
    assert quarter.shape == (750, 1000, 3)
    # the same picture: RGB at half size against the full decode shrunk by area
    shrunk = cv2.resize(full, (2000, 1500), interpolation=cv2.INTER_AREA)
    assert np.abs(half.astype(int) - shrunk).mean() < 2.0
    assert np.array_equal(quarter[..., ::-1], media.decode_image_bytes(jpeg, 10**9, rgb=True,
                                                                      reduce=4))
    assert media.decode_image_bytes(png, 10**9, reduce=2).shape == (300, 400, 3)
