"""The wizard in a real browser (Playwright driving Debian's Chromium) against a live server."""

from __future__ import annotations

import csv
import io
import os
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from django.db import connections
from playwright import sync_api as playwright_api

from backend.production.models import PushToProduction
from backend.samples.export import write_sample_export
from importer.job_tables import job_mappings
from importer.mapping import resolve_model
from importer.models import ImportJob, ImportProblem, Phase

# Playwright runs an event loop in this thread; the live server's ORM calls are in their own.
os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"

pytestmark = pytest.mark.django_db(transaction=True)

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
REPO = Path(__file__).resolve().parents[1]
# Screenshots go to an ignored folder, so a test run leaves the tracked files alone; the README's
# refresh command points SCREENSHOTS_DIR at docs/screenshots (a relative path is from the checkout).
SCREENSHOTS = REPO / os.environ.get("SCREENSHOTS_DIR", "var/screenshots")


@pytest.fixture
def page(live_server, settings, tmp_path):
    assert Path(CHROMIUM).exists(), "bin/test installs Debian's chromium at /usr/bin/chromium"
    settings.MEDIA_ROOT = tmp_path / "media"
    get_user_model().objects.create_user(
        username="staff", password="secret-pw", is_staff=True, is_superuser=True
    )
    with playwright_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        context = browser.new_context(
            accept_downloads=True, viewport={"width": 1400, "height": 1000}
        )
        page = context.new_page()
        page.set_default_timeout(15_000)
        yield page
        context.close()
        browser.close()
        # ORM calls made while Playwright's loop ran opened their own connection: close it.
        connections.close_all()


def shot(page, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / name), full_page=True)


def key_values(item_key: str) -> dict[str, str]:
    """The attribute values an error report's item key names ("id=7, sk=a" → {"id": "7", ...})."""
    return dict(part.split("=", 1) for part in item_key.split(", "))


def target_rows(table):
    """The rows of a table's target model (a raw target: that table's raw items only)."""
    rows = resolve_model(table.target).objects.all()
    return rows.filter(source_table=table.name) if table.target == "raw" else rows


def test_the_wizard_from_upload_to_results(page, live_server, tmp_path):
    expect = playwright_api.expect
    archive = tmp_path / "demo.zip"
    write_sample_export(archive, items=2000, seed=1)  # 1 push_to_production item is invalid

    page.goto(f"{live_server.url}/import/")
    page.fill("#id_username", "staff")
    page.fill("#id_password", "secret-pw")
    page.click("input[type=submit]")
    expect(page.locator("h1")).to_have_text("Upload a DynamoDB export")
    page.set_input_files("#id_upload", str(archive))
    shot(page, "upload.png")
    page.click("text=Upload and analyse")
    page.wait_for_url("**/import/*/")
    expect(page.locator("#tables-found tbody tr")).to_have_count(8)
    shot(page, "tables.png")
    job = ImportJob.objects.get()

    page.click("text=Continue to mapping")
    page.wait_for_url(f"**/import/{job.pk}/mapping/")
    # Change one table's target: Groups → raw; its attribute rows re-render without a reload.
    groups = job.tables.get(name="Groups")
    detail = page.locator(f"#table-{groups.position}-detail")
    expect(detail.locator("select[name$='_field']").first).to_be_visible()
    page.select_option(f"#id_t{groups.position}-target", "raw")
    expect(detail.locator("select[name$='_field']")).to_have_count(0)
    # Change one attribute's field: stock's "location" is no longer imported.
    stock = job.tables.get(name="stock")
    names = [attribute["name"] for attribute in stock.profile["attributes"]]
    location = names.index("location")
    page.select_option(f"#id_t{stock.position}-a{location}_field", "")
    shot(page, "mapping.png")
    page.click("text=Save and run the dry run")
    page.wait_for_url(f"**/import/{job.pk}/preview/")
    job.refresh_from_db()
    assert job.mapping["tables"]["Groups"]["target"] == "raw"
    assert job.mapping["tables"]["stock"]["fields"]["location"] == {"field": None}
    expect(page.locator("#counts tr[data-table='Groups'] .count-new")).to_have_text("20")
    expect(page.locator("#counts tr[data-table='stock'] .count-new")).to_have_text("400")
    # HTMX paging of the diff.
    page.click("#diff .pagination >> text=Next")
    expect(page.locator("#diff")).to_contain_text("2,000 rows; page 2 of 40.")
    shot(page, "preview.png")

    page.click("text=Continue to import")
    page.wait_for_url(f"**/import/{job.pk}/import/")
    shot(page, "confirm.png")
    before = {table.name: target_rows(table).count() for table in job.tables.all()}
    assert before == {table.name: 1 if table.name == "users" else 0 for table in job.tables.all()}
    page.click("text=Import now")
    page.wait_for_url(f"**/import/{job.pk}/results/")
    expect(page.locator("#result-summary")).to_contain_text(
        "1999 new, 0 updated, 0 unchanged, 1 error."
    )
    shot(page, "results.png")

    with page.expect_download() as download_info:
        page.click("#error-csv")
    text = Path(download_info.value.path()).read_text(encoding="utf-8")
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[0] == [
        "table",
        "file",
        "line",
        "item_key",
        "attribute",
        "field",
        "raw_value",
        "message",
    ]
    stored = [
        [
            p.table,
            p.file,
            "" if p.line is None else str(p.line),
            p.item_key,
            p.attribute,
            p.field,
            p.raw_value,
            p.message,
        ]
        for p in ImportProblem.objects.filter(job=job, phase=Phase.IMPORT).order_by("id")
    ]
    assert rows[1:] == stored
    assert len(stored) == 1 and stored[0][4:] == ["quantity", "quantity", "12.5", "not an integer"]
    # The CSV against the target tables themselves: every item it names is absent from its
    # target, and each target holds exactly the rows the results count as imported.
    mappings = job_mappings(job)
    lookups = []
    for table, _file, _line, item_key, *_ in rows[1:]:
        mapping = mappings.tables[table]
        fields = {item.attribute: item.field for item in mapping.fields}
        lookup = {fields[name]: value for name, value in key_values(item_key).items()}
        lookups.append((table, mapping.target, lookup))
        assert not resolve_model(mapping.target).objects.filter(**lookup).exists(), item_key
    assert lookups == [
        (
            "push_to_production",
            "production.PushToProduction",
            {"id": "fe791a65-cb01-4739-b86c-b0ba86cbac3d"},
        )
    ]
    assert PushToProduction.objects.count() == 279
    imported = {}
    for table in job.tables.all():
        counts = table.load_counts
        imported[table.name] = counts["new"] + counts["updated"] + counts["unchanged"]
        # Fresh targets (users holds the staff login): the import added exactly these rows.
        assert target_rows(table).count() == before[table.name] + counts["new"], table.name
        assert counts["updated"] == counts["unchanged"] == 0, table.name
    assert imported["push_to_production"] == 279
    assert sum(imported.values()) == 1999

    page.goto(f"{live_server.url}/import/history/")
    expect(page.locator("#history tbody tr")).to_have_count(1)
    shot(page, "history.png")
