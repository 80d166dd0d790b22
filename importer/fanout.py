"""Read a big table's data files side by side in worker processes, one per CPU.

Exports come split into many data files, and both passes over a table read every item: the
analysis profiles each file in a worker (`profile_files`; the profiles merge in file order, so
the result is what one pass gives, see TableProfiler.merge), and the load's fast lane encodes
each file's export lines in a worker (`encode_files`; the encoded files come back in file order,
a few at a time, for the loader to stage). Workers are forked (cheap: nothing to import again,
and the fast lane's encoder comes along); each reopens the source by its path and touches nothing
else it inherited (no database connection, no open file). Small tables, a machine with one CPU,
and a process that must not fork (it runs other threads, or is itself a daemonic worker such as
Celery's) read in the calling process. No Django import.
"""

from __future__ import annotations

import gc
import multiprocessing
import os
import sys
import threading
from collections import deque
from collections.abc import Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from importer.archive import SourceTree, open_source
from importer.errors import ReadError
from importer.profile import BATCH_ITEMS, TableProfiler
from importer.read import iter_attribute_batches, iter_line_chunks
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


@dataclass(frozen=True, slots=True, kw_only=True)
class EncodedLines:
    """One data file's export lines, encoded by a worker, line by line in file order.

    `texts[n]` is the line's COPY values (tab-separated), or None when the fast lane handed the
    line back (the loader takes it down the generic path); `keys[n]` names the item as reports
    do. Blank lines are left out.
    """

    file: str
    numbers: list[int] = field(default_factory=list)
    raws: list[bytes] = field(default_factory=list)
    texts: list[str | None] = field(default_factory=list)
    keys: list[str | None] = field(default_factory=list)


_ENCODER: Any = None  # the fast lane's LineEncoder, in a load's worker processes


def worker_count(requested: int | None = None) -> int:
    """The processes to profile with: `requested`, else one per CPU this process may use."""
    if requested is not None:
        return max(1, requested)
    # os.process_cpu_count (3.13+) respects the CPU affinity; cpu_count is 3.12's best.
    count = getattr(os, "process_cpu_count", os.cpu_count)()
    return max(1, count or 1)


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


def encode_files(
    tree: SourceTree,
    files: Sequence[DataFile],
    *,
    encoder: Any,
    limits: Limits,
    processes: int,
) -> Iterator[EncodedLines | DataFile] | None:
    """Encode the export lines of `files` in worker processes, or None when it does not pay.

    Yields each file in order: its EncodedLines, or the DataFile itself when it holds no export
    lines (the caller reads it item by item). Raises ReadError for a damaged file, in its turn.
    At most one file per worker is waiting, so memory holds a few files, not the table.
    """
    size = sum(tree.size(data_file.path) for data_file in files)
    if processes < 2 or len(files) < 2 or size < MIN_PARALLEL_BYTES or not _may_fork():
        return None
    return _encoded_in_order(tree, files, encoder, limits, min(processes, len(files)))


def _encoded_in_order(
    tree: SourceTree, files: Sequence[DataFile], encoder: Any, limits: Limits, workers: int
) -> Iterator[EncodedLines | DataFile]:
    context = multiprocessing.get_context("fork")
    pool = ProcessPoolExecutor(
        max_workers=workers, mp_context=context, initializer=_set_encoder, initargs=(encoder,)
    )
    try:
        waiting: deque[tuple[DataFile, Future[EncodedLines | _Failure | None]]] = deque()
        for data_file in files:
            waiting.append(
                (data_file, pool.submit(_encode_file, str(tree.path), data_file, limits))
            )
            if len(waiting) > workers:
                yield _result(*waiting.popleft())
        while waiting:
            yield _result(*waiting.popleft())
    finally:
        # Closed early (the table failed): files not started yet are not encoded at all.
        pool.shutdown(wait=True, cancel_futures=True)


def _result(
    data_file: DataFile, future: Future[EncodedLines | _Failure | None]
) -> EncodedLines | DataFile:
    encoded = future.result()
    if isinstance(encoded, _Failure):
        raise ReadError(encoded.reason, file=encoded.file, line=encoded.line)
    return data_file if encoded is None else encoded


def _set_encoder(encoder: Any) -> None:
    global _ENCODER
    _ENCODER = encoder
    gc.disable()  # as in the caller's run (importer/run.py): lines are freed by refcount


def _encode_file(path: str, data_file: DataFile, limits: Limits) -> EncodedLines | _Failure | None:
    """In a worker: encode one data file's export lines (None: it holds none)."""
    encoder = _ENCODER
    encoded = EncodedLines(file=data_file.path)
    numbers, raws, texts, keys = encoded.numbers, encoded.raws, encoded.texts, encoded.keys
    try:
        with _reopen(path, limits) as tree:
            chunks = iter_line_chunks(
                tree,
                data_file,
                max_line_bytes=limits.max_line_bytes,
                max_decompressed_bytes=limits.max_decompressed_bytes,
            )
            if chunks is None:
                return None
            for first, lines in chunks:
                for number, line in enumerate(lines, first):
                    if not line.strip():
                        continue  # a blank line holds no item
                    numbers.append(number)
                    raws.append(line)
                    result = encoder.encode(line)
                    if result is None:
                        texts.append(None)
                        keys.append(None)
                    else:
                        item, values = result
                        texts.append("\t".join(values))
                        keys.append(encoder.item_key(item))
    except ReadError as error:
        return _Failure(reason=error.reason, file=error.file, line=error.line)
    return encoded


def _reopen(path: str, limits: Limits) -> SourceTree:
    return open_source(
        path,
        max_upload_bytes=sys.maxsize,  # the caller has taken the source in already
        max_members=limits.max_members,
        max_uncompressed_bytes=limits.max_uncompressed_bytes,
        max_compression_ratio=limits.max_compression_ratio,
    )


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
        with _reopen(path, limits) as tree:
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
