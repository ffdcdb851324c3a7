"""Typed parameters: each stage reads its section of ``params.yaml`` through these dataclasses.

``conf/`` (Hydra) composes ``params.yaml``; DVC's Hydra integration rewrites it on every
``dvc exp run``. Stages never read ``conf/`` directly. Loading merges the section over its
dataclass schema, so an unknown key, a wrong type or an out-of-range value fails at load with
the key and the allowed values instead of deep inside a stage.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from omegaconf import MISSING, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from landmark_datasets import UserError
from landmark_datasets.core import schema
from landmark_datasets.core.schema import MODALITIES

PARAMS_FILE = Path("params.yaml")


class ParamsError(UserError, ValueError):
    """A parameter is unknown, of the wrong type or outside its allowed values."""


@dataclass
class IngestParams:
    """Inventory of the raw media (``ingest`` section)."""

    raw_dir: str = "data/raw"
    #: Manifest CSV (path, modality, label[, group, start_s, end_s]); relative to raw_dir.
    #: null: use ``<raw_dir>/manifest.csv`` when it exists, else ``<modality>/<label>/<file>``.
    manifest: str | None = None
    #: Frames per second sampled from videos; null samples every frame.
    video_fps: float | None = 10.0
    #: Secret-ish salt of the pseudonymous ids: two datasets built with different salts
    #: cannot be joined by id.
    id_salt: str = "landmark-datasets"
    #: Images above this many pixels are refused (decompression bombs).
    max_image_pixels: int = 40_000_000
    #: The first folder below a label folder is the group (subject or session) that never
    #: crosses the split; false: each file is its own group (a manifest's group still wins).
    folder_groups: bool = True
    #: Merge labels that differ only in case, spacing or Unicode form into their most common
    #: spelling; false keeps them apart (ingest logs them, the report warns).
    fold_labels: bool = False


@dataclass
class HandLandmarkerParams:
    """``HandLandmarkerOptions``, under MediaPipe's own names."""

    model_asset_path: str = "models/hand_landmarker.task"
    num_hands: int = 2
    min_hand_detection_confidence: float = 0.5
    min_hand_presence_confidence: float = 0.5
    min_tracking_confidence: float = 0.5


@dataclass
class FaceLandmarkerParams:
    """``FaceLandmarkerOptions``, under MediaPipe's own names (blendshapes and pose always on)."""

    model_asset_path: str = "models/face_landmarker.task"
    num_faces: int = 1
    min_face_detection_confidence: float = 0.5
    min_face_presence_confidence: float = 0.5
    min_tracking_confidence: float = 0.5


@dataclass
class DaskParams:
    """Where ``extract.executor=dask`` runs (``extract.dask`` section)."""

    #: Scheduler address (``tcp://host:8786``); null starts a LocalCluster of
    #: ``extract.workers`` processes.
    address: str | None = None
    #: Threads per LocalCluster worker process (each thread has its own landmarkers).
    threads_per_worker: int = 1


@dataclass
class ExtractParams:
    """Landmark extraction (``extract`` section).

    Only ``hands``, ``faces`` and ``decode_min_side`` decide the output; the rest says how to
    run, so dvc.yaml does not declare it and changing it reruns nothing.
    """

    hands: HandLandmarkerParams = field(default_factory=HandLandmarkerParams)
    faces: FaceLandmarkerParams = field(default_factory=FaceLandmarkerParams)
    #: Decode a JPEG photo at 1/2, 1/4 or 1/8 of its size (in the JPEG decoder) when its
    #: shorter side stays at least this many pixels; 0 decodes every image in full. The
    #: default halves photos of 8 megapixels and more (phones) and no smaller one. It decides
    #: the landmarks (slightly: see the README), so dvc.yaml declares it.
    decode_min_side: int = 1080
    #: Worker processes (each loads the models once); 0 = one per CPU this process may use
    #: (its affinity mask and cgroup quota, not the machine's core count).
    workers: int = 0
    #: local (this machine) | dask (a Dask cluster, see ``dask``).
    executor: str = "local"
    #: Images sent to a worker at a time (videos go one by one).
    chunk_size: int = 8
    dask: DaskParams = field(default_factory=DaskParams)


