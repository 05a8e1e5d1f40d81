"""The migration operation that makes the database show a registry snapshot.

A migration of the ``metadata`` app holds a snapshot of the registry (a JSON file beside it,
written by ``manage.py metadata makemigration``) and the snapshot before it; migrating
forwards rebuilds the published views and TAP_SCHEMA from the one, backwards from the other.
Snapshots name the published schema ``$published``: the settings say which schema that is.
"""

from __future__ import annotations

import json
from pathlib import Path

from django.conf import settings
from django.db import connection, transaction
from django.db.migrations.operations.base import Operation

from .ddl import drop_statements, rebuild_statements
from .registry import Registry

PUBLISHED = "$published"


def _rename(data: dict, old: str, new: str) -> dict:
    data = json.loads(json.dumps(data))
    for schema in data["schemas"]:
        if schema["name"] == old:
            schema["name"] = new
        for table in schema["tables"]:
            for key in table["foreign_keys"]:
                prefix, _, name = key["target"].rpartition(".")
                if prefix == old:
                    key["target"] = f"{new}.{name}"
    return data


def snapshot(registry: Registry) -> dict:
    """The registry as data, independent of the published schema's configured name."""
    return _rename(registry.to_dict(), settings.PUBLISHED_SCHEMA, PUBLISHED)


def from_snapshot(data: dict) -> Registry:
    return Registry.from_dict(_rename(data, PUBLISHED, settings.PUBLISHED_SCHEMA))


def load_snapshot(migration_file: str, name: str | None = None) -> dict:
    """The snapshot of a migration: its own (a JSON file of the same name beside it), or that
    of the migration ``name`` in the same folder."""
    path = Path(migration_file)
    if name is not None:
        path = path.with_name(name)
    return json.loads(path.with_suffix(".json").read_text())


def _reader() -> str:
    return settings.DATABASES["reader"]["USER"]


def apply(registry: Registry, using=None) -> None:
    """Rebuild the published views and TAP_SCHEMA from ``registry`` in one transaction."""
    conn = using or connection
    with transaction.atomic(using=conn.alias), conn.cursor() as cur:
        for sql in rebuild_statements(registry, _reader()):
            cur.execute(sql)


class PublishSchema(Operation):
    """Rebuild the published views and TAP_SCHEMA from ``snapshot`` (backwards: ``previous``,
    or drop them when there is none)."""

    reduces_to_sql = True
    reversible = True

    def __init__(self, snapshot: dict, previous: dict | None = None) -> None:
        self.snapshot = snapshot
        self.previous = previous

    def deconstruct(self):
        return (
            self.__class__.__qualname__,
            [],
            {"snapshot": self.snapshot, "previous": self.previous},
        )

    def state_forwards(self, app_label, state) -> None:
        pass  # no model state: views and TAP_SCHEMA are not models

    def _run(self, schema_editor, statements: list[str]) -> None:
        for sql in statements:
            schema_editor.execute(sql, params=None)

    def database_forwards(self, app_label, schema_editor, from_state, to_state) -> None:
        self._run(schema_editor, rebuild_statements(from_snapshot(self.snapshot), _reader()))

    def database_backwards(self, app_label, schema_editor, from_state, to_state) -> None:
        if self.previous is None:
            self._run(schema_editor, drop_statements(from_snapshot(self.snapshot)))
        else:
            self._run(schema_editor, rebuild_statements(from_snapshot(self.previous), _reader()))

    def describe(self) -> str:
        return "Rebuild the published views and TAP_SCHEMA from a registry snapshot"
