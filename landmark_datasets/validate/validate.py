"""Validate: Great Expectations suites generated from the schema; violations fail the build.

Entry point: ``stages/validate.py`` (reads params, calls these functions, writes outputs).

Every modality's table is checked, whatever the input held: its columns are the schema's even
with no rows (a hands-only dataset publishes an empty faces table with its header), and value
checks of an empty table pass. ``validate.min_rows.<modality>`` (0 by default) is the only check
that an empty table can fail; ``reports/validation.json`` records each table's rows and how
many input items of its modality there were, so the report can say why a table is empty.

The wide tables get table-level expectations (exact column list and order, row count, unique
keys, no nulls, label and handedness sets, score ranges). The 63 or 1,434 landmark columns are
checked on a long view (one row per landmark, columns x, y, z) with one range and one not-null
expectation per axis; the 63 world coordinates of a hand the same way (not null), the 16 cells
of the head pose on a long view of values and the 52 blendshapes on one of scores: a few dozen
expectations instead of thousands, so validation stays fast on large tables.
"""
from __future__ import annotations

import functools
import logging
import os

import numpy as np
import pandas as pd

from landmark_datasets import UserError
from landmark_datasets.core import paths, schema
from landmark_datasets.core.cache import Cache
from landmark_datasets.core.params import PreprocessParams, ValidateParams
from landmark_datasets.preprocess.normalize import landmark_array

log = logging.getLogger("validate")

REPORT = paths.VALIDATION
#: The namespace of validated tables in the landmark cache.
MEMO = "validate"
#: Landmark rows per piece of the long views: one Great Expectations batch each. Great
#: Expectations holds several copies of a batch's columns: 16,384 faces rows (7.8 million
#: landmark rows) took 1.5 GB. So validating a table holds a piece of its long views at a time,
#: 4,096 faces rows or 93,000 hands rows, and its memory does not grow with the table.
VIEW_POINTS = 4096 * schema.N_FACE_LANDMARKS


def piece_rows(modality: str) -> int:
    """Wide rows per piece of ``modality``'s long views (:data:`VIEW_POINTS` landmarks)."""
    per_row = (2 * schema.N_HAND_LANDMARKS + schema.N_FACE_LANDMARKS
               if modality == schema.HOLISTIC else schema.n_landmarks(modality))
    return VIEW_POINTS // per_row


class ValidationError(UserError):
    """Expectations failed: the build stops here, before anything is published."""


def expectations(modality: str, labels: list[str], scheme: str, min_rows: int,
                 privacy: str = "raw_mesh", velocities: bool = False) -> dict[str, list]:
    """The expectations per view (``wide``, ``landmarks``, ``blendshapes``) of ``modality``."""
    import great_expectations as gx

    E = gx.expectations
    wide = [
        E.ExpectTableColumnsToMatchOrderedList(
            column_list=schema.published_columns(modality, privacy, velocities)),
        E.ExpectTableRowCountToBeBetween(min_value=min_rows),
        E.ExpectCompoundColumnsToBeUnique(column_list=list(schema.KEY_COLUMNS)),
        E.ExpectColumnValuesToBeInSet(column="label", value_set=labels),
    ]
    required = [*schema.META_COLUMNS]
    views: dict[str, list] = {}
    if modality == "hands":
        required += [*schema.HAND_SCORE_COLUMNS]
        wide += [
            E.ExpectColumnValuesToBeInSet(column="handedness", value_set=list(schema.HANDEDNESS)),
            E.ExpectColumnValuesToBeBetween(column="handedness_score", min_value=0, max_value=1),
        ]
        views["world"] = [E.ExpectColumnValuesToNotBeNull(column=axis) for axis in schema.AXES]
    elif privacy != "blendshapes":
        views["pose"] = [E.ExpectColumnValuesToNotBeNull(column="value")]
    wide += [E.ExpectColumnValuesToNotBeNull(column=c) for c in required]
    wide.append(E.ExpectColumnValuesToBeInSet(column=schema.INTERPOLATED, value_set=[0, 1]))
    wide += [
        E.ExpectColumnValuesToBeBetween(column=c, min_value=0) for c in
        ("frame", "instance", "timestamp_ms")
    ] + [E.ExpectColumnValuesToBeBetween(column=c, min_value=1) for c in
         ("image_width", "image_height")]
    ranges = schema.EXPECTED_RANGES[scheme]
    landmarks = []
    for axis in schema.AXES:
        lo, hi = ranges[axis]
        landmarks += [
            E.ExpectColumnValuesToNotBeNull(column=axis),
            E.ExpectColumnValuesToBeBetween(column=axis, min_value=lo, max_value=hi),
        ]
    views["wide"] = wide
    if not (modality == "faces" and privacy == "blendshapes"):
        views["landmarks"] = landmarks
    if modality == "faces":
        views["blendshapes"] = [
            E.ExpectColumnValuesToNotBeNull(column="score"),
            E.ExpectColumnValuesToBeBetween(column="score", min_value=0, max_value=1),
        ]
    return views


