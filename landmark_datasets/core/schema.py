"""The one schema of the project: column names, landmark names and order, ledger reason codes.

Landmark and blendshape names are MediaPipe's own (``HandLandmark``, ``Blendshapes`` and
``HandLandmarksConnections`` of the Tasks API), so extract, validate, split and the report agree
by construction. They are written out here rather than read from mediapipe at import time,
because importing mediapipe costs over a second in every stage that only reads tables;
``tests/test_schema.py`` checks them against MediaPipe's enums. Every published table is laid
out by the functions here; nothing else spells a landmark column name.

Published tables (``data/dataset/<modality>/<split>.csv``) are wide: one row per detected
instance (hand or face) per frame, keyed by ``(source_id, frame, instance)``.
"""

from __future__ import annotations

import enum
import functools
import re

#: What a raw folder's top level (or a manifest's ``modality``) may be: hands, faces, or both
#: hands and the face of each frame in one row (holistic).
MODALITIES = ("hands", "faces", "holistic")
#: The landmarkers: hands and faces items run one, holistic items run both.
LANDMARKERS = ("hands", "faces")
#: How the report names one instance of each modality.
NOUNS = {"hands": "hand", "faces": "face", "holistic": "holistic frame"}
AXES = ("x", "y", "z")
HANDEDNESS = ("Left", "Right")

#: Hand landmark names: ``HandLandmark`` members, lower-cased, in MediaPipe's order.
HAND_LANDMARK_NAMES: tuple[str, ...] = (
    "wrist", "thumb_cmc", "thumb_mcp", "thumb_ip", "thumb_tip",
    "index_finger_mcp", "index_finger_pip", "index_finger_dip", "index_finger_tip",
    "middle_finger_mcp", "middle_finger_pip", "middle_finger_dip", "middle_finger_tip",
    "ring_finger_mcp", "ring_finger_pip", "ring_finger_dip", "ring_finger_tip",
    "pinky_mcp", "pinky_pip", "pinky_dip", "pinky_tip",
)
N_HAND_LANDMARKS = len(HAND_LANDMARK_NAMES)  # 21
N_FACE_LANDMARKS = 478  # the Face Mesh V2 topology (468 mesh + 10 iris points)
#: Face landmarks have no names; they are numbered in the mesh order.
FACE_LANDMARK_NAMES: tuple[str, ...] = tuple(f"f{i:03d}" for i in range(N_FACE_LANDMARKS))
#: Edges of the hand skeleton (``HandLandmarksConnections.HAND_CONNECTIONS``), for drawing and
#: for sanity checks.
HAND_CONNECTIONS: tuple[tuple[int, int], ...] = (
    (0, 1), (0, 5), (9, 13), (13, 17), (5, 9), (0, 17), (1, 2), (2, 3), (3, 4), (5, 6), (6, 7),
    (7, 8), (9, 10), (10, 11), (11, 12), (13, 14), (14, 15), (15, 16), (17, 18), (18, 19),
    (19, 20),
)
#: Blendshape names as the model's categories spell them (``Blendshapes``, in index order).
BLENDSHAPE_CATEGORIES: tuple[str, ...] = (
    "_neutral", "browDownLeft", "browDownRight", "browInnerUp", "browOuterUpLeft",
    "browOuterUpRight", "cheekPuff", "cheekSquintLeft", "cheekSquintRight", "eyeBlinkLeft",
    "eyeBlinkRight", "eyeLookDownLeft", "eyeLookDownRight", "eyeLookInLeft", "eyeLookInRight",
    "eyeLookOutLeft", "eyeLookOutRight", "eyeLookUpLeft", "eyeLookUpRight", "eyeSquintLeft",
    "eyeSquintRight", "eyeWideLeft", "eyeWideRight", "jawForward", "jawLeft", "jawOpen",
    "jawRight", "mouthClose", "mouthDimpleLeft", "mouthDimpleRight", "mouthFrownLeft",
    "mouthFrownRight", "mouthFunnel", "mouthLeft", "mouthLowerDownLeft", "mouthLowerDownRight",
    "mouthPressLeft", "mouthPressRight", "mouthPucker", "mouthRight", "mouthRollLower",
    "mouthRollUpper", "mouthShrugLower", "mouthShrugUpper", "mouthSmileLeft", "mouthSmileRight",
    "mouthStretchLeft", "mouthStretchRight", "mouthUpperUpLeft", "mouthUpperUpRight",
    "noseSneerLeft", "noseSneerRight",
)
N_BLENDSHAPES = len(BLENDSHAPE_CATEGORIES)  # 52
BLENDSHAPE_COLUMNS: tuple[str, ...] = tuple(
    "bs_" + c.lstrip("_") for c in BLENDSHAPE_CATEGORIES
)
#: The 4x4 facial transformation matrix (head pose), row-major.
POSE_COLUMNS: tuple[str, ...] = tuple(f"pose_{r}{c}" for r in range(4) for c in range(4))

