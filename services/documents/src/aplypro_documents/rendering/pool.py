"""Render off the event loop: a process pool with one worker per core, rebuilt when a worker dies.

`render_batch` is the picklable entry point the service submits to the pool:

    loop.run_in_executor(executor, render_batch, [to_payload(doc) for doc in chunk])
"""

import logging
import multiprocessing
import os
import threading
import time
from collections.abc import Callable, Hashable, Sequence
from concurrent.futures import BrokenExecutor, Executor, Future, ProcessPoolExecutor
from typing import Any, ParamSpec, TypeVar

import structlog

from aplypro_documents.domain.model import AttributionDecision, Document, LiquidationStatement
from aplypro_documents.rendering.isolation import RenderPoolClosedError
from aplypro_documents.rendering.payloads import from_payload, to_payload
from aplypro_documents.rendering.renderer import DEFAULT_CHUNK_SIZE, _toolkit, render_many

# Long-lived weasyprint workers grow (documents.md §9): recycle them after this many batches.
MAX_BATCHES_PER_WORKER = 200


def render_batch(payloads: list[dict[str, Any]]) -> list[bytes]:
    """One PDF per payload, in order. Top-level so that it pickles by reference."""
    docs = [from_payload(payload) for payload in payloads]
    # Bounded layout passes (memory), cut between classes (each class laid out once).
    return [pdf for chunk in chunks(docs, DEFAULT_CHUNK_SIZE) for pdf in render_many(chunk, chunk_size=len(chunk))]


def _exit_with_parent(parent: int) -> None:
    """A worker whose service process was killed outright would wait on its queues for ever (and keep
    its memory): it ends as soon as it is orphaned."""
    while os.getppid() == parent:
        time.sleep(1.0)
    os._exit(0)


def _warm_up(nice: int = 0) -> None:
    if nice:
        os.nice(nice)  # rendering yields the CPU to the issue lanes and the consumers (APLYPRO_DOCUMENTS_RENDER_NICE)
    threading.Thread(target=_exit_with_parent, args=(os.getppid(),), name="parent-watch", daemon=True).start()
    if not structlog.is_configured():
        # A spawned worker does not inherit the service's logging set-up: keep it to info.
        structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.INFO))
    _toolkit()  # parse the stylesheet and load the fonts before the first job arrives


P = ParamSpec("P")
T = TypeVar("T")
log = structlog.get_logger(__name__)


class RenderPool(Executor):
    """An executor that replaces its process pool once the pool is broken.

    A worker that dies (SIGKILL, the OOM killer, a crash inside a C library) breaks a ProcessPoolExecutor
    for good: every later submit raises BrokenProcessPool. Here the next submit builds a fresh pool and
    shuts the broken one down, so one dead worker costs the batch it held, not every later document.
    """

    def __init__(self, factory: Callable[[], Executor]) -> None:
        self._factory = factory
        self._lock = threading.Lock()  # submit may come from several threads
        self._current = factory()
        self._closed = False
        self.rebuilds = 0
        self._counts = threading.Lock()  # never held while calling the pool: its callbacks take it
        self._in_flight = 0  # submitted, not settled (isolation.py drains the pool before a quarantined render)

    def submit(self, fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> Future[T]:
        with self._lock:
            if self._closed:
                # A plain RuntimeError here would read as the document's failure and cost it an attempt.
                raise RenderPoolClosedError("the render pool is shut down")
            try:
                future = self._current.submit(fn, *args, **kwargs)
            except BrokenExecutor:
                # The pool marks itself broken before it fails the futures it held (concurrent.futures),
                # so a caller that saw its future fail finds the pool broken here and gets a fresh one.
                broken, self._current = self._current, self._factory()
                self.rebuilds += 1
                log.warning("render_pool_rebuilt", rebuilds=self.rebuilds)
                broken.shutdown(wait=False, cancel_futures=True)
                future = self._current.submit(fn, *args, **kwargs)
            with self._counts:
                self._in_flight += 1
        future.add_done_callback(self._settled)
        return future

    def in_flight(self) -> int:
        with self._counts:
            return self._in_flight

    def _settled(self, _: Future[Any]) -> None:
        with self._counts:
            self._in_flight -= 1

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        with self._lock:
            self._closed = True
            self._current.shutdown(wait=wait, cancel_futures=cancel_futures)


def _process_pool(workers: int | None, nice: int = 0) -> ProcessPoolExecutor:
    """Spawned workers: forking a process that already holds pango/fontconfig state is unsafe."""
    return ProcessPoolExecutor(
        max_workers=workers or os.cpu_count() or 1,
        mp_context=multiprocessing.get_context("spawn"),
        initializer=_warm_up,
        initargs=(nice,),
        max_tasks_per_child=MAX_BATCHES_PER_WORKER,
    )


def worker_pool(workers: int | None = None, *, nice: int = 0) -> RenderPool:
    """The service's render pool: `workers` spawned processes, rebuilt whenever one of them dies; `nice` above 0
    lowers their priority, so rendering takes the CPU the rest leaves."""
    return RenderPool(lambda: _process_pool(workers, nice))


def _class_key(doc: Document) -> Hashable:
    """Documents likely to share static layouts (stamping.py); only a chunking hint."""
    if isinstance(doc, AttributionDecision):
        return (doc.establishment, doc.training, doc.school_year, doc.daily_rate_cents,
                doc.yearly_cap_cents, doc.issued_on, doc.signatory.name, doc.signatory.function)  # fmt: skip
    if isinstance(doc, LiquidationStatement):
        return (doc.establishment, doc.school_year, doc.ministry, doc.programme, doc.signatory.name,
                doc.signatory.function)  # fmt: skip
    return None


def chunks(docs: Sequence[Document], chunk_size: int) -> list[Sequence[Document]]:
    """Consecutive chunks of at most chunk_size that cut between classes where they can.

    A class split over two workers would have its shared page laid out twice.
    """
    bounds, start, run_start = [], 0, 0
    for index in range(1, len(docs) + 1):
        if index < len(docs) and _class_key(docs[index]) == _class_key(docs[index - 1]):
            continue
        # docs[run_start:index] is one class: close the chunk before it if it would overflow.
        if index - start > chunk_size and run_start > start:
            bounds.append((start, run_start))
            start = run_start
        while index - start > chunk_size:
            bounds.append((start, start + chunk_size))
            start += chunk_size
        run_start = index
    if start < len(docs):
        bounds.append((start, len(docs)))
    return [docs[first:last] for first, last in bounds]


def render_parallel(
    docs: Sequence[Document], executor: Executor, *, chunk_size: int = DEFAULT_CHUNK_SIZE
) -> list[bytes]:
    """Spread chunks over the pool's workers; results keep the input order."""
    futures = [
        executor.submit(render_batch, [to_payload(doc) for doc in chunk]) for chunk in chunks(docs, chunk_size)
    ]
    return [pdf for future in futures for pdf in future.result()]
