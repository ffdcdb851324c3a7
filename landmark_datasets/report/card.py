"""The dataset card: ``data/dataset/README.md`` and its machine-readable twin, ``croissant.json``.

Entry point: ``stages/card.py`` (reads params and the published tables, writes both files).

The card is a Hugging Face dataset card: a YAML header (``configs`` with the data files of each
table and split, the license, task categories, size) and a body that says what the data is, how
it was made, what every column group holds and in which units, the normalization formulas in
use, the privacy level and what risk remains, the counts and the ledger, the provenance and how
to cite it. ``croissant.json`` is Croissant 1.0 metadata (JSON-LD): every published Parquet file
with its sha256 and every column with its type, one record set per table and split.

Both are generated from :mod:`..core.schema` and the published files, so they cannot
drift from the data; neither holds a date, a path or a name, so the same build writes the same
bytes.
"""
from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from pathlib import Path

from landmark_datasets.core import schema

SPLITS = ("train", "test")
#: The Croissant 1.0 JSON-LD context (the specification's recommended ``@context``).
CROISSANT_CONTEXT = {
    "@language": "en", "@vocab": "https://schema.org/", "citeAs": "cr:citeAs",
    "column": "cr:column", "conformsTo": "dct:conformsTo", "cr": "http://mlcommons.org/croissant/",
    "rai": "http://mlcommons.org/croissant/RAI/",
    "data": {"@id": "cr:data", "@type": "@json"},
    "dataType": {"@id": "cr:dataType", "@type": "@vocab"}, "dct": "http://purl.org/dc/terms/",
    "equivalentProperty": "cr:equivalentProperty",
    "examples": {"@id": "cr:examples", "@type": "@json"}, "extract": "cr:extract",
    "field": "cr:field", "fileProperty": "cr:fileProperty", "fileObject": "cr:fileObject",
    "fileSet": "cr:fileSet", "format": "cr:format", "includes": "cr:includes",
    "isLiveDataset": "cr:isLiveDataset", "jsonPath": "cr:jsonPath", "key": "cr:key",
    "md5": "cr:md5", "parentField": "cr:parentField", "path": "cr:path",
    "recordSet": "cr:recordSet", "references": "cr:references", "regex": "cr:regex",
    "repeated": "cr:repeated", "replace": "cr:replace", "samplingRate": "cr:samplingRate",
    "sc": "https://schema.org/", "separator": "cr:separator", "source": "cr:source",
    "subField": "cr:subField", "transform": "cr:transform",
}
CROISSANT_TYPES = {"string": "sc:Text", "large_string": "sc:Text", "bool": "sc:Boolean",
                   "double": "sc:Float", "float": "sc:Float"}
#: What the card tells a user of a license it has not been given.
UNSET_LICENSE = "unknown"
TASKS = {"hands": "hand-gesture recognition", "faces": "facial-expression recognition",
         "holistic": "sign-language and multimodal recognition (both hands and the face)"}


@dataclass
class Table:
    """One published table: its rows, columns (name, Arrow type) and rows per label."""

    modality: str
    split: str
    rows: int
    columns: list[tuple[str, str]]
    labels: dict[str, int]
    sha256: str

    @property
    def path(self) -> str:
        """Its Parquet file, relative to the dataset folder."""
        return f"{self.modality}/{self.split}.parquet"


@dataclass
class Build:
    """Everything the card says: the tables, the ledger, the params and the provenance."""

    tables: list[Table]
    ledger: dict[str, int]
    ledger_sha256: str
    ledger_columns: list[tuple[str, str]]
    license: str
    name: str
    citation: str
    version: str
    preprocessing: str  #: :func:`.quality.describe_preprocessing`
    #: How landmarks were normalized: ``hands``, ``faces`` and ``holistic`` (its hands).
    schemes: dict[str, str]
    privacy: str
    models: dict[str, str]
    libraries: dict[str, str]
    params_text: str
    evaluation: dict = field(default_factory=dict)
    #: What ``reviews.csv`` did to this build (:func:`..review.review.summary`).
    reviewed: dict = field(default_factory=dict)

    @property
    def params_sha256(self) -> str:
        """sha256 of the params that shaped the dataset (as the card prints them)."""
        return hashlib.sha256(self.params_text.encode()).hexdigest()

    def modalities(self) -> list[str]:
        """The modalities with at least one published row, in schema order."""
        return [m for m in schema.MODALITIES
                if any(t.rows for t in self.tables if t.modality == m)]


