"""The one schema of the project: column names, landmark names and order, ledger reason codes.

Landmark and blendshape names are derived from MediaPipe's own enums, so extract, validate,
split and the report agree by construction. Every published table is laid out by the
functions here; nothing else spells a landmark column name.

Published tables (``data/dataset/<modality>/<split>.csv``) are wide: one row per detected
instance (hand or face) per frame, keyed by ``(source_id, frame, instance)``.
"""

from __future__ import annotations

import enum
import re

from mediapipe.tasks.python.vision.face_landmarker import Blendshapes
from mediapipe.tasks.python.vision.hand_landmarker import HandLandmark, HandLandmarksConnections

MODALITIES = ("hands", "faces")
AXES = ("x", "y", "z")
N_HAND_LANDMARKS = len(HandLandmark)  # 21
N_FACE_LANDMARKS = 478  # the Face Mesh V2 topology (468 mesh + 10 iris points)
N_BLENDSHAPES = len(Blendshapes)  # 52
HANDEDNESS = ("Left", "Right")

#: Hand landmark names, in MediaPipe's order: "wrist", "thumb_cmc", ..., "pinky_tip".
HAND_LANDMARK_NAMES: tuple[str, ...] = tuple(m.name.lower() for m in HandLandmark)
#: Face landmarks have no names; they are numbered in the mesh order.
FACE_LANDMARK_NAMES: tuple[str, ...] = tuple(f"f{i:03d}" for i in range(N_FACE_LANDMARKS))
#: Edges of the hand skeleton (pairs of landmark indices), for drawing and for sanity checks.
HAND_CONNECTIONS: tuple[tuple[int, int], ...] = tuple(
    (c.start, c.end) for c in HandLandmarksConnections.HAND_CONNECTIONS
)


def _camel(name: str) -> str:
    head, *rest = name.lower().split("_")
    return head + "".join(part.title() for part in rest)


#: Blendshape names as the model's categories spell them ("_neutral", "browDownLeft", ...).
BLENDSHAPE_CATEGORIES: tuple[str, ...] = tuple(
    "_neutral" if m is Blendshapes.NEUTRAL else _camel(m.name) for m in Blendshapes
)
BLENDSHAPE_COLUMNS: tuple[str, ...] = tuple(
    "bs_" + c.lstrip("_") for c in BLENDSHAPE_CATEGORIES
)
#: The 4x4 facial transformation matrix (head pose), row-major.
POSE_COLUMNS: tuple[str, ...] = tuple(f"pose_{r}{c}" for r in range(4) for c in range(4))

# Landmark indices used by geometric checks and normalization.
WRIST = int(HandLandmark.WRIST)
MIDDLE_MCP = int(HandLandmark.MIDDLE_FINGER_MCP)
INDEX_MCP = int(HandLandmark.INDEX_FINGER_MCP)
PINKY_MCP = int(HandLandmark.PINKY_MCP)
FACE_NOSE_TIP = 1
FACE_LEFT_EYE_OUTER = 263  # the subject's left eye, outer corner
FACE_RIGHT_EYE_OUTER = 33  # the subject's right eye, outer corner

#: Key columns every landmark table starts with.
KEY_COLUMNS: tuple[str, ...] = ("source_id", "frame", "instance")
#: Columns that describe the sample; published with the landmarks.
META_COLUMNS: tuple[str, ...] = (
    "source_id", "frame", "instance", "timestamp_ms", "label", "group",
    "image_width", "image_height",
)
HAND_SCORE_COLUMNS: tuple[str, ...] = ("handedness", "handedness_score")


def landmark_columns(names: tuple[str, ...], prefix: str = "") -> list[str]:
    """Column names for a block of 3-D landmarks, landmark-major: ``wrist_x, wrist_y, ...``."""
    return [f"{prefix}{n}_{a}" for n in names for a in AXES]


HAND_LANDMARK_COLUMNS = tuple(landmark_columns(HAND_LANDMARK_NAMES))
HAND_WORLD_COLUMNS = tuple(landmark_columns(HAND_LANDMARK_NAMES, prefix="world_"))
FACE_LANDMARK_COLUMNS = tuple(landmark_columns(FACE_LANDMARK_NAMES))


