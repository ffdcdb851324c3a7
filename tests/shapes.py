"""Dataset shapes, generated: the small raw folders a new user really starts with.

A :class:`Shape` says which modalities are there, their labels, how many files each label has
and of what kind (images, videos or both), whether a label's files hold anything to detect, and
whether labels come from folders or from a manifest (which puts a time range on one video).
:func:`make` writes a shape as a raw folder from the real media of ``../shared/testdata`` and
from media made here (short AVI clips cut from those photos, plain images where nothing can be
detected), using every source at most once per modality so that nothing is a duplicate.
:func:`shapes` is the Hypothesis strategy that draws shapes and :func:`build` runs every stage's
entry point in-process over one, in a work folder of its own.
"""

from __future__ import annotations

import csv
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
from hypothesis import strategies as st

from tests.conftest import ROOT

MODALITIES = ("hands", "faces", "holistic")
KINDS = ("images", "videos", "mixed")
#: Label names a shape uses, in order (a "many labels" shape takes several); one accented.
LABEL_NAMES = ("alpha", "beta", "gamma", "délta")
#: Clip geometry of the videos made here: frames of this size at this rate.
CLIP_SIDE, CLIP_FPS, CLIP_FRAMES = 256, 10.0, 4


@dataclass(frozen=True)
class Label:
    """One label folder (or the manifest rows of one label)."""

    name: str
    files: int  # 0 is an empty label folder
    kind: str  # images | videos | mixed (images first, then videos, alternating)
    detectable: bool  # False: none of its files shows a hand or face


@dataclass(frozen=True)
class Shape:
    """A raw folder to build: labels per modality and how they are given."""

    labels: tuple[tuple[str, tuple[Label, ...]], ...]  # ((modality, labels), ...)
    #: folders | subjects (``<modality>/<label>/<subject>/<file>``, subjects shared by labels)
    #: | manifest | excel (a manifest as Excel on Windows writes it: cp1252, CRLF, ``;``,
    #: backslashes, spaces after separators, trailing empty rows)
    layout: str = "folders"

    @property
    def modalities(self) -> list[str]:
        return [m for m, _ in self.labels]

    def describe(self) -> str:
        """A one-line summary: ``hands[alpha 3 images, beta 0 videos nodet] manifest``."""
        parts = []
        for modality, labels in self.labels:
            inner = ", ".join(f"{lab.name} {lab.files} {lab.kind}"
                              + ("" if lab.detectable else " nodet") for lab in labels)
            parts.append(f"{modality}[{inner}]")
        return " ".join(parts or ["(no media)"]) + f" {self.layout}"


@dataclass
class Made:
    """What :func:`make` wrote: each file (relative path) with its modality, label and media."""

    root: Path
    files: dict[str, tuple[str, str, str]] = field(default_factory=dict)
    undetectable: set[tuple[str, str]] = field(default_factory=set)  # (modality, label)
    ranged: str | None = None  # the video given a time range in the manifest
    subjects: dict[str, str] = field(default_factory=dict)  # file -> its subject folder


