"""Running a sweep's tasks: in this process, on a ``concurrent.futures`` executor, or on a Dask
cluster (an existing one at ``tcp://host:port``, or a ``LocalCluster`` of N workers started and
closed here).

Every runner keeps at most ``window`` tasks between submission and the sink (in flight, or done
and waiting for an earlier chunk), hands results to ``write`` in table order, and reports finished
points to ``progress``. On Dask the plan (counts, device, knob values) is scattered to the workers
once and each task is six integers; with a Parquet sink the workers write their parts themselves
and return only a row count. A worker lost mid-sweep costs its tasks, which the scheduler runs
again elsewhere (a part is renamed into place whole, so a rerun replaces it): the result is the
same.
"""

from __future__ import annotations

import ctypes
import re
import sys
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Executor, Future, wait
from contextlib import contextmanager, suppress
from itertools import count
from typing import Any

from roofline.arguments import check_count
from roofline.errors import SpecError
from roofline.sweep_plan import SweepPlan, Task
from roofline.sweep_sinks import need_pyarrow

#: ``compute(plan, task)``: one task's chunks (an iterator, or a list from a remote task)
Compute = Callable[[SweepPlan, Task], Any]
#: ``write(task, result)``: hand one task's chunks to the sink, in table order
Write = Callable[[Task, Any], None]
#: ``progress(points)``: points finished since the last call
Progress = Callable[[int], None] | None

#: tasks between submission and the sink, per worker, by default
WINDOW_PER_WORKER = 4
#: times a task that raised is retried on Dask (a lost worker is rescheduled regardless)
RETRIES = 1
#: glibc malloc settings for processes that run chunks (read from the environment at process
#: start): freed chunk-sized arrays stay for the next chunk instead of being handed back to the
#: system and faulted in again (about a third of a chunk's time otherwise). Dask sets
#: MALLOC_TRIM_THRESHOLD_=65536 in its workers, which makes it worse; the workers of
#: ``workers=N`` get these instead, and ``dask worker`` processes should be started with them.
MALLOC_ENV = {"MALLOC_MMAP_THRESHOLD_": 1 << 26, "MALLOC_TRIM_THRESHOLD_": 1 << 28}
#: mallopt's parameter numbers (glibc malloc.h)
_MALLOPT = {"MALLOC_MMAP_THRESHOLD_": -3, "MALLOC_TRIM_THRESHOLD_": -1}
#: how long to wait for a scheduler to answer
CONNECT_TIMEOUT = "10s"
#: a scheduler's address: ``tcp://host:port`` (or tls://, ucx://), or an in-process one as Dask
#: gives it, ``inproc://HOST/PID/N``
SCHEDULER_ADDRESS = re.compile(
    r"^(?:(?:tcp|tls|ucx)://\[?[\w.:-]+\]?:\d+|inproc://[\w.:\[\]-]+(?:/\d+)+)$"
)
_SWEEP_IDS = count()


def compute_and_write(compute: Compute, writer: Callable[[Task, Any], int], plan: SweepPlan,
                      task: Task) -> int:  # fmt: skip
    """Compute one task and write it where it runs; return its rows (a worker's task)."""
    return writer(task, compute(plan, task))


def _points(plan: SweepPlan, task: Task) -> int:
    return task.stop - task.start


def run_serial(
    plan: SweepPlan, tasks: Iterable[Task], compute: Compute, write: Write, progress: Progress
) -> None:
    """Every task in this process, in order, each chunk written as it is computed."""
    for task in tasks:
        write(task, compute(plan, task))
        if progress:
            progress(_points(plan, task))


class _InOrder:
    """Results that arrived early, held until every earlier chunk is written."""

    def __init__(self, plan: SweepPlan, write: Write, progress: Progress) -> None:
        self.plan, self.write, self.progress = plan, write, progress
        self.next = 0
        self.held: dict[int, tuple[Task, Any]] = {}

    def add(self, task: Task, result: Any) -> None:
        self.held[task.index] = (task, result)
        if self.progress:
            self.progress(_points(self.plan, task))
        while self.next in self.held:
            t, r = self.held.pop(self.next)
            self.write(t, r)
            self.next += 1


class _Feed:
    """The tasks not yet submitted, admitted while fewer than ``window`` tasks are unwritten:
    the tasks from the next to write up to the next to submit are all in flight or held."""

    def __init__(self, tasks: Iterable[Task]) -> None:
        self.it = iter(tasks)
        self.head = next(self.it, None)

    def admit(self, order: _InOrder, window: int) -> Iterator[Task]:
        while self.head is not None and self.head.index < order.next + window:
            task, self.head = self.head, next(self.it, None)
            yield task


def run_executor(
    executor: Executor,
    plan: SweepPlan,
    tasks: Iterable[Task],
    compute: Compute,
    write: Write,
    progress: Progress,
    window: int,
) -> None:
    """Chunks on a ``concurrent.futures`` executor, at most ``window`` of them unwritten."""
    order = _InOrder(plan, write, progress)
    feed = _Feed(tasks)
    running: dict[Future, Task] = {}
    try:
        while True:
            for task in feed.admit(order, window):
                running[executor.submit(compute, plan, task)] = task
            if not running:
                break
            done, _ = wait(running, return_when=FIRST_COMPLETED)
            for f in sorted(done, key=lambda f: running[f].index):
                order.add(running.pop(f), f.result())
    finally:
        for f in running:
            f.cancel()