def read_table_facts(root: Path, modality: str, split: str) -> Table:
    """A published Parquet table's facts, from its footer and its label column."""
    import pyarrow.parquet as pq

    from landmark_datasets.core.storage import sha256_file

    path = root / modality / f"{split}.parquet"
    meta = pq.ParquetFile(path)
    labels = pq.read_table(path, columns=["label"]).column("label").to_pandas()
    return Table(modality, split, meta.metadata.num_rows,
                 [(f.name, str(f.type)) for f in meta.schema_arrow],
                 {str(k): int(v) for k, v in labels.value_counts().sort_index().items()},
                 sha256_file(path))


def size_category(rows: int) -> str:
    """The Hugging Face size category of ``rows`` rows."""
    for bound, name in ((1_000, "n<1K"), (10_000, "1K<n<10K"), (100_000, "10K<n<100K"),
                        (1_000_000, "100K<n<1M"), (10_000_000, "1M<n<10M")):
        if rows < bound:
            return name
    return "10M<n<100M"


def header(build: Build) -> dict:
    """The card's YAML header (Hugging Face dataset card metadata)."""
    configs = [{"config_name": m, "data_files": [
        {"split": t.split, "path": t.path} for t in build.tables if t.modality == m]}
        for m in build.modalities()]
    configs.append({"config_name": "ledger", "data_files": "ledger.parquet"})
    return {
        "pretty_name": build.name,
        "license": build.license,
        "task_categories": ["tabular-classification"],
        "tags": ["mediapipe", "landmarks", *(
            {"hands": "hand-gesture-recognition", "faces": "facial-expression-recognition",
             "holistic": "sign-language"}[m] for m in build.modalities())],
        "size_categories": [size_category(sum(t.rows for t in build.tables))],
        "configs": configs,
    }


def column_groups(columns: list[str], hand_scheme: str, face_scheme: str
                  ) -> list[tuple[str, str, str]]:
    """``(columns, type, meaning)`` per group of ``columns``, in table order.

    ``hand_scheme`` and ``face_scheme`` say how the hand and face landmark coordinates were
    normalized (names of :data:`..preprocess.normalize.FORMULAS`, with any flags).
    """
    rules = [
        (r"source_id", "text", "pseudonymous id of the source file: an HMAC of its sha256 "
         "salted by `ingest.id_salt` (withheld); the same file gets the same id in one build"),
        (r"frame", "int", "index of the sampled frame in the video (0 for an image)"),
        (r"instance", "int", "index of the detection in the frame"),
        (r"timestamp_ms", "int", "time of the frame from the start of the video, ms (0 for an "
         "image)"),
        (r"label", "text", "the class, from the folder or the manifest"),
        (r"group", "text", "what never crosses the split: the subject or session folder, the "
         "manifest's group, or else the source file (pseudonymous)"),
        (r"image_(width|height)", "int", "size of the decoded image, pixels"),
        (r"(left_|right_)?handedness_score", "float", "MediaPipe's confidence in the "
         "handedness, 0-1"),
        (r"handedness", "text", "`Left` or `Right`, MediaPipe's label for the image as given "
         "(not mirrored)"),
        (r"(left|right)_hand_present|face_present", "0/1", "the part was found in the frame; "
         "an absent part's cells are empty"),
        (r"hands_side_resolved", "0/1", "both hands claimed one side: the higher handedness "
         "score kept it, the other took the free side"),
        (r"((left_hand|right_hand|face)_)?interpolated", "0/1", "filled by linear "
         "interpolation across a short gap of a video track"),
        (r"v_.*", "float", "per-second change of the landmark coordinate (videos; 0 for images)"),
        (r"(left_|right_)?world_.*_[xyz]", "float", "MediaPipe's world landmarks: metres, "
         "origin near the hand's centre (not normalized)"),
        (r"(left_|right_)?(" + "|".join(schema.HAND_LANDMARK_NAMES) + r")_[xyz]", "float",
         f"the 21 hand landmarks, normalized as {hand_scheme}"),
        (r"f\d{3}_[xyz]", "float", f"the 478 face landmarks (Face Mesh V2 indices), normalized as "
         f"{face_scheme}"),
        (r"bs_.*", "float", "the 52 face blendshape scores (ARKit names), 0-1"),
        (r"pose_\d\d", "float", "the 4x4 facial transformation matrix, row-major (`pose_<row>"
         "<col>`): head pose in MediaPipe's face-geometry frame (y up, z towards the camera), "
         "translation in cm"),
    ]
    groups: list[list] = []
    for col in columns:
        pattern, kind, meaning = next((r for r in rules if re.fullmatch(r[0], col)),
                                      (col, "?", ""))
        if groups and groups[-1][3] == pattern:
            groups[-1][0].append(col)
        else:
            groups.append([[col], kind, meaning, pattern])
    return [(_span(cols), kind, meaning) for cols, kind, meaning, _ in groups]