# Landmark indices used by geometric checks and normalization.
WRIST = HAND_LANDMARK_NAMES.index("wrist")
MIDDLE_MCP = HAND_LANDMARK_NAMES.index("middle_finger_mcp")
INDEX_MCP = HAND_LANDMARK_NAMES.index("index_finger_mcp")
PINKY_MCP = HAND_LANDMARK_NAMES.index("pinky_mcp")
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


#: Holistic rows: both hands and the face of one frame. One row per frame; a part that was not
#: found is empty cells (NaN), and its presence flag says so.
HOLISTIC = "holistic"
HAND_SIDES = ("left", "right")
PRESENCE_COLUMNS: tuple[str, ...] = ("left_hand_present", "right_hand_present", "face_present")
#: 1 on a frame where both hands claimed the same side: the hand with the higher handedness
#: score kept it and the other was given the free side.
SIDE_RESOLVED = "hands_side_resolved"


#: The parts of a holistic row; ``<part>_present`` and ``<part>_interpolated`` are its flags.
PARTS = ("left_hand", "right_hand", "face")
PART_INTERPOLATED: tuple[str, ...] = tuple(f"{part}_interpolated" for part in PARTS)


def part_columns(part: str) -> list[str]:
    """A holistic part's value columns: a hand's block, or the face's mesh, blendshapes, pose."""
    if part == "face":
        return [*FACE_LANDMARK_COLUMNS, *BLENDSHAPE_COLUMNS, *POSE_COLUMNS]
    return hand_part_columns(part.removesuffix("_hand"))


def part_landmark_columns(part: str) -> list[str]:
    """A holistic part's image landmarks (normalized x, y, z): what normalization moves."""
    if part == "face":
        return list(FACE_LANDMARK_COLUMNS)
    return landmark_columns(HAND_LANDMARK_NAMES, f"{part.removesuffix('_hand')}_")


def hand_part_columns(side: str) -> list[str]:
    """A holistic row's block of one hand: its handedness score, image and world landmarks."""
    return [f"{side}_handedness_score", *landmark_columns(HAND_LANDMARK_NAMES, f"{side}_"),
            *landmark_columns(HAND_LANDMARK_NAMES, f"{side}_world_")]


def columns(modality: str) -> list[str]:
    """The ordered column list of a landmark table of ``modality`` (hands, faces, holistic)."""
    if modality == "hands":
        return [*META_COLUMNS, *HAND_SCORE_COLUMNS, *HAND_LANDMARK_COLUMNS, *HAND_WORLD_COLUMNS]
    if modality == "faces":
        return [*META_COLUMNS, *FACE_LANDMARK_COLUMNS, *BLENDSHAPE_COLUMNS, *POSE_COLUMNS]
    if modality == HOLISTIC:
        return [*META_COLUMNS, *PRESENCE_COLUMNS, SIDE_RESOLVED,
                *(c for side in HAND_SIDES for c in hand_part_columns(side)),
                *FACE_LANDMARK_COLUMNS, *BLENDSHAPE_COLUMNS, *POSE_COLUMNS]
    raise ValueError(f"unknown modality {modality!r}; expected one of "
                     f"{(*MODALITIES, HOLISTIC)}")


# --- vocabularies: each spelled here once; params, conf/ (tested), normalize, holistic,
# evaluate and the report take them from here ---
#: ``preprocess.scheme``: hand normalization schemes (one conf/preprocess/<scheme>.yaml each).
HAND_SCHEMES = ("none", "wrist_palm", "bbox", "wrist_maxabs")
#: Hand flags, on top of any hand scheme (``preprocess.<flag>: true``).
HAND_FLAGS = ("mirror_left", "rotate", "palm_frame")
#: ``preprocess.face_scheme``.
FACE_SCHEMES = ("none", "interocular", "head_pose")
#: ``preprocess.privacy``: what the published face columns hold.
PRIVACY_LEVELS = ("raw_mesh", "pose_normalized", "blendshapes")
#: ``preprocess.holistic_keep``: which holistic frames are kept.
KEEP_RULES = ("any", "face_and_hand", "all")
#: ``preprocess.holistic_hands``: holistic hands in their own scheme or in the face's frame.
HAND_FRAMES = ("own", "face_frame")
#: ``extract.executor``.
EXECUTORS = ("local", "dask")
#: ``evaluate.models``: the baseline classifiers.
CLASSIFIERS = ("lda", "extra_trees", "logreg", "forest")
#: What evaluate trains unless told otherwise: the two that stay fast on wide tables.
DEFAULT_CLASSIFIERS = ("extra_trees", "lda")
#: 1 on rows that preprocess filled in a short video gap (preprocess/gaps.py), else 0.
INTERPOLATED = "interpolated"


