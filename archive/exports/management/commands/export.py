"""manage.py export VERSION: queue the bulk export of a ready model version (or --here: build it
in this process, without a worker)."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from archive.catalogue.models import ModelVersion


class Command(BaseCommand):
    help = "Build the bulk export of a ready model version (HEALPix-split CSV, FITS, Parquet)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("version", help="name of a ready model version")
        parser.add_argument(
            "--here", action="store_true", help="build in this process instead of on a worker"
        )
        parser.add_argument(
            "--rows-per-file", type=int, default=None, help="rows per file (default 500 000)"
        )

    def handle(self, version: str, here: bool, rows_per_file: int | None, **_) -> None:
        the_version = ModelVersion.objects.ready().filter(name=version).first()
        if the_version is None:
            raise CommandError(f"no ready model version {version!r}")
        if not here:
            from archive.exports.jobs import request_export

            job = request_export(the_version)
            self.stdout.write(f"export job {job.pk} is {job.phase}")
            return
        from archive.exports.build import ROWS_PER_FILE, build_export
        from archive.exports.store import export_dir
        from archive.tap.service import open_reader

        conn = open_reader()
        try:
            manifest = build_export(
                the_version,
                conn,
                rows_per_file=rows_per_file or ROWS_PER_FILE,
                progress=lambda path: self.stdout.write(f"  {path}"),
            )
        finally:
            conn.close()
        where = export_dir(version)
        self.stdout.write(f"{manifest.rows} rows in {len(manifest.files)} files: {where}")