def _span(cols: list[str]) -> str:
    """``a`` or ``a ... z (n columns)``."""
    return f"`{cols[0]}`" if len(cols) == 1 else f"`{cols[0]}` ... `{cols[-1]}` ({len(cols)})"


RISK = {
    "raw_mesh": (
        "The face tables hold 478-point face meshes, the head pose and blendshapes. A face "
        "mesh describes the shape of a face closely enough to re-identify a person: anyone "
        "holding a photo or video of them can run the same model on it and match the mesh. "
        "No pixels, names or paths are published and ids are pseudonymous, but treat the face "
        "geometry as biometric personal data: publish it only with the subjects' consent, "
        "under terms that forbid re-identification, or rebuild with "
        "`preprocess.privacy=blendshapes`."),
    "pose_normalized": (
        "The face tables hold 478-point face meshes with the head pose removed, the pose "
        "itself and blendshapes. Removing the pose does not remove the shape of the face: the "
        "mesh can still re-identify a person matched against a photo of them. Treat it as "
        "biometric personal data (consent, terms that forbid re-identification), or rebuild "
        "with `preprocess.privacy=blendshapes`."),
    "blendshapes": (
        "The face tables hold the 52 blendshape scores only: no face landmarks and no head "
        "pose. Expression scores carry little of a face's shape, so re-identification is much "
        "harder, but not impossible: a person's expressions over a video can be distinctive, "
        "and labels or groups may say who they are."),
}


