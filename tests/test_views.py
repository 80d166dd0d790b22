"""The upload wizard's views: every step, full pages and HTMX fragments, on PostgreSQL."""

from __future__ import annotations

import base64
import csv
import datetime as dt
import gzip
import hashlib
import io
import json
import shutil
import zipfile
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.urls import URLPattern, get_resolver, reverse
from django.utils.html import escape

from backend.samples.export import write_sample_export
from importer.models import ImportJob, ImportProblem, ImportRow, Phase, RawItem
from tests.conftest import CORPUS, REPO
from tests.exports import promise_items, write_export

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}
Status = ImportJob.Status


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


def zip_folder(folder: Path, out: Path) -> Path:
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                archive.write(path, path.relative_to(folder).as_posix())
    return out


def upload(client, path: Path, **extra):
    with path.open("rb") as stream:
        return client.post(reverse("importer:upload"), {"upload": stream, **extra}, **{})


def sample_zip(tmp_path: Path, items: int = 200, seed: int = 1) -> Path:
    out = tmp_path / f"sample-{items}-{seed}.zip"
    write_sample_export(out, items=items, seed=seed)
    return out


def small_zip(tmp_path: Path, name: str = "things") -> Path:
    folder = tmp_path / f"export-{name}"
    items = [
        {"id": {"S": "a"}, "qty": {"N": "1"}, "label": {"S": "first"}},
        {"id": {"S": "b"}, "qty": {"N": "2"}, "label": {"S": "<b>bold</b>"}},
        {"id": {"S": "c"}, "qty": {"N": "3"}},
    ]
    write_export(folder, name, items)
    return zip_folder(folder, tmp_path / f"{name}.zip")


def mapping_post(response, **changes) -> dict[str, object]:
    """The mapping form's current values (as a browser would post them), with `changes` applied."""
    data: dict[str, object] = {}
    for block in response.context["blocks"]:
        for bound in block["form"]:
            value = bound.value()
            if value is None:
                value = ""
            data[bound.html_name] = value
    data.update(changes)
    return data


def ready_job(client, tmp_path, path=None) -> ImportJob:
    upload(client, path or small_zip(tmp_path))
    job = ImportJob.objects.order_by("-id").first()
    assert job.status == Status.READY, job.error_message
    return job


def planned_job(client, tmp_path, path=None) -> ImportJob:
    job = ready_job(client, tmp_path, path)
    assert client.post(reverse("importer:dry_run", args=[job.pk])).status_code == 302
    job.refresh_from_db()
    assert job.status == Status.PLANNED, job.error_message
    return job


def shown_messages(response) -> list[str]:
    return [str(message) for message in response.context["messages"]]


# --- upload ----------------------------------------------------------------------------------


def test_root_redirects_to_the_wizard(client):
    response = client.get("/")
    assert response.status_code == 302
    assert response["Location"] == "/import/"


def test_upload_page_shows_the_size_limit_and_the_steps(client, staff):
    response = client.get("/import/")
    assert response.status_code == 200
    body = response.content.decode()
    assert "at most 2.0\xa0GB" in body
    assert 'aria-current="step">1 Upload' in body
    assert 'hx-encoding="multipart/form-data"' in body
    assert "<script>" not in body  # no inline scripts


def test_upload_stores_the_file_and_analyses_it(client, staff, tmp_path):
    response = upload(client, small_zip(tmp_path))
    job = ImportJob.objects.get()
    assert response.status_code == 302
    assert response["Location"] == f"/import/{job.pk}/"
    assert (job.created_by, job.created_by_name) == (staff, "staff")
    assert job.original_name == "things.zip"
    assert job.upload.name.startswith("imports/")
    assert job.upload.storage.exists(job.upload.name)
    assert job.status == Status.READY
    table = job.tables.get()
    assert (table.name, table.items_read, table.manifest_item_count) == ("things", 3, 3)
    assert [attribute["name"] for attribute in table.profile["attributes"]] == [
        "id",
        "qty",
        "label",
    ]
    assert job.mapping["tables"]["things"]["target"] == "raw"


def test_htmx_upload_redirects_the_browser(client, staff, tmp_path):
    with small_zip(tmp_path).open("rb") as stream:
        response = client.post("/import/", {"upload": stream}, **HTMX)
    job = ImportJob.objects.get()
    assert response.status_code == 200
    assert response["HX-Redirect"] == f"/import/{job.pk}/"


def test_not_a_zip_is_a_message_on_the_form(client, staff):
    fake = SimpleUploadedFile("notes.zip", b"hello, not a zip")
    response = client.post("/import/", {"upload": fake})
    assert response.status_code == 200
    assert "notes.zip is not a zip file" in response.content.decode()
    assert ImportJob.objects.count() == 0


def test_not_a_zip_with_htmx_renders_the_form_fragment(client, staff):
    fake = SimpleUploadedFile("notes.zip", b"hello, not a zip")
    response = client.post("/import/", {"upload": fake}, **HTMX)
    body = response.content.decode()
    assert response.status_code == 200
    assert body.lstrip().startswith('<form id="upload-form"')
    assert "<html" not in body
    assert "notes.zip is not a zip file" in body


@pytest.mark.parametrize(
    ("members", "name", "error"),
    [
        ({}, "empty.zip", "empty.zip is an empty zip file."),
        (
            {"readme.txt": "nothing here", "__MACOSX/._x.json": "junk"},
            "noexport.zip",
            "no DynamoDB export found in noexport.zip: expected "
            "AWSDynamoDB/<ExportId>/manifest-summary.json, a dynamodump <table>/schema.json, "
            "or data files.",
        ),
        (
            {"../evil.json": "{}"},
            "slip.zip",
            "slip.zip: ../evil.json points outside the archive (absolute path or '..').",
        ),
    ],
)
def test_a_zip_that_cannot_hold_an_export_is_refused_on_the_form(
    client, staff, tmp_path, members, name, error
):
    out = tmp_path / name
    with zipfile.ZipFile(out, "w") as archive:
        for member, text in members.items():
            archive.writestr(member, text)
    response = upload(client, out)
    assert response.status_code == 200
    assert response.context["form"].errors == {"upload": [error]}
    assert escape(error) in response.content.decode()
    assert ImportJob.objects.count() == 0


def test_upload_over_the_limit_is_refused(client, staff, settings, tmp_path):
    settings.DYNAMODB_IMPORTER = {**settings.DYNAMODB_IMPORTER, "MAX_UPLOAD_BYTES": 100}
    response = upload(client, small_zip(tmp_path))
    assert response.status_code == 200
    assert "the limit is 100\xa0bytes" in response.content.decode()
    assert ImportJob.objects.count() == 0


# --- job page and progress -------------------------------------------------------------------


