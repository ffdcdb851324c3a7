"""The report's figures (matplotlib, headless): what :func:`draw` draws, and only what has data.

A figure is a PNG under ``reports/figures/``, written atomically with no timestamp in it, so the
same tables draw the same bytes. A section without data draws nothing: the report says why.
"""

from __future__ import annotations

import functools

import numpy as np
import pandas as pd

from landmark_datasets.core import paths, schema, storage

FIGURES = paths.FIGURES


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


def holistic_frames(pre) -> tuple[bool, str]:
    """Whether the holistic parts share one frame (so one panel shows them), and a caption."""
    if pre.holistic_hands == "face_frame" and pre.face_scheme == "interocular":
        return True, "hands in the face's frame, face interocular: eye midpoint at 0, eyes 1 apart"
    hands = pre.scheme if pre.holistic_hands == "own" else "the face's frame"
    return False, f"hands: {hands}; face: {pre.face_scheme}; each part in its own frame"


def draw(ctx: dict, tables: dict[str, pd.DataFrame], confusions: dict[str, pd.DataFrame],
         pre, dpi: int, cache=None) -> dict[str, str]:
    """Every figure that has data, as ``{key: "figures/<name>.png"}``; the others are removed.

    ``ctx`` is :func:`.report.context`'s; ``pre`` the preprocess params.
    ``cache``: a landmark cache where each figure's PNG is remembered under the digest of
    what it is drawn from (:func:`remembered`): a sweep of the hand scheme draws the hand
    figures only.
    """
    balance, detection, reasons = ctx["balance"], ctx["detection"], ctx["reasons"]
    rows, profile = ctx["rows"], ctx["blendshapes"]
    holistic = tables[schema.HOLISTIC]
    # per figure: whether it has data, what it is drawn from (all of it), how to draw it
    make = {
        "balance": (len(balance), (balance,), lambda: plot_bars(
            balance.assign(group=balance["modality"] + "/" + balance["label"]),
            "group", "split", "rows", "Rows per label and split", "balance", dpi)),
        "detection": (len(detection), (detection,), lambda: plot_bars(
            detection.assign(group=detection["modality"] + "/" + detection["label"],
                             what="rate"),
            "group", "what", "rate", "Detection rate per label", "detection", dpi)),
        "handedness": (rows["hands"], (tables["hands"],),
                       lambda: plot_handedness(tables["hands"], dpi)),
        "skeletons": (rows["hands"], (tables["hands"], pre.scheme),
                      lambda: plot_hand_skeletons(tables["hands"], pre.scheme, dpi)),
        "blendshapes": (not profile.empty, (profile,), lambda: plot_blendshapes(profile, dpi)),
        "presence": (rows[schema.HOLISTIC], (ctx["presence"],), lambda: plot_bars(
            ctx["presence"].melt(
                id_vars=["label"], value_vars=["left hand", "right hand", "face"],
                var_name="part", value_name="rate"),
            "label", "part", "rate", "Holistic rows: parts present per label", "presence", dpi)),
        "holistic_skeletons": (rows[schema.HOLISTIC], (holistic, holistic_frames(pre)),
                               lambda: plot_holistic_skeletons(holistic, *holistic_frames(pre),
                                                               dpi)),
        "reasons": (len(reasons), (reasons,), lambda: plot_bars(
            reasons.assign(what="rows"), "reason", "stage", "rows", "Ledger reasons",
            "reasons", dpi)),
        "confusion": (bool(confusions), (confusions,), lambda: plot_confusion(confusions, dpi)),
    }
    figures = {k: remembered(cache, k, (dpi, *inputs), draw_one)
               for k, (has_data, inputs, draw_one) in make.items() if has_data}
    remove_stale_figures(set(figures.values()))
    return figures


#: The namespace of figures in the landmark cache.
MEMO = "figures"


def digest(value) -> str:
    """sha256 of what a figure is drawn from: tables, dicts and tuples of them, text, numbers.

    A table's every cell, column name and dtype count.
    """
    import hashlib

    h = hashlib.sha256()

    def add(v) -> None:
        if isinstance(v, pd.DataFrame):
            h.update(repr((list(v.columns), [str(t) for t in v.dtypes], v.shape)).encode())
            if len(v):
                h.update(pd.util.hash_pandas_object(v, index=True).to_numpy().tobytes())
        elif isinstance(v, dict):
            for k in v:  # in order: a figure draws its panels in the dict's order
                add(str(k))
                add(v[k])
        elif isinstance(v, (list, tuple)):
            h.update(b"(")
            for x in v:
                add(x)
            h.update(b")")
        else:
            h.update(repr(v).encode() + b"\0")

    add(value)
    return h.hexdigest()


@functools.cache
def code_digest() -> str:
    """sha256 of the code stage report runs and of matplotlib (read once per process)."""
    from landmark_datasets.core.cache import source_digest

    return source_digest("stages.report", libraries=("matplotlib", "numpy"))


def remembered(cache, name: str, inputs: tuple, draw_one) -> str:
    """Figure ``name`` drawn by ``draw_one()``, or its PNG from ``cache`` if drawn before.

    Before: from the same ``inputs``, by the same code and matplotlib, so the same bytes.
    """
    if cache is None or not cache.enabled:
        return draw_one()
    from landmark_datasets.core.cache import key

    k = key(MEMO, name, digest(inputs), code_digest())
    found = cache.get(MEMO, k)
    if found is not None and "png" in found:
        out = str(found["name"])
        with storage.atomic_open(FIGURES / out.removeprefix("figures/"), "wb") as f:
            f.write(found["png"].tobytes())
        return out
    out = draw_one()
    png = (FIGURES / out.removeprefix("figures/")).read_bytes()
    cache.put(MEMO, k, {"name": np.array(out), "png": np.frombuffer(png, dtype=np.uint8)})
    return out
