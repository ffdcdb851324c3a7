"""Report: the data-quality report (Markdown + plots), DVC metrics and DVC plot data.

Entry point: ``stages/report.py`` (reads params, calls these functions, writes outputs).

The report shows counts and aggregates only: no pixels, no file names.
"""
from __future__ import annotations

import importlib.metadata
import logging
from pathlib import Path

import numpy as np
import pandas as pd

from landmark_datasets import models, paths, schema, storage

log = logging.getLogger("report")

FIGURES = paths.FIGURES
SPLITS = ("train", "test")
LIBRARIES = ("mediapipe", "opencv-python-headless", "numpy", "pandas", "scikit-learn", "dvc",
             "hydra-core", "great-expectations", "pyarrow", "matplotlib")


def load_dataset(root: Path = paths.DATASET) -> dict[str, pd.DataFrame]:
    """``{modality: table}`` with a ``split`` column, from the published CSVs."""
    out = {}
    for modality in schema.MODALITIES:
        parts = []
        for s in SPLITS:
            part = storage.read_table(root / modality / f"{s}.csv")
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


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plt.rcParams.update({"svg.hashsalt": "landmark-datasets", "figure.autolayout": True})
    return plt


def _save(fig, name: str, dpi: int) -> str:
    path = FIGURES / f"{name}.png"
    with storage.atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=dpi, format="png", metadata={"Software": None})
    _plt().close(fig)
    return f"figures/{name}.png"


def remove_stale_figures(keep: set[str]) -> None:
    """Delete figures of an earlier build that this one did not draw (``keep``: figures/x.png)."""
    FIGURES.mkdir(parents=True, exist_ok=True)
    for old in FIGURES.glob("*.png"):
        if f"figures/{old.name}" not in keep:
            old.unlink()


