"""Where extraction runs: this process, a local process pool, or a Dask cluster.

Every executor runs the same function, :func:`.landmarks.run_tasks`, on chunks of tasks
and yields the chunks' results **in submission order**, so the output never depends on the
executor or the number of workers. At most ``window`` chunks are in flight: results are consumed
as they arrive and memory does not grow with the number of files.

- ``local`` with one worker: the stage's own process (no start-up cost).
- ``local`` with N workers: a process pool. On Linux the workers are forked from a fork server
  (see :func:`start_method`) that imported mediapipe once, so
  they start with mediapipe already imported; each loads the models once.
- ``dask``: a Dask distributed cluster at ``extract.dask.address`` (``tcp://host:8786``), or a
  LocalCluster of ``extract.workers`` processes when no address is given. Workers need this
  repository (same commit) importable and the raw media at the same absolute path (shared
  storage): each task re-hashes the file it reads, so a worker that sees other bytes fails
  loudly instead of extracting the wrong file.
"""

from __future__ import annotations

import collections
import logging
import multiprocessing
import os
import sys
from collections.abc import Iterator, Sequence

from landmark_datasets.extract import landmarks
from landmark_datasets.extract.landmarks import Result, Task

log = logging.getLogger("extract")






def _ordered(submit, chunks: Sequence[list[Task]], window: int) -> Iterator[list[Result]]:
    """Submit ``chunks`` with at most ``window`` in flight; yield results in order."""
    pending: collections.deque = collections.deque()
    for chunk in chunks:
        pending.append(submit(chunk))
        if len(pending) >= window:
            yield pending.popleft()()
    while pending:
        yield pending.popleft()()


def longest_first(costs: Sequence[int], horizon: int) -> list[int]:
    """The order to submit work in: the costliest first, within blocks of about ``horizon``.

    In item order a long video can be the last task to start, and one worker then runs it
    while the others idle: on two workers that tail cost a quarter of a holistic extraction.
    Submitting the costliest first (longest-processing-time scheduling) leaves short tasks for
    the end. Results still have to be written in item order, so those that finish early wait
    (:func:`in_order`): reordering only within consecutive blocks of about ``horizon`` cost
    units bounds how many wait. Ties keep item order, so equal tasks (photos) are not moved.
    """
    order: list[int] = []
    block: list[int] = []
    total = 0
    for i, cost in enumerate(costs):
        block.append(i)
        total += cost
        if total >= horizon:
            order += sorted(block, key=lambda j: -costs[j])
            block, total = [], 0
    return order + sorted(block, key=lambda j: -costs[j])


def in_order(results: Iterator[list[Result]], order: Sequence[int]) -> Iterator[list[Result]]:
    """``results``, which come in ``order`` (a permutation of chunk numbers), in chunk order."""
    waiting: dict[int, list[Result]] = {}
    following = 0
    for i, result in zip(order, results, strict=True):
        waiting[i] = result
        while following in waiting:
            yield waiting.pop(following)
            following += 1


def run_inline(chunks: Sequence[list[Task]], params) -> Iterator[list[Result]]:
    """Run in this process (one set of landmarkers, closed at the end)."""
    try:
        for chunk in chunks:
            yield landmarks.run_tasks(chunk, params)
    finally:
        landmarks.close_thread_landmarkers()


def _pool_init() -> None:
    # A forked worker inherits the parent's thread-local landmarkers, whose native threads did
    # not survive the fork: drop them (never close them here) and make fresh ones on first use.
    landmarks.forget_thread_landmarkers()


def start_method() -> str:
    """How worker processes start: ``forkserver`` on Linux, else ``spawn``.

    Forking the stage itself is unsafe: by then it runs pyarrow's and OpenCV's threads, and a
    child forked while one of them holds a lock can deadlock (Python 3.12+ warns of it, and
    3.14 stops forking by default). A fork server is a fresh single-threaded process that
    imports mediapipe once (:data:`PRELOAD`); workers are forked from it, so they still start
    with mediapipe imported. ``LANDMARK_START_METHOD`` overrides (benchmarks compare them).
    """
    return os.environ.get("LANDMARK_START_METHOD") or (
        "forkserver" if sys.platform.startswith("linux") else "spawn")


#: Imported once by the fork server, before it forks any worker.
PRELOAD = ["mediapipe.tasks.python.vision", "landmark_datasets.extract.landmarks"]


def _context():
    """The multiprocessing context of :func:`start_method`, its fork server preloaded."""
    method = start_method()
    ctx = multiprocessing.get_context(method)
    if method == "forkserver":
        ctx.set_forkserver_preload(PRELOAD)
    elif method == "fork":  # the parent imports mediapipe once, before forking
        from mediapipe.tasks.python import vision  # noqa: F401
    return ctx


def run_pool(chunks: Sequence[list[Task]], params, workers: int,
             window: int | None = None) -> Iterator[list[Result]]:
    """Run on a pool of ``workers`` processes, each loading the models once."""
    ctx = _context()
    with ctx.Pool(workers, initializer=_pool_init) as pool:
        def submit(chunk):
            return pool.apply_async(landmarks.run_tasks, (chunk, params)).get

        yield from _ordered(submit, chunks, window or 4 * workers)


def run_dask(chunks: Sequence[list[Task]], params, address: str | None, workers: int,
             threads_per_worker: int = 1, window: int | None = None) -> Iterator[list[Result]]:
    """Run on the Dask cluster at ``address``, or on a LocalCluster of ``workers`` processes."""
    try:
        import dask
        from dask.distributed import Client, LocalCluster
    except ImportError as err:  # pragma: no cover - dask is in the lock
        raise RuntimeError("extract.executor=dask needs dask[distributed]; run "
                           "`python3.11 dev.py setup`") from err
    logging.getLogger("distributed").setLevel(logging.WARNING)
    cluster = None
    if address:
        client = Client(address, timeout="30s")
        n = max(sum(w["nthreads"] for w in client.scheduler_info()["workers"].values()), 1)
        log.info("dask: %s, %d worker threads", address, n)
    else:
        # Spawned, Dask's own default: each worker imports Dask and mediapipe itself, in
        # parallel, which starts the cluster faster than a fork server importing both first.
        method = os.environ.get("LANDMARK_START_METHOD") or "spawn"
        with dask.config.set({"distributed.worker.multiprocessing-method": method}):
            cluster = LocalCluster(n_workers=workers, threads_per_worker=threads_per_worker,
                                   processes=True, dashboard_address=None,
                                   silence_logs=logging.ERROR)
        client = Client(cluster)
        n = workers * threads_per_worker
    from landmark_datasets.extract.dask_plugin import CloseLandmarkers

    client.register_plugin(CloseLandmarkers())
    try:
        def submit(chunk):
            return client.submit(landmarks.run_tasks, chunk, params, pure=False).result

        yield from _ordered(submit, chunks, window or 4 * n)
    finally:
        client.close()
        if cluster is not None:
            cluster.close()
