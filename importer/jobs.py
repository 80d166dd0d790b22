"""The wizard's service layer: take an ImportJob from upload to results through the engine.

Views call `start_*`, which check what can be checked at once and enqueue a background task
(importer/tasks.py); the task calls `run_task`, which runs the phase (`analyse_job`,
`dry_run_job`, `import_job`) in a worker. Every phase re-opens the upload from Django's storage
(importer/uploads.py) and goes through `importer.run` (analyse → suggest_mappings → execute), so
any process can continue a job (CASES.md C26). The analysis is kept on the job's TableImport rows
(importer/job_tables.py) so the mapping page never re-reads the zip. Progress goes through
importer/progress.py, row outcomes through recorder.py.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from typing import Any

from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.utils import timezone

from . import progress
from .conf import get_settings
from .discover import discover
from .errors import ImporterError, JobStateError, MappingError
from .job_tables import (
    check_mapping,
    job_mappings,
    permission_problems,
    stored_analysis,
    table_import,
)
from .mapping import RAW, SKIP, MappingSet, resolve_model
from .models import ImportJob, ImportProblem, ImportRow, Phase, TableImport, Task
from .outcomes import RowProblem
from .progress import MeteredTree, ProgressReporter
from .recorder import JobRecorder
from .report import RunReport
from .run import analyse, execute, suggest_mappings
from .uploads import opened_upload, require_upload
from .validation import MappingProblem

logger = logging.getLogger(__name__)

Status = ImportJob.Status
# States in which the analysis exists and the mapping may be edited or dry-run again.
MAPPABLE = (Status.READY, Status.PLANNED, Status.FAILED)
# The status a job has while each task runs, and the one a retry starts from.
WORKING = {
    Task.ANALYSE: Status.ANALYSING,
    Task.DRY_RUN: Status.PLANNING,
    Task.IMPORT: Status.IMPORTING,
}
BEFORE = {Task.ANALYSE: Status.UPLOADED, Task.DRY_RUN: Status.READY, Task.IMPORT: Status.PLANNED}
# A job is only ever saved field by field (never `job.save()`): a run may change the job's row
# behind the instance's back (replace mode on the user model sets `created_by` to NULL through
# the ORM's SET_NULL), and writing back a stale field would undo that or fail the save.
PROGRESS_FIELDS = [
    "progress_phase",
    "progress_unit",
    "progress_done",
    "progress_total",
    "progress_rate",
    "heartbeat_at",
]


# --- upload and analysis ---------------------------------------------------------------------


def create_job(*, upload: UploadedFile, user: Any, reuse: ImportJob | None = None) -> ImportJob:
    """Store the upload in Django's storage and record who sent it; optionally reuse a mapping."""
    signed_in = getattr(user, "is_authenticated", False)
    job = ImportJob(
        created_by=user if signed_in else None,
        created_by_name=user.get_username() if signed_in else "",
        original_name=upload.name or "upload.zip",
        upload_size=upload.size or 0,
        reused_from=reuse,
        mapping=reuse.mapping if reuse is not None else None,
    )
    job.upload.save(upload.name or "upload.zip", upload, save=False)
    job.save()
    return job


def start_analysis(job: ImportJob) -> None:
    """Enqueue the discovery and profiling of a new upload."""
    _require(job, Status.UPLOADED, action="analyse")
    _enqueue(job, Task.ANALYSE, expected=Status.UPLOADED)


def analyse_job(job: ImportJob) -> None:
    """Discover and profile every table of the upload; keep the profiles and a first mapping."""
    _require(job, Status.ANALYSING, action="analyse")
    started = time.monotonic()
    with ProgressReporter(job.pk) as reporter:
        try:
            with opened_upload(job) as tree:
                # Discovery reads the manifests and checksums every data file; the progress
                # counts the profiling's reading only.
                discovery = discover(tree)
                metered = MeteredTree(tree, reporter)
                reporter.start("analysing", total=metered.data_bytes(), unit="bytes")
                analysis = analyse(metered, conf=get_settings(), discovery=discovery)
            if not analysis.tables:
                raise ImporterError(
                    f"{job.original_name} holds no DynamoDB export: expected "
                    "AWSDynamoDB/<ExportId>/ with manifest files, dynamodump folders or DynamoDB "
                    "JSON data files"
                )
            given = MappingSet.from_json(job.mapping) if job.mapping else None
            mappings = suggest_mappings(analysis, given=given, conf=get_settings())
        except ImporterError as error:
            _fail(job, str(error))
            return
    seconds = time.monotonic() - started
    with transaction.atomic():
        job.tables.all().delete()
        TableImport.objects.bulk_create(
            table_import(job, position, table, analysis)
            for position, table in enumerate(analysis.tables)
        )
        job.mapping = mappings.to_json()
        job.summary = {"warnings": list(analysis.warnings)}
        job.timings = {**job.timings, "analyse": seconds}
        _progress_ended(
            job, items=sum(table.profile.items for table in analysis.tables), seconds=seconds
        )
        job.error_message = ""
        job.status = Status.READY
        job.save(
            update_fields=[
                "mapping",
                "summary",
                "timings",
                "error_message",
                "status",
                "updated_at",
                *PROGRESS_FIELDS,
            ]
        )