@dataclass
class PreprocessParams:
    """Filtering and normalization (``preprocess`` section; ``preprocess=<scheme>`` picks one)."""

    #: Hand scheme: none | wrist_palm | bbox | wrist_maxabs (preprocess/normalize.py).
    scheme: str = "wrist_palm"
    #: Hands only: mirror left hands into right hands.
    mirror_left: bool = False
    #: Hands only: rotate in the image plane so wrist -> middle MCP points up.
    rotate: bool = False
    #: Hands only: rotate into the 3-D palm frame (supersedes rotate).
    palm_frame: bool = False
    #: Face scheme: none | interocular (eye midpoint, eye distance, roll removed) | head_pose
    #: (the facial transformation matrix's rotation undone too). See preprocess/normalize.py.
    face_scheme: str = "interocular"
    #: What the published face table holds: raw_mesh (landmarks under face_scheme,
    #: blendshapes, head pose) | pose_normalized (the same, but face_scheme must be head_pose)
    #: | blendshapes (blendshape scores only: no face geometry at all).
    privacy: str = "raw_mesh"
    #: Video gaps of at most this many sampled frames are filled by interpolation (flagged
    #: ``interpolated``); 0 fills nothing.
    max_gap_frames: int = 2
    #: Add per-second velocities of the normalized image landmarks along video tracks
    #: (``v_*`` columns; not with privacy=blendshapes).
    velocities: bool = False
    #: Holistic frames kept: any (a hand or the face) | face_and_hand | all (face, both hands).
    holistic_keep: str = "any"
    #: Holistic hands: own (the hand scheme and flags) | face_frame (in the same frame's face
    #: frame: eye midpoint origin, eye distance 1, roll removed; see preprocess/holistic.py).
    holistic_hands: str = "own"
    #: Hands whose handedness score is below this are rejected (low_confidence).
    min_handedness_score: float = 0.5
    #: Largest fraction of landmarks allowed outside the image (x or y outside [0, 1]).
    max_out_of_frame: float = 0.25
    #: Smallest landmark extent (normalized image units, the longer side of the box).
    min_extent: float = 0.02
    #: Smallest ratio of the reference length (palm length; eye-corner distance for faces) to
    #: the landmark extent: below it the hand or face is foreshortened or collapsed (degenerate),
    #: and normalizing by the reference length would blow the coordinates up.
    min_reference_ratio: float = 0.15
    #: What to do with a row that has missing landmark values: drop (to the ledger).
    missing: str = "drop"
    float_format: str = "%.6f"


@dataclass
class ValidateParams:
    """Great Expectations checks (``validate`` section)."""

    #: Smallest number of rows each modality's table must have, per modality
    #: (``-S validate.min_rows.hands=500``). 0, the default, lets a build publish a modality
    #: with no rows: one absent from the input (a hands-only dataset has no faces) or whose
    #: every file ended in the ledger (the report says why). Set it to guard a real dataset
    #: against a build that silently lost its rows.
    min_rows: dict[str, int] = field(default_factory=lambda: dict.fromkeys(MODALITIES, 0))


@dataclass
class SplitParams:
    """Train/test split (``split`` section)."""

    #: Share of the groups in test: a group is in test when the salted hash of its id is below
    #: it (:func:`..split.split.assign`), so the split is stable across versions.
    test_size: float = 0.25
    #: Salt of that hash: another salt draws another split of the same groups.
    salt: str = "landmark-datasets"


@dataclass
class EvaluateParams:
    """Baseline classifiers (``evaluate`` section)."""

    #: Models to train, the first one also drives the confusion plot:
    #: lda (linear discriminant analysis) | extra_trees (extremely randomized trees) |
    #: logreg (scaled logistic regression) | forest (random forest): see
    #: :func:`..evaluate.evaluate.make_model`.
    models: list[str] = field(default_factory=lambda: list(schema.DEFAULT_CLASSIFIERS))
    #: Grouped, stratified cross-validation folds (fewer when there are fewer groups).
    cv_folds: int = 5
    seed: int = 42
    #: The label review's models (their out-of-fold probabilities are averaged) and folds
    #: (grouped CV over train and test together; fewer when there are fewer groups).
    review_models: list[str] = field(default_factory=lambda: ["extra_trees"])
    review_folds: int = 3


@dataclass
class ReportParams:
    """Quality report (``report`` section)."""

    dpi: int = 100