def render(build: Build) -> str:
    """The card: YAML header, then the Markdown body."""
    import yaml

    head = yaml.safe_dump(header(build), sort_keys=False, allow_unicode=True, width=100)
    mods = build.modalities()
    rows = [(t.modality, t.split, t.rows, len(t.labels), len(t.columns)) for t in build.tables]
    license_text = (
        f"**{build.license}**" if build.license != UNSET_LICENSE else
        "**not set** (`card.license: unknown`). This build does not say under which terms its "
        "data may be shared: it depends on your media and your subjects' consent, not on this "
        "tool. Set `card.license` (for example `cc-by-4.0`, `cc-by-nc-4.0`, `other`) before "
        "you publish it.")
    sections = [
        f"---\n{head}---\n",
        f"# {build.name}\n",
        "MediaPipe landmarks of labelled images and videos, for "
        + (", ".join(TASKS[m] for m in mods) if mods else "nothing: no table has a row")
        + ". Built by landmark-datasets with `dvc repro`: the raw media are not part of it. "
        "No pixels, no file names: landmarks, labels and pseudonymous ids.\n",
        f"License of the data: {license_text} The code that built it is Apache-2.0.\n",
        "## Tables\n",
        "Each table is published as Parquet (typed columns) and as CSV with the same rows and "
        "values: `<table>/<split>.parquet`, `<table>/<split>.csv`. The CSV prints floats with "
        "six decimals and the Parquet holds exactly those values. Text a spreadsheet would "
        "run as a formula (a label starting with `= + - @`) gets a leading `'` in the CSV "
        "only; read labels such as `None` or `NA` as text: `pd.read_csv(path, "
        "keep_default_na=False, na_values=[\"\"])`.\n",
        _md([("table", "split", "rows", "labels", "columns"), *rows]),
        "Train and test are grouped: a subject or session (the first folder below the "
        "label, or the manifest's group), else a source file (a video and all its frames), is "
        "never on both sides. **Splits are stable across versions**: a group's side is a "
        "salted hash of its id alone, so a later version of this dataset with files added or "
        "removed keeps every remaining row on the side it was on, and a model trained on one "
        "version never sees another version's test rows.\n",
        "## How it was made\n",
        "1. **ingest**: every file is hashed, decoded once to check it, and given its label "
        "and group; duplicates and unreadable files go to the ledger.\n"
        "2. **extract**: MediaPipe Tasks HandLandmarker and FaceLandmarker, IMAGE mode for "
        "images and VIDEO mode for the sampled frames of videos.\n"
        "3. **preprocess**: detections below the confidence and geometry thresholds go to "
        "the ledger; short gaps in video tracks are interpolated; coordinates are "
        "normalized (below).\n"
        "4. **validate**: Great Expectations checks the schema, value ranges and counts; a "
        "violation stops the build.\n"
        "5. **review**: " + _reviewed(build.reviewed) + "\n"
        "6. **split**: by group (subject, session or source), from a salted hash of its id: "
        "stable across versions.\n",
        f"Normalization: {build.preprocessing}\n",
        "## Columns\n",
        "Coordinates come from MediaPipe: x by image width and y by image height (both "
        "normalized to 0-1, a point can fall a little outside), z relative depth in about x's "
        "scale. Every scheme but `none` first converts to image-height units (x and z times "
        "width / height) so that distances are true to the image.\n",
    ]
    for modality in mods:
        table = next(t for t in build.tables if t.modality == modality)
        sections.append(f"### {modality}\n")
        sections.append(_md([("columns", "type", "meaning"), *column_groups(
            [c for c, _ in table.columns], build.schemes["holistic" if modality == "holistic"
                                                         else "hands"], build.schemes["faces"])]))
    sections += [
        "Hand landmark order: " + ", ".join(f"{i} `{n}`" for i, n in
                                             enumerate(schema.HAND_LANDMARK_NAMES)) + ".\n",
        "Hand connections (the skeleton): " + ", ".join(
            f"{a}-{b}" for a, b in schema.HAND_CONNECTIONS) + ".\n",
        "## Privacy\n",
        f"Privacy level: **{build.privacy}**. {RISK[build.privacy]}\n"
        + ("\nHands: hand landmarks describe a hand's proportions, a weak identifier on "
           "their own.\n" if "hands" in mods or "holistic" in mods else ""),
        "## Counts\n",
        _md([("table", "label", "rows"), *((f"{t.modality}/{t.split}", lab, n)
                                            for t in build.tables for lab, n in t.labels.items())]),
        "## Ledger: what is not in the tables, and why\n",
        "Every input file, frame or detection that is not in the tables is in `ledger.parquet` "
        "(and `ledger.csv`), with its stage, reason and a message; without file names.\n",
        _md([("reason", "rows"), *sorted(build.ledger.items())]),
    ]
    if build.evaluation:
        sections += ["## Baselines\n", "Test accuracy of the build's baseline classifiers "
                     "(trained on train; grouped cross-validation in the quality report):\n",
                     _md([("table", "model", "test accuracy"), *_baselines(build.evaluation)])]
    sections += [
        "## Provenance\n",
        _md([("model", "sha256"), *sorted(build.models.items())]),
        _md([("library", "version"), *sorted(build.libraries.items())]),
        f"Parameters (sha256 `{build.params_sha256}` of the text below):\n",
        f"```yaml\n{build.params_text.rstrip()}\n```\n",
        "## Citation\n",
        (f"```bibtex\n{build.citation.strip()}\n```\n" if build.citation.strip() else
         "Cite the data's creators (set `card.citation` to a BibTeX entry to print it here), "
         "and the tools:\n\n```bibtex\n" + TOOL_CITATION + "```\n"),
    ]
    return "\n".join(sections)