class Pools:
    """Source media per (modality, detectable, media), each handed out once per modality."""

    def __init__(self, testdata: Path, cache: Path):
        self.testdata, self.cache = testdata, cache
        det = pd.read_csv(testdata / "DETECTIONS.tsv", sep="\t", keep_default_na=False)
        hands = det[(det["folder"] == "hands") & (det["label"].isin(["paper", "scissors"]))
                    & (det["hands"] >= 1)]["file"].tolist()
        faces = det[(det["folder"] == "faces") & (det["faces"] == 1)]["file"].tolist()
        empty = det[(det["hands"] == 0) & (det["faces"] == 0)]["file"].tolist()
        self.photos = {("hands", True): sorted(hands), ("faces", True): sorted(faces),
                       ("hands", False): sorted(empty), ("faces", False): sorted(empty),
                       # holistic: a face, or a hand; clips alternate no part between them
                       ("holistic", True): sorted(faces)[::-1], ("holistic", False): sorted(empty)}
        self.used: dict[tuple[str, bool, str], int] = {}

    def take(self, modality: str, detectable: bool, media: str) -> Path:
        """The next unused source of this kind (a file made and cached on first use)."""
        slot = (modality, detectable, media)
        i = self.used.get(slot, 0)
        self.used[slot] = i + 1
        if media == "image":
            photos = self.photos[modality, detectable]
            if i < len(photos):
                return self.testdata / photos[i]
            return self._plain(f"plain_{modality}_{i}.png", i)
        return self._clip(modality, detectable, i)

    def _plain(self, name: str, i: int) -> Path:
        """A plain image with nothing to detect (a grey level of its own: distinct bytes)."""
        path = self.cache / name
        if not path.exists():
            cv2.imwrite(str(path), np.full((96, 128, 3), 40 + 3 * i % 200, np.uint8))
        return path

    def _clip(self, modality: str, detectable: bool, i: int) -> Path:
        """An MJPG AVI of :data:`CLIP_FRAMES` frames (the i-th such clip of its kind).

        Detectable clips are photos from the pool, taken from its end so that the images
        handed out from its start are other files; undetectable ones are plain frames.
        """
        path = self.cache / f"clip_{modality}_{int(detectable)}_{i}.avi"
        if path.exists():
            return path
        photos = self.photos[modality, True]
        start = (len(photos) - 1 - i * CLIP_FRAMES) % len(photos)
        writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), CLIP_FPS,
                                 (CLIP_SIDE, CLIP_SIDE))
        for k in range(CLIP_FRAMES):
            if detectable:
                img = cv2.resize(cv2.imread(str(self.testdata / photos[(start - k) % len(photos)])),
                                 (CLIP_SIDE, CLIP_SIDE))
            else:
                img = np.full((CLIP_SIDE, CLIP_SIDE, 3), (30 + 7 * i + 40 * k) % 250, np.uint8)
            writer.write(img)
        writer.release()
        return path


def _medias(label: Label) -> list[str]:
    if label.kind == "images":
        return ["image"] * label.files
    if label.kind == "videos":
        return ["video"] * label.files
    return ["image" if k % 2 == 0 else "video" for k in range(label.files)]


def make(shape: Shape, root: Path, testdata: Path, cache: Path) -> Made:
    """Write ``shape`` under ``root`` (a fresh folder); return what is where."""
    root.mkdir(parents=True)
    cache.mkdir(parents=True, exist_ok=True)
    pools = Pools(testdata, cache)
    made = Made(root)
    rows = []
    for modality, labels in shape.labels:
        for label in labels:
            if not label.detectable:
                made.undetectable.add((modality, label.name))
            if shape.layout in ("folders", "subjects"):
                (root / modality / label.name).mkdir(parents=True, exist_ok=True)
            for k, media in enumerate(_medias(label)):
                src = pools.take(modality, label.detectable, media)
                name = f"{label.name}_{k}{src.suffix}"
                rel = {"folders": f"{modality}/{label.name}/{name}",
                       "subjects": f"{modality}/{label.name}/subject{k % 3}/{name}"}.get(
                           shape.layout, f"media/{modality}_{name}")
                if shape.layout == "subjects":
                    made.subjects[rel] = f"subject{k % 3}"
                (root / rel).parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(src, root / rel)
                made.files[rel] = (modality, label.name, media)
                row = {"path": rel, "modality": modality, "label": label.name,
                       "start_s": "", "end_s": ""}
                if media == "video" and made.ranged is None and shape.layout in (
                        "manifest", "excel"):
                    row.update(start_s="0.1", end_s="0.3")  # frames 1 and 2 of the clip
                    made.ranged = rel
                rows.append(row)
    if shape.layout == "manifest":
        with open(root / "manifest.csv", "w", newline="") as f:
            w = csv.DictWriter(f, fieldnames=["path", "modality", "label", "start_s", "end_s"])
            w.writeheader()
            w.writerows(rows)
    elif shape.layout == "excel":
        lines = ["Path; Modality; Label; start_s; end_s"] + [
            "; ".join([r["path"].replace("/", "\\"), r["modality"], r["label"], r["start_s"],
                       r["end_s"]]) for r in rows] + [";;;;"] * 2
        (root / "manifest.csv").write_bytes("\r\n".join(lines).encode("cp1252"))
    return made


