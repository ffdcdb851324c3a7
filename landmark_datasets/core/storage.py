"""Files: atomic, deterministic writes of tables, JSON and text; content hashes.

Every artifact is written to a temporary file in its destination folder and moved into place
with ``os.replace``: an interrupted run leaves either the old file or the new one, never half of
one. CSV floats use one fixed format so that the same values give the same bytes.

Temporary files are named ``.tmp-<pid>-<name>.<random>``. A process killed outright (SIGKILL,
power loss) cannot remove its own, so every write first removes those of dead processes in its
folder: the rerun that replaces an artifact also sweeps what the killed run left beside it.

Fault injection for the interruption tests: with ``LANDMARK_FAILPOINT=<file name>`` a process
SIGKILLs itself after writing that file's temporary copy and before moving it into place.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import signal
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

if TYPE_CHECKING:  # pandas is imported where a table is read: the scan stage starts faster
    import pandas as pd

log = logging.getLogger(__name__)

FLOAT_FORMAT = "%.6f"
TMP_PREFIX = ".tmp-"


def sha256_file(path: Path | str, chunk: int = 1 << 20) -> str:
    """The hex sha256 of a file's bytes, read in chunks."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


def _alive(pid: int) -> bool:
    """True while process ``pid`` runs; a zombie (killed, not yet reaped) is dead.

    A worker killed with its parent is reparented to PID 1, and where PID 1 does not reap
    (some containers) it stays a zombie, which ``kill(pid, 0)`` still finds.
    """
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:  # no /proc (macOS), or it just ended
        return True
    return stat.rpartition(")")[2].split()[:1] not in (["Z"], ["X"])  # zombie, dead


def sweep_stale_temps(folder: Path | str) -> int:
    """Remove the temporary files that dead processes left in ``folder``; return how many."""
    removed = 0
    with contextlib.suppress(FileNotFoundError), os.scandir(folder) as it:
        for entry in it:
            if not entry.name.startswith(TMP_PREFIX):
                continue
            pid = entry.name[len(TMP_PREFIX):].partition("-")[0]
            if pid.isdigit() and not _alive(int(pid)):
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(entry.path)
                    removed += 1
    return removed


def sweep_stale_temps_below(*roots: Path | str) -> int:
    """:func:`sweep_stale_temps` in every folder below ``roots``; return how many went."""
    return sum(sweep_stale_temps(d) for r in roots if Path(r).is_dir()
               for d in (Path(r), *(p for p in Path(r).rglob("*") if p.is_dir())))


def temp_prefix(name: str) -> str:
    """The prefix of this process's temporary files for a destination called ``name``."""
    return f"{TMP_PREFIX}{os.getpid()}-{name}."


def _failpoint(path: Path) -> None:
    if os.environ.get("LANDMARK_FAILPOINT") == path.name:
        os.kill(os.getpid(), signal.SIGKILL)


@contextlib.contextmanager
def atomic_path(path: Path | str) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success move it over ``path``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    sweep_stale_temps(path.parent)
    fd, tmp = tempfile.mkstemp(prefix=temp_prefix(path.name), dir=path.parent)
    os.close(fd)
    try:
        yield Path(tmp)
        _failpoint(path)
        os.replace(tmp, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)


@contextlib.contextmanager
def atomic_open(path: Path | str, mode: str = "w") -> Iterator[IO[Any]]:
    """Open a temporary file beside ``path`` for writing; it replaces ``path`` on success."""
    with atomic_path(path) as tmp, open(tmp, mode, newline="" if "b" not in mode else None) as f:
        yield f


def write_csv(df: pd.DataFrame, path: Path | str, float_format: str = FLOAT_FORMAT) -> None:
    r"""Write ``df`` as CSV (no index, ``\\n`` line ends, fixed float format), atomically.

    The text is pandas' ``to_csv``, built much faster (:mod:`.csvtext`).
    """
    from landmark_datasets.core import csvtext

    with atomic_open(path, "wb") as f:
        csvtext.write(df, f, float_format)


class CsvAppender:
    """A CSV file written a piece at a time (:func:`write_csv`'s bytes), atomically.

    ``with CsvAppender(path) as out: out.write(df)...``: the header comes with the first
    piece; the file replaces ``path`` when the block ends without an error.
    """

    def __init__(self, path: Path | str, float_format: str = FLOAT_FORMAT):
        self.path, self.float_format, self.rows = Path(path), float_format, 0
        self._header = True

    def __enter__(self) -> CsvAppender:
        self._atomic = atomic_open(self.path, "wb")
        self._f = self._atomic.__enter__()
        return self

    def write(self, df: pd.DataFrame) -> None:
        """Append ``df``'s rows (and, the first time, its header)."""
        from landmark_datasets.core import csvtext

        csvtext.write(df, self._f, self.float_format, header=self._header)
        self._header = False
        self.rows += len(df)

    def __exit__(self, *exc) -> bool | None:
        return self._atomic.__exit__(*exc)


def rounded(df: pd.DataFrame, float_format: str = FLOAT_FORMAT) -> pd.DataFrame:
    """``df`` with its floats rounded as ``float_format`` (``%.<d>f``) prints them, no -0.0.

    What reading the CSV written with that format gives back, so a table's Parquet and CSV
    hold the same numbers. Other formats leave ``df`` as it is.
    """
    import numpy as np
    import pandas as pd

    from landmark_datasets.core import csvtext

    fixed = csvtext.FIXED.fullmatch(float_format)
    floats = [c for c, t in df.dtypes.items() if t.kind == "f"]
    if fixed is None or not floats:
        return df
    block = np.round(df[floats].to_numpy(), int(fixed.group(1))) + 0.0
    return pd.concat([df.drop(columns=floats), pd.DataFrame(block, columns=floats,
                                                             index=df.index)],
                     axis=1)[list(df.columns)]