def test_job_page_lists_the_tables_found(client, staff, tmp_path):
    job = ready_job(client, tmp_path, sample_zip(tmp_path))
    response = client.get(f"/import/{job.pk}/")
    assert response.status_code == 200
    body = response.content.decode()
    assert [table.name for table in response.context["tables"]] == [
        "Groups",
        "production",
        "push_to_production",
        "stock",
        "stock_remarks",
        "stock_transactions",
        "undo_actions",
        "users",
    ]
    assert "attribute quantity has more than one type: number ×35, string ×4" in body
    assert 'hx-trigger="every 1s"' not in body  # analysis finished: no polling


def tables_found_row(body: str, table: str) -> str:
    """The <tr> of one table in the job page's "Tables found" list."""
    start = body.index(f'<th scope="row">{table}</th>', body.index('id="tables-found"'))
    return body[body.rindex("<tr>", 0, start) : body.index("</tr>", start) + len("</tr>")]


def test_tables_found_warns_of_a_missing_data_file(client, staff, tmp_path):
    archive = zip_folder(CORPUS / "sabuat__db-dynamo-aws", tmp_path / "sabuat.zip")
    job = ready_job(client, tmp_path, archive)
    response = client.get(f"/import/{job.pk}/")
    assert response.status_code == 200
    missing = "data/enpvklgbwq7gta42yshirxd6ea.json.gz"
    assert tables_found_row(response.content.decode(), "livros_por_ler") == (
        "<tr>\n"
        '      <th scope="row">livros_por_ler</th>\n'
        '      <td><ul class="list-unstyled mb-0 small"><li class="source-place">data/<wbr>'
        '<span class="text-nowrap">enpvklgbwq7gta42yshirxd6ea.json.gz</span> '
        '<span class="badge text-bg-danger">missing</span></li></ul></td>\n'
        '      <td class="text-end">6</td>\n'
        '      <td class="text-end">0</td>\n'
        f'      <td><div class="text-danger">data file {missing} is listed in '
        "manifest-files.json but missing from sabuat.zip</div>"
        f'<div class="text-warning-emphasis small">{missing} is listed in manifest-files.json '
        "but missing from sabuat.zip (6 items)</div></td>\n"
        "    </tr>"
    )


def test_tables_found_warns_of_a_checksum_mismatch(client, staff, tmp_path):
    folder = tmp_path / "export"
    export = write_export(folder, "things", [{"id": {"S": "a"}}, {"id": {"S": "b"}}])
    (data_file,) = (export / "data").iterdir()
    # The same items, compressed again with another timestamp: other bytes than the manifest's.
    data_file.write_bytes(gzip.compress(gzip.decompress(data_file.read_bytes()), mtime=1))
    expected = json.loads((export / "manifest-files.json").read_text())["md5Checksum"]
    actual = base64.b64encode(hashlib.md5(data_file.read_bytes()).digest()).decode()
    assert actual != expected
    job = ready_job(client, tmp_path, zip_folder(folder, tmp_path / "changed.zip"))
    path = f"AWSDynamoDB/01700000000000-0a1b2c3d/data/{data_file.name}"
    warning = (
        f"{path}: MD5 checksum {actual} does not match {expected} in "
        "AWSDynamoDB/01700000000000-0a1b2c3d/manifest-files.json; "
        "the file may be damaged or not the one exported"
    )
    assert job.tables.get().warnings == [warning]
    row = tables_found_row(client.get(f"/import/{job.pk}/").content.decode(), "things")
    assert f'<td><div class="text-warning-emphasis small">{warning}</div></td>' in row
    assert '<td class="text-end">2</td>\n      <td class="text-end">2</td>' in row


def test_a_job_that_failed_before_finding_tables_is_on_the_upload_step(client, staff, tmp_path):
    job = ready_job(client, tmp_path)
    job.tables.all().delete()
    ImportJob.objects.filter(pk=job.pk).update(
        status=Status.FAILED, error_message="things.zip holds more than one export"
    )
    body = client.get(f"/import/{job.pk}/").content.decode()
    assert 'aria-current="step">1 Upload' in body
    assert "Upload another file" in body


def test_progress_fragment_polls_while_working_and_stops_after(client, staff, tmp_path):
    job = ready_job(client, tmp_path)
    ImportJob.objects.filter(pk=job.pk).update(
        status=Status.ANALYSING, progress_done=1, progress_total=3
    )
    working = client.get(f"/import/{job.pk}/progress/", **HTMX)
    assert working.status_code == 200
    body = working.content.decode()
    assert 'hx-trigger="every 1s"' in body
    assert "1 of 3 items" in body
    page = client.get(f"/import/{job.pk}/")
    assert f'hx-get="/import/{job.pk}/progress/"' in page.content.decode()
    ImportJob.objects.filter(pk=job.pk).update(status=Status.READY)
    finished = client.get(f"/import/{job.pk}/progress/", **HTMX)
    assert finished.status_code == 200
    assert finished["HX-Refresh"] == "true"


# --- mapping ---------------------------------------------------------------------------------


def test_mapping_page_shows_attributes_samples_and_escapes_them(client, staff, tmp_path):
    job = ready_job(client, tmp_path)
    response = client.get(f"/import/{job.pk}/mapping/")
    assert response.status_code == 200
    body = response.content.decode()
    assert 'aria-current="step">2 Map' in body
    assert "&lt;b&gt;bold&lt;/b&gt;" in body
    assert "<b>bold</b>" not in body
    rows = response.context["blocks"][0]["rows"]
    assert [(row["attribute"].name, round(row["presence"], 1)) for row in rows] == [
        ("id", 100.0),
        ("qty", 100.0),
        ("label", 66.7),
    ]
    assert rows[2]["attribute"].samples == ("first", "<b>bold</b>")


def test_mapping_selects_fit_their_choices_and_the_key_says_how_to_pick_several(
    client, staff, tmp_path
):
    job = ready_job(client, tmp_path, sample_zip(tmp_path))
    body = client.get(f"/import/{job.pk}/mapping/").content.decode()
    assert (
        "The attribute(s) that identify an item, to find rows that already exist. To choose "
        "several, hold Ctrl (⌘ on a Mac) and click, or hold Shift and use the arrow keys."
    ) in body
    # importer.css sizes the selects of .table-settings and .data-table to their longest choice.
    assert body.count('<div class="row g-3 table-settings">') == 8
    # Mode, error policy and catch-all of each of the 8 tables: as wide as their select.
    assert body.count('<div class="col-12 col-sm-auto">') == 3 * 8
    assert '<th scope="row" class="attribute-name">promoCode</th>' in body
    css = (REPO / "static/importer/importer.css").read_text()
    assert (
        ".table-settings .form-select:not([multiple]), .data-table .form-select "
        "{ width: auto; max-width: 100%; }"
    ) in css