def holistic_expectations(labels: list[str], hand_scheme: str, face_scheme: str,
                          min_rows: int, privacy: str = "raw_mesh", velocities: bool = False
                          ) -> dict[str, list]:
    """The holistic table's expectations per view (see :func:`holistic_views`).

    ``hand_scheme`` is the hand scheme, or ``face_frame`` when the hands are in the face's
    frame. Presence flags must agree with the cells: a present part has every value, an
    absent one none (the ``presence`` view).
    """
    import great_expectations as gx

    E = gx.expectations
    flags = [*schema.PRESENCE_COLUMNS, schema.SIDE_RESOLVED, *schema.PART_INTERPOLATED]
    wide = [
        E.ExpectTableColumnsToMatchOrderedList(
            column_list=schema.published_columns(schema.HOLISTIC, privacy, velocities)),
        E.ExpectTableRowCountToBeBetween(min_value=min_rows),
        E.ExpectCompoundColumnsToBeUnique(column_list=list(schema.KEY_COLUMNS)),
        E.ExpectColumnValuesToBeInSet(column="label", value_set=labels),
        *(E.ExpectColumnValuesToNotBeNull(column=c) for c in schema.META_COLUMNS),
        *(E.ExpectColumnValuesToBeInSet(column=c, value_set=[0, 1]) for c in flags),
        *(E.ExpectColumnValuesToBeBetween(column=f"{side}_handedness_score", min_value=0,
                                          max_value=1) for side in schema.HAND_SIDES),
    ]
    out = {"wide": wide,
           "presence": [E.ExpectColumnValuesToBeInSet(column="agrees", value_set=[True])]}
    parts = [p for p in schema.PARTS if p != "face" or privacy != "blendshapes"]
    for part in parts:
        lo_hi = schema.EXPECTED_RANGES[face_scheme if part == "face" else hand_scheme]
        out[part] = [e for axis in schema.AXES for e in (
            E.ExpectColumnValuesToNotBeNull(column=axis),
            E.ExpectColumnValuesToBeBetween(column=axis, min_value=lo_hi[axis][0],
                                            max_value=lo_hi[axis][1]))]
    out["blendshapes"] = [E.ExpectColumnValuesToBeBetween(column="score", min_value=0,
                                                          max_value=1)]
    return out


def holistic_views(df: pd.DataFrame, privacy: str = "raw_mesh") -> dict[str, pd.DataFrame]:
    """The holistic table, per part a long view of its present landmarks, and presence checks."""
    out = {"wide": df}
    agree = []
    for part in schema.PARTS:
        cols = [c for c in schema.part_columns(part) if c in df.columns]
        flag = df[f"{part}_present"].to_numpy() == 1
        cells = df[cols].notna()
        agree.append(np.where(flag, cells.all(axis=1), ~cells.any(axis=1)))
        if part != "face" or privacy != "blendshapes":
            lm = schema.part_landmark_columns(part)
            rows = df.loc[flag, lm].to_numpy(dtype=np.float64)
            out[part] = pd.DataFrame(rows.reshape(-1, 3), columns=list(schema.AXES))
    out["presence"] = pd.DataFrame({"agrees": np.concatenate(agree).astype(bool)})
    faces = df.loc[df["face_present"].to_numpy() == 1, list(schema.BLENDSHAPE_COLUMNS)]
    out["blendshapes"] = pd.DataFrame({"score": faces.to_numpy(dtype=np.float64).ravel()})
    return out


