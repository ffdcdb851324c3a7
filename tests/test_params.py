from pathlib import Path

import pytest
import yaml

from landmark_datasets.core import params as params_mod
from landmark_datasets.core.params import ParamsError

ROOT = Path(__file__).resolve().parents[1]


def test_committed_params_equal_what_conf_composes(tmp_path):
    out = tmp_path / "params.yaml"
    params_mod.compose(out)
    assert yaml.safe_load(out.read_text()) == yaml.safe_load((ROOT / "params.yaml").read_text())


def test_the_preprocess_group_offers_exactly_the_hand_schemes(tmp_path):
    """conf/preprocess/ holds one file per scheme of schema.HAND_SCHEMES, and nothing else: the
    shared filters live outside the group, so `preprocess=filters` is no scheme."""
    from hydra.errors import MissingConfigException

    from landmark_datasets.core import schema

    assert sorted(p.stem for p in (ROOT / "conf/preprocess").glob("*.yaml")) == sorted(
        schema.HAND_SCHEMES)
    with pytest.raises(MissingConfigException, match="Available options in 'preprocess'"):
        params_mod.compose(tmp_path / "params.yaml", ["preprocess=filters"])


@pytest.mark.parametrize("scheme", ["none", "wrist_palm", "bbox", "wrist_maxabs"])
def test_each_preprocess_option_composes_and_loads(tmp_path, scheme):
    out = tmp_path / "params.yaml"
    params_mod.compose(out, [f"preprocess={scheme}"])
    assert params_mod.load(out).preprocess.scheme == scheme


@pytest.mark.parametrize("overrides", [
    ["extract/executor=dask", "extract.dask.address=tcp://10.0.0.5:8786"],
    ["extract.executor=dask"],
])
def test_dask_executor_composes_either_way(tmp_path, overrides):
    out = tmp_path / "params.yaml"
    params_mod.compose(out, overrides)
    extract = params_mod.load(out).extract
    assert extract.executor == "dask"
    assert extract.dask.address == (overrides[1].split("=")[1] if len(overrides) > 1 else None)
    assert extract.dask.threads_per_worker == 1


def test_defaults_load():
    p = params_mod.load()
    assert p.extract.hands.num_hands == 2
    assert p.preprocess.scheme == "wrist_palm"
    assert p.validate.min_rows == {"hands": 0, "faces": 0, "holistic": 0}
    assert params_mod.load(overrides={"validate.min_rows.faces": 7}).validate.min_rows == {
        "hands": 0, "faces": 7, "holistic": 0}


@pytest.mark.parametrize(("override", "message"), [
    ({"extract.hands.min_hand_detection_confidence": 1.5},
     r"extract\.hands\.min_hand_detection_confidence=1\.5: must be within \[0, 1\]"),
    ({"ingest.video_fps": -2}, r"ingest\.video_fps=-2\.0: must be > 0"),
    ({"preprocess.scheme": "zscore"}, r"preprocess\.scheme='zscore': allowed values are none"),
    ({"extract.hands.det_conf": 0.5}, r"det_conf"),
    ({"evaluate.seed": "abc"}, r"evaluate\.seed"),
    ({"ingest.folder_groups": "sometimes"}, r"ingest\.folder_groups"),
    ({"extract.executor": "ray"}, r"extract\.executor='ray': allowed values are local, dask"),
    ({"extract.workers": -1}, r"extract\.workers=-1: must be >= 0"),
    ({"validate.min_rows.hands": -1},
     r"validate\.min_rows\.hands=-1: keys are hands, faces, holistic"),
    ({"validate.min_rows.feet": 3}, r"validate\.min_rows\.feet=3: keys are hands, faces, holistic"),
    ({"validate.min_rows": 1}, r"validate\.min_rows: Cannot assign int"),
])
def test_invalid_params_fail_at_load_with_the_key(override, message):
    with pytest.raises(ParamsError, match=message):
        params_mod.load(overrides=override)


def test_report_declares_every_param_that_shapes_the_dataset_and_no_run_only_key():
    stages = yaml.safe_load((ROOT / "dvc.yaml").read_text())["stages"]
    declared = set(stages["report"]["params"])
    sections = set(yaml.safe_load((ROOT / "params.yaml").read_text()))
    expected = (sections - {"extract"}) | {"extract.hands", "extract.faces",
                                           "extract.decode_min_side"}
    assert declared == expected
    run_only = set(params_mod.RUN_ONLY_KEYS)
    for name, stage in stages.items():
        assert not run_only & set(stage.get("params", [])), name
    assert "workers" not in params_mod.dataset_params_text()


def test_published_params_hide_the_salt_and_absolute_paths(tmp_path):
    text = (ROOT / "params.yaml").read_text()
    assert "id_salt: landmark-datasets" in text
    shown = params_mod.dataset_params_text(ROOT / "params.yaml")
    assert "id_salt: <not published>" in shown
    assert "raw_dir: data/raw" in shown  # inside the repository: harmless and useful
    moved = tmp_path / "params.yaml"
    moved.write_text(text.replace("raw_dir: data/raw", "raw_dir: /home/jane.doe/photos"))
    shown = params_mod.dataset_params_text(moved)
    assert "jane" not in shown
    assert "raw_dir: <not published>" in shown


def test_every_vocabulary_is_spelled_once_in_the_schema():
    """The allowed values params checks, the conf/ defaults and the modules' own lists are the
    schema's tuples themselves, not copies that could drift."""
    from landmark_datasets.core import schema
    from landmark_datasets.evaluate import evaluate
    from landmark_datasets.preprocess import holistic, normalize

    assert params_mod._CHOICES["preprocess.scheme"] is schema.HAND_SCHEMES is normalize.SCHEMES
    assert params_mod._CHOICES["preprocess.face_scheme"] is schema.FACE_SCHEMES \
        is normalize.FACE_SCHEMES
    assert params_mod._CHOICES["preprocess.privacy"] is schema.PRIVACY_LEVELS
    assert params_mod._CHOICES["preprocess.holistic_keep"] is schema.KEEP_RULES \
        is holistic.KEEP_RULES
    assert params_mod._CHOICES["preprocess.holistic_hands"] is schema.HAND_FRAMES \
        is holistic.HAND_FRAMES
    assert params_mod._CHOICES["extract.executor"] is schema.EXECUTORS
    assert evaluate.MODELS is schema.CLASSIFIERS
    assert set(normalize.FORMULAS) >= {*schema.HAND_SCHEMES, *schema.HAND_FLAGS,
                                       *schema.FACE_SCHEMES}
    assert sorted(p.stem for p in (ROOT / "conf/extract/executor").glob("*.yaml")) == sorted(
        schema.EXECUTORS)
    defaults = yaml.safe_load((ROOT / "params.yaml").read_text())
    for flag in schema.HAND_FLAGS:
        assert defaults["preprocess"][flag] is False
