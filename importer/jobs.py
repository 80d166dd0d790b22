"""The wizard's service layer: take an ImportJob from upload to results through the engine.

Views (and, later, the background task) only call these functions. Every phase re-opens the
upload from Django's storage and goes through `importer.run` (analyse → suggest_mappings →
execute), so any process can continue a job (CASES.md C26). The analysis is kept on the job's
TableImport rows so the mapping page never re-reads the zip.
"""

from __future__ import annotations

import json
import shutil
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.utils import timezone

from .archive import SourceTree, open_source
from .conf import get_settings
from .errors import ImporterError, MappingError
from .mapping import RAW, SKIP, MappingSet, TableMapping, resolve_model, suggest_mapping
from .models import ImportJob, ImportProblem, ImportRow, Phase, TableImport
from .outcomes import RowProblem, RowResult, TableCounts
from .profile import TableProfile
from .report import RunReport
from .run import Analysis, analyse, execute, suggest_mappings
from .sources import DataFile, TableSource
from .validation import MappingProblem, validate_mapping

Status = ImportJob.Status
SAVE_BATCH = 2000
# States in which the analysis exists and the mapping may be edited or dry-run again.
MAPPABLE = (Status.READY, Status.PLANNED, Status.FAILED)


class JobStateError(ImporterError):
    """The job is not in a state that allows this step (e.g. import before preview)."""


# --- upload and analysis ---------------------------------------------------------------------


def create_job(*, upload: UploadedFile, user: Any, reuse: ImportJob | None = None) -> ImportJob:
    """Store the upload in Django's storage and record who sent it; optionally reuse a mapping."""
    job = ImportJob(
        created_by=user if getattr(user, "is_authenticated", False) else None,
        original_name=upload.name or "upload.zip",
        upload_size=upload.size or 0,
        reused_from=reuse,
        mapping=reuse.mapping if reuse is not None else None,
    )
    job.upload.save(upload.name or "upload.zip", upload, save=False)
    job.save()
    return job


def start_analysis(job: ImportJob) -> None:
    """Begin discovery and profiling (synchronously for now; a background task in issue 4)."""
    analyse_job(job)


def analyse_job(job: ImportJob) -> None:
    """Discover and profile every table of the upload; keep the profiles and a first mapping."""
    _require(job, Status.UPLOADED, action="analyse")
    _set_status(job, Status.ANALYSING)
    started = time.monotonic()
    try:
        with _opened_upload(job) as tree:
            analysis = analyse(tree, conf=get_settings())
        if not analysis.tables:
            raise ImporterError(
                f"{job.original_name} holds no DynamoDB export: expected AWSDynamoDB/<ExportId>/ "
                "with manifest files, dynamodump folders or DynamoDB JSON data files"
            )
        given = MappingSet.loads(_dumps(job.mapping)) if job.mapping else None
        mappings = suggest_mappings(analysis, given=given, conf=get_settings())
    except ImporterError as error:
        _fail(job, str(error))
        return
    with transaction.atomic():
        job.tables.all().delete()
        TableImport.objects.bulk_create(
            _table_import(job, position, table, analysis)
            for position, table in enumerate(analysis.tables)
        )
        job.mapping = mappings.to_json()
        job.summary = {"warnings": list(analysis.warnings)}
        job.timings = {**job.timings, "analyse": time.monotonic() - started}
        job.progress_total = sum(table.profile.items for table in analysis.tables)
        job.progress_done = job.progress_total
        job.error_message = ""
        job.status = Status.READY
        job.save()


def _table_import(job: ImportJob, position: int, table: Any, analysis: Analysis) -> TableImport:
    source: TableSource = table.source
    return TableImport(
        job=job,
        position=position,
        name=table.name,
        source={
            "root": source.root,
            "layout": source.layout,
            "export_id": source.export_id,
            "files": [_file_json(data_file) for data_file in source.files],
            "key_attributes": list(source.key_attributes),
            "output_format": source.output_format,
            "export_type": source.export_type,
        },
        manifest_item_count=source.manifest_item_count,
        items_read=table.profile.items,
        warnings=list(source.warnings) + _type_conflicts(table.profile),
        error=table.error or "",
        profile=table.profile.to_json(),
    )


def _file_json(data_file: DataFile) -> dict[str, Any]:
    return {
        "path": data_file.path,
        "expected_items": data_file.expected_items,
        "missing": data_file.missing,
    }


def _type_conflicts(profile: TableProfile) -> list[str]:
    return [
        f"attribute {attribute.name} has more than one type: {attribute.type_names}"
        for attribute in profile.attributes
        if attribute.has_conflict
    ]


# --- mapping ---------------------------------------------------------------------------------


