"""The importer's background tasks (Django's Tasks framework): thin doors onto importer.jobs.

Each takes only a job's id; the job row and the stored upload hold everything else, so any worker
on any machine can run it. Which backend runs them is the TASKS setting (see docs/deploy.md).
"""

from __future__ import annotations

from django.tasks import task

from . import jobs
from .models import Task


@task
def analyse(job_id: int) -> None:
    """Discover and profile the tables of a job's upload."""
    jobs.run_task(job_id, Task.ANALYSE)


@task
def dry_run(job_id: int) -> None:
    """Run a job's import and roll it back, keeping every row's outcome for the preview."""
    jobs.run_task(job_id, Task.DRY_RUN)


@task
def import_job(job_id: int) -> None:
    """Import a previewed job in one transaction."""
    jobs.run_task(job_id, Task.IMPORT)


BY_TASK = {Task.ANALYSE: analyse, Task.DRY_RUN: dry_run, Task.IMPORT: import_job}