def columns(modality: str) -> list[str]:
    """The ordered column list of a landmark table of ``modality`` ("hands" or "faces")."""
    if modality == "hands":
        return [*META_COLUMNS, *HAND_SCORE_COLUMNS, *HAND_LANDMARK_COLUMNS, *HAND_WORLD_COLUMNS]
    if modality == "faces":
        return [*META_COLUMNS, *FACE_LANDMARK_COLUMNS, *BLENDSHAPE_COLUMNS, *POSE_COLUMNS]
    raise ValueError(f"unknown modality {modality!r}; expected one of {MODALITIES}")


def landmark_block(modality: str) -> tuple[str, ...]:
    """The image-landmark columns (normalized x, y, z) of ``modality``: what normalization moves."""
    return HAND_LANDMARK_COLUMNS if modality == "hands" else FACE_LANDMARK_COLUMNS


def n_landmarks(modality: str) -> int:
    """21 for hands, 478 for faces."""
    return N_HAND_LANDMARKS if modality == "hands" else N_FACE_LANDMARKS


#: Integer columns (everything else in a landmark table is a float, or a string below).
INT_COLUMNS = frozenset({"frame", "instance", "timestamp_ms", "image_width", "image_height"})
STR_COLUMNS = frozenset({"source_id", "label", "group", "handedness"})


class Reason(enum.StrEnum):
    """Why an input file, frame or detection is not in the published tables (the ledger)."""

    UNLABELLED = "unlabelled"
    UNSUPPORTED_EXTENSION = "unsupported_extension"
    UNREADABLE = "unreadable"
    EMPTY_FILE = "empty_file"
    NO_FRAMES = "no_frames"
    TOO_LARGE = "too_large"
    DUPLICATE = "duplicate"
    LABEL_CONFLICT = "label_conflict"
    NO_DETECTION = "no_detection"
    LOW_CONFIDENCE = "low_confidence"
    OUT_OF_FRAME = "out_of_frame"
    DEGENERATE = "degenerate"
    MISSING_LANDMARKS = "missing_landmarks"


#: Columns of the published ledger. Internal ledgers add ``path``; the published one must not.
LEDGER_COLUMNS: tuple[str, ...] = (
    "source_id", "modality", "label", "frame", "instance", "stage", "reason", "detail",
)

#: Columns of the stages' internal ledgers: the published ones plus the file's path.
INTERNAL_LEDGER_COLUMNS: tuple[str, ...] = ("path", *LEDGER_COLUMNS)


def ledger_row(stage: str, reason: Reason, detail: str, *, path: str = "", source_id: str = "",
               modality: str = "", label: str = "", frame=None, instance=None) -> dict:
    """One internal ledger row; ``detail`` says what is wrong and what to do, without the path."""
    return {"path": path, "source_id": source_id, "modality": modality, "label": label,
            "frame": frame, "instance": instance, "stage": stage, "reason": reason.value,
            "detail": detail}


#: Expected value ranges of the normalized image landmarks (x, y, z) per normalization scheme;
#: the validate stage builds its range expectations from this table.
#: none: MediaPipe's normalized image coordinates; points may be extrapolated past the border
#: (the out_of_frame filter bounds how many), z is relative depth in roughly x's scale.
#: wrist_palm: in palm lengths (hands) or inter-ocular distances (faces) from the anchor.
#: bbox: x and y in [0, 1] by construction; z in the same scale as the longer box side.
EXPECTED_RANGES: dict[str, dict[str, tuple[float, float]]] = {
    "none": {"x": (-1.0, 2.0), "y": (-1.0, 2.0), "z": (-1.0, 1.0)},
    "wrist_palm": {"x": (-8.0, 8.0), "y": (-8.0, 8.0), "z": (-8.0, 8.0)},
    "bbox": {"x": (0.0, 1.0), "y": (0.0, 1.0), "z": (-3.0, 3.0)},
}


_SAFE_LABEL = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\- ]*$")


def is_safe_label(label: str) -> bool:
    """True when ``label`` is a plain name (letters, digits, ``_ . - space``; not a formula)."""
    return bool(_SAFE_LABEL.match(label))
