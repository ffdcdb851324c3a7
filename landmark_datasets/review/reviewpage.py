"""The review page: the label-review queue next to the media, and decisions into reviews.csv.

    python3.11 dev.py review [--port 8765] [--reviewer NAME]

Serves one page on 127.0.0.1 (never another interface). It reads the build's review queue
(``reports/label_review.csv``), inventory (``data/interim/ingest/items.csv``: which raw file
a pseudonymous id is) and landmarks (``data/interim/extract/``: image coordinates), and shows
each entry's image or video frame with its landmarks drawn, the given and the predicted label
and the score, and for a video a strip of the frames around the range. Keys: ``k`` keep,
``d`` drop, ``r`` relabel (then ``1``-``9`` for a known label, or type a new one and Enter),
``n``/``→`` next, ``p``/``←`` previous, ``m`` a note. Each decision is appended to
``reviews.csv`` atomically (:func:`.review.append`) and the next undecided
entry follows; deciding an entry again appends again, and the last decision wins.

Pixels stay in memory: frames are decoded and drawn per request and sent to the browser, and
nothing is written anywhere but ``reviews.csv`` (nothing into ``reports/`` or
``data/dataset/``, which are published). The page shows no file name or path.
"""
from __future__ import annotations

import argparse
import datetime as dt
import functools
import getpass
import json
import logging
import threading
from dataclasses import dataclass, field
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import numpy as np
import pandas as pd

from landmark_datasets import UserError
from landmark_datasets.core import cli, paths, schema, storage
from landmark_datasets.review import review

log = logging.getLogger("review")

HOST = "127.0.0.1"
#: Thumbnails in a video's strip: the range's frames and a few sampled frames either side.
STRIP_FRAMES = 9
STRIP_WIDTH = 160
FRAME_WIDTH = 720


