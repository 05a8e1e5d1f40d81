"""``manage.py ingest PRODUCT FILE...``: load Gaia DR3 / APOGEE DR17 files."""

import os
import time

from django.core.management.base import BaseCommand, CommandError
from django.db import DatabaseError

from archive.ingest.products import PRODUCTS
from archive.ingest.runner import ingest_file
from archive.progress import Progress
from labeling.io import ReadError


class Command(BaseCommand):
    help = "Ingest product files (one transaction per file; idempotent). Products: " + ", ".join(
        PRODUCTS
    )

    def add_arguments(self, parser):
        parser.add_argument("product", choices=sorted(PRODUCTS))
        parser.add_argument("files", nargs="+")
        parser.add_argument(
            "--skip-bad-rows",
            action="store_true",
            help="reject and report bad rows instead of failing the file",
        )
        parser.add_argument(
            "--show-rejected",
            type=int,
            default=50,
            metavar="N",
            help="list at most N rejected rows per file after its summary (default 50)",
        )
        parser.add_argument("--no-progress", action="store_true", help="no progress bar")

    def handle(self, product, files, skip_bad_rows, no_progress, show_rejected, **options):
        spec = PRODUCTS[product]
        failed = []
        totals = dict.fromkeys(("read", "inserted", "updated", "unchanged", "rejected"), 0)
        # across files, by bytes: a file's rows are only known once it is read
        sizes = [os.path.getsize(p) if os.path.isfile(p) else 0 for p in files]
        unit, scale = ("MB", 1e6) if sum(sizes) >= 1e8 else ("kB", 1e3)
        progress = Progress.begin("ingest", unit, max(1, round(sum(sizes) / scale)))
        read_bytes = 0
        for number, (path, size) in enumerate(zip(files, sizes, strict=True), 1):
            if len(files) > 1 and not no_progress:
                self.stderr.write(f"file {number}/{len(files)}: {progress.describe()}")
            try:
                report = ingest_file(
                    spec, path, skip_bad_rows=skip_bad_rows, progress=not no_progress
                )
            except (ReadError, OSError, DatabaseError) as exc:
                failed.append(path)
                self.stderr.write(f"error: {exc}\n  nothing of {path} was loaded")
                continue
            finally:
                read_bytes += size
                progress = progress.at(round(read_bytes / scale), time.time())
            self.stdout.write(report.summary())
            shown = max(show_rejected, 0)
            for rejected in report.rejected[:shown]:
                self.stdout.write(f"  rejected {rejected}")
            if len(report.rejected) > shown:
                self.stdout.write(
                    f"  ... and {len(report.rejected) - shown} more rejected rows "
                    "(--show-rejected N lists more)"
                )
            for key in ("read", "inserted", "updated", "unchanged"):
                totals[key] += getattr(report, key)
            totals["rejected"] += len(report.rejected)
        if len(files) > 1 and not no_progress:
            self.stderr.write(f"{len(files)} files: {progress.describe()}")
        if len(files) > 1:
            self.stdout.write("total: " + ", ".join(f"{v} {k}" for k, v in totals.items()))
        if failed:
            raise CommandError(f"{len(failed)} of {len(files)} files failed: {', '.join(failed)}")