TOOL_CITATION = """@software{landmark_datasets,
  title = {landmark-datasets: reproducible, privacy-preserving landmark datasets},
  license = {Apache-2.0},
}
@article{lugaresi2019mediapipe,
  title = {MediaPipe: A Framework for Building Perception Pipelines},
  author = {Lugaresi, Camillo and others},
  journal = {arXiv preprint arXiv:1906.08172},
  year = {2019},
}
"""


def _reviewed(summary: dict) -> str:
    """One sentence: how the labels were verified by hand (``reviews.csv``), or that not yet."""
    applied = summary.get("applied", {})
    if not any(a["decisions"] for a in applied.values()):
        return ("no label was reviewed by hand yet; labels are as the folders or the "
                "manifest gave them.")
    parts = ", ".join(f"{a['rows']} rows {verb}" for kind, verb in
                      (("keep", "confirmed"), ("relabel", "relabelled"), ("drop", "dropped"))
                      if (a := applied.get(kind, {"rows": 0}))["rows"])
    return (f"labels were verified by hand from a ranked review queue (confident learning "
            f"on out-of-fold predictions): {parts}; the decisions, with reviewer and date, "
            "are in the repository's `reviews.csv`, dropped rows in the ledger as "
            "`review_drop`.")


def _baselines(evaluation: dict):
    for table, result in evaluation.items():
        for model, scores in result.items():
            if isinstance(scores, dict) and "test" in scores:
                yield table, model, scores["test"].get("accuracy", "")


def _md(rows: list) -> str:
    head, *body = rows
    if not body:
        return "_(none)_\n"
    lines = ["| " + " | ".join(map(str, head)) + " |", "|" + "---|" * len(head)]
    lines += ["| " + " | ".join(str(v).replace("|", "\\|") for v in r) + " |" for r in body]
    return "\n".join(lines) + "\n"


def _arrow_type(t: str) -> str:
    if t.startswith(("int", "uint")):
        return "sc:Integer"
    return CROISSANT_TYPES.get(t, "sc:Text")


def croissant(build: Build) -> dict:
    """Croissant 1.0 metadata of the published Parquet files: one record set per table."""
    files = [{"@type": "cr:FileObject", "@id": t.path, "name": t.path, "contentUrl": t.path,
              "encodingFormat": "application/x-parquet", "sha256": t.sha256}
             for t in build.tables if t.modality in build.modalities()]
    files.append({"@type": "cr:FileObject", "@id": "ledger.parquet", "name": "ledger.parquet",
                  "contentUrl": "ledger.parquet", "encodingFormat": "application/x-parquet",
                  "sha256": build.ledger_sha256})
    sets = [_record_set(f"{t.modality}_{t.split}", t.path, t.columns,
                        f"{t.modality}, {t.split} split: {t.rows} rows")
            for t in build.tables if t.modality in build.modalities()]
    sets.append(_record_set("ledger", "ledger.parquet", build.ledger_columns,
                            "what is not in the tables, and why"))
    mods = build.modalities()
    out = {
        "@context": CROISSANT_CONTEXT,
        "@type": "sc:Dataset",
        "name": build.name,
        "description": (
            "MediaPipe landmarks of labelled images and videos ("
            + (", ".join(TASKS[m] for m in mods) or "no rows") + "). "
            f"Normalization: {build.preprocessing.splitlines()[0].replace('**', '')} "
            f"Models (sha256): {', '.join(f'{k} {v}' for k, v in sorted(build.models.items()))}."
            f" Params sha256: {build.params_sha256}. See README.md, the dataset card."),
        "conformsTo": "http://mlcommons.org/croissant/1.0",
        "version": build.version,
        "license": build.license,
        "keywords": header(build)["tags"],
        "citeAs": build.citation.strip() or TOOL_CITATION.split("\n@article")[0].strip(),
        "distribution": files,
        "recordSet": sets,
    }
    return out


def _record_set(name: str, file_id: str, columns: list[tuple[str, str]], what: str) -> dict:
    return {"@type": "cr:RecordSet", "@id": name, "name": name, "description": what,
            "field": [{"@type": "cr:Field", "@id": f"{name}/{col}", "name": col,
                       "dataType": _arrow_type(kind),
                       "source": {"fileObject": {"@id": file_id}, "extract": {"column": col}}}
                      for col, kind in columns]}
