"""Report: the data-quality report (Markdown + plots), DVC metrics and DVC plot data.

Entry point: ``stages/report.py`` (reads params, calls these functions, writes outputs).

The report shows counts and aggregates only: no pixels, no file names.
"""
from __future__ import annotations

import importlib.metadata
import logging
from pathlib import Path

import pandas as pd

from landmark_datasets.core import paths, schema, storage
from landmark_datasets.extract import models
from landmark_datasets.report.quality import describe_preprocessing, modality_status

log = logging.getLogger("report")

SPLITS = ("train", "test")
LIBRARIES = ("mediapipe", "opencv-python-headless", "numpy", "pandas", "scikit-learn", "dvc",
             "hydra-core", "great-expectations", "pyarrow", "matplotlib")


#: Columns the report does not read, per table: the face mesh and head pose of the faces
#: table (it shows their blendshapes), 1,450 of its 1,511 columns.
UNREAD = {"faces": frozenset({*schema.FACE_LANDMARK_COLUMNS, *schema.POSE_COLUMNS})}


def load_dataset(root: Path = paths.DATASET) -> dict[str, pd.DataFrame]:
    """``{modality: table}`` with a ``split`` column, from the published tables (Parquet).

    Without the :data:`UNREAD` columns.
    """
    import pyarrow.parquet as pq

    out = {}
    for modality in schema.MODALITIES:
        parts = []
        for s in SPLITS:
            path = root / modality / f"{s}.parquet"
            skip = UNREAD.get(modality, frozenset())
            part = pd.read_parquet(path, columns=[
                c for c in pq.read_schema(path).names if c not in skip])
            parts.append(pd.concat([part, pd.Series(s, index=part.index, name="split")], axis=1))
        out[modality] = pd.concat(parts, ignore_index=True)
    return out


