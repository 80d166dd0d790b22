"""`manage.py make_sample_export --out demo.zip --items N [--seed S]`: write a demo export zip."""

from __future__ import annotations

from argparse import ArgumentParser
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from backend.samples.export import MIN_ITEMS, write_sample_export


class Command(BaseCommand):
    help = (
        "Write a zip in real DynamoDB S3 export format holding the eight demo tables, "
        "messy like real data; the same seed gives the same bytes."
    )

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("--out", required=True, type=Path, help="zip file to write")
        parser.add_argument(
            "--items",
            required=True,
            type=int,
            help=f"total items across the eight tables (at least {MIN_ITEMS})",
        )
        parser.add_argument("--seed", type=int, default=1, help="random seed (default 1)")

    def handle(self, *args: Any, **options: Any) -> None:
        # call_command(out="x.zip") hands the raw value over, bypassing the parser's type.
        out = Path(options["out"])
        items = int(options["items"])
        if items < MIN_ITEMS:
            raise CommandError(
                f"--items must be at least {MIN_ITEMS} so that every table gets an item, "
                f"got {items}."
            )
        try:
            summary = write_sample_export(out, items=items, seed=options["seed"])
        except OSError as exc:
            raise CommandError(f"Cannot write {out}: {exc.strerror or exc}.") from exc
        self.stdout.write(
            f"Wrote {out}: {len(summary.counts)} tables, {summary.total_items} items "
            f"({summary.total_invalid} invalid on purpose)"
        )