def test_changing_the_target_re_renders_the_table_with_suggestions(client, staff, tmp_path):
    job = ready_job(client, tmp_path)
    response = client.get(
        f"/import/{job.pk}/mapping/tables/0/", {"t0-target": "testapp.Reading"}, **HTMX
    )
    assert response.status_code == 200
    body = response.content.decode()
    assert body.lstrip().startswith('<div class="card-body" id="table-0-detail">')
    assert "<html" not in body
    form = response.context["block"]["form"]
    assert form.target == "testapp.Reading"
    assert [row["field"].value() for row in response.context["block"]["rows"]] == [
        "id",
        "",
        "label",
    ]
    assert "code is required but no attribute is mapped to it" in body


def test_saving_a_mapping_that_cannot_work_shows_errors_inline(client, staff, tmp_path):
    job = ready_job(client, tmp_path)
    page = client.get(f"/import/{job.pk}/mapping/")
    data = mapping_post(page, **{"t0-target": "testapp.Reading"})
    response = client.post(f"/import/{job.pk}/mapping/", data)
    assert response.status_code == 200
    body = response.content.decode()
    assert "code is required but no attribute is mapped to it" in body
    assert "The mapping cannot work yet" in body
    job.refresh_from_db()
    assert job.mapping["tables"]["things"]["target"] == "raw"


def reading_post(client, job, **changes) -> dict[str, object]:
    """The mapping form posting table 0 to testapp.Reading (id → code, qty → quantity), changed."""
    page = client.get(f"/import/{job.pk}/mapping/tables/0/", {"t0-target": "testapp.Reading"})
    data = {"t0-target": "testapp.Reading", **mapping_post_block(page)}
    data.update({"t0-a0_field": "code", "t0-a1_field": "quantity", "t0-key": ["id"]})
    data.update(changes)
    return data


def test_an_import_key_that_is_not_unique_is_a_message_on_the_page(client, staff, tmp_path):
    job = ready_job(client, tmp_path)
    response = client.post(
        f"/import/{job.pk}/mapping/", reading_post(client, job, **{"t0-key": ["label"]})
    )
    assert response.status_code == 200
    assert shown_messages(response) == [
        "The mapping cannot work yet: see the problems marked below."
    ]
    assert response.context["blocks"][0]["problems"] == [
        "the import key (label) is not unique in testapp.Reading: choose a primary key or a unique field"
    ]
    assert (
        '<div class="alert alert-danger mapping-problems" role="alert">\n'
        '          <ul class="mb-0"><li>the import key (label) is not unique in testapp.Reading: '
        "choose a primary key or a unique field</li></ul>"
    ) in response.content.decode()
    job.refresh_from_db()
    assert job.mapping["tables"]["things"]["target"] == "raw"


def test_an_attribute_problem_is_shown_next_to_its_select(client, staff, tmp_path):
    job = ready_job(client, tmp_path)
    data = reading_post(client, job, **{"t0-a1_field": "seen_at"})
    response = client.post(f"/import/{job.pk}/mapping/", data)
    assert response.status_code == 200
    body = response.content.decode()
    message = "qty holds numbers; choose epoch seconds or epoch milliseconds for seen_at"
    select = body.index('<select name="t0-a1_field" id="id_t0-a1_field"')
    assert body[select : body.index(">", select) + 1] == (
        '<select name="t0-a1_field" id="id_t0-a1_field" '
        'class="form-select form-select-sm is-invalid" aria-describedby="id_t0-a1_field-problems">'
    )
    feedback = body.index('<div class="invalid-feedback', select)
    assert body[feedback : body.index("</td>", feedback)] == (
        '<div class="invalid-feedback d-block" id="id_t0-a1_field-problems">'
        f"<div>{message}</div></div>\n            "
    )
    assert body.count(message) == 1  # next to its select only, not in the table's list
    assert 'id="id_t0-a0_field" class="form-select form-select-sm">' in body  # id is fine
    job.refresh_from_db()
    assert job.mapping["tables"]["things"]["target"] == "raw"


def test_saving_a_valid_mapping(client, staff, tmp_path):
    job = ready_job(client, tmp_path)
    page = client.get(f"/import/{job.pk}/mapping/tables/0/", {"t0-target": "testapp.Reading"})
    data = {"t0-target": "testapp.Reading"}
    data.update(mapping_post_block(page))
    data.update({"t0-a0_field": "code", "t0-a1_field": "quantity", "t0-key": ["id"]})
    response = client.post(f"/import/{job.pk}/mapping/", data)
    assert response.status_code == 302, shown_messages(response)
    job.refresh_from_db()
    assert job.mapping["tables"]["things"] == {
        "target": "testapp.Reading",
        "key": ["id"],
        "mode": "upsert",
        "on_error": "skip",
        "fields": {
            "id": {"field": "code"},
            "qty": {"field": "quantity"},
            "label": {"field": "label"},
        },
    }


def test_a_staff_user_without_model_permissions_cannot_import_into_it(client, staff, tmp_path):
    from django.contrib.auth.models import Permission

    job = ready_job(client, tmp_path)
    clerk = get_user_model().objects.create_user(username="clerk", is_staff=True)
    clerk.user_permissions.add(
        *Permission.objects.filter(codename__in=["add_rawitem", "change_rawitem"])
    )
    client.force_login(clerk)
    page = client.get(f"/import/{job.pk}/mapping/tables/0/", {"t0-target": "testapp.Reading"})
    data = {"t0-target": "testapp.Reading"}
    data.update(mapping_post_block(page))
    data.update({"t0-a0_field": "code", "t0-a1_field": "quantity", "t0-key": ["id"]})
    response = client.post(f"/import/{job.pk}/mapping/", data)
    assert response.status_code == 200
    assert (
        "you may not import into testapp.Reading: it needs the permission(s) "
        "testapp.add_reading, testapp.change_reading"
    ) in response.content.decode()
    job.refresh_from_db()
    assert job.mapping["tables"]["things"]["target"] == "raw"
    # Into raw, which the clerk may write, the dry run goes ahead.
    assert client.post(reverse("importer:dry_run", args=[job.pk])).status_code == 302
    job.refresh_from_db()
    assert job.status == Status.PLANNED, job.error_message


REPLACE_USERS_MESSAGE = (
    "replace mode would delete every users.User row first, the staff logins included (yours "
    "too): choose upsert to add new users and update changed ones, or clear the table from the "
    "command line (import_dynamodb --clear-tables) in a scripted migration"
)