def velocity_columns(modality: str) -> list[str]:
    """``v_<landmark column>``: per-second change of each normalized image-landmark value."""
    return ["v_" + c for c in landmark_block(modality)]


def published_columns(modality: str, privacy: str = "raw_mesh",
                      velocities: bool = False) -> list[str]:
    """The columns of a table after preprocess: extract's plus ``interpolated``, or no geometry.

    ``velocities`` adds :func:`velocity_columns` (never with blendshapes only: no geometry).
    ``privacy="blendshapes"`` keeps only the key, the sample's description and the 52
    blendshape scores of a face: no landmark and no head pose (face geometry identifies people).
    """
    if privacy not in PRIVACY_LEVELS:
        raise ValueError(f"unknown privacy {privacy!r}; expected one of {PRIVACY_LEVELS}")
    if modality == "faces" and privacy == "blendshapes":
        return [*META_COLUMNS, *BLENDSHAPE_COLUMNS, INTERPOLATED]
    if modality == HOLISTIC:
        face = list(BLENDSHAPE_COLUMNS) if privacy == "blendshapes" else part_columns("face")
        moving = [p for p in PARTS if p != "face" or privacy != "blendshapes"]
        extra = ["v_" + c for p in moving for c in part_landmark_columns(p)] if velocities \
            else []
        return [*META_COLUMNS, *PRESENCE_COLUMNS, SIDE_RESOLVED, *PART_INTERPOLATED,
                *hand_part_columns("left"), *hand_part_columns("right"), *face, *extra]
    extra = velocity_columns(modality) if velocities else []
    return [*columns(modality), INTERPOLATED, *extra]


def landmark_block(modality: str) -> tuple[str, ...]:
    """The image-landmark columns (normalized x, y, z) of ``modality``: what normalization moves."""
    return HAND_LANDMARK_COLUMNS if modality == "hands" else FACE_LANDMARK_COLUMNS


def n_landmarks(modality: str) -> int:
    """21 for hands, 478 for faces."""
    return N_HAND_LANDMARKS if modality == "hands" else N_FACE_LANDMARKS


#: Integer columns (everything else in a landmark table is a float, or a string below).
INT_COLUMNS = frozenset({"frame", "instance", "timestamp_ms", "image_width", "image_height",
                         "interpolated", *PRESENCE_COLUMNS, SIDE_RESOLVED,
                         *PART_INTERPOLATED})
STR_COLUMNS = frozenset({"source_id", "label", "group", "handedness"})
#: Text columns of the other tables (inventory, ledgers, evaluate's outputs).
_OTHER_TEXT_COLUMNS = frozenset({"path", "modality", "stage", "reason", "detail", "media",
                                 "sha256", "actual", "predicted", "split"})


@functools.cache
def csv_dtypes() -> dict[str, str]:
    """The dtype of every column a CSV of this project may have, by name, for reading it back.

    Text stays text (a label ``1`` or ``None`` is a label, not a number or a missing value) and
    floats stay floats, also in a table with a header and no rows; integer columns are left to
    the reader (the ledger's ``frame`` may be empty).
    """
    floats = [c for modality in MODALITIES for c in
              published_columns(modality, velocities=True) + columns(modality)
              if c not in INT_COLUMNS and c not in STR_COLUMNS]
    return {**dict.fromkeys(floats, "float64"),
            **dict.fromkeys(STR_COLUMNS | _OTHER_TEXT_COLUMNS, "str")}


