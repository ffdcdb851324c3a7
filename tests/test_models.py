import shutil

import pytest

from landmark_datasets.extract import models
from landmark_datasets.extract.models import ModelError


def test_vendored_models_verify():
    assert models.model_sha256("models/hand_landmarker.task") == (
        "fbc2a30080c3c557093b5ddfc334698132eb341044ccee322ccf8bcf3607cde1")
    assert models.model_sha256("models/face_landmarker.task") == (
        "64184e229b263107bc2b804c6625db1341ff2bb731874b0bcc2fe6544e0bc9ff")


def test_tampered_model_stops_with_file_and_fix(tmp_path):
    bad = tmp_path / "hand_landmarker.task"
    shutil.copy("models/hand_landmarker.task", bad)
    with open(bad, "r+b") as f:
        f.seek(1000)
        f.write(b"\x00\x01\x02")
    with pytest.raises(ModelError, match=r"hand_landmarker\.task: sha256 [0-9a-f]{64} does not "
                       r"match fbc2a300.*restore it with `git checkout"):
        models.verified_model(bad)


def test_missing_model(tmp_path):
    with pytest.raises(ModelError, match=r"face_landmarker\.task: model file not found"):
        models.verified_model(tmp_path / "face_landmarker.task")


def test_landmarker_refuses_tampered_model(tmp_path):
    from landmark_datasets.core.params import HandLandmarkerParams

    bad = tmp_path / "hand_landmarker.task"
    bad.write_bytes(b"not a model")
    with pytest.raises(ModelError, match="does not match"):
        models.hand_landmarker(HandLandmarkerParams(model_asset_path=str(bad)), video=False)
