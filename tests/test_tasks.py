"""The background tasks: in-process (immediate backend), then real db_worker and Celery workers."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path

import pytest
import redis
from django.contrib.auth import get_user_model
from django.core.files import File
from django.db import connection
from django.utils import timezone

from backend.samples.export import write_sample_export
from backend.stock.models import Stock
from importer import jobs, progress
from importer.errors import JobStateError
from importer.models import ImportJob, ImportRow, Phase, RawItem, Task
from importer.recorder import JobRecorder

REPO = Path(__file__).resolve().parents[1]
Status = ImportJob.Status
DATABASE_TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}
CELERY_TASKS = {
    "default": {
        "BACKEND": "django_tasks_celery.CeleryBackend",
        "OPTIONS": {"CELERY_APP": "backend.celery.app"},
    }
}
HTMX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.fixture
def staff(client):
    user = get_user_model().objects.create_user(
        username="staff", password="pw", is_staff=True, is_superuser=True
    )
    client.force_login(user)
    return user


class _Admin:
    """Stands for a superuser where the test has no request (the tasks check permissions early)."""

    def has_perm(self, permission: str) -> bool:
        return True


ADMIN = _Admin()


def new_job(tmp_path: Path, *, items: int, seed: int = 1) -> ImportJob:
    archive = tmp_path / f"sample-{items}.zip"
    write_sample_export(archive, items=items, seed=seed)
    with archive.open("rb") as stream:
        return jobs.create_job(upload=File(stream, name=archive.name), user=None)


def wait_for(job: ImportJob, *statuses: str, timeout: float = 120) -> ImportJob:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job.refresh_from_db()
        if job.status in statuses:
            return job
        time.sleep(0.1)
    raise AssertionError(f"import #{job.pk} is still {job.status} after {timeout} s")


def demo_counts() -> dict[str, int]:
    return {"stock": Stock.objects.count(), "raw": RawItem.objects.count()}


# --- in process (immediate backend) ----------------------------------------------------------


@pytest.mark.django_db
def test_every_phase_runs_as_a_task_and_records_its_rate(tmp_path):
    job = new_job(tmp_path, items=200)
    jobs.start_analysis(job)
    job.refresh_from_db()
    assert (job.status, job.task, job.progress_phase) == (Status.READY, Task.ANALYSE, "")
    assert job.task_id
    assert job.progress_done == job.progress_total == 200
    assert job.progress_rate > 0
    jobs.start_dry_run(job, user=ADMIN)
    job.refresh_from_db()
    assert (job.status, job.task, job.progress_done) == (Status.PLANNED, Task.DRY_RUN, 200)
    jobs.start_import(job, user=ADMIN)
    job.refresh_from_db()
    assert (job.status, job.task, job.progress_done) == (Status.DONE, Task.IMPORT, 200)
    assert job.heartbeat_at is not None and not job.retryable


@pytest.mark.django_db
def test_a_second_request_to_import_the_same_job_is_refused_not_run_twice(tmp_path):
    job = new_job(tmp_path, items=50)
    jobs.start_analysis(job)
    job.refresh_from_db()
    jobs.start_dry_run(job, user=ADMIN)
    job.refresh_from_db()
    stale = ImportJob.objects.get(pk=job.pk)  # what a second, racing request loaded
    jobs.start_import(job, user=ADMIN)
    with pytest.raises(JobStateError) as raised:
        jobs.start_import(stale, user=ADMIN)
    assert str(raised.value) == (
        f"import #{job.pk} was changed by another request meanwhile: reload the page"
    )
    job.refresh_from_db()
    assert job.status == Status.DONE
    assert job.tables.get(name="stock").load_counts["new"] == Stock.objects.count()


def imported_with_users_replaced(tmp_path: Path, uploader) -> ImportJob:
    """Import a sample whose users table clears the user model, as the job's uploader."""
    archive = tmp_path / "sample-20.zip"
    write_sample_export(archive, items=20, seed=1)
    with archive.open("rb") as stream:
        job = jobs.create_job(upload=File(stream, name=archive.name), user=uploader)
    jobs.start_analysis(job)
    jobs.start_dry_run(job, user=ADMIN)
    job.refresh_from_db()
    # The wizard refuses this mapping (see test_views); a job can still hold it, and another
    # user's deletion (the admin, another import) sets created_by to NULL behind the job's back.
    mapping = job.mapping
    mapping["tables"]["users"]["mode"] = "replace"
    ImportJob.objects.filter(pk=job.pk).update(
        mapping=mapping, status=Status.IMPORTING, task=Task.IMPORT
    )
    jobs.run_task(job.pk, Task.IMPORT)
    job.refresh_from_db()
    return job