@dataclass
class Session:
    """What the page serves: the queue, the inventory, where the media and landmarks are."""

    queue: pd.DataFrame
    items: pd.DataFrame
    frames: pd.DataFrame
    raw_dir: Path
    reviews: Path
    extract_dir: Path
    reviewer: str
    max_pixels: int
    labels: dict[str, list[str]] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    @classmethod
    def load(cls, reviewer: str = "", reviews: Path = paths.REVIEWS) -> Session:
        """The session of this build (params.yaml's raw_dir), or a :class:`UserError`."""
        from landmark_datasets.core import params as params_mod
        from landmark_datasets.ingest import inventory

        missing = [p for p in (paths.LABEL_REVIEW, paths.ITEMS, paths.FRAMES)
                   if not Path(p).is_file()]
        if missing:
            raise UserError(f"{missing[0]} is missing: build first (python3.11 dev.py repro), "
                            "then start the review page")
        params = params_mod.load()
        queue = storage.read_table(paths.LABEL_REVIEW)
        items = inventory.read_items()
        labels = {m: sorted(set(items.loc[items["modality"] == m, "label"])
                            | set(queue.loc[queue["modality"] == m, "label"])
                            | set(queue.loc[queue["modality"] == m, "predicted"]))
                  for m in schema.MODALITIES}
        return cls(queue=queue, items=items.drop_duplicates("source_id").set_index("source_id"),
                   frames=inventory.read_frames(), raw_dir=Path(params.ingest.raw_dir),
                   reviews=Path(reviews), extract_dir=paths.EXTRACT,
                   reviewer=reviewer or _user(), max_pixels=params.ingest.max_image_pixels,
                   labels=labels)

    def entries(self) -> list[dict]:
        """The queue as the page lists it, each entry with the decision reviews.csv has on it."""
        decisions = review.read(self.reviews)
        out = []
        for i, e in enumerate(self.queue.itertuples(index=False)):
            entry = {"id": i, "modality": e.modality, "source_id": e.source_id,
                     "frame": int(e.frame), "frames": int(e.frames), "label": e.label,
                     "predicted": e.predicted, "score": float(e.score),
                     "flagged": bool(e.flagged),
                     "start_s": None if pd.isna(e.start_s) else float(e.start_s),
                     "end_s": None if pd.isna(e.end_s) else float(e.end_s)}
            last = next((d for d in reversed(decisions) if _covers(d, entry)), None)
            entry["decided"] = None if last is None else {
                "decision": last.decision, "label": last.label, "row": last.row}
            out.append(entry)
        return out

    def decide(self, entry_id: int, decision: str, label: str = "", note: str = "") -> int:
        """Append the decision on queue entry ``entry_id`` to reviews.csv; its row number."""
        if not 0 <= entry_id < len(self.queue):
            raise UserError(f"no queue entry {entry_id}")
        e = self.queue.iloc[entry_id]
        ranged = not pd.isna(e["start_s"]) and int(e["frames"]) > 1
        row = {"source_id": e["source_id"], "frame": "" if ranged else int(e["frame"]),
               "start_s": f"{e['start_s']:.3f}" if ranged else "",
               "end_s": f"{e['end_s']:.3f}" if ranged else "",
               "decision": decision, "label": label.strip() if decision == "relabel" else "",
               "note": note.strip(), "reviewer": self.reviewer,
               "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d")}
        with self.lock:  # one writer: two quick decisions never lose one another
            return review.append(self.reviews, row)

    def media(self, source_id: str) -> tuple[Path, str]:
        """The raw file of ``source_id`` and its kind (image, video)."""
        if source_id not in self.items.index:
            raise UserError(f"{source_id} is not in this build's inventory")
        item = self.items.loc[source_id]
        from landmark_datasets.ingest import listing

        return listing.locate(self.raw_dir, item["path"]), item["media"]

    def sampled(self, source_id: str) -> tuple[np.ndarray, np.ndarray]:
        """The frames the build sampled of ``source_id`` and their times (ms), each once.

        One source may be the item of several tables, which list its frames each.
        """
        mine = self.frames.loc[self.frames["source_id"] == source_id, ["frame", "timestamp_ms"]]
        mine = mine.drop_duplicates("frame").sort_values("frame")
        return mine["frame"].to_numpy(), mine["timestamp_ms"].to_numpy()

    def decode(self, source_id: str, wanted: list[int]) -> dict[int, np.ndarray]:
        """The BGR pixels of the wanted frames of ``source_id`` (an image's frame is 0)."""
        from landmark_datasets.ingest import media

        path, kind = self.media(source_id)
        if kind == "image":
            return {0: media.decode_image(path, self.max_pixels)}
        return dict(media.iter_video_frames(path, sorted(set(wanted))))

    def landmarks(self, modality: str, source_id: str, frames: list[int]) -> dict[int, list]:
        """Per frame, the entry's table's landmarks in image coordinates (x, y in [0, 1]).

        From extract's table of ``modality`` (before normalization): each hand, each face, or
        a holistic frame's two hands and face; an absent holistic part draws nothing.
        """
        import pyarrow.parquet as pq

        out: dict[int, list] = {f: [] for f in frames}
        file = self.extract_dir / f"{modality}.parquet"
        if not file.is_file():
            return out
        if modality == schema.HOLISTIC:
            blocks = [("hands", schema.part_landmark_columns(p)) for p in ("left_hand",
                                                                           "right_hand")]
            blocks.append(("faces", schema.part_landmark_columns("face")))
        else:
            blocks = [(modality, list(schema.landmark_block(modality)))]
        blocks = [(part, [c for c in cols if not c.endswith("_z")]) for part, cols in blocks]
        present = set(pq.read_schema(file).names)
        blocks = [(part, cols) for part, cols in blocks if set(cols) <= present]
        table = pq.read_table(file, columns=["source_id", "frame",
                                             *(c for _, cols in blocks for c in cols)],
                              filters=[("source_id", "=", source_id)]).to_pandas()
        table = table[table["frame"].isin(frames)]
        for part, cols in blocks:
            values = table[cols].to_numpy(dtype=float)
            for frame, xy in zip(table["frame"], values, strict=True):
                if not np.isnan(xy).any():
                    out[int(frame)].append((part, xy.reshape(-1, 2)))
        return out


def _user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return ""


def _covers(d: review.Decision, entry: dict) -> bool:
    """Whether decision ``d`` covers queue ``entry`` (its frame, or part of its range)."""
    if d.source_id != entry["source_id"]:
        return False
    if d.frame is not None:
        return d.frame == entry["frame"] if entry["start_s"] is None or entry["frames"] == 1 \
            else False
    if d.start_s is not None:
        if entry["start_s"] is None:
            return False
        return d.start_s <= entry["end_s"] + 5e-4 and entry["start_s"] <= d.end_s + 5e-4
    return True