class Reason(enum.StrEnum):
    """Why an input file, frame or detection is not in the published tables (the ledger)."""

    UNLABELLED = "unlabelled"
    HIDDEN = "hidden"  # a file whose name starts with "." (.DS_Store, editor backups)
    UNSUPPORTED_EXTENSION = "unsupported_extension"
    UNREADABLE = "unreadable"
    BROKEN_LINK = "broken_link"  # a dangling symbolic link or a link loop
    MISSING_FILE = "missing_file"  # a manifest row whose file is not there
    EMPTY_FILE = "empty_file"
    TRUNCATED = "truncated"
    NO_FRAMES = "no_frames"
    TOO_LARGE = "too_large"
    DUPLICATE = "duplicate"
    LABEL_CONFLICT = "label_conflict"
    NO_DETECTION = "no_detection"
    LOW_CONFIDENCE = "low_confidence"
    OUT_OF_FRAME = "out_of_frame"
    DEGENERATE = "degenerate"
    MISSING_LANDMARKS = "missing_landmarks"
    #: A holistic frame without the parts ``preprocess.holistic_keep`` asks for (or a hand
    #: with no face to place it in, under ``holistic_hands=face_frame``).
    MISSING_PARTS = "missing_parts"
    #: A row a reviewer dropped (``reviews.csv``: decision ``drop``; the note is the detail).
    REVIEW_DROP = "review_drop"


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
#: wrist_maxabs: x and y in [-1, 1] by construction; z in the same scale.
#: (z of bbox and wrist_maxabs is not bounded by construction: a hand pointing at the camera
#: is short in x and y and long in z. 10,000 photo variants reached |z| = 3.54 under
#: wrist_maxabs, past the [-3, 3] once expected here, so z gets the palm-length bound.)
#: interocular, head_pose (faces): in outer-eye-corner distances from the eyes' midpoint.
EXPECTED_RANGES: dict[str, dict[str, tuple[float, float]]] = {
    # image coordinates: up to one image width outside the frame; z is depth from the wrist
    # (face centre) in image widths, and a hand filling a close-up goes past 1 (-1.1 measured
    # on 10,000 cropped photos), so it gets the span x and y have
    "none": {"x": (-1.0, 2.0), "y": (-1.0, 2.0), "z": (-3.0, 3.0)},
    # the same, hands rotated about their wrists (rotate, palm_frame): a point stays within
    # the hand's extent of its wrist, at most the picture's diagonal (-1.28 measured on 10,000
    # photos; 3 widths or heights at an aspect ratio of 1:3)
    "none_rotated": {"x": (-4.0, 5.0), "y": (-4.0, 5.0), "z": (-4.0, 4.0)},
    "wrist_palm": {"x": (-8.0, 8.0), "y": (-8.0, 8.0), "z": (-8.0, 8.0)},
    "bbox": {"x": (0.0, 1.0), "y": (0.0, 1.0), "z": (-8.0, 8.0)},
    "wrist_maxabs": {"x": (-1.0, 1.0), "y": (-1.0, 1.0), "z": (-8.0, 8.0)},
    "interocular": {"x": (-8.0, 8.0), "y": (-8.0, 8.0), "z": (-8.0, 8.0)},
    "head_pose": {"x": (-8.0, 8.0), "y": (-8.0, 8.0), "z": (-8.0, 8.0)},
    # holistic hands in the face's frame: anywhere in the picture, in eye distances (a face
    # 1/20 of the image high puts the far corner about 40 eye distances away)
    "face_frame": {"x": (-40.0, 40.0), "y": (-40.0, 40.0), "z": (-40.0, 40.0)},
}


#: First characters that make a spreadsheet read a cell as a formula (CSV injection, OWASP).
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def neutralize_formula(text: str) -> str:
    """``text`` with a leading ``'`` if a spreadsheet would run it as a formula, else as is."""
    return "'" + text if isinstance(text, str) and text.startswith(FORMULA_PREFIXES) else text


def neutralize_table(df):
    """A copy of ``df`` with every text cell passed through :func:`neutralize_formula`."""
    text = [c for c, t in df.dtypes.items()
            if t.kind == "O" or str(t).startswith(("str", "string"))]
    return df.assign(**{c: df[c].map(neutralize_formula, na_action="ignore") for c in text})


_SAFE_LABEL = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\- ]*$")


def is_safe_label(label: str) -> bool:
    """True when ``label`` is a plain name (letters, digits, ``_ . - space``; not a formula)."""
    return bool(_SAFE_LABEL.match(label))


def spelling_key(label: str) -> str:
    """What two spellings of one label share: compatibility form, case and separators folded.

    ``"Thumbs Up"``, ``"thumbs_up"``, ``"thumbs-up "`` and ``"ｔｈｕｍｂｓ ｕｐ"`` have one key.
    """
    import unicodedata

    return " ".join(re.split(r"[\s_\-]+", unicodedata.normalize("NFKC", label).casefold())
                    ).strip()


def spelling_variants(labels) -> list[list[str]]:
    """Sets of distinct labels that share a :func:`spelling_key`, each sorted; sorted."""
    by_key: dict[str, set[str]] = {}
    for label in labels:
        by_key.setdefault(spelling_key(label), set()).add(label)
    return sorted(sorted(v) for v in by_key.values() if len(v) > 1)
