"""The upload wizard's views: thin doors that gather input, call importer.jobs and render a step.

Every view is staff only. HTMX requests get the page's fragment (`"page.html#fragment"`). A job,
table or report that does not exist gets the wizard's own "not found" page, never Django's.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib import messages
from django.contrib.admin.views.decorators import staff_member_required
from django.contrib.auth.views import redirect_to_login
from django.core.paginator import Paginator
from django.http import (
    HttpRequest,
    HttpResponse,
    HttpResponseBase,
    StreamingHttpResponse,
)
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.html import escape
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_htmx.http import HttpResponseClientRedirect, HttpResponseClientRefresh
from django_htmx.middleware import HtmxDetails

from . import job_tables, jobs
from .conf import get_settings
from .errors import ImporterError
from .forms import MappingFileForm, TableMappingForm, UploadForm
from .mapping import RAW, SKIP, MappingSet, resolve_model
from .models import ImportJob, ImportRow, Phase, TableImport, Task
from .navigation import admin_link, progress_context, resume_url, step
from .outcomes import Outcome
from .report import iter_error_csv
from .validation import MappingProblem

Status = ImportJob.Status
# The outcomes the preview lists row by row: unchanged rows are only counted (a re-run of a big
# export would otherwise store a row for every item), so they are not a filter.
LISTED_OUTCOMES = (Outcome.NEW, Outcome.UPDATED, Outcome.SKIPPED, Outcome.ERROR)
COUNT_KEYS = {Outcome.ERROR: "errors"}  # the run's totals say "errors" for the error outcome
DIFF_PAGE_SIZE = 50
HISTORY_PAGE_SIZE = 25
MAX_MAPPING_FILE_BYTES = 5 * 1024**2


class HtmxHttpRequest(HttpRequest):
    htmx: HtmxDetails


def staff_only(view: Callable[..., HttpResponseBase]) -> Callable[..., HttpResponseBase]:
    """Staff only, as the admin's login asks; an HTMX request sends the whole page to the login.

    Without this, a progress poll or a fragment whose session has ended would swap the login
    page into the wizard's page.
    """
    guarded = staff_member_required(view)

    @wraps(view)
    def staff_view(request: HtmxHttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        user = request.user
        if request.htmx and not (user.is_active and user.is_staff):
            page = request.htmx.current_url_abs_path or request.get_full_path()
            return HttpResponseClientRedirect(
                redirect_to_login(page, login_url=reverse("admin:login"))["Location"]
            )
        return guarded(request, *args, **kwargs)

    return staff_view


def job_view(view: Callable[..., HttpResponseBase]) -> Callable[..., HttpResponseBase]:
    """Call `view` with the job of the URL's pk; a job that does not exist gets a wizard page."""

    @wraps(view)
    def with_job(request: HtmxHttpRequest, pk: int, **kwargs: Any) -> HttpResponseBase:
        job = ImportJob.objects.filter(pk=pk).first()
        if job is None:
            return missing(request, f"Import #{pk} does not exist.")
        return view(request, job, **kwargs)

    return with_job


def missing(request: HtmxHttpRequest, message: str, *, status: int = 404) -> HttpResponse:
    """The wizard's page for a job, table or report that is not there (the fragment for HTMX)."""
    template = "importer/missing.html#missing" if request.htmx else "importer/missing.html"
    return render(request, template, {"message": message, "step": ""}, status=status)


# --- upload ----------------------------------------------------------------------------------


@staff_only
@require_http_methods(["GET", "POST"])
def upload(request: HtmxHttpRequest) -> HttpResponse:
    if request.method == "POST":
        form = UploadForm(request.POST, request.FILES)
        if form.is_valid():
            reuse = _reusable(form.cleaned_data.get("reuse"))
            job = jobs.create_job(
                upload=form.cleaned_data["upload"], user=request.user, reuse=reuse
            )
            jobs.start_analysis(job)
            job.refresh_from_db()
            if job.status == Status.FAILED:
                messages.error(request, job.error_message)
            url = reverse("importer:job", args=[job.pk])
            return HttpResponseClientRedirect(url) if request.htmx else redirect(url)
    else:
        form = UploadForm(initial={"reuse": request.GET.get("reuse") or None})
    reuse = _reusable(form["reuse"].value())
    template = "importer/upload.html#upload-form" if request.htmx else "importer/upload.html"
    return render(request, template, {"form": form, "reuse": reuse, "step": "upload"})


