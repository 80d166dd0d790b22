"""Profile a table's data files side by side in worker processes, then merge the profiles.

Analysis reads every item of every file, and exports come split into many data files: a big
table's files are profiled in a pool of worker processes, one per CPU. Workers are forked (cheap,
nothing to import again); each reopens the source by its path, touches nothing else it inherited
(no database connection, no open file) and returns one TableProfiler; the profiles merge in file
order, so the result is what one pass gives (see TableProfiler.merge). Small tables, a machine
with one CPU, and a process that must not fork (it runs other threads, or is itself a daemonic
worker such as Celery's) are profiled in the calling process. Pure Python: no Django import.
"""

from __future__ import annotations

import gc
import multiprocessing
import os
import sys
import threading
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass

from importer.archive import SourceTree, open_source
from importer.errors import ReadError
from importer.profile import BATCH_ITEMS, TableProfiler
from importer.read import iter_attribute_batches
from importer.sources import DataFile

# Below this many bytes of data files, starting workers costs more than it saves.
MIN_PARALLEL_BYTES = 16 * 1024**2


@dataclass(frozen=True, slots=True, kw_only=True)
class Limits:
    """The reading limits a worker applies, as the caller would."""

    max_line_bytes: int
    max_decompressed_bytes: int
    max_members: int
    max_uncompressed_bytes: int
    max_compression_ratio: int


@dataclass(frozen=True, slots=True, kw_only=True)
class _Failure:
    """A ReadError, as a worker sends it back (the exception itself does not pickle)."""

    reason: str
    file: str
    line: int | None


def worker_count(requested: int | None = None) -> int:
    """The processes to profile with: `requested`, else one per CPU this process may use."""
    if requested is not None:
        return max(1, requested)
    return max(1, os.process_cpu_count() or 1)


def profile_files(
    tree: SourceTree,
    table: str,
    files: Sequence[DataFile],
    *,
    limits: Limits,
    processes: int,
) -> TableProfiler:
    """Profile every item of `files`, in worker processes when it pays; raise ReadError."""
    size = sum(tree.size(data_file.path) for data_file in files)
    if processes < 2 or len(files) < 2 or size < MIN_PARALLEL_BYTES or not _may_fork():
        profiler = TableProfiler(table)
        for data_file in files:
            _add_file(profiler, tree, data_file, limits)
        return profiler
    context = multiprocessing.get_context("fork")
    workers = min(processes, len(files))
    with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
        parts = pool.map(
            _profile_file,
            [str(tree.path)] * len(files),
            [table] * len(files),
            files,
            [limits] * len(files),
        )
        profiler = TableProfiler(table)
        for part in parts:  # in file order
            if isinstance(part, _Failure):
                raise ReadError(part.reason, file=part.file, line=part.line)
            profiler.merge(part)
    return profiler


def _may_fork() -> bool:
    # fork() copies only the calling thread: a lock another thread held stays locked forever.
    return (
        threading.active_count() == 1
        and not multiprocessing.current_process().daemon
        and "fork" in multiprocessing.get_all_start_methods()
    )


def _profile_file(
    path: str, table: str, data_file: DataFile, limits: Limits
) -> TableProfiler | _Failure:
    """In a worker: profile one data file of the source at `path`."""
    gc.disable()  # as in the caller's analysis (importer/run.py): items are freed by refcount
    profiler = TableProfiler(table)
    try:
        with open_source(
            path,
            max_upload_bytes=sys.maxsize,  # the caller has taken the source in already
            max_members=limits.max_members,
            max_uncompressed_bytes=limits.max_uncompressed_bytes,
            max_compression_ratio=limits.max_compression_ratio,
        ) as tree:
            _add_file(profiler, tree, data_file, limits)
    except ReadError as error:
        return _Failure(reason=error.reason, file=error.file, line=error.line)
    return profiler


def _add_file(
    profiler: TableProfiler, tree: SourceTree, data_file: DataFile, limits: Limits
) -> None:
    for batch in iter_attribute_batches(
        tree,
        data_file,
        batch_size=BATCH_ITEMS,
        max_line_bytes=limits.max_line_bytes,
        max_decompressed_bytes=limits.max_decompressed_bytes,
    ):
        profiler.add_batch(batch)