def test_replace_mode_on_the_user_model_is_refused_next_to_the_mode(client, staff, tmp_path):
    job = ready_job(client, tmp_path, sample_zip(tmp_path))
    users = job.tables.get(name="users")
    page = client.get(f"/import/{job.pk}/mapping/")
    assert users.position == 7
    response = client.post(
        f"/import/{job.pk}/mapping/", mapping_post(page, **{"t7-mode": "replace"})
    )
    assert response.status_code == 200
    assert shown_messages(response) == [
        "The mapping cannot work yet: see the problems marked below."
    ]
    block = response.context["blocks"][7]
    assert block["setting_problems"] == {"mode": [REPLACE_USERS_MESSAGE]}
    assert block["problems"] == []
    body = response.content.decode()
    assert 'aria-describedby="id_t7-mode-problems"' in body
    assert (
        '<div class="invalid-feedback d-block setting-problems" id="id_t7-mode-problems">'
        f"<div>{REPLACE_USERS_MESSAGE}</div></div>"
    ) in body
    job.refresh_from_db()
    assert job.mapping["tables"]["users"]["mode"] == "upsert"
    # The same refusal for a mapping file, and for a mapping saved before the rule existed.
    mapping = job.mapping
    mapping["tables"]["users"]["mode"] = "replace"
    mapping_file = SimpleUploadedFile("m.json", json.dumps(mapping).encode())
    response = client.post(
        f"/import/{job.pk}/mapping/upload/", {"mapping_file": mapping_file}, follow=True
    )
    assert shown_messages(response) == [
        f"users: {REPLACE_USERS_MESSAGE}",
        "m.json was not applied: fix the problems above.",
    ]
    ImportJob.objects.filter(pk=job.pk).update(mapping=mapping)
    response = client.post(f"/import/{job.pk}/dry-run/", follow=True)
    assert shown_messages(response) == [f"the mapping cannot work: users: {REPLACE_USERS_MESSAGE}"]
    assert get_user_model().objects.filter(pk=staff.pk).exists()


def test_replace_mode_elsewhere_is_allowed(client, staff, tmp_path):
    job = ready_job(client, tmp_path, sample_zip(tmp_path))
    page = client.get(f"/import/{job.pk}/mapping/")
    response = client.post(
        f"/import/{job.pk}/mapping/", mapping_post(page, **{"t3-mode": "replace"})
    )
    assert response.status_code == 302, shown_messages(response)
    job.refresh_from_db()
    assert job.tables.get(position=3).name == "stock"
    assert job.mapping["tables"]["stock"]["mode"] == "replace"


def mapping_post_block(response) -> dict[str, object]:
    data: dict[str, object] = {}
    for bound in response.context["block"]["form"]:
        value = bound.value()
        data[bound.html_name] = "" if value is None else value
    return data


def test_mapping_download_and_upload(client, staff, tmp_path):
    job = ready_job(client, tmp_path)
    response = client.get(f"/import/{job.pk}/mapping.json")
    assert response.status_code == 200
    assert response["Content-Disposition"] == f'attachment; filename="import-{job.pk}-mapping.json"'
    assert json.loads(response.content) == {
        "version": 1,
        "tables": {
            "things": {"target": "raw", "key": ["id"], "mode": "upsert", "on_error": "skip"}
        },
    }
    changed = {
        "version": 1,
        "tables": {"things": {"target": "raw", "key": ["id"], "mode": "replace"}},
    }
    mapping_file = SimpleUploadedFile("m.json", json.dumps(changed).encode())
    response = client.post(
        f"/import/{job.pk}/mapping/upload/", {"mapping_file": mapping_file}, follow=True
    )
    assert "Mapping loaded from m.json." in shown_messages(response)
    job.refresh_from_db()
    assert job.mapping["tables"]["things"]["mode"] == "replace"


def test_a_broken_mapping_file_is_a_message(client, staff, tmp_path):
    job = ready_job(client, tmp_path)
    bad = SimpleUploadedFile("bad.json", b"{not json")
    response = client.post(f"/import/{job.pk}/mapping/upload/", {"mapping_file": bad}, follow=True)
    assert response.status_code == 200
    assert shown_messages(response)[0].startswith("bad.json is not valid JSON")
    other = SimpleUploadedFile(
        "other.json", json.dumps({"tables": {"nope": {"target": "raw"}}}).encode()
    )
    response = client.post(
        f"/import/{job.pk}/mapping/upload/", {"mapping_file": other}, follow=True
    )
    assert shown_messages(response) == [
        "the mapping names tables this upload does not hold: nope (it holds: things)"
    ]


# --- dry run and preview ---------------------------------------------------------------------


def test_preview_before_the_dry_run_is_a_message(client, staff, tmp_path):
    job = ready_job(client, tmp_path)
    response = client.get(f"/import/{job.pk}/preview/", follow=True)
    assert response.redirect_chain == [(f"/import/{job.pk}/mapping/", 302)]
    assert shown_messages(response) == ["Run the dry run first: the preview shows what it found."]


def test_dry_run_counts_and_writes_nothing(client, staff, tmp_path):
    job = planned_job(client, tmp_path)
    assert RawItem.objects.count() == 0
    response = client.get(f"/import/{job.pk}/preview/")
    assert response.status_code == 200
    table = job.tables.get()
    assert table.plan_counts == {
        "read": 3,
        "new": 3,
        "updated": 0,
        "unchanged": 0,
        "skipped": 0,
        "errors": 0,
        "deleted": 0,
    }
    body = response.content.decode()
    assert 'aria-current="step">3 Preview' in body
    assert "3 rows; page 1 of 1." in body


def test_preview_pages_and_filters_with_htmx(client, staff, tmp_path):
    job = planned_job(client, tmp_path, sample_zip(tmp_path))
    assert ImportRow.objects.filter(job=job, phase=Phase.DRY_RUN).count() == 200
    response = client.get(f"/import/{job.pk}/preview/", {"page": 2}, **HTMX)
    body = response.content.decode()
    assert body.lstrip().startswith('<div id="diff">')
    assert "<html" not in body
    assert "200 rows; page 2 of 4." in body
    assert len(response.context["page"].object_list) == 50
    response = client.get(f"/import/{job.pk}/preview/", {"outcome": "updated"}, **HTMX)
    assert "0 rows (updated); page 1 of 1." in response.content.decode()


def test_while_the_dry_run_runs_the_preview_shows_its_progress_only(client, staff, tmp_path):
    job = planned_job(client, tmp_path)
    ImportJob.objects.filter(pk=job.pk).update(
        status=Status.PLANNING, progress_phase="planning", progress_done=1, progress_total=3
    )
    body = client.get(f"/import/{job.pk}/preview/").content.decode()
    assert "1 of 3 items (33%)" in body
    assert (
        '<p id="preview-intro">The counts and the rows appear here when the dry run has read '
        "every item.</p>"
    ) in body
    assert 'id="counts"' not in body
    assert "errors.csv" not in body
    assert 'id="rows-summary"' not in body


def test_a_re_run_says_that_unchanged_rows_are_counted_not_listed(client, staff, tmp_path):
    first = planned_job(client, tmp_path)
    client.post(f"/import/{first.pk}/import/")
    again = planned_job(client, tmp_path, small_zip(tmp_path))
    assert again.summary["plan"]["unchanged"] == 3
    response = client.get(f"/import/{again.pk}/preview/")
    body = response.content.decode()
    assert (
        '<p class="small text-body-secondary" id="rows-summary">0 rows; page 1 of 1. '
        "3 unchanged rows are counted, not listed.</p>"
    ) in body
    # No filter that could only ever list nothing; the others show their counts.
    assert [(value, count) for value, _label, count in response.context["outcomes"]] == [
        ("new", 0),
        ("updated", 0),
        ("skipped", 0),
        ("error", 0),
    ]
    assert "?outcome=unchanged" not in body
    listed = client.get(f"/import/{again.pk}/preview/", {"outcome": "unchanged"}, **HTMX)
    assert listed.context["outcome"] == ""