def views(df: pd.DataFrame, modality: str) -> dict[str, pd.DataFrame]:
    """The wide table and its long views (one row per landmark; one per blendshape score)."""
    out: dict[str, pd.DataFrame] = {"wide": df}
    k = schema.n_landmarks(modality)
    if schema.landmark_block(modality)[0] in df.columns:
        pts = landmark_array(df, modality) if len(df) else np.zeros((0, k, 3))
        out["landmarks"] = pd.DataFrame(pts.reshape(-1, 3), columns=list(schema.AXES))
    have = set(df.columns)  # a table missing a column fails the column-list expectation
    if modality == "hands" and have >= set(schema.HAND_WORLD_COLUMNS):
        out["world"] = pd.DataFrame(df[list(schema.HAND_WORLD_COLUMNS)].to_numpy(
            dtype=np.float64).reshape(-1, 3), columns=list(schema.AXES))
    elif modality == "faces" and have >= set(schema.POSE_COLUMNS):
        out["pose"] = pd.DataFrame(
            {"value": df[list(schema.POSE_COLUMNS)].to_numpy(dtype=np.float64).ravel()})
    if modality == "faces":
        out["blendshapes"] = pd.DataFrame(
            {"score": df[list(schema.BLENDSHAPE_COLUMNS)].to_numpy(dtype=np.float64).ravel()})
    return out


def _describe(result) -> dict:
    cfg = result.expectation_config
    r = result.result or {}
    column_list = cfg.kwargs.get("column_list")
    if cfg.type == "expect_table_columns_to_match_ordered_list":
        observed = r.get("observed_value") or []
        r = {**r, "observed_value": {
            "missing": [c for c in column_list if c not in observed],
            "unexpected": [c for c in observed if c not in column_list],
            "same_order": [c for c in observed if c in column_list] == [
                c for c in column_list if c in observed],
        }}
        column_list = None
    return {
        "success": bool(result.success),
        "expectation": cfg.type,
        "column": cfg.kwargs.get("column") or column_list,
        "kwargs": {k: v for k, v in cfg.kwargs.items()
                   if k not in ("column", "column_list", "batch_id")},
        "unexpected_count": r.get("unexpected_count"),
        "unexpected_percent": r.get("unexpected_percent"),
        "examples": [None if isinstance(v, float) and v != v else v
                     for v in (r.get("partial_unexpected_list") or [])[:5]],
        "_counted": (r.get("element_count") or 0) - (
            0 if cfg.type == "expect_column_values_to_not_be_null"
            else r.get("missing_count") or 0),
        "observed_value": r.get("observed_value") if not isinstance(
            r.get("observed_value"), list) or len(r.get("observed_value")) < 50 else "(long)",
    }


def _data_source():
    """A pandas data source of an in-memory Great Expectations context."""
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
    import great_expectations as gx
    from great_expectations.data_context.types.base import ProgressBarsConfig

    logging.getLogger("great_expectations.data_context.types.base").setLevel(logging.WARNING)
    # a batch's fingerprint (a hash of every cell, twice per batch: a third of the time on
    # the long views) is a marker this project never reads; a frame of 0 bytes or more is
    # over the threshold under which Great Expectations computes it
    from great_expectations.execution_engine import pandas_execution_engine

    pandas_execution_engine.HASH_THRESHOLD = 0
    ctx = gx.get_context(mode="ephemeral")
    ctx.variables.progress_bars = ProgressBarsConfig(globally=False)  # one bar per batch else
    return ctx.data_sources.add_pandas("landmarks")


@functools.cache
def code_digest() -> str:
    """sha256 of what decides a table's results besides its data and the suite's inputs.

    Read once per process.

    The code stage validate runs (all it imports) and the Great Expectations version.
    """
    from landmark_datasets.core.cache import source_digest

    return source_digest("stages.validate", libraries=("great-expectations", "pandas", "numpy"))


def hand_ranges(scheme: str, rotate: bool = False, palm_frame: bool = False) -> str:
    """The :data:`..core.schema.EXPECTED_RANGES` key of hands under ``scheme`` and these flags.

    Only MediaPipe's own units (``none``) move out of their range when a hand is rotated
    about its wrist; the other schemes' ranges hold whatever its orientation.
    """
    return "none_rotated" if scheme == "none" and (rotate or palm_frame) else scheme