@st.composite
def labels_of(draw, modality: str) -> tuple[Label, ...]:
    """1, 2 or 4 labels, each with 0, 1, 3 or 5 files of one kind (lopsided counts included)."""
    n = draw(st.sampled_from([1, 2, 4]))
    return tuple(
        Label(LABEL_NAMES[i], draw(st.sampled_from([0, 1, 3, 5])), draw(st.sampled_from(KINDS)),
              draw(st.sampled_from([True, True, False])))
        for i in range(n))


@st.composite
def shapes(draw) -> Shape:
    """A :class:`Shape`: hands, faces, holistic or several, any labels, any layout."""
    modalities = draw(st.sampled_from([("hands",), ("faces",), ("hands", "faces"), ("holistic",),
                                       ("hands", "faces", "holistic")]))
    return Shape(tuple((m, draw(labels_of(m))) for m in modalities),
                 draw(st.sampled_from(["folders", "subjects", "manifest", "excel"])))


@st.composite
def preprocess_overrides(draw) -> dict:
    """Hand scheme and flags, face scheme and privacy level, velocities, gap filling."""
    privacy = draw(st.sampled_from(["raw_mesh", "pose_normalized", "blendshapes"]))
    face_scheme = "head_pose" if privacy == "pose_normalized" else draw(
        st.sampled_from(["none", "interocular", "head_pose"]))
    return {
        "preprocess.scheme": draw(st.sampled_from(["none", "wrist_palm", "bbox",
                                                   "wrist_maxabs"])),
        "preprocess.mirror_left": draw(st.booleans()),
        "preprocess.rotate": draw(st.booleans()),
        "preprocess.palm_frame": draw(st.booleans()),
        "preprocess.face_scheme": face_scheme,
        "preprocess.privacy": privacy,
        "preprocess.velocities": draw(st.booleans()),
        "preprocess.max_gap_frames": draw(st.sampled_from([0, 2])),
        "preprocess.holistic_keep": draw(st.sampled_from(["any", "face_and_hand", "all"])),
        "preprocess.holistic_hands": draw(st.sampled_from(["own", "face_frame"])),
    }


#: The stages in pipeline order, as ``stages.<name>`` modules with a ``main()``.
STAGES = ("scan", "ingest", "extract", "preprocess", "validate", "review", "split", "evaluate",
          "report", "card")


@dataclass
class Build:
    """What :func:`build` ended with: the work folder and, if a stage stopped, its one line."""

    work: Path
    error: str | None = None  # "<stage>: error: <first line>"
    stopped_at: str | None = None


def build(raw: Path, work: Path, overrides: dict | None = None) -> Build:
    """Run every stage's ``main()`` in-process in ``work`` (its own params.yaml, models linked).

    A stage that stops with a :class:`.UserError` ends the build as ``dvc repro`` would,
    with the line its entry point prints; any other exception propagates (a test failure).
    """
    import importlib

    from omegaconf import OmegaConf

    from landmark_datasets import UserError

    work.mkdir(parents=True, exist_ok=True)
    cfg = OmegaConf.load(ROOT / "params.yaml")
    for key, value in {"ingest.raw_dir": str(raw), "extract.workers": 1,
                       **(overrides or {})}.items():
        OmegaConf.update(cfg, key, value, force_add=True)
    OmegaConf.save(cfg, work / "params.yaml")
    if not (work / "models").exists():
        os.symlink(ROOT / "models", work / "models")
    cwd = Path.cwd()
    os.chdir(work)
    try:
        for stage in STAGES:
            module = importlib.import_module(f"stages.{stage}")
            try:
                module.main()
            except UserError as err:
                return Build(work, f"{stage}: error: {str(err).splitlines()[0]}", stage)
    finally:
        os.chdir(cwd)
    return Build(work)