@pytest.mark.django_db
def test_an_import_that_deletes_its_uploader_is_recorded_as_done(staff, tmp_path):
    job = imported_with_users_replaced(tmp_path, staff)
    assert (job.status, job.retryable, job.error_message) == (Status.DONE, False, "")
    assert not get_user_model().objects.filter(pk=staff.pk).exists()
    assert (job.created_by, job.created_by_name) == (None, "staff")
    users = job.tables.get(name="users")
    assert users.load_counts == {
        "read": 2,
        "new": 2,
        "updated": 0,
        "unchanged": 0,
        "skipped": 0,
        "errors": 0,
        "deleted": 1,
    }
    assert get_user_model().objects.count() == 2


@pytest.mark.django_db
def test_an_import_whose_results_cannot_be_saved_is_not_offered_a_retry(
    staff, tmp_path, monkeypatch
):
    real = jobs._finish

    def broken(job: ImportJob, report, *, phase: str, status: str) -> None:
        if phase == Phase.IMPORT:
            raise RuntimeError("database went away")
        real(job, report, phase=phase, status=status)

    monkeypatch.setattr(jobs, "_finish", broken)
    job = imported_with_users_replaced(tmp_path, staff)
    assert (job.status, job.retryable) == (Status.DONE, False)
    assert job.error_message == (
        "The import ended (what it wrote stays written), but its results could not be saved "
        "(RuntimeError: database went away): the counts per table are not shown."
    )
    assert job.summary["load"] == {
        "read": 20,
        "new": 20,
        "updated": 0,
        "unchanged": 0,
        "skipped": 0,
        "errors": 0,
        "deleted": 1,
    }
    assert get_user_model().objects.count() == 2  # the import stays written


@pytest.mark.django_db
def test_a_task_that_raises_fails_the_job_with_the_reason_and_retry_runs_it(
    client, staff, tmp_path, monkeypatch
):
    job = new_job(tmp_path, items=50)
    real = jobs.analyse_job

    def broken(job: ImportJob) -> None:
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(jobs, "analyse_job", broken)
    jobs.start_analysis(job)
    job.refresh_from_db()
    assert (job.status, job.retryable) == (Status.FAILED, True)
    assert job.error_message == "RuntimeError: disk on fire"
    page = client.get(f"/import/{job.pk}/").content.decode()
    assert "RuntimeError: disk on fire" in page
    assert f'action="/import/{job.pk}/retry/"' in page
    monkeypatch.setattr(jobs, "analyse_job", real)
    response = client.post(f"/import/{job.pk}/retry/")
    assert response["Location"] == f"/import/{job.pk}/"
    job.refresh_from_db()
    assert (job.status, job.retryable, job.error_message) == (Status.READY, False, "")


@pytest.mark.django_db
def test_only_a_crashed_or_stale_job_can_be_retried(client, staff, tmp_path):
    job = new_job(tmp_path, items=20)
    jobs.start_analysis(job)
    response = client.post(f"/import/{job.pk}/retry/", follow=True)
    assert [str(m) for m in response.context["messages"]] == [
        f"import #{job.pk} is ready to map: there is nothing to retry"
    ]