def class_balance(tables: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """Rows per modality, label and split."""
    rows = [
        {"modality": m, "label": label, "split": s, "rows": int(n)}
        for m, t in tables.items() for (label, s), n in t.groupby(["label", "split"]).size().items()
    ]
    return pd.DataFrame(rows, columns=["modality", "label", "split", "rows"])


def detection_rate(items: pd.DataFrame, frames: pd.DataFrame, extract_ledger: pd.DataFrame
                   ) -> pd.DataFrame:
    """Per modality and label: frames offered, frames with a detection, and their ratio.

    A frame counts as detected when extract found at least one instance in it (whether or not
    preprocess later kept it); the rate measures the landmarker, not the filters.
    """
    offered = frames.merge(items[["item", "modality", "label"]], on="item")
    offered = offered.groupby(["modality", "label"]).size().rename("frames")
    missed = (extract_ledger.loc[extract_ledger["reason"] == "no_detection"]
              .groupby(["modality", "label"]).size().rename("missed"))
    unread = (extract_ledger.loc[extract_ledger["reason"] != "no_detection"]
              .groupby(["modality", "label"]).size().rename("unreadable"))
    df = pd.concat([offered, missed, unread], axis=1).fillna(0).astype(int).reset_index()
    df["detected"] = df["frames"] - df["missed"] - df["unreadable"]
    df["rate"] = (df["detected"] / df["frames"].where(df["frames"] > 0)).round(4)
    return df[["modality", "label", "frames", "detected", "rate"]]






















def group_table(items: pd.DataFrame, tables: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """Per modality and label: groups offered, where they came from, and groups per split.

    ``from`` counts the groups by origin (a subject folder, the manifest, the file itself);
    ``train``/``test`` count the groups of the published rows on each side.
    """
    rows = []
    for (m, label), mine in items.groupby(["modality", "label"], sort=True):
        origin = mine.drop_duplicates("group")["group_from"].value_counts().sort_index()
        table = tables.get(m, pd.DataFrame(columns=["label", "group", "split"]))
        kept = table.loc[table["label"] == label]
        rows.append({
            "modality": m, "label": label, "groups": int(mine["group"].nunique()),
            "from": ", ".join(f"{k} {v}" for k, v in origin.items()),
            **{s: int(kept.loc[kept["split"] == s, "group"].nunique()) for s in SPLITS}})
    return pd.DataFrame(rows, columns=["modality", "label", "groups", "from", *SPLITS])


def group_warnings(groups: pd.DataFrame, items: pd.DataFrame, fold_labels: bool) -> list[str]:
    """What a reviewer should know about the groups and labels: one sentence each.

    A label with a single group cannot be on both sides of the split; one with published
    rows on one side only is not tested (or not trained); labels that differ only in spelling
    (:func:`..core.schema.spelling_variants`) are probably one class.
    """
    out = []
    for r in groups.itertuples(index=False):
        if r.groups == 1:
            out.append(f"{r.modality} `{r.label}` has a single group: all its rows are on one "
                       "side of the split; add subjects or sessions to test it")
        elif (r.train == 0) != (r.test == 0):
            side, other = ("train", "test") if r.test == 0 else ("test", "train")
            out.append(f"{r.modality} `{r.label}`: its {r.groups} groups all hashed to {side}, "
                       f"none to {other}; more groups (or another split.salt) fix that")
    for names in schema.spelling_variants(items["label"]):
        out.append(f"labels {', '.join(f'`{n}`' for n in names)} differ only in case, spacing "
                   "or Unicode form and are separate classes; rename them, or set "
                   "ingest.fold_labels=true to merge them")
    if fold_labels:
        out.append("ingest.fold_labels is on: labels that differ only in case, spacing or "
                   "Unicode form were merged into their most common spelling")
    return out


def blendshape_profile(faces: pd.DataFrame, top: int = 12) -> pd.DataFrame:
    """Mean blendshape score per label for the ``top`` most variable blendshapes."""
    means = faces.groupby("label")[list(schema.BLENDSHAPE_COLUMNS)].mean()
    if means.empty:
        return means
    chosen = means.std(axis=0).sort_values(ascending=False, kind="stable").index[:top]
    return means[sorted(chosen)]






def provenance(extract_params) -> dict:
    """Model sha256s and library versions."""
    paths = (extract_params.hands.model_asset_path, extract_params.faces.model_asset_path)
    return {
        "models": {Path(p).name: models.model_sha256(p) for p in paths},
        "libraries": {lib: importlib.metadata.version(lib) for lib in LIBRARIES},
    }








def presence_rates(holistic: pd.DataFrame) -> pd.DataFrame:
    """Per label: holistic rows, and the share of them with each part and with parts together."""
    left, right, face = (holistic[c].to_numpy() == 1 for c in schema.PRESENCE_COLUMNS)
    parts = pd.DataFrame({
        "label": holistic["label"].to_numpy(), "left hand": left, "right hand": right,
        "face": face, "face and a hand": face & (left | right), "both hands": left & right,
        "all three": face & left & right})
    out = parts.groupby("label").mean().round(3)
    out.insert(0, "rows", parts.groupby("label").size())
    return out.reset_index()


def gap_rows(gaps: dict) -> pd.DataFrame:
    """The gap statistics as rows: one per modality, one per part of holistic rows."""
    rows = []
    for m in schema.MODALITIES:
        stats = gaps.get(m, {})
        if "filled" in stats:
            rows.append({"modality": m, **stats})
        else:
            rows += [{"modality": f"{m}: {part.replace('_', ' ')}", **v}
                     for part, v in stats.items()]
    return pd.DataFrame(rows)










def metrics(ctx: dict) -> dict:
    """The DVC metrics: rows per split, detection rates, ledger counts, validation.

    A modality with no frames has no ``detection_rate`` (not 0.0, which would read as a result).
    """
    out: dict = {"validation_success": bool(ctx["validation"]["success"])}
    for m in schema.MODALITIES:
        b = ctx["balance"][ctx["balance"]["modality"] == m]
        d = ctx["detection"][ctx["detection"]["modality"] == m]
        frames = int(d["frames"].sum())
        out[m] = {
            "rows_train": int(b.loc[b["split"] == "train", "rows"].sum()),
            "rows_test": int(b.loc[b["split"] == "test", "rows"].sum()),
            "labels": int(b["label"].nunique()),
            "frames": frames,
        }
        if frames:
            out[m]["detection_rate"] = round(float(d["detected"].sum()) / frames, 4)
    out["ledger"] = {str(r): int(n) for r, n in zip(ctx["reasons"]["reason"],
                                                   ctx["reasons"]["rows"], strict=True)}
    out["evaluate"] = ctx["evaluation_raw"]
    out["gaps"] = {m: ctx["gaps"][m] for m in schema.MODALITIES}
    return out








def evaluation_table(evaluation: dict) -> pd.DataFrame:
    """One row per modality and model: CV and test accuracy / macro-F1, test recall per label."""
    rows = []
    for modality, result in evaluation.items():
        for model in schema.CLASSIFIERS:
            if model not in result:
                continue
            cv, test = result[model].get("cv", {}), result[model].get("test", {})
            if not cv and not test:
                continue  # nothing scored: the reasons are listed under the table
            rows.append({
                "modality": modality, "model": model,
                "cv accuracy": cv.get("accuracy", "-"), "cv macro-F1": cv.get("macro_f1", "-"),
                "test accuracy": test.get("accuracy", "-"),
                "test macro-F1": test.get("macro_f1", "-"),
                "test recall": ", ".join(f"{k} {v:.2f}" for k, v in
                                         test.get("recall", {}).items()) or "-",
            })
    return pd.DataFrame(rows)


def load_confusions() -> dict[str, pd.DataFrame]:
    """Evaluate's test predictions per modality (actual, predicted), those that have rows."""
    return {m: c for m in schema.MODALITIES
            if len(c := storage.read_table(paths.confusion_plot(m)))}


def context(tables: dict[str, pd.DataFrame], items: pd.DataFrame, frames: pd.DataFrame,
            ledger: pd.DataFrame, params, evaluation: dict, gaps: dict, review: pd.DataFrame,
            validation: dict, review_summary: dict) -> dict:
    """Everything the report says, computed once: counts, aggregates, scores, statuses.

    :func:`.quality.render` writes it as text, :func:`metrics` as DVC
    metrics, :func:`.figures.draw` as figures (added as ``"figures"``).
    """
    from landmark_datasets.core import params as params_mod

    rows = {m: len(t) for m, t in tables.items()}
    labels = {lab for t in tables.values() for lab in t["label"]}
    return {
        "evaluation": evaluation_table(evaluation), "evaluation_raw": evaluation,
        "review": review, "review_summary": review_summary,
        "gaps": gaps,
        # labels the CSVs neutralize (the tables read here are the Parquet, with true text)
        "neutralized": sum(str(label).startswith(schema.FORMULA_PREFIXES) for label in labels),
        "scheme": describe_preprocessing(params.preprocess),
        "validation": validation,
        "balance": class_balance(tables),
        "groups": (groups := group_table(items, tables)),
        "group_warnings": group_warnings(groups, items, params.ingest.fold_labels),
        "detection": detection_rate(items, frames, ledger[ledger["stage"] == "extract"]),
        "reasons": (ledger.groupby(["stage", "reason"]).size().rename("rows").reset_index()
                    .sort_values(["stage", "reason"]).reset_index(drop=True)),
        "blendshapes": blendshape_profile(tables["faces"]),
        "rows": rows, "holistic": tables[schema.HOLISTIC],
        "presence": presence_rates(tables[schema.HOLISTIC]) if rows[schema.HOLISTIC] else None,
        "gap_rows": gap_rows(gaps),
        "status": {m: modality_status(m, rows[m], items, frames, ledger)
                   for m in schema.MODALITIES},
        "figures": {}, "provenance": provenance(params.extract),
        "params_text": params_mod.dataset_params_text(),
    }
