"""A content-addressed cache of per-file results (ingest probes, extracted landmarks).

A result is stored under the sha256 of everything that decides it: the file's own sha256 (never
its name or label), the code and model digests and the params that matter. So renaming or
relabelling a file finds its entry, and any change that could alter a result misses it. Entries
are ``.npz`` files (no pickles) written atomically (through ``tmp/``, where the first write of
each process removes what killed processes left), so concurrent runs and interrupted runs are
safe; a corrupt entry is treated as missing and replaced.

The cache only memoizes: a stage computes the same bytes with or without it, and DVC still
tracks each stage's real outputs. Its location is ``$LANDMARK_CACHE_DIR``, else
``$XDG_CACHE_HOME/landmark-datasets``, else ``~/.cache/landmark-datasets``, shared by every
clone and DVC experiment of the machine (like pip's cache). ``LANDMARK_CACHE_DIR=off``
disables it; deleting the folder is always safe.
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
import os
import tempfile
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from landmark_datasets.core import storage

log = logging.getLogger(__name__)

ENV = "LANDMARK_CACHE_DIR"


def default_root() -> Path | None:
    """The cache folder from the environment, or None when caching is off."""
    value = os.environ.get(ENV, "")
    if value.lower() in ("off", "0", "none", "false"):
        return None
    if value:
        return Path(value)
    xdg = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(xdg) / "landmark-datasets"


def key(*parts: Any) -> str:
    """A hex sha256 of ``parts`` (JSON-serializable), in a canonical encoding."""
    text = json.dumps(parts, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()


class Cache:
    """``{namespace}/{key[:2]}/{key}.npz`` entries under ``root`` (None: a cache that is off)."""

    def __init__(self, root: Path | str | None):
        self.root = Path(root) if root is not None else None
        self.hits = self.misses = 0
        self._swept = False

    @classmethod
    def from_env(cls) -> Cache:
        """The cache at :func:`default_root`, without what killed processes left in ``tmp/``.

        Swept here, not only before a first write: a run that reads every entry it needs (the
        memos of an unchanged table) writes none.
        """
        cache = cls(default_root())
        if cache.root is not None:
            storage.sweep_stale_temps(cache.root / "tmp")
        return cache

    @property
    def enabled(self) -> bool:
        """False for a cache that is off (every lookup misses, nothing is stored)."""
        return self.root is not None

    def _path(self, namespace: str, k: str) -> Path:
        return self.root / namespace / k[:2] / f"{k}.npz"

    def has(self, namespace: str, k: str) -> bool:
        """True when an entry exists under ``k`` (it may still turn out unreadable)."""
        return self.root is not None and self._path(namespace, k).is_file()

    def get(self, namespace: str, k: str) -> dict[str, np.ndarray] | None:
        """The arrays stored under ``k``, or None."""
        if self.root is None:
            self.misses += 1
            return None
        path = self._path(namespace, k)
        try:
            with np.load(path, allow_pickle=False) as npz:
                arrays = {name: npz[name] for name in npz.files}
        except FileNotFoundError:
            self.misses += 1
            return None
        except (OSError, ValueError, zipfile.BadZipFile, EOFError) as err:
            log.warning("%s: unreadable cache entry (%s); computing it again", path, err)
            self.misses += 1
            return None
        self.hits += 1
        return arrays

    def put(self, namespace: str, k: str, arrays: dict[str, np.ndarray]) -> None:
        """Store ``arrays`` under ``k`` (atomically; a failure to store only logs)."""
        if self.root is None:
            return
        path = self._path(namespace, k)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp_dir = self.root / "tmp"  # one folder (same file system) to sweep after a kill
            if not self._swept:
                tmp_dir.mkdir(exist_ok=True)
                storage.sweep_stale_temps(tmp_dir)
                self._swept = True
            fd, tmp = tempfile.mkstemp(prefix=storage.temp_prefix(path.name), dir=tmp_dir)
            try:
                with os.fdopen(fd, "wb") as f:
                    np.savez(f, allow_pickle=False, **arrays)
                os.replace(tmp, path)
            finally:
                if os.path.exists(tmp):
                    os.unlink(tmp)
        except OSError as err:
            log.warning("%s: cannot write the cache (%s); continuing without it", path, err)

    def put_file(self, namespace: str, k: str, src: Path | str) -> None:
        """Store the file ``src`` under ``k``: a hard link if it can, else a copy.

        A hard link when the cache shares the file system (no copy of a large table); a
        failure to store only logs.

        Safe to link: stages replace their outputs, never write into them, and
        :meth:`get_file` checks the bytes it gives back.
        """
        if self.root is None:
            return
        path = self._path(namespace, k).with_suffix(".file")
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            with storage.atomic_path(path) as tmp:
                _link_or_copy(src, tmp)
        except OSError as err:
            log.warning("%s: cannot write the cache (%s); continuing without it", path, err)

    def get_file(self, namespace: str, k: str, dst: Path | str, sha256: str) -> bool:
        """Put the file stored under ``k`` at ``dst`` (atomically) if its sha256 is ``sha256``.

        False (a miss) when it is not there or not those bytes.
        """
        if self.root is None:
            self.misses += 1
            return False
        path = self._path(namespace, k).with_suffix(".file")
        try:
            with storage.atomic_path(dst) as tmp:
                _link_or_copy(path, tmp)
                if storage.sha256_file(tmp) != sha256:
                    log.warning("%s: cache entry changed since it was stored; computing it "
                                "again", path)
                    raise FileNotFoundError(path)
        except OSError:
            self.misses += 1
            return False
        self.hits += 1
        return True

    def get_json(self, namespace: str, k: str) -> Any:
        """The JSON value stored under ``k`` by :meth:`put_json`, or None."""
        arrays = self.get(namespace, k)
        return json.loads(str(arrays["json"])) if arrays and "json" in arrays else None

    def put_json(self, namespace: str, k: str, value: Any) -> None:
        """Store a JSON-serializable ``value`` under ``k``."""
        self.put(namespace, k, {"json": np.array(json.dumps(value, sort_keys=True))})


def _link_or_copy(src: Path | str, tmp: Path) -> None:
    """``src`` at the temporary path ``tmp`` (from :func:`.storage.atomic_path`): linked or copied.

    A copy across file systems; FileNotFoundError when ``src`` is not there.
    """
    import shutil

    os.unlink(tmp)  # os.link makes the name
    try:
        os.link(src, tmp)
    except FileNotFoundError:
        raise
    except OSError:
        shutil.copyfile(src, tmp)


#: Modules a memo key's code digest leaves out: they store results, they do not decide them.
MACHINERY = ("landmark_datasets.core.cache", "landmark_datasets.core.imports")


@functools.cache
def source_digest(module: str, libraries: tuple[str, ...] = ()) -> str:
    """sha256 of ``module``'s code and the installed versions of ``libraries``.

    The code is ``module``'s source and that of every project module it imports, transitively
    (:func:`.imports.closure`), leaving out the memo's own machinery (this module and
    :mod:`.imports`: how a result is stored does not decide it). The code part of a memo's
    key: no list of modules to keep up to date by hand, so an edit anywhere a result's code
    reaches misses the memo. Read once per process.
    """
    from importlib.metadata import version

    from landmark_datasets.core.imports import ROOT, closure

    h = hashlib.sha256()
    for path in sorted(closure(module, skip=MACHINERY)):
        h.update(f"{path.relative_to(ROOT).as_posix()}\0".encode())
        h.update(path.read_bytes())
    for lib in libraries:
        h.update(f"{lib}=={version(lib)};".encode())
    return h.hexdigest()
