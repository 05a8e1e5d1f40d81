"""From a registry to the database: the published views, their comments and grants, and
TAP_SCHEMA's rows — the SQL the migration operation and ``manage.py metadata rebuild`` run.

Rebuilding is one transaction: every view of the published schemas is dropped and created
again, and TAP_SCHEMA is emptied and filled, so readers see the old or the new schema, never a
mix. TAP_SCHEMA lives in PostgreSQL as ``tap_schema`` (ADQL's TAP_SCHEMA, unquoted, folds to it).
"""

from __future__ import annotations

from .registry import Registry, Schema, Table

TAP_SCHEMA_NAME = "TAP_SCHEMA"
_SQL_TYPES = {"char": "text", "int": "integer", "short": "smallint", "long": "bigint"}


def quoted(name: str) -> str:
    """A column name as SQL writes it: delimited (once) always."""
    return name if name.startswith('"') else f'"{name}"'


def pg_name(schema: str) -> str:
    return schema.lower()


def _literal(value: object) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, int):
        return str(value)
    return "'" + str(value).replace("'", "''") + "'"


def _is_tap_schema(schema: Schema) -> bool:
    return schema.name.upper() == TAP_SCHEMA_NAME


def _tap_schema_table(table: Table) -> str:
    cols = ", ".join(f"{quoted(c.name)} {_SQL_TYPES[c.datatype]}" for c in table.columns)
    return f"CREATE TABLE tap_schema.{table.name} ({cols})"


def _view_statements(schema: Schema, reader: str) -> list[str]:
    name = pg_name(schema.name)
    out = [
        f"CREATE SCHEMA IF NOT EXISTS {name}",
        f"COMMENT ON SCHEMA {name} IS {_literal(schema.description)}",
        # every view of the schema goes, including ones a previous registry declared
        "DO $$ DECLARE v record; BEGIN FOR v IN SELECT table_name FROM information_schema.views "
        f"WHERE table_schema = {_literal(name)} LOOP "
        f"EXECUTE format('DROP VIEW IF EXISTS %I.%I CASCADE', {_literal(name)}, v.table_name); "
        "END LOOP; END $$",
    ]
    for table in schema.tables:
        out.append(table.view_sql(name))
        out.append(f"COMMENT ON VIEW {name}.{table.name} IS {_literal(table.description)}")
        out += [
            f"COMMENT ON COLUMN {name}.{table.name}.{c.name} IS {_literal(c.description)}"
            for c in table.columns
        ]
    out += [
        f"GRANT USAGE ON SCHEMA {name} TO {reader}",
        f"GRANT SELECT ON ALL TABLES IN SCHEMA {name} TO {reader}",
    ]
    return out


def tap_schema_rows(registry: Registry) -> dict[str, list[tuple]]:
    """TAP_SCHEMA's rows (TAP 1.1, Sect. 4), table by table, in column order."""
    rows: dict[str, list[tuple]] = {
        "schemas": [],
        "tables": [],
        "columns": [],
        "keys": [],
        "key_columns": [],
    }
    table_index = 0
    for si, schema in enumerate(registry.schemas):
        rows["schemas"].append((schema.name, schema.utype or None, schema.description, si))
        for table in schema.tables:
            qualified = f"{schema.name}.{table.name}"
            rows["tables"].append(
                (
                    schema.name,
                    qualified,
                    table.table_type,
                    table.utype or None,
                    table.description,
                    table_index,
                )
            )
            table_index += 1
            for ci, c in enumerate(table.columns):
                # TAP 1.1 "size": the number in arraysize, bounded ("64*") or fixed ("8")
                bound = (c.arraysize or "").rstrip("*")
                size = int(bound) if bound.isdigit() else None
                rows["columns"].append(
                    (
                        qualified,
                        c.name,
                        c.datatype,
                        c.arraysize,
                        c.xtype,
                        size,
                        c.description,
                        c.utype or None,
                        c.unit or None,
                        c.ucd or None,
                        int(c.indexed),
                        int(c.principal),
                        int(c.std),
                        ci,
                    )
                )
            for ki, key in enumerate(table.foreign_keys):
                key_id = f"{qualified}:{ki}"
                rows["keys"].append(
                    (key_id, qualified, key.target, key.utype or None, key.description or None)
                )
                rows["key_columns"] += [(key_id, a, b) for a, b in key.columns]
    return rows


def _tap_schema_statements(registry: Registry, reader: str) -> list[str]:
    tap = next(s for s in registry.schemas if _is_tap_schema(s))
    out = ["DROP SCHEMA IF EXISTS tap_schema CASCADE", "CREATE SCHEMA tap_schema"]
    out += [_tap_schema_table(t) for t in tap.tables]
    for name, rows in tap_schema_rows(registry).items():
        if rows:
            values = ",\n".join("(" + ", ".join(map(_literal, r)) + ")" for r in rows)
            out.append(f"INSERT INTO tap_schema.{name} VALUES\n{values}")
    out += [
        f"COMMENT ON SCHEMA tap_schema IS {_literal(tap.description)}",
        f"GRANT USAGE ON SCHEMA tap_schema TO {reader}",
        f"GRANT SELECT ON ALL TABLES IN SCHEMA tap_schema TO {reader}",
        # users' personal tables, each row shown only to its readers (migrations/tap/0002)
        "DO $$ BEGIN IF to_regprocedure('adql_udf.personal_tap_schema()') IS NOT NULL "
        "THEN PERFORM adql_udf.personal_tap_schema(); END IF; END $$",
    ]
    return out


def rebuild_statements(registry: Registry, reader: str) -> list[str]:
    """Every statement that makes the database show ``registry``; run them in one transaction."""
    out: list[str] = []
    for schema in registry.schemas:
        if not _is_tap_schema(schema):
            out += _view_statements(schema, reader)
    return out + _tap_schema_statements(registry, reader)


def drop_statements(registry: Registry) -> list[str]:
    """Undo :func:`rebuild_statements`: the views of the published schemas and TAP_SCHEMA."""
    out = [
        f"DROP VIEW IF EXISTS {pg_name(s.name)}.{t.name} CASCADE"
        for s in registry.schemas
        if not _is_tap_schema(s)
        for t in s.tables
    ]
    return out + ["DROP SCHEMA IF EXISTS tap_schema CASCADE"]