def plot_bars(df: pd.DataFrame, index: str, columns: str, values: str, title: str, name: str,
              dpi: int) -> str:
    """A grouped bar chart of ``values`` by ``index`` and ``columns``."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(7, 3.5))
    if len(df):
        df.pivot_table(index=index, columns=columns, values=values, aggfunc="sum",
                       fill_value=0).plot.bar(ax=ax, rot=30)
    ax.set_title(title)
    return _save(fig, name, dpi)


def plot_hand_skeletons(hands: pd.DataFrame, scheme: str, dpi: int) -> str:
    """The mean normalized hand of each label, drawn as a skeleton."""
    plt = _plt()
    labels = sorted(hands["label"].unique())
    fig, axes = plt.subplots(1, max(len(labels), 1), figsize=(3 * max(len(labels), 1), 3.2),
                             squeeze=False)
    for ax, label in zip(axes[0], labels, strict=False):
        pts = hands.loc[hands["label"] == label, list(schema.HAND_LANDMARK_COLUMNS)]
        mean = pts.to_numpy(dtype=np.float64).mean(axis=0).reshape(-1, 3)
        for a, b in schema.HAND_CONNECTIONS:
            ax.plot(mean[[a, b], 0], -mean[[a, b], 1], color="tab:blue", lw=2)
        ax.scatter(mean[:, 0], -mean[:, 1], s=12, color="tab:red", zorder=3)
        ax.set_title(f"{label} (n={len(pts)})")
        ax.set_aspect("equal")
        ax.set_xticks([])
        ax.set_yticks([])
    fig.suptitle(f"Mean hand per label (scheme: {scheme})")
    return _save(fig, "hand_skeletons", dpi)


def _draw_hand(ax, points: np.ndarray, color: str) -> None:
    for a, b in schema.HAND_CONNECTIONS:
        ax.plot(points[[a, b], 0], -points[[a, b], 1], color=color, lw=1.5)
    ax.scatter(points[:, 0], -points[:, 1], s=6, color=color, zorder=3)


def _mean_part(rows: pd.DataFrame, part: str) -> tuple[np.ndarray | None, int]:
    """The mean landmarks (n, 3) of ``part`` over the rows that have it, and how many do."""
    cols = schema.part_landmark_columns(part)
    have = rows[rows[f"{part}_present"].to_numpy() == 1]
    if not len(have) or cols[0] not in rows.columns:
        return None, len(have)
    return have[cols].to_numpy(dtype=np.float64).mean(axis=0).reshape(-1, 3), len(have)


#: Colours of the holistic parts in the skeleton figure.
PART_COLORS = {"left_hand": "tab:blue", "right_hand": "tab:orange", "face": "tab:gray"}


def plot_holistic_skeletons(holistic: pd.DataFrame, together: bool, caption: str,
                            dpi: int) -> str:
    """The mean holistic skeleton of each label: both hands and the face mesh.

    Each part is averaged over the rows that have it. ``together``: the parts share one frame
    (hands in the face's frame, face interocular), so they are drawn in one panel where they
    are relative to each other; otherwise each part has its own panel in its own scheme.
    """
    plt = _plt()
    labels = sorted(holistic["label"].unique())
    parts = [None] if together else list(schema.PARTS)
    fig, axes = plt.subplots(len(parts), len(labels), squeeze=False,
                             figsize=(2.8 * len(labels), 2.8 * len(parts) + 0.6))
    for col, label in enumerate(labels):
        rows = holistic[holistic["label"] == label]
        for row, only in enumerate(parts):
            ax = axes[row][col]
            counts = []
            for part in [only] if only else schema.PARTS:
                mean, n = _mean_part(rows, part)
                counts.append(f"{part.replace('_hand', '')} {n}")
                if mean is None:
                    continue
                if part == "face":
                    ax.scatter(mean[:, 0], -mean[:, 1], s=1, color=PART_COLORS[part])
                else:
                    _draw_hand(ax, mean, PART_COLORS[part])
            title = f"{label} (n={len(rows)})" if row == 0 else ""
            ax.set_title(f"{title}\n{', '.join(counts)}".strip(), fontsize=8)
            ax.set_aspect("equal", adjustable="datalim")
            ax.set_xticks([])
            ax.set_yticks([])
    fig.suptitle(f"Mean holistic skeleton per label ({caption})", fontsize=10)
    return _save(fig, "holistic_skeletons", dpi)


def plot_handedness(hands: pd.DataFrame, dpi: int) -> str:
    """Handedness counts and the distribution of handedness scores."""
    plt = _plt()
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(8, 3))
    counts = hands["handedness"].value_counts().reindex(list(schema.HANDEDNESS), fill_value=0)
    a1.bar(counts.index, counts.to_numpy(), color=["tab:orange", "tab:green"])
    a1.set_title("Handedness")
    a2.hist(hands["handedness_score"], bins=np.linspace(0, 1, 21), color="tab:blue")
    a2.set_title("Handedness score")
    return _save(fig, "handedness", dpi)


def blendshape_profile(faces: pd.DataFrame, top: int = 12) -> pd.DataFrame:
    """Mean blendshape score per label for the ``top`` most variable blendshapes."""
    means = faces.groupby("label")[list(schema.BLENDSHAPE_COLUMNS)].mean()
    if means.empty:
        return means
    chosen = means.std(axis=0).sort_values(ascending=False, kind="stable").index[:top]
    return means[sorted(chosen)]


def plot_confusion(confusions: dict[str, pd.DataFrame], dpi: int) -> str:
    """Test-set confusion matrices (counts) of the first evaluate model, one panel a modality."""
    plt = _plt()
    fig, axes = plt.subplots(1, len(confusions), figsize=(4.5 * len(confusions), 4),
                             squeeze=False)
    for ax, (modality, df) in zip(axes[0], confusions.items(), strict=True):
        labels = sorted(set(df["actual"]) | set(df["predicted"]))
        counts = pd.crosstab(df["actual"], df["predicted"]).reindex(
            index=labels, columns=labels, fill_value=0) if len(df) else pd.DataFrame()
        if not counts.empty:
            ax.imshow(counts.to_numpy(), cmap="Blues")
            for (i, j), n in np.ndenumerate(counts.to_numpy()):
                ax.text(j, i, str(n), ha="center", va="center", fontsize=8)
            ax.set_xticks(range(len(labels)), labels, rotation=45, ha="right")
            ax.set_yticks(range(len(labels)), labels)
        ax.set_xlabel("predicted")
        ax.set_ylabel("actual")
        ax.set_title(f"{modality} (test)")
    fig.suptitle("Confusion matrices")
    return _save(fig, "confusion", dpi)


def plot_blendshapes(profile: pd.DataFrame, dpi: int) -> str:
    """Heat map of the blendshape profile per expression label."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(9, 0.5 * max(len(profile), 1) + 2))
    if not profile.empty:
        im = ax.imshow(profile.to_numpy(), vmin=0, vmax=1, cmap="viridis", aspect="auto")
        ax.set_xticks(range(profile.shape[1]),
                      [c.removeprefix("bs_") for c in profile.columns], rotation=60, ha="right")
        ax.set_yticks(range(len(profile)), profile.index)
        fig.colorbar(im, ax=ax, label="mean score")
    ax.set_title("Blendshape profile per label (most variable blendshapes)")
    return _save(fig, "blendshapes", dpi)


def provenance(extract_params) -> dict:
    """Model sha256s and library versions."""
    paths = (extract_params.hands.model_asset_path, extract_params.faces.model_asset_path)
    return {
        "models": {Path(p).name: models.model_sha256(p) for p in paths},
        "libraries": {lib: importlib.metadata.version(lib) for lib in LIBRARIES},
    }


def _md_table(df: pd.DataFrame) -> str:
    if df.empty:
        return "_(none)_\n"
    cols = [str(c) for c in df.columns]
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    lines += ["| " + " | ".join(str(v) for v in row) + " |" for row in df.itertuples(index=False)]
    return "\n".join(lines) + "\n"


def modality_status(modality: str, rows: int, items: pd.DataFrame, frames: pd.DataFrame,
                    ledger: pd.DataFrame) -> str:
    """One sentence: what the build holds of ``modality``, or why it holds nothing.

    ``ledger`` is the published ledger; files ledgered before they had a modality (hidden,
    unlabelled) are counted in the ledger section, not here.
    """
    noun = schema.NOUNS[modality]
    mine = items[items["modality"] == modality]
    offered = int(frames["item"].isin(mine["item"]).sum())
    gone = ledger[ledger["modality"] == modality]
    why = ", ".join(f"{r} {n}" for r, n in gone["reason"].value_counts().sort_index().items())
    if rows:
        return (f"{_n(rows, noun + ' row')} from {_n(len(mine), 'item')} "
                f"({_n(offered, 'frame')}), {_n(mine['label'].nunique(), 'label')}; "
                f"{len(gone)} {noun} files, frames or detections in the ledger"
                + (f" ({why})" if why else "") + ".")
    if not len(mine) and not len(gone):
        return (f"No {modality} in this build: the input has no {modality} media (nothing "
                f"under `{modality}/<label>/`, no manifest row with modality `{modality}`).")
    files = int(len(mine) + (gone["stage"] == "ingest").sum())
    return (f"No {modality} kept: {_n(files, noun + ' file')} ({_n(offered, 'frame')} to "
            f"extract), all in the ledger: {why or 'no reason recorded'}.")


def _n(count: int, noun: str) -> str:
    """``1 frame``, ``2 frames``."""
    return f"{count} {noun}{'s' * (count != 1)}"


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


def _holistic_section(ctx: dict) -> str:
    if not ctx["rows"][schema.HOLISTIC]:
        return ""
    table = ctx["holistic"]
    resolved = int(table[schema.SIDE_RESOLVED].sum())
    return (_md_table(presence_rates(table)) + "\n"
            + _figure(ctx, "presence", "parts present per label") + "\n"
            f"Both hands claimed the same side in {resolved} frames: the hand with the higher "
            "handedness score kept it and the other took the free side "
            "(flagged `hands_side_resolved`).\n\n"
            + _figure(ctx, "holistic_skeletons", "mean holistic skeleton per label"))


def _figure(ctx: dict, key: str, alt: str) -> str:
    path = ctx["figures"].get(key)
    return f"![{alt}]({path})\n" if path else ""


def _evaluation_section(ctx: dict) -> str:
    """Scores per modality and model, and a line for every score that could not be computed."""
    lines = []
    for modality, result in ctx["evaluation_raw"].items():
        for key, what in (("skipped", "not evaluated"), ("cv_skipped", "no cross-validation"),
                          ("test_skipped", "no test scores"),
                          ("review_skipped", "no label review")):
            if key in result:
                lines.append(f"- {modality}: {what}: {result[key]}.")
    return (_md_table(ctx["evaluation"]) + ("\n" + "\n".join(lines) + "\n" if lines else "")
            + ("\n" + _figure(ctx, "confusion", "confusion matrices")
               if ctx["figures"].get("confusion") else ""))


def render(ctx: dict) -> str:
    """The Markdown text of ``reports/quality.md``."""
    v = ctx["validation"]
    n_exp = sum(len(r) for per in v["results"].values() for r in per.values())
    n_bad = sum(not x["success"] for per in v["results"].values() for r in per.values() for x in r)
    balance = ctx["balance"].pivot_table(index=["modality", "label"], columns="split",
                                         values="rows", aggfunc="sum", fill_value=0
                                         ).astype(int).reset_index() if len(ctx["balance"]) \
        else ctx["balance"]
    status = ctx["status"]
    nothing = ("\n**Nothing was kept**: no table has a row. Why is in the ledger section "
               "below.\n" if not any(ctx["rows"].values()) else "")
    prov = ctx["provenance"]
    hands = (_figure(ctx, "handedness", "handedness") + "\n"
             + _figure(ctx, "skeletons", "mean hand per label")) if ctx["rows"]["hands"] else ""
    faces = (_md_table(ctx["blendshapes"].round(3).reset_index()) + "\n"
             + _figure(ctx, "blendshapes", "blendshapes")) if ctx["rows"]["faces"] else ""
    return f"""# Data-quality report

Validation: **{'passed' if v['success'] else 'FAILED'}**
({n_exp - n_bad}/{n_exp} expectations; full result in `reports/validation.json`).

Normalization: {ctx['scheme']}

Published tables hold landmarks, labels and pseudonymous ids only: no pixels, no file names.
Text a spreadsheet would run as a formula (starting with `= + - @`) is published with a
leading `'` (CSV injection): {ctx['neutralized']} such labels here.

## What this build holds
{nothing}
{"".join(f"- {m}: {status[m]}" + chr(10) for m in schema.MODALITIES)}
## Rows per label and split

{_md_table(balance)}
{_figure(ctx, 'balance', 'class balance')}
## Detection rate per label

A frame is detected when the landmarker found at least one hand or face in it.

{_md_table(ctx['detection'])}
{_figure(ctx, 'detection', 'detection rate')}
## Hands

{status['hands']}

{hands}
## Faces: blendshape profile per label

{status['faces']}

{faces}
## Holistic: both hands and the face of each frame

{status['holistic']} Share of each label's rows with each part present:

{_holistic_section(ctx)}
## Baseline classifiers (evaluate)

Trained on train, scored on test; cross-validation is grouped by source and stratified by
label, on train only. Features: the published landmark columns (and blendshapes for faces),
normalized as stated at the top; holistic rows add the presence flags, an absent part's cells
counting as 0. `holistic sequences`: one sample per labelled video or time range of the
holistic table (at least 2 frames), its features the mean, standard deviation, minimum and
maximum of each row feature over its frames, since signs are sequences. Confusion matrices:
`dvc plots show`. A score that could not be computed is left out, with the reason, rather than
shown as a number.

{_evaluation_section(ctx)}
**Label review**: {ctx['review_count']} rows whose out-of-fold prediction confidently disagrees
with their label (`reports/label_review.csv`; ids are pseudonymous, look them up in your own
inventory before relabelling):

{_md_table(ctx['review'].head(20))}
## Video gaps

Gaps of at most {ctx['gaps']['max_gap_frames']} sampled frames in a video track are filled by
linear interpolation and flagged `interpolated = 1`; longer gaps stay missing.

{_md_table(gap_rows(ctx['gaps']))}
## Ledger: what is not in the tables, and why

Every input file or frame that is not in the tables is in `data/dataset/ledger.csv`.

{_md_table(ctx['reasons'])}
{_figure(ctx, 'reasons', 'ledger reasons')}
## Provenance

{_md_table(pd.DataFrame(sorted(prov['models'].items()), columns=['model', 'sha256']))}
{_md_table(pd.DataFrame(sorted(prov['libraries'].items()), columns=['library', 'version']))}
Parameters (`params.yaml`):

```yaml
{ctx['params_text'].rstrip()}
```
"""


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


PRIVACY_TEXT = {
    "raw_mesh": "the face mesh (478 landmarks), blendshapes and head pose",
    "pose_normalized": "the face mesh with head pose removed, blendshapes and head pose",
    "blendshapes": "blendshape scores only: no face landmarks, no head pose",
}


def describe_preprocessing(pre) -> str:
    """One line: the hand scheme and flags, the face scheme and what the face table publishes."""
    flags = [f for f in schema.HAND_FLAGS if getattr(pre, f)]
    hands = pre.scheme + "".join(f" + {f}" for f in flags)
    faces = pre.face_scheme if pre.privacy != "blendshapes" else "(no landmarks)"
    from landmark_datasets.normalize import FORMULAS

    used = [pre.scheme, *flags] + ([pre.face_scheme] if pre.privacy != "blendshapes" else [])
    formulas = "".join(f"\n- `{name}`: {FORMULAS[name]}" for name in dict.fromkeys(used))
    return (f"hands **{hands}**, faces **{faces}**. Privacy: **{pre.privacy}**, the published "
            f"face table holds {PRIVACY_TEXT[pre.privacy]}.\n{formulas}")


def holistic_frames(pre) -> tuple[bool, str]:
    """Whether the holistic parts share one frame (so one panel shows them), and a caption."""
    if pre.holistic_hands == "face_frame" and pre.face_scheme == "interocular":
        return True, "hands in the face's frame, face interocular: eye midpoint at 0, eyes 1 apart"
    hands = pre.scheme if pre.holistic_hands == "own" else "the face's frame"
    return False, f"hands: {hands}; face: {pre.face_scheme}; each part in its own frame"


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



