"""``manage.py metadata makemigration|check|rebuild``: the registry and the database."""

from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from archive.metadata.migrations import changes, latest, write_migration
from archive.metadata.operations import apply, snapshot
from archive.metadata.published import registry


class Command(BaseCommand):
    help = "The published schema's registry (archive/metadata/published.py) and the database"

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        make = sub.add_parser(
            "makemigration",
            help="write the metadata migration that rebuilds the views and TAP_SCHEMA, "
            "if the registry changed since the last one",
        )
        make.add_argument("--name", default="published_schema", help="migration name suffix")
        sub.add_parser(
            "check", help="exit 1 if the registry differs from the latest metadata migration"
        )
        sub.add_parser(
            "rebuild",
            help="rebuild the published views and TAP_SCHEMA from the registry now, in one "
            "transaction (after a manual change, or to repair them)",
        )

    def handle(self, *args, action: str, **options):
        current = snapshot(registry())
        name, previous = latest()
        if action == "makemigration":
            module = settings.MIGRATION_MODULES["metadata"]
            directory = Path(settings.BASE_DIR, *module.split("."))
            path = write_migration(registry(), directory, options["name"])
            if path is None:
                self.stdout.write("No changes: the registry matches the latest migration")
            else:
                self.stdout.write(f"Wrote {path.relative_to(settings.BASE_DIR)}")
                for line in changes(previous, current):
                    self.stdout.write(f"  {line}")
        elif action == "check":
            diff = changes(previous, current)
            if previous != current:
                raise CommandError(
                    f"the registry differs from migration {name}: "
                    + "; ".join(diff or ["(no migration yet)"])
                    + " - run `manage.py metadata makemigration`"
                )
            self.stdout.write(f"The registry matches migration {name}")
        else:
            apply(registry())
            self.stdout.write("Rebuilt the published views and TAP_SCHEMA")
            if previous != current:
                self.stderr.write(
                    f"warning: the registry differs from migration {name}; run "
                    "`manage.py metadata makemigration` so that migrate builds the same"
                )