def _rows(table) -> int:
    """The rows of a DataFrame or of the Parquet file at a path (from its footer)."""
    if isinstance(table, pd.DataFrame):
        return len(table)
    import pyarrow.parquet as pq

    return pq.ParquetFile(table).metadata.num_rows


def validate(tables: dict, labels: dict[str, list[str]], pre: PreprocessParams,
             checks: ValidateParams, inputs: dict[str, int] | None = None,
             cache: Cache | None = None, digests: dict[str, str] | None = None,
             rows: int | None = None) -> dict:
    """Run every suite; return ``{"success": bool, "results": {modality: {view: [...]}}, ...}``.

    ``tables``: per modality a DataFrame, or the path of its Parquet file, read only if its
    results are not in the memo, and then a piece at a time (:func:`_validate_table`).
    ``pre``: the preprocess section the tables were made with (it decides the columns and
    the value ranges); ``checks``: the ``validate`` section (``min_rows``, per modality,
    missing: 0). ``inputs``: how many input items each modality had (recorded beside the row
    counts, under ``tables``).

    Memo: with a ``cache`` and the sha256 of each table's file (``digests``), a table whose
    file, suite inputs and code (:func:`code_digest`) were validated before gets its results
    back from the cache: a sweep of the hand scheme validates the hands only. When every table
    is found there, Great Expectations is not even imported.
    """
    scheme = hand_ranges(pre.scheme, pre.rotate, pre.palm_frame)
    min_rows = checks.min_rows
    out: dict = {"success": True, "scheme": scheme, "results": {}, "tables": {}}
    source = None
    for modality, df in tables.items():
        out["tables"][modality] = {"rows": _rows(df), "inputs": (inputs or {}).get(modality),
                                   "min_rows": min_rows.get(modality, 0)}
        suite_args = (labels.get(modality, []), scheme, pre.face_scheme,
                      min_rows.get(modality, 0), pre.privacy, pre.velocities, pre.holistic_hands)
        k = None
        if cache is not None and digests and modality in digests:
            from landmark_datasets.core.cache import key

            k = key(MEMO, modality, digests[modality], suite_args, code_digest())
        found = cache.get_json(MEMO, k) if k else None
        if found is None:
            source = source if source is not None else _data_source()
            found = _validate_table(source, modality, df, *suite_args, rows=rows)
            if k:
                cache.put_json(MEMO, k, found)
        out["results"][modality] = found["results"]
        out["success"] &= found["success"]
    return out


def _wide_columns(suite: list) -> list[str]:
    """The columns the wide expectations other than the column list read."""
    cols: list[str] = []
    for e in suite:
        named = [e.column] if getattr(e, "column", None) else list(
            getattr(e, "column_list", None) or [])
        if e.expectation_type != "expect_table_columns_to_match_ordered_list":
            cols += [c for c in named if c not in cols]
    return cols


def _table_pieces(table, rows: int):
    """``table`` (a DataFrame, or the path of a Parquet file) a piece of ``rows`` at a time."""
    if isinstance(table, pd.DataFrame):
        for start in range(0, max(len(table), 1), rows):
            yield table.iloc[start:start + rows]
        return
    import pyarrow.parquet as pq

    from landmark_datasets.core.storage import row_group_runs

    file = pq.ParquetFile(table)
    if not file.metadata.num_rows:
        yield file.schema_arrow.empty_table().to_pandas()
        return
    yield from row_group_runs(file, rows, slack=0.25)  # a short tail is no batch of its own


def _narrow(table, columns: list[str]) -> tuple[pd.DataFrame, list[str]]:
    """The whole of ``table``'s ``columns`` that it has, and all its column names."""
    if isinstance(table, pd.DataFrame):
        return table[[c for c in columns if c in table.columns]], list(table.columns)
    import pyarrow.parquet as pq

    names = pq.read_schema(table).names
    return pd.read_parquet(table, columns=[c for c in columns if c in names]), names


