"""The text of ``reports/quality.md``: the data-quality report a reviewer reads.

:func:`render` takes the context :func:`.report.context` builds (counts,
aggregates, scores, figure paths); every section says why when it has nothing to show.
"""

from __future__ import annotations

import pandas as pd

from landmark_datasets.core import schema


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


def _groups_section(ctx: dict) -> str:
    """Groups per label, their origin and split, and the warnings about them."""
    warnings = ctx["group_warnings"]
    return (
        "A group is a subject or session folder (the first folder below the label), the "
        "manifest's `group`, or else the file itself (a video with all its frames). Each "
        "group is in test when the salted hash of its id is below `split.test_size`: its side "
        "never changes when files are added or removed.\n\n"
        + _md_table(ctx["groups"])
        + ("\n" + "".join(f"- **Warning**: {w}.\n" for w in warnings) if warnings else ""))


def _holistic_section(ctx: dict) -> str:
    if not ctx["rows"][schema.HOLISTIC]:
        return ""
    table = ctx["holistic"]
    resolved = int(table[schema.SIDE_RESOLVED].sum())
    return (_md_table(ctx["presence"]) + "\n"
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
            for model in schema.CLASSIFIERS:  # what one model alone could not score
                if key in result.get(model, {}):
                    lines.append(f"- {modality}, {model}: {what}: {result[model][key]}.")
    return (_md_table(ctx["evaluation"]) + ("\n" + "\n".join(lines) + "\n" if lines else "")
            + ("\n" + _figure(ctx, "confusion", "confusion matrices")
               if ctx["figures"].get("confusion") else ""))


def _review_section(ctx: dict) -> str:
    """The review queue's size per table and its head, and what reviews.csv did to this build."""
    queue, rs = ctx["review"], ctx["review_summary"]
    per = [{"table": m, "entries": int((queue["modality"] == m).sum()),
            "flagged": int(queue.loc[queue["modality"] == m, "flagged"].sum())}
           for m in schema.MODALITIES]
    skipped = [f"- {m}: not ranked: {r['review_skipped']}."
               for m, r in ctx["evaluation_raw"].items() if "review_skipped" in r]
    head = queue[queue["flagged"].astype(bool)].head(15).drop(columns="flagged")
    a = rs["applied"]
    applied = ", ".join(f"{k} {a[k]['decisions']} ({a[k]['rows']} rows)"
                        for k in ("keep", "relabel", "drop"))
    unmatched = pd.DataFrame(rs["unmatched"], columns=["row", "source_id", "target",
                                                       "decision", "label", "note"])
    superseded = (f" {len(rs['superseded'])} decisions were overridden by later ones on the "
                  f"same rows (rows {', '.join(map(str, rs['superseded'][:10]))})."
                  if rs["superseded"] else "")
    relabelled = pd.DataFrame(rs["relabelled"], columns=["from", "to", "rows"])
    return (
        "Every image, frame and video time range not yet decided gets an out-of-fold "
        "probability for its label (grouped cross-validation over train and test together, "
        "for the review only), and confident learning (cleanlab) ranks them: "
        "`reports/label_review.csv`, flagged entries first, most likely wrong first (`score`: "
        "the probability of the given label). See them with `python3.11 dev.py review`; "
        "decisions go to `reviews.csv` and the next `dvc repro` applies them.\n\n"
        + _md_table(pd.DataFrame(per)) + ("\n" + "\n".join(skipped) + "\n" if skipped else "")
        + "\nMost likely wrong:\n\n" + _md_table(head)
        + f"\n**Decisions** (`reviews.csv`): {rs['decisions']} rows; applied: {applied}."
        + superseded + "\n\n"
        + ("Relabelled:\n\n" + _md_table(relabelled) + "\n" if len(relabelled) else "")
        + f"Decisions that matched nothing in this build: {len(unmatched)}"
        + (" (a file no longer there, or a frame this build does not hold; they stay in "
           "reviews.csv, harmless):\n\n" + _md_table(unmatched) if len(unmatched) else ".\n"))


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
## Groups: what never crosses the split

{_groups_section(ctx)}
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

Trained on train, scored on test; cross-validation is grouped (by subject or source) and
stratified by label, on train only. Features: the published landmark columns (and blendshapes
for faces), normalized as stated at the top; holistic rows add the presence flags, an absent
part's cells counting as 0. `holistic sequences`: one sample per labelled video or time range
of the holistic table (at least 2 frames), its features the mean, standard deviation, minimum
and maximum of each row feature over its frames, since signs are sequences. Confusion matrices:
`dvc plots show`. A score that could not be computed is left out, with the reason, rather than
shown as a number.

{_evaluation_section(ctx)}
## Review

{_review_section(ctx)}
## Video gaps

Gaps of at most {ctx['gaps']['max_gap_frames']} sampled frames in a video track are filled by
linear interpolation and flagged `interpolated = 1`; longer gaps stay missing.

{_md_table(ctx['gap_rows'])}
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
    from landmark_datasets.preprocess.normalize import FORMULAS

    used = [pre.scheme, *flags] + ([pre.face_scheme] if pre.privacy != "blendshapes" else [])
    formulas = "".join(f"\n- `{name}`: {FORMULAS[name]}" for name in dict.fromkeys(used))
    return (f"hands **{hands}**, faces **{faces}**. Privacy: **{pre.privacy}**, the published "
            f"face table holds {PRIVACY_TEXT[pre.privacy]}.\n{formulas}")
