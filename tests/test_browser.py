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

from backend.samples.export import write_sample_export
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
    expect(page.locator("#diff")).to_contain_text("2000 rows; page 2 of 40.")
    shot(page, "preview.png")

    page.click("text=Continue to import")
    page.wait_for_url(f"**/import/{job.pk}/import/")
    shot(page, "confirm.png")
    page.click("text=Import now")
    page.wait_for_url(f"**/import/{job.pk}/results/")
    expect(page.locator("#result-summary")).to_contain_text(
        "1999 new, 0 updated, 0 unchanged, 1 errors"
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

    page.goto(f"{live_server.url}/import/history/")
    expect(page.locator("#history tbody tr")).to_have_count(1)
    shot(page, "history.png")
