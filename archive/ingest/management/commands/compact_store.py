"""``manage.py compact_store``: reclaim spectrum-store rows that nothing references."""

from django.core.management.base import BaseCommand

from archive.ingest.compaction import compact_store


class Command(BaseCommand):
    help = "Rewrite spectrum-store segments holding unreferenced rows; delete empty ones"

    def handle(self, **options):
        r = compact_store()
        self.stdout.write(
            f"{r.segments_rewritten} segments rewritten ({r.rows_copied} rows copied), "
            f"{r.segments_deleted} deleted, {r.rows_reclaimed} unreferenced rows reclaimed"
        )