def write_parquet(df: pd.DataFrame, path: Path | str) -> None:
    """Write ``df`` as Parquet (internal artifacts between stages), atomically."""
    with atomic_path(path) as tmp:
        df.to_parquet(tmp, index=False, compression="zstd")


class ParquetAppender:
    """A Parquet file written a piece at a time (one row group each), atomically.

    ``with ParquetAppender(path) as out: out.write(df)...``: the file replaces ``path`` when
    the block ends without an error. Every piece gets the first one's schema.
    """

    def __init__(self, path: Path | str, schema=None):
        self.path = Path(path)
        self.rows = 0
        self._writer = self._empty = None
        self._schema = schema  # an Arrow schema; else the first piece's

    def __enter__(self) -> ParquetAppender:
        self._atomic = atomic_path(self.path)
        self._tmp = self._atomic.__enter__()
        return self

    def write(self, df: pd.DataFrame) -> None:
        """Append ``df``'s rows."""
        import pyarrow as pa
        import pyarrow.parquet as pq

        if self._writer is None and not len(df):  # an empty piece sets no schema: kept, in
            self._empty = df                       # case no piece has rows
            return
        table = pa.Table.from_pandas(df, schema=self._schema, preserve_index=False)
        if self._writer is None:
            self._schema = table.schema
            self._writer = pq.ParquetWriter(self._tmp, self._schema, compression="zstd")
        self._writer.write_table(table)
        self.rows += len(df)

    def __exit__(self, *exc) -> bool | None:
        if self._writer is None and self._empty is not None and exc[0] is None:
            self._empty.to_parquet(self._tmp, index=False, compression="zstd")
        if self._writer is not None:
            self._writer.close()
        return self._atomic.__exit__(*exc)


def parquet_runs(path: Path | str, rows: int, key: str = "source_id") -> Iterator[pd.DataFrame]:
    """The Parquet table at ``path`` in pieces of about ``rows`` rows, cut between sources.

    Pieces are cut between runs of ``key``, so all the rows of a source are in one piece.
    A table in which a value of ``key`` comes back after another is read whole, as one piece;
    an empty one is one empty piece. Reading a piece at a time keeps memory flat in the
    table's size.
    """
    import numpy as np
    import pandas as pd
    import pyarrow.parquet as pq

    keys = pq.read_table(path, columns=[key]).column(key).to_numpy(zero_copy_only=False)
    starts = np.flatnonzero(keys[1:] != keys[:-1]) + 1
    if not len(keys) or len(set(keys[np.r_[0, starts]])) != len(starts) + 1:
        yield read_table(path)
        return
    carry = None
    file = pq.ParquetFile(path)
    for df in row_group_runs(file, rows):
        if carry is not None:
            df = pd.concat([carry, df], ignore_index=True)
        ks = df[key].to_numpy()
        cut = int(np.flatnonzero(ks != ks[-1])[-1]) + 1 if (ks != ks[-1]).any() else 0
        if cut:
            yield df.iloc[:cut].reset_index(drop=True)
        carry = df.iloc[cut:].reset_index(drop=True)
    if carry is not None and len(carry):
        yield carry


def row_group_runs(file, rows: int, slack: float = 0.0) -> Iterator[pd.DataFrame]:
    """Consecutive row groups of ``file`` read together, about ``rows`` rows at a time.

    Row groups are read one call each (``iter_batches`` kept its buffers until the end: its
    memory grew with the file). ``slack``: a last run of at most ``slack * rows`` rows joins
    the run before it (4,096 + 51 rows are one piece, not two, at 0.25).
    """
    sizes = [file.metadata.row_group(i).num_rows for i in range(file.metadata.num_row_groups)]
    group, n, rest = [], 0, sum(sizes)
    for i, size in enumerate(sizes):
        group.append(i)
        n += size
        rest -= size
        if (n >= rows and not 0 < rest <= slack * rows) or i == len(sizes) - 1:
            yield file.read_row_groups(group).to_pandas()
            group, n = [], 0


def read_table(path: Path | str, float32: bool = False) -> pd.DataFrame:
    """Read a CSV or Parquet table written by :func:`write_csv` / :func:`write_parquet`.

    CSV columns get their schema dtypes (:func:`.schema.csv_dtypes`): text stays text and
    a table with a header and no rows has float and integer columns, not ``object`` ones.
    ``float32``: a Parquet table's float columns come as float32, converted column by column
    in Arrow (half the memory of a wide table, never a float64 copy of it).
    """
    import pandas as pd

    from landmark_datasets.core import schema

    path = Path(path)
    if path.suffix == ".parquet":
        if not float32:
            return pd.read_parquet(path)
        import pyarrow as pa
        import pyarrow.parquet as pq

        table = pq.read_table(path)
        wanted = pa.schema([f.with_type(pa.float32()) if pa.types.is_float64(f.type) else f
                            for f in table.schema], metadata=table.schema.metadata)
        return table.cast(wanted).to_pandas()
    df = pd.read_csv(path, keep_default_na=False, na_values=[""], dtype=schema.csv_dtypes())
    if df.empty:
        df = df.astype({c: "int64" for c in df.columns if c in schema.INT_COLUMNS})
    return df


def write_json(obj: Any, path: Path | str) -> None:
    """Write ``obj`` as sorted, indented JSON, atomically."""
    with atomic_open(path) as f:
        json.dump(obj, f, indent=2, sort_keys=True, ensure_ascii=False)
        f.write("\n")


def write_text(text: str, path: Path | str) -> None:
    """Write ``text`` (UTF-8), atomically."""
    with atomic_open(path) as f:
        f.write(text)