# --- mapping ---------------------------------------------------------------------------------


def save_mapping(job: ImportJob, mappings: MappingSet, *, user: Any) -> list[MappingProblem]:
    """Validate and, when nothing is wrong, save the mapping; a saved change voids the preview."""
    _require(job, *MAPPABLE, action="change the mapping of", needs_tables=True)
    known = {table.name for table in job.tables.all()}
    unknown = sorted(set(mappings.tables) - known)
    if unknown:
        raise MappingError(
            f"the mapping names tables this upload does not hold: {', '.join(unknown)} "
            f"(it holds: {', '.join(sorted(known))})"
        )
    merged = MappingSet(tables={**job_mappings(job).tables, **mappings.tables})
    problems = check_mapping(job, merged) + permission_problems(user, merged)
    if problems:
        return problems
    job.mapping = merged.to_json()
    if job.status != Status.READY:
        job.status = Status.READY
        job.error_message = ""
    job.save(update_fields=["mapping", "status", "error_message", "updated_at"])
    return []


def load_mapping_file(
    job: ImportJob, text: str | bytes, *, name: str, user: Any
) -> list[MappingProblem]:
    """Read a mapping JSON file (as `import_dynamodb --mapping` takes) and save it on the job."""
    return save_mapping(job, MappingSet.loads(text, source=name), user=user)


def _check_permissions(job: ImportJob, user: Any) -> None:
    problems = permission_problems(user, job_mappings(job))
    if problems:
        raise MappingError("; ".join(f"{problem.table}: {problem.message}" for problem in problems))


# --- dry run and import ----------------------------------------------------------------------


def start_dry_run(job: ImportJob, *, user: Any) -> None:
    """Check the mapping, the user's permissions and the stored upload; enqueue the dry run."""
    _require(job, *MAPPABLE, action="preview", needs_tables=True)
    _check_mappings(job, job_mappings(job))
    _check_permissions(job, user)
    require_upload(job)
    _enqueue(job, Task.DRY_RUN, expected=job.status)


def start_import(job: ImportJob, *, user: Any) -> None:
    """Enqueue the import of a previewed job (the user must still hold the permissions)."""
    _require(job, Status.PLANNED, action="import")
    _check_mappings(job, job_mappings(job))
    _check_permissions(job, user)
    require_upload(job)
    _enqueue(job, Task.IMPORT, expected=Status.PLANNED)


def retry_job(job: ImportJob) -> None:
    """Enqueue again the task that crashed or whose worker died."""
    if not job.retryable or job.status != Status.FAILED or job.task not in BEFORE:
        raise JobStateError(f"import #{job.pk} {job.status_phrase}: there is nothing to retry")
    require_upload(job)
    _enqueue(job, Task(job.task), expected=Status.FAILED)


def run_task(job_id: int, task: Task) -> None:
    """Run one task of a job (the body of every task in importer/tasks.py)."""
    job = ImportJob.objects.get(pk=job_id)
    if job.status != WORKING[task] or job.task != task:
        # Delivered twice, or cancelled / marked stale while it waited: nothing to do.
        logger.warning("import #%s: %s task skipped, the job is %s", job_id, task, job.status)
        return
    try:
        match task:
            case Task.ANALYSE:
                analyse_job(job)
            case Task.DRY_RUN:
                dry_run_job(job)
            case Task.IMPORT:
                import_job(job)
    except ImporterError:
        pass  # the phase has recorded it on the job
    except Exception as error:
        _crashed(job_id, task, f"{type(error).__name__}: {error}")
        raise
    finally:
        progress.clear(job_id)