def test_the_preview_says_what_would_happen_and_after_the_import_what_did(client, staff, tmp_path):
    job = planned_job(client, tmp_path)
    preview = client.get(f"/import/{job.pk}/preview/").content.decode()
    row = '<th scope="row">things</th><td>raw</td><td>would be imported</td>'
    assert row in preview
    assert "Nothing has been written yet. This is what the import would do:" in preview
    assert row in client.get(f"/import/{job.pk}/import/").content.decode()
    client.post(f"/import/{job.pk}/import/")
    results = client.get(f"/import/{job.pk}/results/").content.decode()
    assert '<th scope="row">things</th><td>raw</td><td>imported</td>' in results
    preview = client.get(f"/import/{job.pk}/preview/").content.decode()
    assert "Nothing has been written yet" not in preview
    assert (
        '<p id="preview-intro">This is the dry run from before the import. The import has run '
        f'since: <a href="/import/{job.pk}/results/">see its results</a>.</p>'
    ) in preview
    assert row in preview


def test_while_the_import_runs_the_results_page_shows_its_progress_only(client, staff, tmp_path):
    job = planned_job(client, tmp_path)
    ImportJob.objects.filter(pk=job.pk).update(
        status=Status.IMPORTING, progress_phase="importing", progress_done=2, progress_total=3
    )
    body = client.get(f"/import/{job.pk}/results/").content.decode()
    assert "2 of 3 items (66%)" in body
    assert 'aria-current="step">4 Import' in body
    assert 'id="results-intro"' in body
    assert 'id="counts"' not in body
    assert 'id="error-csv"' not in body


def test_the_source_of_a_row_breaks_at_slashes_never_inside_file_and_line(client, staff, tmp_path):
    job = planned_job(client, tmp_path)
    row = ImportRow.objects.filter(job=job).first()
    folders, _, name = row.file.rpartition("/")
    body = client.get(f"/import/{job.pk}/preview/").content.decode()
    expected = "".join(f"{part}/<wbr>" for part in folders.split("/"))
    assert (
        f'<td class="small text-body-secondary source-place">{expected}'
        f'<span class="text-nowrap">{name}:{row.line}</span></td>'
    ) in body


def test_updates_show_old_and_new_values(client, staff, tmp_path):
    job = planned_job(client, tmp_path)
    client.post(f"/import/{job.pk}/import/")
    folder = tmp_path / "changed"
    write_export(
        folder,
        "things",
        [
            {"id": {"S": "a"}, "qty": {"N": "1"}, "label": {"S": "first"}},
            {"id": {"S": "b"}, "qty": {"N": "5"}, "label": {"S": "<b>bold</b>"}},
        ],
    )
    second = planned_job(client, tmp_path, zip_folder(folder, tmp_path / "changed.zip"))
    assert second.tables.get().plan_counts["updated"] == 1
    response = client.get(f"/import/{second.pk}/preview/", {"outcome": "updated"}, **HTMX)
    body = response.content.decode()
    row = response.context["page"].object_list[0]
    assert row.item_key == "id=b"
    assert list(row.diff) == ["attributes"]
    assert row.diff == {
        "attributes": [
            '{"id": "b", "label": "<b>bold</b>", "qty": 2}',
            '{"id": "b", "label": "<b>bold</b>", "qty": 5}',
        ]
    }
    assert (
        "<del>{&quot;id&quot;: &quot;b&quot;, &quot;label&quot;: &quot;&lt;b&gt;bold&lt;/b&gt;&quot;, "
        "&quot;qty&quot;: 2}</del> → <ins>" in body
    )


def test_dry_run_errors_show_message_and_attribute_and_download(client, staff, tmp_path):
    folder = tmp_path / "bad"
    write_export(
        folder,
        "things",
        [
            {"id": {"S": "a"}, "qty": {"N": "1"}},
            {"id": {"S": "b"}, "qty": {"S": "=HYPERLINK(1)"}},
        ],
    )
    job = ready_job(client, tmp_path, zip_folder(folder, tmp_path / "bad.zip"))
    page = client.get(f"/import/{job.pk}/mapping/tables/0/", {"t0-target": "testapp.Reading"})
    data = {"t0-target": "testapp.Reading", **mapping_post_block(page)}
    data.update(
        {"t0-a0_field": "code", "t0-a1_field": "quantity", "t0-key": ["id"], "preview": "1"}
    )
    response = client.post(f"/import/{job.pk}/mapping/", data)
    assert response.status_code == 302, shown_messages(response)
    assert response["Location"] == f"/import/{job.pk}/preview/"
    job.refresh_from_db()
    assert job.tables.get().plan_counts["errors"] == 1
    response = client.get(f"/import/{job.pk}/preview/", {"outcome": "error"})
    body = response.content.decode()
    problem = ImportProblem.objects.get(job=job, phase=Phase.DRY_RUN)
    assert (problem.table, problem.item_key, problem.attribute, problem.field) == (
        "things",
        "id=b",
        "qty",
        "quantity",
    )
    assert "<strong>qty</strong> → quantity: " + problem.message in body
    csv_response = client.get(f"/import/{job.pk}/errors.csv", {"phase": "dry_run"})
    assert csv_response["Content-Type"] == "text/csv; charset=utf-8"
    rows = list(csv.reader(io.StringIO(b"".join(csv_response.streaming_content).decode())))
    assert rows == [
        ["table", "file", "line", "item_key", "attribute", "field", "raw_value", "message"],
        [
            "things",
            problem.file,
            str(problem.line),
            "id=b",
            "qty",
            "quantity",
            "'=HYPERLINK(1)",
            problem.message,
        ],
    ]


# --- import and results ----------------------------------------------------------------------


def test_import_before_preview_is_a_message_not_an_error(client, staff, tmp_path):
    job = ready_job(client, tmp_path)
    response = client.post(f"/import/{job.pk}/import/", follow=True)
    assert response.status_code == 200
    assert shown_messages(response) == [
        f"Import #{job.pk} is ready to map: only a previewed import can be imported."
    ]
    assert RawItem.objects.count() == 0


def test_a_failed_import_is_worded_as_failed(client, staff, tmp_path):
    job = ready_job(client, tmp_path)
    ImportJob.objects.filter(pk=job.pk).update(status=Status.FAILED)
    response = client.get(f"/import/{job.pk}/import/", follow=True)
    assert shown_messages(response) == [
        f"Import #{job.pk} failed: only a previewed import can be imported."
    ]


