"""Where the wizard goes for a job: the page it resumes on, its step, its progress fragment's
context and the admin list of an imported table.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from django.urls import NoReverseMatch, reverse

from . import progress
from .errors import ImporterError
from .mapping import RAW, SKIP, resolve_model
from .models import ImportJob, TableImport, Task

Status = ImportJob.Status


def progress_context(job: ImportJob) -> dict[str, Any]:
    """What the progress fragment shows: the job and its latest progress snapshot."""
    return {"job": job, "progress": progress.snapshot(job)}


def admin_link(table: TableImport) -> str:
    """The admin list of the rows an imported table wrote ("" when there is none to show)."""
    target = table.target
    if not target or target == SKIP or table.load_status != "imported":
        return ""
    try:
        model = resolve_model(target)
        url = reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist")
    except (ImporterError, NoReverseMatch):
        return ""
    if target == RAW:
        url += "?" + urlencode({"source_table__exact": table.name})
    return url


def resume_url(job: ImportJob) -> str:
    """The page of the job's last step, where it reopens from the history."""
    match job.status:
        case Status.READY:
            name = "importer:mapping"
        case Status.PLANNING | Status.PLANNED:
            name = "importer:preview"
        case Status.IMPORTING | Status.DONE:
            name = "importer:results"
        case Status.FAILED if "load" in job.summary or (job.task == Task.IMPORT and job.retryable):
            name = "importer:results"
        case Status.FAILED if job.retryable:
            name = "importer:job"
        case Status.FAILED if job.tables.exists():
            name = "importer:mapping"
        case _:
            name = "importer:job"
    return reverse(name, args=[job.pk])


def step(job: ImportJob) -> str:
    """The wizard step the job's status belongs to (the one the step bar highlights)."""
    match job.status:
        case Status.UPLOADED | Status.ANALYSING:
            return "upload"
        case Status.FAILED | Status.CANCELLED if not job.tables.exists():
            return "upload"  # stopped before any table was found: the upload is the step
        case Status.READY | Status.FAILED | Status.CANCELLED:
            return "map"
        case Status.PLANNING | Status.PLANNED:
            return "preview"
        case Status.IMPORTING:
            return "import"
        case _:
            return "done"