def mark_stale(job: ImportJob) -> bool:
    """Fail a working job whose worker has stopped sending progress; True if it was stale."""
    if not progress.is_stale(job, progress.snapshot(job)):
        return False
    label = Task(job.task).label.lower() if job.task in Task.values else "task"
    _crashed(
        job.pk,
        job.task,
        f"the worker running the {label} stopped responding (no progress for "
        f"{progress.STALE_AFTER_SECONDS} s): it was stopped or died. The {label} changed "
        "nothing; retry to run it again.",
    )
    job.refresh_from_db()
    return True


def dry_run_job(job: ImportJob) -> RunReport | None:
    """Run the import and roll it back; keep every row's outcome for the paged preview."""
    _require(job, Status.PLANNING, action="preview", needs_tables=True)
    mappings = job_mappings(job)
    try:
        _check_mappings(job, mappings)
        report = _run(job, mappings, phase=Phase.DRY_RUN)
    except ImporterError as error:
        job.status = Status.READY
        job.error_message = str(error)
        job.save(update_fields=["status", "error_message", "updated_at"])
        raise
    _finish(job, report, phase=Phase.DRY_RUN, status=Status.PLANNED)
    return report


def import_job(job: ImportJob) -> RunReport:
    """Import every table in one transaction with the previewed mapping; keep the problems."""
    _require(job, Status.IMPORTING, action="import")
    try:
        report = _run(job, job_mappings(job), phase=Phase.IMPORT)
    except ImporterError as error:
        _fail(job, str(error))
        raise
    status = Status.DONE if report.imported_anything else Status.FAILED
    try:
        _finish(job, report, phase=Phase.IMPORT, status=status)
    except Exception as error:
        # The import's transaction has ended: what it wrote stays written. A failure to record
        # the details must not make the job "failed" with a retry offered (a retry would run the
        # import again), so the outcome is recorded on the job's row alone.
        logger.exception("import #%s: the import ended but its results were not saved", job.pk)
        _record_outcome(job, report, status=status, error=error)
        return report
    if not report.aborted and not report.imported_anything:
        _fail(job, "nothing could be imported (see the messages of each table)")
    return report


def cancel_job(job: ImportJob) -> None:
    """Stop a job that has not been imported; its upload and analysis stay for the history."""
    if job.status in (Status.DONE, Status.IMPORTING, Status.CANCELLED):
        raise JobStateError(f"import #{job.pk} {job.status_phrase}: it cannot be cancelled")
    _set_status(job, Status.CANCELLED)


def _run(job: ImportJob, mappings: MappingSet, *, phase: str) -> RunReport:
    conf = get_settings()
    tables = {table.name: table for table in job.tables.all()}
    with transaction.atomic():
        ImportRow.objects.filter(job=job, phase=phase).delete()
        ImportProblem.objects.filter(job=job, phase=phase).delete()
    with ProgressReporter(job.pk) as reporter, opened_upload(job) as tree:
        reporter.start("finding the tables", total=0)
        analysis = stored_analysis(job, tree)
        for name in mappings.tables:
            target = mappings.tables[name].target
            if target not in (RAW, SKIP):
                resolve_model(target)
        recorder = JobRecorder(
            job, tables, phase=phase, keep_rows=phase == Phase.DRY_RUN, progress=reporter
        )
        total = sum(
            table.profile.items
            for table in analysis.tables
            if table.name in mappings.tables and not mappings.tables[table.name].is_skipped
        )
        reporter.start("planning" if phase == Phase.DRY_RUN else "importing", total=total)
        # The run reads the unmetered tree: from here progress counts items, not bytes.
        report = execute(
            tree, analysis, mappings, dry_run=phase == Phase.DRY_RUN, observer=recorder, conf=conf
        )
        # What is left is saved after the run (spooled batches where there is no second
        # connection): a dry run's transaction is rolled back, with anything written through it.
        recorder.save()
    return report


def _finish(job: ImportJob, report: RunReport, *, phase: str, status: str) -> None:
    key = "plan" if phase == Phase.DRY_RUN else "load"
    by_name = {table.table: table for table in report.tables}
    with transaction.atomic():
        for table in job.tables.all():
            result = by_name.get(table.name)
            if result is None:
                continue
            setattr(table, f"{key}_counts", result.counts)
            setattr(table, f"{key}_status", result.status)
            table.messages = list(result.messages)
            table.target = result.target
            table.save()
        job.summary = {
            **job.summary,
            key: report.totals(),
            f"{key}_aborted": report.aborted or "",
            "warnings": list(report.warnings),
        }
        job.timings = {**job.timings, key: report.seconds}
        _progress_ended(
            job,
            items=sum(table.counts.get("read", 0) for table in report.tables),
            seconds=report.seconds,
        )
        job.status = status
        job.error_message = report.aborted or ""
        if status in (Status.DONE, Status.FAILED):
            job.finished_at = timezone.now()
        job.save(
            update_fields=[
                "summary",
                "timings",
                "status",
                "error_message",
                "finished_at",
                "updated_at",
                *PROGRESS_FIELDS,
            ]
        )