@pytest.mark.django_db
def test_a_job_without_a_heartbeat_is_stale_and_offers_retry(client, staff, tmp_path):
    job = new_job(tmp_path, items=20)
    jobs.start_analysis(job)
    jobs.start_dry_run(job, user=ADMIN)
    ImportJob.objects.filter(pk=job.pk).update(
        status=Status.IMPORTING,
        task=Task.IMPORT,
        progress_phase="importing",
        progress_done=5,
        progress_total=20,
        heartbeat_at=timezone.now() - timedelta(seconds=progress.STALE_AFTER_SECONDS - 5),
    )
    working = client.get(f"/import/{job.pk}/progress/", **HTMX).content.decode()
    assert 'hx-trigger="every 1s"' in working
    assert "5 of 20 items (25%)" in working
    assert 'style="width: 25%"' in working
    ImportJob.objects.filter(pk=job.pk).update(
        heartbeat_at=timezone.now() - timedelta(seconds=progress.STALE_AFTER_SECONDS + 1)
    )
    response = client.get(f"/import/{job.pk}/progress/", **HTMX)
    assert response["HX-Refresh"] == "true"
    job.refresh_from_db()
    assert (job.status, job.retryable) == (Status.FAILED, True)
    assert "the worker running the import stopped responding" in job.error_message
    page = client.get(f"/import/{job.pk}/results/").content.decode()
    assert "stopped responding" in page and "Retry the import" in page
    assert 'hx-trigger="every 1s"' not in page
    response = client.post(f"/import/{job.pk}/retry/")
    assert response["Location"] == f"/import/{job.pk}/results/"
    job.refresh_from_db()
    assert job.status == Status.DONE
    assert Stock.objects.count() > 0


@pytest.mark.django_db
def test_a_queued_job_waits_for_a_worker_and_is_never_stale(client, staff, tmp_path, settings):
    settings.TASKS = DATABASE_TASKS  # enqueued only: no worker runs here
    job = new_job(tmp_path, items=20)
    jobs.start_analysis(job)
    ImportJob.objects.filter(pk=job.pk).update(heartbeat_at=timezone.now() - timedelta(days=1))
    body = client.get(f"/import/{job.pk}/progress/", **HTMX).content.decode()
    assert "waiting for a worker" in body
    job.refresh_from_db()
    assert (job.status, job.progress_phase) == (Status.ANALYSING, progress.QUEUED)


@pytest.mark.django_db
def test_dry_run_rows_are_flushed_in_batches_not_kept(tmp_path, monkeypatch):
    """Without a second connection, batches are spooled to disk; memory holds one batch."""
    monkeypatch.setattr("importer.recorder.FLUSH_ROWS", 7)
    held: list[int] = []
    flush = JobRecorder.flush

    def watched(self: JobRecorder) -> None:
        held.append(len(self.rows))
        flush(self)

    monkeypatch.setattr(JobRecorder, "flush", watched)
    job = new_job(tmp_path, items=60)
    jobs.start_analysis(job)
    jobs.start_dry_run(job, user=ADMIN)
    assert max(held) <= 7
    assert ImportRow.objects.filter(job=job, phase=Phase.DRY_RUN).count() == 60


# --- real workers ----------------------------------------------------------------------------


def worker_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    """backend.settings on the test database: with the "progress" second connection."""
    name = connection.settings_dict["NAME"]
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "backend.settings",
        "DATABASE_URL": f"postgres://postgres@127.0.0.1:5432/{name}",
        "IMPORTER_VAR_DIR": str(tmp_path),
        "DJANGO_DEBUG": "0",
        **extra,
    }


@pytest.fixture
def start_worker(tmp_path: Path) -> Iterator[Callable[..., subprocess.Popen[bytes]]]:
    started: list[subprocess.Popen[bytes]] = []

    def start(*command: str, **env: str) -> subprocess.Popen[bytes]:
        log = (tmp_path / f"worker-{len(started)}.log").open("wb")
        process = subprocess.Popen(
            command, cwd=REPO, env=worker_env(tmp_path, **env), stdout=log, stderr=log
        )
        started.append(process)
        return process

    yield start
    for process in started:
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def db_worker(start: Callable[..., subprocess.Popen[bytes]]) -> subprocess.Popen[bytes]:
    return start(
        sys.executable,
        "manage.py",
        "db_worker",
        "--no-reload",
        "--no-startup-delay",
        "--interval",
        "0.1",
        IMPORTER_TASKS="database",
    )