def _reusable(value: Any) -> ImportJob | None:
    try:
        pk = int(value)
    except (TypeError, ValueError):
        return None
    return ImportJob.objects.filter(pk=pk, mapping__isnull=False).first()


# --- job: progress and tables found ----------------------------------------------------------


@staff_only
@require_GET
@job_view
def job_detail(request: HtmxHttpRequest, job: ImportJob) -> HttpResponse:
    jobs.mark_stale(job)
    return render(
        request,
        "importer/job.html",
        {
            **progress_context(job),
            "tables": job.tables.all(),
            "step": step(job),
            "next_url": resume_url(job),
        },
    )


@staff_only
@require_GET
@job_view
def job_progress(request: HtmxHttpRequest, job: ImportJob) -> HttpResponse:
    jobs.mark_stale(job)
    if request.htmx and not job.is_working:
        # The phase has ended: reload the page so it shows the phase's result (the poll stops).
        return HttpResponseClientRefresh()
    return render(request, "importer/partials/progress.html", progress_context(job))


@staff_only
@require_POST
@job_view
def retry(request: HtmxHttpRequest, job: ImportJob) -> HttpResponse:
    task = job.task
    try:
        jobs.retry_job(job)
    except ImporterError as error:
        messages.error(request, str(error))
        return redirect(resume_url(job))
    job.refresh_from_db()
    if job.status == Status.FAILED and job.error_message:
        messages.error(request, job.error_message)
    match task:
        case Task.DRY_RUN:
            return redirect("importer:preview", pk=job.pk)
        case Task.IMPORT:
            return redirect("importer:results", pk=job.pk)
        case _:
            return redirect("importer:job", pk=job.pk)


# --- mapping ---------------------------------------------------------------------------------


@staff_only
@require_http_methods(["GET", "POST"])
@job_view
def mapping(request: HtmxHttpRequest, job: ImportJob) -> HttpResponse:
    if job.status not in jobs.MAPPABLE or not job.tables.exists():
        messages.error(
            request,
            f"Import #{job.pk} {job.status_phrase}: its mapping cannot be changed now.",
        )
        return redirect(resume_url(job))
    current = job_tables.job_mappings(job)
    tables = list(job.tables.all())
    data = request.POST if request.method == "POST" else None
    forms = [
        TableMappingForm(
            data,
            table=table,
            profile=job_tables.table_profile(table),
            mapping=current.tables[table.name],
        )
        for table in tables
    ]
    problems: list[MappingProblem] = []
    if request.method == "POST":
        if all(form.is_valid() for form in forms):
            chosen = MappingSet(tables={form.table.name: form.to_mapping() for form in forms})
            try:
                problems = jobs.save_mapping(job, chosen, user=request.user)
            except ImporterError as error:
                messages.error(request, str(error))
                return redirect(resume_url(job))
            if not problems:
                if "preview" in request.POST:
                    return _dry_run(request, job)
                messages.success(request, "Mapping saved.")
                return redirect("importer:mapping", pk=job.pk)
            messages.error(request, "The mapping cannot work yet: see the problems marked below.")
        else:
            messages.error(request, "Some choices are not valid: see the fields marked below.")
    else:
        problems = job_tables.check_mapping(job, current)
    blocks = [_table_block(job, form, problems) for form in forms]
    return render(
        request,
        "importer/mapping.html",
        {
            "job": job,
            "blocks": blocks,
            "file_form": MappingFileForm(),
            "step": "map",
            "has_problems": bool(problems),
        },
    )


@staff_only
@require_GET
@job_view
def mapping_table(request: HtmxHttpRequest, job: ImportJob, position: int) -> HttpResponse:
    """One table's key, mode and attribute rows, re-suggested for the target chosen in the select."""
    table = TableImport.objects.filter(job=job, position=position).first()
    if table is None:
        return missing(request, f"Import #{job.pk} has no table {position}.")
    target = request.GET.get(f"t{position}-target") or RAW
    try:
        if target not in (RAW, SKIP):
            resolve_model(target)
        suggestion = job_tables.suggest_table(table, target=target)
    except ImporterError as error:
        return HttpResponse(f'<div class="alert alert-danger">{escape(str(error))}</div>')
    form = TableMappingForm(
        table=table, profile=job_tables.table_profile(table), mapping=suggestion
    )
    problems = job_tables.table_problems(table, suggestion)
    block = _table_block(job, form, problems)
    return render(request, "importer/mapping.html#table-detail", {"job": job, "block": block})