def test_the_results_count_one_error_as_one_error(client, staff, tmp_path):
    folder = tmp_path / "bad"
    items = [{"id": {"S": "a"}, "qty": {"N": "1"}}, {"id": {"S": "b"}, "qty": {"S": "x"}}]
    write_export(folder, "things", items)
    job = ready_job(client, tmp_path, zip_folder(folder, tmp_path / "bad.zip"))
    page = client.get(f"/import/{job.pk}/mapping/tables/0/", {"t0-target": "testapp.Reading"})
    data = {"t0-target": "testapp.Reading", **mapping_post_block(page)}
    data.update(
        {"t0-a0_field": "code", "t0-a1_field": "quantity", "t0-key": ["id"], "preview": "1"}
    )
    assert client.post(f"/import/{job.pk}/mapping/", data).status_code == 302
    body = client.get(f"/import/{job.pk}/preview/", {"outcome": "error"}).content.decode()
    assert "1 row (error); page 1 of 1." in body
    client.post(f"/import/{job.pk}/import/")
    body = client.get(f"/import/{job.pk}/results/").content.decode()
    assert "1 new, 0 updated, 0 unchanged, 1 error.</div>" in body


def test_confirm_import_and_results(client, staff, tmp_path):
    job = planned_job(client, tmp_path)
    confirm = client.get(f"/import/{job.pk}/import/")
    assert confirm.status_code == 200
    assert 'aria-current="step">4 Import' in confirm.content.decode()
    response = client.post(f"/import/{job.pk}/import/")
    assert response["Location"] == f"/import/{job.pk}/results/"
    job.refresh_from_db()
    assert job.status == Status.DONE
    assert job.finished_at is not None
    assert sorted(RawItem.objects.values_list("item_key", flat=True)) == [
        '{"id":"a"}',
        '{"id":"b"}',
        '{"id":"c"}',
    ]
    results = client.get(f"/import/{job.pk}/results/")
    body = results.content.decode()
    assert 'aria-current="step">5 Done' in body
    assert "3 new, 0 updated, 0 unchanged, 0 errors" in body
    assert '<a href="/admin/importer/rawitem/?source_table__exact=things">View in admin</a>' in body
    again = client.post(f"/import/{job.pk}/import/", follow=True)
    assert shown_messages(again) == [
        f"Import #{job.pk} is done: only a previewed import can be imported."
    ]


def test_results_show_the_duration_and_every_warning(client, staff, tmp_path):
    folder = tmp_path / "short"
    items = [{"id": {"S": f"n{n}"}} for n in (1, 2, 3)]
    promise_items(write_export(folder, "notes", items), 5)  # the data file holds 3 of 5
    (folder / "README.txt").write_text("not data")
    job = planned_job(client, tmp_path, zip_folder(folder, tmp_path / "short.zip"))
    client.post(f"/import/{job.pk}/import/")
    job.refresh_from_db()
    assert job.status == Status.DONE
    assert isinstance(job.timings["load"], float) and job.timings["load"] >= 0
    # A duration to show exactly (the real one is a few milliseconds).
    ImportJob.objects.filter(pk=job.pk).update(timings={**job.timings, "load": 12.34})
    body = client.get(f"/import/{job.pk}/results/").content.decode()
    assert (
        '<div class="alert alert-success" id="result-summary">Imported in 12.3 s: '
        "3 new, 0 updated, 0 unchanged, 0 errors.</div>"
    ) in body
    assert (
        '<div class="alert alert-warning">ignored 1 file(s) that are not DynamoDB data: '
        "README.txt</div>"
    ) in body
    assert (
        '<tr><td></td><td colspan="9" class="small text-warning-emphasis">'
        "the manifest promises 5 items, the data files hold 3</td></tr>"
    ) in body
    assert sorted(RawItem.objects.values_list("item_key", flat=True)) == [
        '{"id":"n1"}',
        '{"id":"n2"}',
        '{"id":"n3"}',
    ]


def test_results_links_to_the_model_admin(client, staff, tmp_path):
    job = planned_job(client, tmp_path, sample_zip(tmp_path))
    client.post(f"/import/{job.pk}/import/")
    body = client.get(f"/import/{job.pk}/results/").content.decode()
    assert '<a href="/admin/stock/stock/">View in admin</a>' in body
    assert "200 new, 0 updated, 0 unchanged, 0 errors" in body


# --- history, reuse, cancel ------------------------------------------------------------------


def test_history_reopens_each_job_on_its_last_step(client, staff, tmp_path):
    ready = ready_job(client, tmp_path)
    planned = planned_job(client, tmp_path, small_zip(tmp_path, "other"))
    response = client.get("/import/history/")
    assert response.status_code == 200
    assert [entry[:2] for entry in response.context["entries"]] == [
        (planned, f"/import/{planned.pk}/preview/"),
        (ready, f"/import/{ready.pk}/mapping/"),
    ]
    assert response.context["entries"][0][2]["new"] == 3
    body = response.content.decode()
    # Counts of a dry run or import show 0 where it is 0; a job without one shows none.
    assert (
        '<td class="text-end">3</td>\n      <td class="text-end">0</td>\n'
        '      <td class="text-end">0</td>'
    ) in body
    assert (
        '<td class="text-end"></td>\n      <td class="text-end"></td>\n'
        '      <td class="text-end"></td>'
    ) in body
    assert f'href="/import/?reuse={ready.pk}"' in response.content.decode()


def history_row(body: str, job: ImportJob) -> str:
    start = body.index(f"<td>{job.pk}</td>", body.index('id="history"'))
    return body[body.rindex("<tr>", 0, start) : body.index("</tr>", start) + len("</tr>")]


def test_history_shows_who_when_and_status(client, staff, tmp_path):
    ready = ready_job(client, tmp_path)
    done = planned_job(client, tmp_path, small_zip(tmp_path, "other"))
    client.post(f"/import/{done.pk}/import/")
    ImportJob.objects.filter(pk=ready.pk).update(
        created_at=dt.datetime(2026, 3, 1, 9, 5, tzinfo=dt.UTC)
    )
    ImportJob.objects.filter(pk=done.pk).update(
        created_at=dt.datetime(2026, 3, 2, 17, 45, tzinfo=dt.UTC)
    )
    body = client.get("/import/history/").content.decode()
    assert history_row(body, done) == (
        "<tr>\n"
        f"      <td>{done.pk}</td>\n"
        '      <td class="long-value">other.zip</td>\n'
        "      <td>staff</td>\n"
        "      <td>2026-03-02 17:45</td>\n"
        "      <td>Done</td>\n"
        '      <td class="text-end">3</td>\n'
        '      <td class="text-end">0</td>\n'
        '      <td class="text-end">0</td>\n'
        f'      <td><a href="/import/{done.pk}/results/">Open</a> · '
        f'<a href="/import/?reuse={done.pk}">Reuse mapping</a></td>\n'
        "    </tr>"
    )
    assert history_row(body, ready) == (
        "<tr>\n"
        f"      <td>{ready.pk}</td>\n"
        '      <td class="long-value">things.zip</td>\n'
        "      <td>staff</td>\n"
        "      <td>2026-03-01 09:05</td>\n"
        "      <td>Ready to map</td>\n"
        '      <td class="text-end"></td>\n'
        '      <td class="text-end"></td>\n'
        '      <td class="text-end"></td>\n'
        f'      <td><a href="/import/{ready.pk}/mapping/">Open</a> · '
        f'<a href="/import/?reuse={ready.pk}">Reuse mapping</a></td>\n'
        "    </tr>"
    )
    assert body.index(history_row(body, done)) < body.index(history_row(body, ready))