def _validate_table(source, modality: str, table, labels: list[str], scheme: str,
                    face_scheme: str, min_rows: int, privacy: str, velocities: bool,
                    holistic_hands: str, rows: int | None = None) -> dict:
    """One table's suites run: ``{"success": bool, "results": {view: [...]}}``.

    ``table``: a DataFrame or the path of its Parquet file. The wide expectations see the
    columns they check, whole (uniqueness and row counts are about the whole table); the
    column list is checked on the header. The long views are built and validated ``rows``
    wide rows at a time, and each expectation's results over the pieces added up
    (:func:`_merge`): the same results as one batch, in memory that does not grow with the
    table.
    """
    if modality == schema.HOLISTIC:
        suites = holistic_expectations(labels, scheme if holistic_hands == "own"
                                       else "face_frame", face_scheme, min_rows, privacy,
                                       velocities)
    else:
        suites = expectations(modality, labels, scheme if modality == "hands" else face_scheme,
                              min_rows, privacy, velocities)
    out: dict = {"success": True, "results": {}}
    rows = rows or piece_rows(modality)
    wide = suites["wide"]
    narrow, names = _narrow(table, _wide_columns(wide))
    is_header = [e.expectation_type == "expect_table_columns_to_match_ordered_list"
                 for e in wide]
    header = iter(_run(source, f"{modality}_columns",
                       [e for e, h in zip(wide, is_header, strict=True) if h],
                       pd.DataFrame(columns=names)))
    rest = iter(_run(source, f"{modality}_wide",
                     [e for e, h in zip(wide, is_header, strict=True) if not h], narrow))
    out["results"]["wide"] = _merge([[next(header) if h else next(rest) for h in is_header]])
    del narrow
    pieces: dict[str, list[list[dict]]] = {}
    for piece in _table_pieces(table, rows):
        long = holistic_views(piece, privacy) if modality == schema.HOLISTIC else \
            views(piece, modality)
        for view_name, frame in long.items():
            if view_name != "wide":
                pieces.setdefault(view_name, []).append(
                    _run(source, f"{modality}_{view_name}", suites[view_name], frame))
    for view_name, results in pieces.items():
        out["results"][view_name] = _merge(results)
    for results in out["results"].values():
        out["success"] &= all(r["success"] for r in results)
    return out


def _run(source, name: str, expectations: list, frame: pd.DataFrame) -> list[dict]:
    """``expectations`` on ``frame``, described (:func:`_describe`) in the suite's order."""
    import great_expectations as gx

    if not expectations:
        return []
    try:
        asset = source.get_asset(name)
    except LookupError:
        asset = source.add_dataframe_asset(name)
    batch_def = (asset.batch_definitions[0] if asset.batch_definitions else
                 asset.add_batch_definition_whole_dataframe(name))
    suite = gx.ExpectationSuite(name=name, expectations=[e.copy() for e in expectations])
    batch = batch_def.get_batch(batch_parameters={"dataframe": frame})
    result = batch.validate(suite, result_format="SUMMARY")
    return [_describe(r) for r in result.results]


def _merge(pieces: list[list[dict]]) -> list[dict]:
    """Per expectation, the results of its column checks on the pieces of one view, added up.

    Counts add; the unexpected share is over the values each piece's check counted (every
    value for not-null, the non-missing ones otherwise); examples are the first five.
    """
    if len(pieces) == 1:
        return [{k: v for k, v in r.items() if not k.startswith("_")} for r in pieces[0]]
    merged = []
    for results in zip(*pieces, strict=True):
        first = results[0]
        unexpected = sum(r["unexpected_count"] or 0 for r in results)
        counted = sum(r["_counted"] or 0 for r in results)
        merged.append({k: v for k, v in first.items() if not k.startswith("_")} | {
            "success": all(r["success"] for r in results),
            "unexpected_count": unexpected,
            "unexpected_percent": 100 * unexpected / counted if counted else 0.0,
            "examples": [x for r in results for x in r["examples"]][:5],
        })
    return merged


def failures(report: dict) -> list[str]:
    """One readable line per failed expectation."""
    lines = []
    for modality, per_view in report["results"].items():
        for view_name, results in per_view.items():
            for r in results:
                if r["success"]:
                    continue
                what = r["expectation"].removeprefix("expect_")
                where = f"{modality}/{view_name}"
                if r["column"]:
                    where += f" column {r['column']}"
                count = (f": {r['unexpected_count']} unexpected "
                         f"({r['unexpected_percent']:.2f}%), e.g. {r['examples']}"
                         if r["unexpected_count"] else f": observed {r['observed_value']}")
                lines.append(f"{where}: {what} {r['kwargs']}{count}")
    return lines