def _table_block(
    job: ImportJob, form: TableMappingForm, problems: list[MappingProblem]
) -> dict[str, Any]:
    mine = [problem for problem in problems if problem.table == form.table.name]
    attributes = {attribute.name for attribute in form.profile.attributes}
    by_attribute: dict[str, list[str]] = {}
    by_setting: dict[str, list[str]] = {}
    general = []
    for problem in mine:
        if problem.setting:
            by_setting.setdefault(problem.setting, []).append(problem.message)
        elif problem.attribute in attributes:
            by_attribute.setdefault(problem.attribute, []).append(problem.message)
        else:
            general.append(problem.message)
    form.mark_settings(by_setting)
    return {
        "table": form.table,
        "form": form,
        "rows": form.attribute_rows(by_attribute),
        "problems": general,
        "setting_problems": by_setting,
        "problem_count": len(mine),
        "fragment_url": reverse("importer:mapping_table", args=[job.pk, form.table.position]),
    }


@staff_only
@require_GET
@job_view
def mapping_download(request: HtmxHttpRequest, job: ImportJob) -> HttpResponse:
    if not job.tables.exists():
        return missing(request, f"Import #{job.pk} has no analysed tables: it has no mapping yet.")
    response = HttpResponse(job_tables.mapping_json(job), content_type="application/json")
    response["Content-Disposition"] = f'attachment; filename="import-{job.pk}-mapping.json"'
    return response


@staff_only
@require_POST
@job_view
def mapping_upload(request: HtmxHttpRequest, job: ImportJob) -> HttpResponse:
    form = MappingFileForm(request.POST, request.FILES)
    if not form.is_valid():
        messages.error(request, "Choose a mapping file (.json) to upload.")
        return redirect(resume_url(job))
    upload_file = form.cleaned_data["mapping_file"]
    if upload_file.size > MAX_MAPPING_FILE_BYTES:
        messages.error(request, f"{upload_file.name} is too big for a mapping file.")
        return redirect(resume_url(job))
    try:
        problems = jobs.load_mapping_file(
            job, upload_file.read(), name=upload_file.name, user=request.user
        )
    except ImporterError as error:
        messages.error(request, str(error))
        return redirect(resume_url(job))
    if problems:
        for problem in problems:
            messages.error(request, f"{problem.table}: {problem.message}")
        messages.error(request, f"{upload_file.name} was not applied: fix the problems above.")
    else:
        messages.success(request, f"Mapping loaded from {upload_file.name}.")
    return redirect("importer:mapping", pk=job.pk)


# --- dry run preview -------------------------------------------------------------------------


@staff_only
@require_POST
@job_view
def dry_run(request: HtmxHttpRequest, job: ImportJob) -> HttpResponse:
    return _dry_run(request, job)


def _dry_run(request: HtmxHttpRequest, job: ImportJob) -> HttpResponse:
    try:
        jobs.start_dry_run(job, user=request.user)
    except ImporterError as error:
        messages.error(request, str(error))
        return redirect(resume_url(job))
    return redirect("importer:preview", pk=job.pk)


@staff_only
@require_GET
@job_view
def preview(request: HtmxHttpRequest, job: ImportJob) -> HttpResponse:
    jobs.mark_stale(job)
    if job.task == Task.DRY_RUN and job.status == Status.READY and job.error_message:
        messages.error(request, job.error_message)  # the dry run stopped: why, on the mapping
        return redirect(resume_url(job))
    if "plan" not in job.summary and job.status != Status.PLANNING:
        if job.status == Status.FAILED and job.task == Task.DRY_RUN:
            return redirect("importer:job", pk=job.pk)
        messages.error(request, "Run the dry run first: the preview shows what it found.")
        return redirect(resume_url(job))
    outcome = request.GET.get("outcome", "")
    if outcome not in LISTED_OUTCOMES:
        outcome = ""
    rows = ImportRow.objects.filter(job=job, phase=Phase.DRY_RUN).select_related("table")
    if outcome:
        rows = rows.filter(outcome=outcome)
    page = Paginator(rows.order_by("id"), DIFF_PAGE_SIZE).get_page(request.GET.get("page"))
    totals = job.summary.get("plan") or {}
    context = {
        **progress_context(job),
        "count_rows": [(table, "") for table in job.tables.all()],
        "page": page,
        "outcome": outcome,
        "outcomes": [
            (value, Outcome(value).label, totals.get(COUNT_KEYS.get(value, value), 0))
            for value in LISTED_OUTCOMES
        ],
        "unchanged": totals.get("unchanged", 0),
        # New rows past PREVIEW_NEW_ROWS per table are counted, not listed.
        "new_unlisted": totals.get("new", 0)
        - ImportRow.objects.filter(job=job, phase=Phase.DRY_RUN, outcome=Outcome.NEW).count(),
        "new_per_table": get_settings().preview_new_rows,
        "imported": "load" in job.summary,
        "step": "preview",
        "counts_key": "plan",
    }
    template = "importer/preview.html#diff" if request.htmx else "importer/preview.html"
    return render(request, template, context)


