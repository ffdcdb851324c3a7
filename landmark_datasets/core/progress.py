"""Progress of long loops: a tqdm bar on a terminal, a periodic one-line log otherwise."""

from __future__ import annotations

import logging
import sys
import time


class Progress:
    """Counts files (and frames) done; shows rate and ETA.

    On a terminal it draws a tqdm bar; in logs (CI, ``dvc repro`` piped to a file) it writes one
    line every ``every_s`` seconds, so long runs show life without flooding the output.
    """

    def __init__(self, total: int, desc: str, log: logging.Logger, every_s: float = 10.0):
        self.total, self.desc, self.log, self.every_s = total, desc, log, every_s
        self.done = 0
        self.frames = 0
        self.start = self.last = time.monotonic()
        self._bar = None
        if sys.stderr.isatty() and total > 0:
            from tqdm import tqdm

            self._bar = tqdm(total=total, desc=desc, unit="file", leave=False)

    def update(self, files: int = 1, frames: int = 0) -> None:
        """Record ``files`` more files done, with ``frames`` frames among them."""
        self.done += files
        self.frames += frames
        now = time.monotonic()
        if self._bar is not None:
            self._bar.update(files)
            self._bar.set_postfix_str(f"{self.frames / max(now - self.start, 1e-9):.1f} frames/s")
        elif now - self.last >= self.every_s:
            self.last = now
            self.log.info("%s", self.line())

    def line(self) -> str:
        """``"extract: 120/480 files, 35.2 frames/s, ETA 1m12s"``."""
        elapsed = max(time.monotonic() - self.start, 1e-9)
        rate = self.done / elapsed
        eta = (self.total - self.done) / rate if rate > 0 else float("nan")
        eta_s = f"{int(eta // 60)}m{int(eta % 60):02d}s" if eta == eta else "?"
        return (
            f"{self.desc}: {self.done}/{self.total} files, {self.frames / elapsed:.1f} frames/s, "
            f"ETA {eta_s}"
        )

    def close(self) -> float:
        """Close the bar; return the elapsed seconds."""
        if self._bar is not None:
            self._bar.close()
        return time.monotonic() - self.start