def _record_outcome(job: ImportJob, report: RunReport, *, status: str, error: Exception) -> None:
    written = "nothing was written" if report.aborted else "what it wrote stays written"
    ImportJob.objects.filter(pk=job.pk).update(
        status=status,
        retryable=False,
        summary={**job.summary, "load": report.totals(), "load_aborted": report.aborted or ""},
        timings={**job.timings, "load": report.seconds},
        progress_phase="",
        error_message=(
            f"The import ended ({written}), but its results could not be saved "
            f"({type(error).__name__}: {error}): the counts per table are not shown."
        ),
        finished_at=timezone.now(),
        updated_at=timezone.now(),
    )


def iter_problems(job: ImportJob, *, phase: str) -> Iterator[RowProblem]:
    """Every problem of one phase of the job, in order, for the error CSV (streamed)."""
    for saved in (
        ImportProblem.objects.filter(job=job, phase=phase).order_by("id").iterator(chunk_size=2000)
    ):
        yield RowProblem(
            table=saved.table,
            message=saved.message,
            file=saved.file,
            line=saved.line,
            item_key=saved.item_key,
            attribute=saved.attribute,
            field=saved.field,
            raw_value=saved.raw_value,
        )


# --- helpers ---------------------------------------------------------------------------------


def _require(job: ImportJob, *allowed: str, action: str, needs_tables: bool = False) -> None:
    if job.status not in allowed or (needs_tables and not job.tables.exists()):
        raise JobStateError(f"cannot {action} import #{job.pk}: it {job.status_phrase}")


def _check_mappings(job: ImportJob, mappings: MappingSet) -> None:
    problems = check_mapping(job, mappings)
    if problems:
        raise MappingError(
            "the mapping cannot work: "
            + "; ".join(f"{problem.table}: {problem.message}" for problem in problems)
        )


def _enqueue(job: ImportJob, task: Task, *, expected: str) -> None:
    """Mark the job as waiting for `task` and hand the task (only the job's id) to a worker.

    `expected` is the status the caller checked; the job moves on only if it still has it.
    """
    from . import tasks  # tasks imports this module

    # Claim the job in one conditional UPDATE: of two requests racing (a double click on
    # "Import now"), only the first moves the job on; the second is told, never run twice.
    claimed = ImportJob.objects.filter(pk=job.pk, status=expected).update(
        status=WORKING[task], task=task
    )
    if not claimed:
        raise JobStateError(
            f"import #{job.pk} was changed by another request meanwhile: reload the page"
        )
    job.status = WORKING[task]
    job.task = task
    job.retryable = False
    job.error_message = ""
    job.finished_at = None
    progress.mark_queued(job)
    job.save(
        update_fields=[
            "status",
            "task",
            "retryable",
            "error_message",
            "finished_at",
            "updated_at",
            *PROGRESS_FIELDS,
        ]
    )
    # The immediate backend runs the task here, before enqueue returns; hence update(), not save().
    result = tasks.BY_TASK[task].enqueue(job.pk)
    ImportJob.objects.filter(pk=job.pk).update(task_id=str(result.id)[:64])
    job.refresh_from_db()


def _progress_ended(job: ImportJob, *, items: int, seconds: float) -> None:
    job.progress_phase = ""
    job.progress_unit = "items"
    job.progress_total = job.progress_done = items
    job.progress_rate = round(items / seconds, 1) if seconds > 0 else 0.0
    job.heartbeat_at = timezone.now()


def _crashed(job_id: int, task: str, message: str) -> None:
    ImportJob.objects.filter(pk=job_id).update(
        status=Status.FAILED,
        task=task,
        retryable=True,
        error_message=message,
        progress_phase="",
        finished_at=timezone.now(),
        updated_at=timezone.now(),
    )


def _set_status(job: ImportJob, status: str) -> None:
    job.status = status
    job.save(update_fields=["status", "updated_at"])


def _fail(job: ImportJob, message: str) -> None:
    job.status = Status.FAILED
    job.error_message = message
    job.finished_at = timezone.now()
    job.save(update_fields=["status", "error_message", "finished_at", "updated_at"])
