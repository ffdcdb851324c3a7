"""A manifest CSV read as spreadsheets and Windows write it: :func:`read`.

Accepted as they come: a UTF-8 byte-order mark, CRLF line ends, spaces around headers and
cells, header names in any case, ``;`` or tab separators (Excel writes ``;`` where the decimal
mark is a comma), text in Windows-1252 (Excel's plain "CSV" on Windows, a superset of the
common Latin-1 letters), fully empty rows (``,,,``, skipped) and empty trailing columns.
What cannot be read stops with one :class:`ManifestError` line naming the file and the fix.
"""

from __future__ import annotations

import codecs
import csv
import io
import logging
import re
from pathlib import Path

from landmark_datasets import UserError

log = logging.getLogger("ingest")

#: Separators tried, in order, when the header is not comma-separated.
SEPARATORS = (",", ";", "\t", "|")

#: What a Windows-1252 text holds beyond ASCII when it is one: Latin letters and the usual
#: typographic signs. Bytes that decode to anything else (Shift-JIS, GBK...) are no guess.
_CP1252_TEXT = re.compile("[\u00a0-\u00ff\u0152\u0153\u0160\u0161\u0178\u017d\u017e"
                          "\u2013\u2014\u2018\u2019\u201a\u201c\u201d\u201e\u2020-\u2022"
                          "\u2026\u2030\u2039\u203a\u20ac\u2122]")

SAVE_AS = "save it as UTF-8 (Excel: Save As, \"CSV UTF-8 (Comma delimited)\") and run again"


class ManifestError(UserError, ValueError):
    """The manifest cannot be used; the message names the rows and the fix."""


def decode(data: bytes, path: Path) -> str:
    """The text of the manifest's bytes: UTF-8 (with or without BOM), UTF-16 with BOM, or cp1252.

    Raises:
        ManifestError: the bytes are in another encoding (the message names the first bad byte).
    """
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        try:
            return data.decode("utf-16")
        except UnicodeDecodeError as err:
            raise ManifestError(f"{path}: starts as UTF-16 but is not ({err.reason}); "
                                f"{SAVE_AS}") from None
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        byte, line = data[err.start], data.count(b"\n", 0, err.start) + 1
    try:
        text = data.decode("cp1252")
    except UnicodeDecodeError:
        text = None
    if text is None or any(ord(c) > 127 and not _CP1252_TEXT.match(c) for c in text):
        raise ManifestError(f"{path}: not UTF-8 (byte 0x{byte:02x} on line {line}) nor Windows-"
                            f"1252 Latin text; {SAVE_AS}")
    log.warning("%s: not UTF-8 (byte 0x%02x on line %d); read as Windows-1252, as Excel saves "
                "CSV on Windows; to be sure of every accent, %s", path, byte, line, SAVE_AS)
    return text


def separator(header: str) -> str:
    """The separator of a header line: the first of :data:`SEPARATORS` that splits it."""
    return next((s for s in SEPARATORS if s in header), ",")


def read(path: Path) -> tuple[list[str], list[tuple[int, dict[str, str]]]]:
    """``(columns, [(line, {column: cell})])`` of the manifest at ``path``.

    Columns are lower-cased and stripped, cells stripped; ``line`` is the row's line number in
    the file (the header is line 1), for messages. Empty rows and nameless empty columns are
    left out; a row with more cells than the header has stops the read.

    Raises:
        ManifestError: unreadable encoding, no header, or a row with too many cells.
    """
    text = decode(path.read_bytes(), path)
    first = next((line for line in text.splitlines() if line.strip()), "")
    if not first:
        raise ManifestError(f"{path}: empty manifest; write a header (path,modality,label) and "
                            "one row per file, or delete it to take labels from the folders")
    sep = separator(first)
    if sep != ",":
        log.info("%s: separator is %r", path, sep)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=sep, skipinitialspace=True)
    header: list[str] | None = None
    rows: list[tuple[int, list[str]]] = []
    for cells in reader:
        cells = [c.strip() for c in cells]
        if not any(cells):
            continue
        if header is None:
            header = [c.lower() for c in cells]
            continue
        if len(cells) > len(header):
            raise ManifestError(
                f"{path}:{reader.line_num}: {len(cells)} cells but the header has "
                f"{len(header)} ({', '.join(header)}); quote cells that hold {sep!r} "
                "and run again")
        rows.append((reader.line_num, cells + [""] * (len(header) - len(cells))))
    assert header is not None
    keep = [i for i, name in enumerate(header) if name or any(r[i] for _, r in rows)]
    columns = [header[i] for i in keep]
    return columns, [(line, {columns[k]: cells[i] for k, i in enumerate(keep)})
                     for line, cells in rows]