def test_history_shows_the_steps_with_none_current(client, staff):
    body = client.get("/import/history/").content.decode()
    assert '<nav aria-label="Import steps" class="mb-3">' in body
    assert [step in body for step in ("1 Upload", "2 Map", "3 Preview", "4 Import", "5 Done")] == [
        True
    ] * 5
    assert "aria-current" not in body
    assert '<li class="wizard-step active"' not in body


def test_history_says_who_even_when_the_user_is_gone(client, staff, tmp_path):
    job = ready_job(client, tmp_path)
    other = get_user_model().objects.create_user(username="other", is_staff=True, is_superuser=True)
    client.force_login(other)
    staff.delete()
    job.refresh_from_db()
    assert (job.created_by, job.created_by_name) == (None, "staff")
    response = client.get("/import/history/")
    assert (
        f'<td>{job.pk}</td>\n      <td class="long-value">things.zip</td>\n      <td>staff</td>'
        in (response.content.decode())
    )
    page = client.get(f"/import/{job.pk}/").content.decode()
    assert " by staff · " in page


def test_a_mapping_is_reused_for_a_new_upload(client, staff, tmp_path):
    first = ready_job(client, tmp_path)
    mapping_file = SimpleUploadedFile(
        "m.json",
        json.dumps(
            {"tables": {"things": {"target": "raw", "key": ["id"], "mode": "insert"}}}
        ).encode(),
    )
    client.post(f"/import/{first.pk}/mapping/upload/", {"mapping_file": mapping_file})
    page = client.get("/import/", {"reuse": first.pk})
    assert f"The mapping of import #{first.pk} (things.zip) will be reused" in page.content.decode()
    upload(client, small_zip(tmp_path), reuse=str(first.pk))
    second = ImportJob.objects.order_by("-id").first()
    assert second.reused_from == first
    assert second.mapping["tables"]["things"]["mode"] == "insert"


def test_cancel(client, staff, tmp_path):
    job = ready_job(client, tmp_path)
    response = client.post(f"/import/{job.pk}/cancel/", follow=True)
    assert shown_messages(response) == [f"Import #{job.pk} cancelled; nothing was imported."]
    job.refresh_from_db()
    assert job.status == Status.CANCELLED
    response = client.post(f"/import/{job.pk}/dry-run/", follow=True)
    assert shown_messages(response) == [f"cannot preview import #{job.pk}: it was cancelled"]


def test_cancel_asks_for_confirmation(client, staff, tmp_path):
    job = ready_job(client, tmp_path)
    body = client.get(f"/import/{job.pk}/mapping/").content.decode()
    assert (
        f'hx-confirm="Cancel import #{job.pk}? Nothing will be imported from things.zip; it stays '
        'in the history."'
    ) in body
    assert f'hx-post="/import/{job.pk}/cancel/"' in body
    response = client.post(f"/import/{job.pk}/cancel/", **HTMX)
    assert response.status_code == 200
    assert response["HX-Redirect"] == "/import/history/"
    job.refresh_from_db()
    assert job.status == Status.CANCELLED
    again = client.post(f"/import/{job.pk}/cancel/", **HTMX)
    assert again["HX-Redirect"] == f"/import/{job.pk}/"


def test_the_navbar_logs_out_with_a_post(client, staff):
    body = client.get("/import/").content.decode()
    assert (
        '<form method="post" action="/admin/logout/" id="logout-form">\n'
        '          <input type="hidden" name="csrfmiddlewaretoken"'
    ) in body
    assert '<input type="hidden" name="next" value="/import/">' in body
    assert 'Log out <span class="text-body-secondary small">(staff)</span></button>' in body
    response = client.post("/admin/logout/", {"next": "/import/"})
    assert (response.status_code, response["Location"]) == (302, "/import/")
    assert client.get("/import/")["Location"] == "/admin/login/?next=/import/"


def test_the_upload_lives_in_storage_not_in_the_process(client, staff, tmp_path, settings):
    """C26: a dry run re-opens the stored upload; with the file gone, a message, not a 500."""
    job = ready_job(client, tmp_path)
    job.upload.storage.delete(job.upload.name)
    response = client.post(f"/import/{job.pk}/dry-run/", follow=True)
    assert response.status_code == 200
    assert shown_messages(response) == [
        f"the upload of import #{job.pk} is no longer in storage; upload it again"
    ]


# --- access ----------------------------------------------------------------------------------


def importer_urls(job: ImportJob) -> list[str]:
    resolver = get_resolver()
    patterns = next(p for p in resolver.url_patterns if getattr(p, "namespace", None) == "importer")
    urls = []
    for pattern in patterns.url_patterns:
        assert isinstance(pattern, URLPattern)
        kwargs = {}
        if "pk" in pattern.pattern.converters:
            kwargs["pk"] = job.pk
        if "position" in pattern.pattern.converters:
            kwargs["position"] = 0
        urls.append(reverse(f"importer:{pattern.name}", kwargs=kwargs))
    return urls


@pytest.mark.parametrize("who", ["anonymous", "not staff"])
def test_every_importer_url_needs_staff(client, tmp_path, who):
    owner = get_user_model().objects.create_user(username="owner", is_staff=True, is_superuser=True)
    client.force_login(owner)
    job = planned_job(client, tmp_path)
    client.logout()
    if who == "not staff":
        client.force_login(get_user_model().objects.create_user(username="plain"))
    urls = importer_urls(job)
    assert len(urls) == 15
    for url in urls:
        for method in ("get", "post"):
            response = getattr(client, method)(url)
            assert response.status_code == 302, (url, method, response.status_code)
            assert response["Location"].startswith("/admin/login/?next="), url
            # HTMX (a progress poll, a fragment): the whole page goes to the login page.
            response = getattr(client, method)(url, **HTMX)
            assert response.status_code == 200, (url, method, response.status_code)
            assert response["HX-Redirect"].startswith("/admin/login/?next="), url
            assert response.content == b""
    assert RawItem.objects.count() == 0
    job.refresh_from_db()
    assert job.status == Status.PLANNED


# --- what is not there -----------------------------------------------------------------------