def table_profile(table: TableImport) -> TableProfile:
    """The stored profile of one table (no re-reading of the upload)."""
    return TableProfile.from_json(table.profile)


def job_mappings(job: ImportJob) -> MappingSet:
    """The job's current mapping: saved tables as saved, any other table as suggested."""
    saved = MappingSet.loads(_dumps(job.mapping)) if job.mapping else MappingSet()
    tables = {}
    for table in job.tables.all():
        tables[table.name] = saved.tables.get(table.name) or suggest_table(table, target=RAW)
    return MappingSet(tables=tables)


def suggest_table(table: TableImport, *, target: str) -> TableMapping:
    """The engine's suggestion for one table onto `target` (a model label, raw or skip)."""
    return suggest_mapping(
        table_profile(table),
        target=target,
        key_attributes=tuple(table.source.get("key_attributes", ())),
    )


def check_mapping(job: ImportJob, mappings: MappingSet) -> list[MappingProblem]:
    """Validate every table's mapping against its stored profile."""
    problems: list[MappingProblem] = []
    for table in job.tables.all():
        mapping = mappings.tables.get(table.name)
        if mapping is not None:
            problems.extend(validate_mapping(mapping, table_profile(table)))
    return problems


def save_mapping(job: ImportJob, mappings: MappingSet) -> list[MappingProblem]:
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
    problems = check_mapping(job, merged)
    if problems:
        return problems
    job.mapping = merged.to_json()
    if job.status != Status.READY:
        job.status = Status.READY
        job.error_message = ""
    job.save()
    return []


def load_mapping_file(job: ImportJob, text: str | bytes, *, name: str) -> list[MappingProblem]:
    """Read a mapping JSON file (as `import_dynamodb --mapping` takes) and save it on the job."""
    return save_mapping(job, MappingSet.loads(text, source=name))


def mapping_json(job: ImportJob) -> str:
    """The job's mapping as the JSON file the wizard downloads and the command reads."""
    return job_mappings(job).dumps()


# --- dry run and import ----------------------------------------------------------------------


def dry_run_job(job: ImportJob) -> RunReport:
    """Run the import and roll it back; keep every row's outcome for the paged preview."""
    _require(job, *MAPPABLE, action="preview", needs_tables=True)
    mappings = job_mappings(job)
    problems = check_mapping(job, mappings)
    if problems:
        raise MappingError(
            "the mapping cannot work: "
            + "; ".join(f"{problem.table}: {problem.message}" for problem in problems)
        )
    previous = job.status
    _set_status(job, Status.PLANNING)
    try:
        report = _run(job, mappings, phase=Phase.DRY_RUN)
    except ImporterError:
        _set_status(job, previous if previous != Status.FAILED else Status.READY)
        raise
    _finish(job, report, phase=Phase.DRY_RUN, status=Status.PLANNED)
    return report


def import_job(job: ImportJob) -> RunReport:
    """Import every table in one transaction with the previewed mapping; keep the problems."""
    _require(job, Status.PLANNED, action="import")
    _set_status(job, Status.IMPORTING)
    try:
        report = _run(job, job_mappings(job), phase=Phase.IMPORT)
    except ImporterError as error:
        _fail(job, str(error))
        raise
    status = Status.DONE if report.imported_anything else Status.FAILED
    _finish(job, report, phase=Phase.IMPORT, status=status)
    if not report.aborted and not report.imported_anything:
        _fail(job, "nothing could be imported (see the messages of each table)")
    return report


def cancel_job(job: ImportJob) -> None:
    """Stop a job that has not been imported; its upload and analysis stay for the history."""
    if job.status in (Status.DONE, Status.IMPORTING, Status.CANCELLED):
        raise JobStateError(
            f"import #{job.pk} is {job.get_status_display().lower()}: it cannot be cancelled"
        )
    _set_status(job, Status.CANCELLED)


def _run(job: ImportJob, mappings: MappingSet, *, phase: str) -> RunReport:
    conf = get_settings()
    tables = {table.name: table for table in job.tables.all()}
    with transaction.atomic():
        ImportRow.objects.filter(job=job, phase=phase).delete()
        ImportProblem.objects.filter(job=job, phase=phase).delete()
    with _opened_upload(job) as tree:
        analysis = analyse(tree, conf=conf)
        missing = sorted(set(tables) - {table.name for table in analysis.tables})
        if missing:
            raise ImporterError(f"the upload no longer holds table(s) {', '.join(missing)}")
        for name in mappings.tables:
            target = mappings.tables[name].target
            if target not in (RAW, SKIP):
                resolve_model(target)
        recorder = JobRecorder(job, tables, phase=phase, keep_rows=phase == Phase.DRY_RUN)
        report = execute(
            tree, analysis, mappings, dry_run=phase == Phase.DRY_RUN, observer=recorder, conf=conf
        )
    # Saved after the run: a dry run's transaction is rolled back, and our rows with it.
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
        job.progress_done = sum(table.counts.get("read", 0) for table in report.tables)
        job.status = status
        job.error_message = report.aborted or ""
        if status in (Status.DONE, Status.FAILED):
            job.finished_at = timezone.now()
        job.save()