def draw(bgr: np.ndarray, marks: list, width: int) -> np.ndarray:
    """``bgr`` with hands (skeleton) and faces (points) drawn, at most ``width`` wide.

    Scaled down only: a small photo stays sharp.
    """
    import cv2

    h, w = bgr.shape[:2]
    width = min(width, w)
    img = cv2.resize(bgr, (width, max(1, round(h * width / w))), interpolation=cv2.INTER_AREA)
    hh, ww = img.shape[:2]
    thick = max(1, width // 300)
    for part, xy in marks:
        pts = np.column_stack([xy[:, 0] * ww, xy[:, 1] * hh]).round().astype(np.int32)
        if part == "hands":
            for a, b in schema.HAND_CONNECTIONS:
                cv2.line(img, tuple(pts[a]), tuple(pts[b]), (80, 220, 80), thick, cv2.LINE_AA)
            for p in pts:
                cv2.circle(img, tuple(p), thick + 1, (40, 40, 240), -1, cv2.LINE_AA)
        else:
            for p in pts[::2]:
                cv2.circle(img, tuple(p), max(1, thick // 2), (240, 200, 60), -1)
    return img


def jpeg(img: np.ndarray) -> bytes:
    """``img`` as JPEG bytes, in memory."""
    import cv2

    ok, buf = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, 85])
    if not ok:
        raise UserError("could not encode the frame as JPEG")
    return buf.tobytes()


def frame_jpeg(session: Session, entry_id: int) -> bytes:
    """The entry's frame (its first frame for a range) with its landmarks, as JPEG."""
    e = session.queue.iloc[entry_id]
    frame = int(e["frame"])
    pixels = session.decode(e["source_id"], [frame])
    if frame not in pixels and 0 not in pixels:
        raise UserError(f"{e['source_id']}: frame {frame} could not be decoded")
    bgr = pixels.get(frame, pixels.get(0))
    marks = session.landmarks(e["modality"], e["source_id"], [frame])[frame]
    return jpeg(draw(bgr, marks, FRAME_WIDTH))


def strip_frames(session: Session, entry_id: int) -> list[tuple[int, bool]]:
    """The sampled frames a video entry's strip shows, and whether each is in its range.

    The range's frames (the first frame to the end time) and two sampled frames either side,
    at most :data:`STRIP_FRAMES` of them, evenly picked.
    """
    e = session.queue.iloc[entry_id]
    frames, ms = session.sampled(e["source_id"])
    if len(frames) < 2:
        return []
    first = int(np.searchsorted(frames, int(e["frame"])))
    end_ms = round((e["end_s"] if not pd.isna(e["end_s"]) else 0) * 1000)
    last = max(first, int(np.searchsorted(ms, end_ms, side="right")) - 1)
    at = np.arange(max(0, first - 2), min(len(frames) - 1, last + 2) + 1)
    if len(at) > STRIP_FRAMES:
        at = at[np.linspace(0, len(at) - 1, STRIP_FRAMES).round().astype(int)]
    return [(int(frames[i]), bool(first <= i <= last)) for i in at]


def strip_jpeg(session: Session, entry_id: int) -> bytes:
    """The strip of a video entry: thumbnails side by side, the range's framed in red."""
    import cv2

    e = session.queue.iloc[entry_id]
    picks = strip_frames(session, entry_id)
    frames = [f for f, _ in picks]
    pixels = session.decode(e["source_id"], frames)
    marks = session.landmarks(e["modality"], e["source_id"], frames)
    tiles = []
    for f, inside in picks:
        if f not in pixels:
            continue
        tile = draw(pixels[f], marks.get(f, []), STRIP_WIDTH)
        colour = (40, 40, 230) if inside else (200, 200, 200)
        tile = cv2.copyMakeBorder(tile, 3, 3, 3, 3, cv2.BORDER_CONSTANT, value=colour)
        tiles.append(tile)
    if not tiles:
        raise UserError(f"{e['source_id']}: no frame of the strip could be decoded")
    height = max(t.shape[0] for t in tiles)
    tiles = [cv2.copyMakeBorder(t, 0, height - t.shape[0], 0, 0, cv2.BORDER_CONSTANT,
                                value=(0, 0, 0)) for t in tiles]
    return jpeg(np.hstack(tiles))


@functools.cache
def page() -> bytes:
    """The page's HTML (one file beside this module)."""
    return (Path(__file__).with_name("reviewpage.html")).read_bytes()


class Handler(BaseHTTPRequestHandler):
    """The page's requests.

    GET ``/``, ``/api/state``, ``/frame.jpg?entry=``, ``/strip.jpg?entry=``; POST
    ``/api/decide`` (JSON: entry, decision, label, note).
    """

    session: Session  # set on the class by serve()

    def log_message(self, fmt, *args):
        """Quiet: a line per request only at debug level (decisions are logged instead)."""
        log.debug(fmt, *args)

    def _send(self, status: int, body: bytes, kind: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")  # pixels are not kept by the browser
        self.end_headers()
        self.wfile.write(body)

    def _json(self, obj, status: int = HTTPStatus.OK) -> None:
        self._send(status, json.dumps(obj).encode(), "application/json")

    def _entry(self, query: dict) -> int:
        try:
            i = int(query.get("entry", ["-1"])[0])
        except ValueError:
            i = -1
        if not 0 <= i < len(self.session.queue):
            raise UserError("no such queue entry")
        return i

    def do_GET(self) -> None:  # noqa: N802 (http.server's name)
        """The page, the queue's state, an entry's frame or strip; errors as JSON."""
        url = urlparse(self.path)
        query = parse_qs(url.query)
        try:
            if url.path == "/":
                self._send(HTTPStatus.OK, page(), "text/html; charset=utf-8")
            elif url.path == "/api/state":
                self._json({"entries": self.session.entries(), "labels": self.session.labels,
                            "reviewer": self.session.reviewer})
            elif url.path == "/frame.jpg":
                self._send(HTTPStatus.OK, frame_jpeg(self.session, self._entry(query)),
                           "image/jpeg")
            elif url.path == "/strip.jpg":
                self._send(HTTPStatus.OK, strip_jpeg(self.session, self._entry(query)),
                           "image/jpeg")
            else:
                self._json({"error": "not found"}, HTTPStatus.NOT_FOUND)
        except (UserError, OSError) as err:
            self._json({"error": str(err)}, HTTPStatus.BAD_REQUEST)
        except Exception as err:  # a media error: the page says so and goes on
            self._json({"error": f"{type(err).__name__}: {err}"}, HTTPStatus.BAD_REQUEST)

    def do_POST(self) -> None:  # noqa: N802
        """A decision: appended to reviews.csv; its row number, or the error, as JSON."""
        if urlparse(self.path).path != "/api/decide":
            self._json({"error": "not found"}, HTTPStatus.NOT_FOUND)
            return
        try:
            body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))))
            row = self.session.decide(int(body["entry"]), str(body["decision"]),
                                      str(body.get("label", "")), str(body.get("note", "")))
        except (UserError, KeyError, ValueError, TypeError) as err:
            self._json({"error": str(err)}, HTTPStatus.BAD_REQUEST)
            return
        log.info("%s row %d: %s of entry %s", self.session.reviews, row, body["decision"],
                 body["entry"])
        self._json({"row": row})


def serve(session: Session, port: int = 8765) -> ThreadingHTTPServer:
    """A server for ``session`` on 127.0.0.1:``port`` (0: a free port), not yet serving."""
    handler = type("SessionHandler", (Handler,), {"session": session})
    return ThreadingHTTPServer((HOST, port), handler)


def main(argv: list[str] | None = None) -> None:
    """``python -m landmark_datasets.review.reviewpage [--port N] [--reviewer NAME]``."""
    ap = argparse.ArgumentParser(prog="dev.py review", description=__doc__.splitlines()[0])
    ap.add_argument("--port", type=int, default=8765, help="port on 127.0.0.1 (0: any free)")
    ap.add_argument("--reviewer", default="", help="name written with each decision")
    args = ap.parse_args(argv)
    cli.setup_logging()
    session = Session.load(args.reviewer)
    server = serve(session, args.port)
    flagged = int(session.queue["flagged"].sum())
    print(f"review: {len(session.queue)} entries ({flagged} flagged) at "
          f"http://{HOST}:{server.server_address[1]}/ ; decisions go to {session.reviews}; "
          "Ctrl+C to stop", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


if __name__ == "__main__":
    cli.run_stage(main)