MISSING_PAGE = (
    '<h1 class="h4">Import #99999 does not exist.</h1>\n'
    '  <p class="mb-2">The address may be mistyped, or it points at something that is not '
    "there.</p>\n"
    '  <p class="mb-0"><a href="/import/">Upload an export</a> · '
    '<a href="/import/history/">See past imports</a></p>'
)


def test_every_url_of_a_job_that_does_not_exist_is_a_wizard_page(client, staff, settings):
    settings.DEBUG = True  # as bin/run serves it: no technical 404 page either
    urls = [url for url in importer_urls(ImportJob(pk=99999)) if "99999" in url]
    assert len(urls) == 13
    for url in urls:
        response = client.get(url)
        if response.status_code == 405:  # a POST-only action
            response = client.post(url)
        assert response.status_code == 404, url
        body = response.content.decode()
        assert MISSING_PAGE in body, url
        assert "<title>Not found · DynamoDB import</title>" in body
    fragment = client.get("/import/99999/progress/", **HTMX).content.decode()
    assert fragment.lstrip().startswith('<div id="missing"')
    assert "<html" not in fragment
    response = client.get("/import/99999/errors.csv", {"phase": "bogus"})
    assert response.status_code == 404
    assert MISSING_PAGE in response.content.decode()


def test_a_table_or_report_that_does_not_exist_is_a_wizard_page(client, staff, tmp_path):
    job = ready_job(client, tmp_path)
    response = client.get(f"/import/{job.pk}/mapping/tables/7/", **HTMX)
    assert response.status_code == 404
    assert f'<h1 class="h4">Import #{job.pk} has no table 7.</h1>' in response.content.decode()
    response = client.get(f"/import/{job.pk}/errors.csv", {"phase": "bogus"})
    assert response.status_code == 400
    assert (
        '<h1 class="h4">There is no error report for phase &#x27;bogus&#x27;: ask for '
        "phase=dry_run (the dry run&#x27;s) or phase=import (the import&#x27;s).</h1>"
    ) in response.content.decode()


def test_a_poll_after_the_session_ended_sends_the_page_to_the_login(client, staff, tmp_path):
    job = ready_job(client, tmp_path)
    ImportJob.objects.filter(pk=job.pk).update(status=Status.PLANNING)
    client.logout()
    response = client.get(
        f"/import/{job.pk}/progress/",
        HTTP_HX_CURRENT_URL=f"http://testserver/import/{job.pk}/preview/",
        **HTMX,
    )
    assert response.status_code == 200
    assert response["HX-Redirect"] == f"/admin/login/?next=/import/{job.pk}/preview/"


# --- the real exports, through the wizard, as the command line imports them ------------------

REAL_EXPORTS = {
    "bchew__dynamodump": ({"testTable": 1}, Status.DONE, ""),
    "pfeilbr__dynamodb-export-to-s3-and-query-with-athena-playground": (
        {"dynamodb-export-to-s3-and-query-with-athena-playground-v2-MyTable-1WGSJ3W2WJWPK": 3},
        Status.DONE,
        "",
    ),
    # Manifest only (its data file was never committed): both doors refuse it.
    "sabuat__db-dynamo-aws": (
        {"livros_por_ler": 0},
        Status.FAILED,
        "nothing could be imported (see the messages above).",
    ),
    "scylladb__scylla-migrator": ({"S3ExportTest": 3}, Status.DONE, ""),
}


@pytest.mark.parametrize(
    "name",
    [
        "bchew__dynamodump",
        "pfeilbr__dynamodb-export-to-s3-and-query-with-athena-playground",
        "sabuat__db-dynamo-aws",
        "scylladb__scylla-migrator",
    ],
)
def test_real_exports_through_the_wizard_match_the_command(client, staff, tmp_path, name):
    folder = CORPUS / name
    archive = zip_folder(folder, tmp_path / f"{name}.zip")
    upload(client, archive)
    job = ImportJob.objects.get()
    assert job.status == Status.READY, job.error_message
    page = client.get(f"/import/{job.pk}/mapping/")
    data = mapping_post(page, **{f"t{t.position}-target": "raw" for t in job.tables.all()})
    response = client.post(f"/import/{job.pk}/mapping/", {**data, "preview": "1"})
    assert response.status_code == 302, shown_messages(response)
    job.refresh_from_db()
    wizard_plan = {t.name: t.plan_counts for t in job.tables.all()}
    if job.status == Status.PLANNED:
        client.post(f"/import/{job.pk}/import/")
    job.refresh_from_db()
    wizard_load = {t.name: t.load_counts for t in job.tables.all()}
    wizard_rows = sorted(RawItem.objects.values_list("source_table", "item_key", "attributes"))
    RawItem.objects.all().delete()

    copy = tmp_path / "command-copy"
    shutil.copytree(folder, copy)
    maps = [arg for t in job.tables.all() for arg in ("--map", f"{t.name}=raw")]
    try:
        call_command(
            "import_dynamodb", "--data-dir", str(copy), "--no-progress", *maps, stdout=io.StringIO()
        )
    except Exception as error:  # the command refuses what the wizard reports as failed tables
        command_error = str(error)
    else:
        command_error = ""
    command_rows = sorted(RawItem.objects.values_list("source_table", "item_key", "attributes"))
    assert wizard_rows == command_rows
    assert wizard_plan == wizard_load
    new = {t.name: t.load_counts["new"] for t in job.tables.all()}
    assert (new, job.status, command_error) == REAL_EXPORTS[name]


def test_the_preview_lists_the_first_new_rows_of_each_table_and_counts_the_rest(
    client, staff, tmp_path, settings
):
    settings.DYNAMODB_IMPORTER = {**settings.DYNAMODB_IMPORTER, "PREVIEW_NEW_ROWS": 2}
    job = planned_job(client, tmp_path)
    listed = ImportRow.objects.filter(job=job, phase=Phase.DRY_RUN, outcome="new")
    assert list(listed.values_list("item_key", flat=True)) == ["id=a", "id=b"]
    body = client.get(f"/import/{job.pk}/preview/").content.decode()
    assert (
        "2 rows; page 1 of 1. The first 2 new rows of each table are listed; "
        "1 more new row is counted.</p>"
    ) in body


def test_progress_says_finishing_once_every_item_is_counted(client, staff, tmp_path):
    job = ready_job(client, tmp_path)
    ImportJob.objects.filter(pk=job.pk).update(
        status=Status.IMPORTING, task="import", progress_phase="importing"
    )
    ImportJob.objects.filter(pk=job.pk).update(progress_done=2, progress_total=3)
    body = client.get(f"/import/{job.pk}/progress/", **HTMX).content.decode()
    assert '<span class="progress-phase">importing</span>…' in body
    ImportJob.objects.filter(pk=job.pk).update(progress_done=3)
    body = client.get(f"/import/{job.pk}/progress/", **HTMX).content.decode()
    assert (
        '<span class="progress-phase">finishing (the last checks, then the commit)</span>…'
    ) in body