@dataclass
class CardParams:
    """The dataset card (``card`` section): what the published dataset says about itself."""

    #: The data's license, as the Hugging Face Hub names it (``cc-by-4.0``, ``cc0-1.0``,
    #: ``cc-by-nc-4.0``, ``other``...). ``unknown`` until you set it: your media's terms and
    #: your subjects' consent decide it, not this tool, and the card says it is not set.
    license: str = "unknown"
    #: The dataset's name on its card.
    name: str = "Landmark dataset"
    #: A BibTeX entry to cite the dataset by (empty: the card asks for one and cites the tools).
    citation: str = ""
    #: The dataset's version (Croissant ``version``; raise it when you publish a new build).
    version: str = "1.0.0"


@dataclass
class Params:
    """The whole ``params.yaml``."""

    ingest: IngestParams = field(default_factory=IngestParams)
    extract: ExtractParams = field(default_factory=ExtractParams)
    preprocess: PreprocessParams = field(default_factory=PreprocessParams)
    validate: ValidateParams = field(default_factory=ValidateParams)
    split: SplitParams = field(default_factory=SplitParams)
    evaluate: EvaluateParams = field(default_factory=EvaluateParams)
    report: ReportParams = field(default_factory=ReportParams)
    card: CardParams = field(default_factory=CardParams)


T = TypeVar("T")

_UNIT_INTERVAL = {
    "extract.hands.min_hand_detection_confidence", "extract.hands.min_hand_presence_confidence",
    "extract.hands.min_tracking_confidence", "extract.faces.min_face_detection_confidence",
    "extract.faces.min_face_presence_confidence", "extract.faces.min_tracking_confidence",
    "preprocess.min_handedness_score", "preprocess.max_out_of_frame", "preprocess.min_extent",
    "preprocess.min_reference_ratio",
}
_CHOICES = {
    "preprocess.scheme": schema.HAND_SCHEMES,
    "preprocess.face_scheme": schema.FACE_SCHEMES,
    "preprocess.privacy": schema.PRIVACY_LEVELS,
    "preprocess.missing": ("drop",),
    "preprocess.holistic_keep": schema.KEEP_RULES,
    "preprocess.holistic_hands": schema.HAND_FRAMES,
    "extract.executor": schema.EXECUTORS,
}


def _check(params: Params) -> None:
    errors = []
    cfg = OmegaConf.structured(params)
    for key in sorted(_UNIT_INTERVAL):
        value = OmegaConf.select(cfg, key)
        if not 0.0 <= value <= 1.0:
            errors.append(f"{key}={value}: must be within [0, 1]")
    for key, allowed in _CHOICES.items():
        value = OmegaConf.select(cfg, key)
        if value not in allowed:
            errors.append(f"{key}={value!r}: allowed values are {', '.join(allowed)}")
    fps = params.ingest.video_fps
    if fps is not None and fps <= 0:
        errors.append(f"ingest.video_fps={fps}: must be > 0, or null for every frame")
    if params.extract.workers < 0:
        errors.append(f"extract.workers={params.extract.workers}: must be >= 0 (0 = all cores)")
    if params.ingest.max_image_pixels <= 0:
        errors.append(f"ingest.max_image_pixels={params.ingest.max_image_pixels}: must be > 0")
    if not 0.0 < params.split.test_size < 1.0:
        errors.append(f"split.test_size={params.split.test_size}: must be within (0, 1)")
    for modality, n in params.validate.min_rows.items():
        if modality not in MODALITIES or n < 0:
            errors.append(f"validate.min_rows.{modality}={n}: keys are {', '.join(MODALITIES)}, "
                          "values >= 0")
    for key in ("extract.hands.num_hands", "extract.faces.num_faces",
                "extract.chunk_size", "extract.dask.threads_per_worker"):
        if OmegaConf.select(cfg, key) < 1:
            errors.append(f"{key}={OmegaConf.select(cfg, key)}: must be >= 1")
    for key in ("models", "review_models"):
        chosen = getattr(params.evaluate, key)
        if not chosen or any(m not in schema.CLASSIFIERS for m in chosen):
            errors.append(f"evaluate.{key}={chosen}: allowed values are "
                          f"{', '.join(schema.CLASSIFIERS)} (one or more)")
    if params.preprocess.privacy == "pose_normalized" and \
            params.preprocess.face_scheme != "head_pose":
        errors.append(f"preprocess.privacy=pose_normalized needs preprocess.face_scheme="
                      f"head_pose (it is {params.preprocess.face_scheme!r})")
    if params.preprocess.max_gap_frames < 0:
        errors.append(f"preprocess.max_gap_frames={params.preprocess.max_gap_frames}: must be "
                      ">= 0 (0 fills nothing)")
    for key in ("cv_folds", "review_folds"):
        if getattr(params.evaluate, key) < 2:
            errors.append(f"evaluate.{key}={getattr(params.evaluate, key)}: must be >= 2")
    if errors:
        raise ParamsError("invalid parameters:\n  " + "\n  ".join(errors))


