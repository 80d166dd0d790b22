"""Live progress of a job's task, written where the web process can read it mid-transaction.

An import is one transaction, so progress written through the worker's own connection would stay
invisible until the end. On PostgreSQL a second connection (the "progress" database alias)
updates the ImportJob row, which every web host can read. SQLite allows one writer at a time (the
import holds the lock), so there progress goes to the "progress" cache, a FileBasedCache shared by
the web process and the worker on the one machine SQLite lives on.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from types import TracebackType
from typing import IO, Any, BinaryIO, Self

from django.conf import settings
from django.core.cache import BaseCache, caches
from django.db import connections
from django.utils import timezone

from .archive import SourceTree
from .discover import is_data_name
from .models import ImportJob

PROGRESS_ALIAS = "progress"
# How often the worker writes progress (and its heartbeat), in seconds.
FLUSH_SECONDS = 0.5
# A working job whose heartbeat is older than this has lost its worker.
STALE_AFTER_SECONDS = 60
QUEUED = "queued"


def side_database() -> str | None:
    """The alias of the second connection progress is written through, or None (use the cache)."""
    if PROGRESS_ALIAS in settings.DATABASES and connections[PROGRESS_ALIAS].vendor != "sqlite":
        return PROGRESS_ALIAS
    return None


def _cache() -> BaseCache:
    return caches[PROGRESS_ALIAS if PROGRESS_ALIAS in settings.CACHES else "default"]


def _key(job_id: int) -> str:
    return f"importer:progress:{job_id}"


@dataclass(frozen=True, slots=True, kw_only=True)
class Snapshot:
    """Where a job's task stands: its phase, done of total (items or bytes), rate, heartbeat."""

    phase: str
    unit: str
    done: int
    total: int
    rate: float
    heartbeat_at: datetime | None

    @property
    def percent(self) -> int:
        if not self.total:
            return 0
        return min(100, int(self.done * 100 / self.total))

    @property
    def queued(self) -> bool:
        return self.phase == QUEUED


def snapshot(job: ImportJob) -> Snapshot:
    """The job's latest progress (from the cache on SQLite, else from the job row as loaded)."""
    if side_database() is None:
        cached = _cache().get(_key(job.pk))
        if cached is not None and job.is_working:
            return Snapshot(**cached)
    return Snapshot(
        phase=job.progress_phase,
        unit=job.progress_unit,
        done=job.progress_done,
        total=job.progress_total,
        rate=job.progress_rate,
        heartbeat_at=job.heartbeat_at,
    )


def is_stale(job: ImportJob, progress: Snapshot, *, now: datetime | None = None) -> bool:
    """True when a worker took the job's task and has not been heard from for too long."""
    if not job.is_working or progress.queued or progress.heartbeat_at is None:
        return False
    now = now or timezone.now()
    return now - progress.heartbeat_at > timedelta(seconds=STALE_AFTER_SECONDS)


def mark_queued(job: ImportJob) -> None:
    """Reset the job's progress to "waiting for a worker" (the caller saves the job)."""
    job.progress_phase = QUEUED
    job.progress_unit = "items"
    job.progress_done = job.progress_total = 0
    job.progress_rate = 0.0
    job.heartbeat_at = timezone.now()
    _cache().delete(_key(job.pk))


def clear(job_id: int) -> None:
    """Forget the cached progress of a job whose task has ended (the job row holds the end)."""
    _cache().delete(_key(job_id))


class ProgressReporter:
    """Counts a task's progress in memory; a thread writes it every FLUSH_SECONDS.

    The thread is also the worker's heartbeat: it keeps writing while the task sits in one long
    statement (a commit, a big delete), and stops when the process dies, so the job goes stale.
    """

    def __init__(self, job_id: int) -> None:
        self.job_id = job_id
        self.alias = side_database()
        self.phase = ""
        self.unit = "items"
        self.done = 0
        self.total = 0
        self._started = time.monotonic()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self, phase: str, *, total: int, unit: str = "items") -> None:
        """Begin a phase: count `done` of `total` from zero."""
        self.phase, self.unit, self.total, self.done = phase, unit, total, 0
        self._started = time.monotonic()

    def __enter__(self) -> Self:
        self._write()
        self._thread = threading.Thread(target=self._loop, name=f"progress-{self.job_id}")
        self._thread.daemon = True
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        self._write()

    def values(self) -> dict[str, Any]:
        elapsed = time.monotonic() - self._started
        return {
            "phase": self.phase,
            "unit": self.unit,
            "done": min(self.done, self.total) if self.total else self.done,
            "total": self.total,
            "rate": round(self.done / elapsed, 1) if elapsed > 0 else 0.0,
            "heartbeat_at": timezone.now(),
        }

    def _loop(self) -> None:
        try:
            while not self._stop.wait(FLUSH_SECONDS):
                self._write()
        finally:
            if self.alias is not None:
                connections[self.alias].close()  # this thread's own connection

    def _write(self) -> None:
        values = self.values()
        if self.alias is None:
            _cache().set(_key(self.job_id), values, timeout=STALE_AFTER_SECONDS * 10)
            return
        ImportJob.objects.using(self.alias).filter(pk=self.job_id).update(
            progress_phase=values["phase"],
            progress_unit=values["unit"],
            progress_done=values["done"],
            progress_total=values["total"],
            progress_rate=values["rate"],
            heartbeat_at=values["heartbeat_at"],
        )


class MeteredTree(SourceTree):
    """A SourceTree that counts the bytes read from its data files into a ProgressReporter.

    Reading phases (analysis, and the re-read before a run) have no item total until they end, so
    they report bytes of data files read out of their total size.
    """

    def __init__(self, tree: SourceTree, reporter: ProgressReporter) -> None:
        self.tree = tree
        self.label = tree.label
        self.reporter = reporter

    def data_bytes(self) -> int:
        return sum(self.tree.size(name) for name in self.tree.names() if is_data_name(name))

    def names(self) -> list[str]:
        return self.tree.names()

    def open(self, name: str) -> BinaryIO:
        stream = self.tree.open(name)
        if not is_data_name(name):
            return stream
        return _MeteredStream(stream, self.reporter)  # type: ignore[return-value]

    def size(self, name: str) -> int:
        return self.tree.size(name)

    def close(self) -> None:
        self.tree.close()


class _MeteredStream:
    def __init__(self, stream: IO[bytes], reporter: ProgressReporter) -> None:
        self._stream = stream
        self._reporter = reporter

    def read(self, size: int = -1) -> bytes:
        chunk = self._stream.read(size)
        self._reporter.done += len(chunk)
        return chunk

    def readinto(self, buffer: Any) -> int:
        count = self._stream.readinto(buffer)  # type: ignore[attr-defined]
        self._reporter.done += count or 0
        return count

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self._stream.close()