@pytest.mark.django_db(transaction=True)
def test_a_db_worker_runs_analysis_dry_run_and_import(tmp_path, settings, start_worker):
    settings.TASKS = DATABASE_TASKS
    db_worker(start_worker)
    job = new_job(tmp_path, items=300)
    jobs.start_analysis(job)
    job = wait_for(job, Status.READY, Status.FAILED)
    assert job.status == Status.READY, job.error_message
    assert job.tables.count() == 8
    jobs.start_dry_run(job, user=ADMIN)
    job = wait_for(job, Status.PLANNED, Status.READY, Status.FAILED)
    assert job.status == Status.PLANNED, job.error_message
    # Written through the worker's second connection while its dry run was rolled back.
    assert ImportRow.objects.filter(job=job, phase=Phase.DRY_RUN).count() == 300
    assert demo_counts() == {"stock": 0, "raw": 0}
    jobs.start_import(job, user=ADMIN)
    job = wait_for(job, Status.DONE, Status.FAILED)
    assert job.status == Status.DONE, job.error_message
    assert job.summary["load"] == job.summary["plan"]
    assert Stock.objects.count() == job.tables.get(name="stock").plan_counts["new"] > 0
    assert job.progress_done == 300 and job.progress_rate > 0


@pytest.mark.django_db(transaction=True)
def test_a_killed_worker_leaves_the_tables_unchanged_and_the_job_retryable(
    client, staff, tmp_path, settings, start_worker, monkeypatch
):
    items = 30_000
    job = new_job(tmp_path, items=items)
    jobs.start_analysis(job)  # in this process (immediate backend), to save time
    jobs.start_dry_run(job, user=ADMIN)
    job.refresh_from_db()
    assert job.status == Status.PLANNED, job.error_message
    settings.TASKS = DATABASE_TASKS
    worker = db_worker(start_worker)
    jobs.start_import(job, user=ADMIN)
    # Progress is readable here while the worker's import transaction is still open.
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        job.refresh_from_db()
        if job.progress_phase == "importing" and 0 < job.progress_done < items:
            break
        assert job.status == Status.IMPORTING, (job.status, job.error_message)
        time.sleep(0.02)
    else:
        raise AssertionError("no import progress seen")
    assert job.progress_total == items and job.progress_rate > 0
    assert demo_counts() == {"stock": 0, "raw": 0}  # nothing committed yet
    worker.send_signal(signal.SIGKILL)
    worker.wait()
    assert demo_counts() == {"stock": 0, "raw": 0}

    monkeypatch.setattr(progress, "STALE_AFTER_SECONDS", 2)
    time.sleep(2.5)
    page = client.get(f"/import/{job.pk}/results/").content.decode()
    job.refresh_from_db()
    assert (job.status, job.retryable, job.task) == (Status.FAILED, True, Task.IMPORT)
    assert "stopped responding" in job.error_message and "Retry the import" in page
    assert demo_counts() == {"stock": 0, "raw": 0}

    db_worker(start_worker)
    monkeypatch.setattr(progress, "STALE_AFTER_SECONDS", 60)
    assert client.post(f"/import/{job.pk}/retry/")["Location"] == f"/import/{job.pk}/results/"
    job = wait_for(job, Status.DONE, Status.FAILED, timeout=300)
    assert job.status == Status.DONE, job.error_message
    assert job.summary["load"] == job.summary["plan"]
    assert Stock.objects.count() == job.tables.get(name="stock").plan_counts["new"] > 0


@pytest.mark.django_db(transaction=True)
def test_a_celery_worker_runs_an_import_through_redis(tmp_path, settings, start_worker):
    broker = settings.CELERY_BROKER_URL
    redis.Redis.from_url(broker).flushdb()  # no task left over from an earlier run
    job = new_job(tmp_path, items=200)
    jobs.start_analysis(job)
    jobs.start_dry_run(job, user=ADMIN)
    settings.TASKS = CELERY_TASKS
    start_worker(
        sys.executable,
        "-m",
        "celery",
        "-A",
        "backend",
        "worker",
        "--pool=solo",
        "-c",
        "1",
        "--loglevel=warning",
        IMPORTER_TASKS="celery",
        CELERY_BROKER_URL=broker,
    )
    jobs.start_import(job, user=ADMIN)
    job = wait_for(job, Status.DONE, Status.FAILED)
    assert job.status == Status.DONE, job.error_message
    assert job.summary["load"] == job.summary["plan"]
    assert Stock.objects.count() == job.tables.get(name="stock").plan_counts["new"] > 0