#: The Hydra config folder DVC composes ``params.yaml`` from (``hydra.config_dir``).
CONF_DIR = Path(__file__).resolve().parents[2] / "conf"


def compose(out: Path | str = PARAMS_FILE, overrides: list[str] | tuple[str, ...] = ()) -> None:
    """Compose ``conf/`` with Hydra ``overrides`` into ``out``, exactly as ``dvc exp run`` does.

    The one call into DVC's own composition (``dvc.utils.hydra``, not a public API), so that
    ``dev.py params`` and the tests cannot drift from what DVC writes.
    """
    from dvc.utils.hydra import compose_and_dump

    compose_and_dump(output_file=out, config_dir=str(CONF_DIR), config_module=None,
                     config_name="config", plugins_path="", overrides=list(overrides))


def load(path: Path | str = PARAMS_FILE, overrides: dict[str, Any] | None = None) -> Params:
    """Load and check ``params.yaml``; ``overrides`` (dotted keys) are applied on top (tests)."""
    path = Path(path)
    if not path.exists():
        raise ParamsError(f"{path}: not found; run stages from the repository root")
    loaded = OmegaConf.load(path)
    for key, value in (overrides or {}).items():
        OmegaConf.update(loaded, key, value, force_add=True)
    try:
        merged = OmegaConf.merge(OmegaConf.structured(Params), loaded)
    except OmegaConfBaseException as exc:
        where = f"{exc.full_key}: " if getattr(exc, "full_key", None) else ""
        raise ParamsError(f"{path}: {where}{exc.msg}; see landmark_datasets/core/params.py for the "
                          "allowed keys and types") from exc
    params: Params = OmegaConf.to_object(merged)  # type: ignore[assignment]
    _check(params)
    return params


#: Keys that say how to run, not what to build: they never change an artifact, so no stage
#: declares them and the report does not record them.
RUN_ONLY_KEYS = ("extract.workers", "extract.executor", "extract.chunk_size", "extract.dask")


#: Shown as this in published provenance: the salt would let anyone holding a photo recompute
#: its pseudonymous id, and an absolute path often names a person (``/home/jane/...``).
REDACTED = "<not published>"


def dataset_params_text(path: Path | str = PARAMS_FILE, all_paths: bool = False) -> str:
    """``params.yaml`` without :data:`RUN_ONLY_KEYS`: every parameter that shapes the dataset.

    For publication: ``ingest.id_salt`` and absolute ``ingest.raw_dir`` / ``ingest.manifest``
    paths read :data:`REDACTED`; with ``all_paths``, relative ones too (the dataset card,
    published with the data: a folder name can name a person or a place).
    """
    cfg = OmegaConf.load(path)
    for dotted in RUN_ONLY_KEYS:
        parent, _, leaf = dotted.rpartition(".")
        node = OmegaConf.select(cfg, parent) if parent else cfg
        if node is not None and leaf in node:
            del node[leaf]
    ingest = cfg.get("ingest") or {}
    if "id_salt" in ingest:
        ingest["id_salt"] = REDACTED
    for key in ("raw_dir", "manifest"):
        value = ingest.get(key)
        if value is not None and (all_paths or Path(str(value)).is_absolute()
                                  or ".." in Path(str(value)).parts):
            ingest[key] = REDACTED
    return OmegaConf.to_yaml(cfg)


def as_dict(section: Any) -> dict[str, Any]:
    """A params dataclass as a plain dict (for provenance and cache keys)."""
    return OmegaConf.to_container(OmegaConf.structured(section))  # type: ignore[return-value]


__all__ = ["MISSING", "Params", "ParamsError", "as_dict", "load"]