@staff_only
@require_GET
@job_view
def errors_csv(request: HtmxHttpRequest, job: ImportJob) -> HttpResponseBase:
    phase = request.GET.get("phase") or (Phase.IMPORT if "load" in job.summary else Phase.DRY_RUN)
    if phase not in Phase.values:
        return missing(
            request,
            f"There is no error report for phase {phase!r}: ask for phase=dry_run (the "
            "dry run's) or phase=import (the import's).",
            status=400,
        )
    response = StreamingHttpResponse(
        iter_error_csv(jobs.iter_problems(job, phase=phase)), content_type="text/csv; charset=utf-8"
    )
    response["Content-Disposition"] = f'attachment; filename="import-{job.pk}-{phase}-errors.csv"'
    return response


# --- import and results ----------------------------------------------------------------------


@staff_only
@require_http_methods(["GET", "POST"])
@job_view
def confirm_import(request: HtmxHttpRequest, job: ImportJob) -> HttpResponse:
    if job.status != Status.PLANNED:
        messages.error(
            request,
            f"Import #{job.pk} {job.status_phrase}: only a previewed import can be imported.",
        )
        return redirect(resume_url(job))
    if request.method == "POST":
        try:
            jobs.start_import(job, user=request.user)
        except ImporterError as error:
            messages.error(request, str(error))
            return redirect(resume_url(job))
        return redirect("importer:results", pk=job.pk)
    return render(
        request,
        "importer/confirm.html",
        {
            "job": job,
            "count_rows": [(table, "") for table in job.tables.all()],
            "step": "import",
            "counts_key": "plan",
        },
    )


@staff_only
@require_GET
@job_view
def results(request: HtmxHttpRequest, job: ImportJob) -> HttpResponse:
    jobs.mark_stale(job)
    imported = job.status == Status.IMPORTING or (job.task == Task.IMPORT and job.retryable)
    if "load" not in job.summary and not imported:
        messages.error(request, "This job has not been imported yet.")
        return redirect(resume_url(job))
    tables = list(job.tables.all())
    links = {table.pk: admin_link(table) for table in tables}
    return render(
        request,
        "importer/results.html",
        {
            **progress_context(job),
            "tables": [(table, links[table.pk]) for table in tables],
            "step": "import" if job.status == Status.IMPORTING else "done",
            "counts_key": "load",
            "seconds": job.timings.get("load"),
        },
    )


# --- history and cancel ----------------------------------------------------------------------


@staff_only
@require_GET
def history(request: HtmxHttpRequest) -> HttpResponse:
    job_list = ImportJob.objects.order_by("-created_at", "-id")
    page = Paginator(job_list, HISTORY_PAGE_SIZE).get_page(request.GET.get("page"))
    entries = [
        (job, resume_url(job), job.summary.get("load") or job.summary.get("plan") or {})
        for job in page
    ]
    return render(request, "importer/history.html", {"page": page, "entries": entries, "step": ""})


@staff_only
@require_POST
@job_view
def cancel(request: HtmxHttpRequest, job: ImportJob) -> HttpResponseBase:
    try:
        jobs.cancel_job(job)
    except ImporterError as error:
        messages.error(request, str(error))
        url = resume_url(job)
    else:
        messages.success(request, f"Import #{job.pk} cancelled; nothing was imported.")
        url = reverse("importer:history")
    # The cancel button asks for confirmation through htmx (hx-confirm): send the browser on.
    return HttpResponseClientRedirect(url) if request.htmx else redirect(url)