def run_dask(
    client: Any,
    plan: SweepPlan,
    tasks: Iterable[Task],
    compute: Compute,
    write: Write,
    progress: Progress,
    window: int,
    writer: Callable[[Task, Any], int] | None = None,
) -> None:
    """Chunks on a Dask cluster: the plan scattered once, tasks of six integers, at most
    ``window`` unwritten; with ``writer`` the workers write their chunks and return row counts."""
    from dask.distributed import as_completed

    sweep_id = f"roofline-sweep-{next(_SWEEP_IDS)}-{id(plan):x}"
    shared = client.scatter(plan, broadcast=True, hash=False)
    order = _InOrder(plan, write, progress)
    feed = _Feed(tasks)
    futures = as_completed(loop=client.loop)
    running: dict[str, Task] = {}

    def submit() -> None:
        for task in feed.admit(order, window):
            key = f"{sweep_id}-{task.index}"
            if writer is None:
                f = client.submit(compute, shared, task, key=key, retries=RETRIES)
            else:
                f = client.submit(
                    compute_and_write, compute, writer, shared, task, key=key, retries=RETRIES
                )
            running[f.key] = task
            futures.add(f)

    try:
        submit()
        for f in futures:
            task = running.pop(f.key)
            result = f.result()
            f.release()
            order.add(task, result)
            submit()
    finally:
        for f in list(futures.futures):
            f.cancel()
        client.cancel([shared])


@contextmanager
def dask_client(scheduler: str | None = None, workers: int | None = None) -> Iterator[Any]:
    """A Dask client of the scheduler at ``scheduler`` (``tcp://host:port``), or of a
    ``LocalCluster`` of ``workers`` single-threaded worker processes started here and closed on
    exit."""
    if scheduler is not None and workers is not None:
        raise SpecError(
            "give a scheduler or a number of workers, not both",
            field="workers",
            fix="--scheduler tcp://HOST:8786 uses that cluster's workers, --workers N starts N",
        )
    if workers is not None:
        check_count("workers", workers)
    if scheduler is not None:
        if not isinstance(scheduler, str) or not SCHEDULER_ADDRESS.match(scheduler):
            raise SpecError(
                f"{scheduler!r} is not a scheduler address",
                field="scheduler",
                fix="give tcp://HOST:PORT, as 'dask scheduler' prints it (port 8786 by default)",
            )
        Client, _ = _dask(scheduler)
        try:
            client = Client(scheduler, timeout=CONNECT_TIMEOUT, set_as_default=False)
        except (OSError, TimeoutError, ValueError) as exc:
            raise SpecError(
                f"cannot reach the Dask scheduler at {scheduler!r} ({exc.__class__.__name__})",
                field="scheduler",
                fix="start one with 'dask scheduler' and workers with 'dask worker "
                "tcp://HOST:8786', then give --scheduler tcp://HOST:8786",
            ) from None
        with client:
            client.run(warm_worker)
            yield client
        return
    Client, LocalCluster = _dask(scheduler)
    import dask

    environ = dict(dask.config.get("distributed.nanny.pre-spawn-environ", {})) | MALLOC_ENV
    with (
        dask.config.set({"distributed.nanny.pre-spawn-environ": environ}),
        LocalCluster(
            n_workers=workers,
            threads_per_worker=1,
            processes=True,
            dashboard_address=None,
            host="127.0.0.1",
        ) as cluster,
        Client(cluster, set_as_default=False) as client,
    ):
        client.run(warm_worker)
        yield client


def keep_freed_memory() -> bool:
    """Give this process :data:`MALLOC_ENV`'s malloc settings now (glibc only; elsewhere nothing
    happens); return whether they were set. For a process that runs a long sweep itself (the
    command line does)."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL("libc.so.6")
    except OSError:
        return False
    return all(libc.mallopt(_MALLOPT[k], v) == 1 for k, v in MALLOC_ENV.items())


def warm_worker() -> None:
    """Import what a task needs (run on each worker as the cluster is joined, so that the first
    chunks do not wait for imports)."""
    with suppress(SpecError):  # no pyarrow there: parts are not written there
        need_pyarrow("workers")


def _dask(scheduler: str | None) -> tuple[Any, Any]:
    """dask.distributed's Client and LocalCluster, or the error saying how to install them."""
    try:
        from dask.distributed import Client, LocalCluster
    except ImportError:
        raise SpecError(
            "a Dask cluster needs dask.distributed",
            field="scheduler" if scheduler else "workers",
            fix="pip install 'roofline[dask]'",
        ) from None
    return Client, LocalCluster


def n_workers(client: Any) -> int:
    """Workers of a Dask client's cluster now (at least 1)."""
    return max(1, len(client.scheduler_info().get("workers", {})))