class JobRecorder:
    """A RunObserver that keeps row outcomes and problems, saved to the job once the run ends."""

    def __init__(
        self, job: ImportJob, tables: dict[str, TableImport], *, phase: str, keep_rows: bool
    ) -> None:
        self.job = job
        self.tables = tables
        self.phase = phase
        self.keep_rows = keep_rows
        self.rows: list[ImportRow] = []
        self.problems: list[ImportProblem] = []

    def table_started(self, table: TableSource, *, target: str, total_items: int) -> None:
        pass

    def file_started(self, table: TableSource, data_file: DataFile) -> None:
        pass

    def file_finished(self, table: TableSource, data_file: DataFile, *, items: int) -> None:
        pass

    def row(self, result: RowResult) -> None:
        if not self.keep_rows:
            return
        self.rows.append(
            ImportRow(
                job=self.job,
                table=self.tables[result.table],
                phase=self.phase,
                outcome=str(result.outcome),
                item_key=result.item_key,
                file=result.file,
                line=result.line,
                diff={name: [_shown(old), _shown(new)] for name, (old, new) in result.diff.items()},
                problems=[
                    {
                        "attribute": p.attribute,
                        "field": p.field,
                        "raw_value": p.raw_value,
                        "message": p.message,
                    }
                    for p in result.problems
                ],
            )
        )

    def problem(self, problem: RowProblem) -> None:
        self.problems.append(
            ImportProblem(
                job=self.job,
                phase=self.phase,
                table=problem.table,
                file=problem.file,
                line=problem.line,
                item_key=problem.item_key,
                attribute=problem.attribute,
                field=problem.field,
                raw_value=problem.raw_value,
                message=problem.message,
            )
        )

    def batch_done(self, table: TableSource, counts: TableCounts) -> None:
        pass

    def table_finished(self, table: TableSource, counts: TableCounts) -> None:
        pass

    def save(self) -> None:
        with transaction.atomic():
            ImportRow.objects.bulk_create(self.rows, batch_size=SAVE_BATCH)
            ImportProblem.objects.bulk_create(self.problems, batch_size=SAVE_BATCH)


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


def _shown(value: Any) -> str | None:
    """A diff value as the text the preview shows: strings as they are, the rest as JSON."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, (set, frozenset)):
        value = sorted(value, key=str)
    return json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)


def _dumps(body: Any) -> str:
    return json.dumps(body)


def _require(job: ImportJob, *allowed: str, action: str, needs_tables: bool = False) -> None:
    if job.status not in allowed or (needs_tables and not job.tables.exists()):
        raise JobStateError(
            f"cannot {action} import #{job.pk}: it is {job.get_status_display().lower()}"
        )


def _set_status(job: ImportJob, status: str) -> None:
    job.status = status
    job.save(update_fields=["status", "updated_at"])


def _fail(job: ImportJob, message: str) -> None:
    job.status = Status.FAILED
    job.error_message = message
    job.finished_at = timezone.now()
    job.save(update_fields=["status", "error_message", "finished_at", "updated_at"])


@contextmanager
def _opened_upload(job: ImportJob) -> Iterator[SourceTree]:
    """Open the stored upload as a SourceTree (copied locally when the storage has no paths)."""
    conf = get_settings()
    limits = {
        "max_upload_bytes": conf.max_upload_bytes,
        "max_members": conf.max_zip_members,
        "max_uncompressed_bytes": conf.max_uncompressed_bytes,
        "max_compression_ratio": conf.max_compression_ratio,
    }
    if not job.upload or not job.upload.storage.exists(job.upload.name):
        raise ImporterError(
            f"the upload of import #{job.pk} is no longer in storage; upload it again"
        )
    try:
        path = job.upload.path
    except NotImplementedError:
        path = None
    if path is not None:
        with open_source(path, **limits) as tree:
            tree.label = job.original_name
            yield tree
        return
    with tempfile.NamedTemporaryFile(suffix=".zip") as local, job.upload.open("rb") as stored:
        shutil.copyfileobj(stored, local)
        local.flush()
        with open_source(local.name, **limits) as tree:
            tree.label = job.original_name
            yield tree
