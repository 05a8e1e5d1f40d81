"""The registry and everything derived from it: views, TAP_SCHEMA, the tableset, headers."""

import dataclasses
import json
from xml.etree import ElementTree as ET

import pytest
from astropy import units as u
from astropy.io.votable.ucd import check_ucd
from django.conf import settings
from django.core.management import CommandError, call_command
from django.db import connection

from archive.metadata.ddl import quoted, tap_schema_rows
from archive.metadata.migrations import changes, latest, write_migration
from archive.metadata.operations import apply, from_snapshot, snapshot
from archive.metadata.published import TAP_SCHEMA, registry
from archive.metadata.registry import Column, Registry, RegistryError
from archive.metadata.vosi import VOSI, table_document, tableset

SCHEMA = settings.PUBLISHED_SCHEMA
# Units the Gaia DR3 data model itself writes: VOUnit's log() function (VOUnit 1.0, Sect. 2.8),
# which astropy's VOUnit parser lacks, and dex, which VOUnit does not list but every abundance
# catalogue of the VO uses (astropy parses it in its generic format).
GAIA_UNITS = {"", "dex", "log(cm.s**-2)"}
PG_TYPES = {
    "long": "bigint",
    "int": "integer",
    "short": "smallint",
    "double": "double precision",
    "float": "real",
    "boolean": "boolean",
}


def published_columns(reg: Registry):
    for schema, table in reg.tables():
        if schema.name != "TAP_SCHEMA":
            for column in table.columns:
                yield schema, table, column


@pytest.mark.django_db
def test_the_migrations_hold_the_registry():
    """Like makemigrations --check: a registry edit without its migration fails here."""
    _, latest_snapshot = latest()
    assert latest_snapshot == snapshot(registry()), changes(latest_snapshot, snapshot(registry()))


def test_snapshots_round_trip():
    assert from_snapshot(snapshot(registry())) == registry()


def test_the_catalogue_tables_of_the_issue_are_published():
    reg = registry()
    rvs_cnn = [c.name for c in reg.table(f"{SCHEMA}.rvs_cnn").columns]
    labels = ["teff", "logg", "m_h", "alpha_m", "fe_h"]
    assert rvs_cnn == [
        "source_id",
        "ra",
        "dec",
        *labels,
        *(f"e_{k}" for k in labels),
        *(f"sigma_{k}" for k in labels),
        "flag_boundary",
        "model_version",
    ]
    for name in ("rvs_cnn_versions", "gaia_source", "training_sample", "model_versions"):
        reg.table(f"{SCHEMA}.{name}")
    flag = reg.table(f"{SCHEMA}.rvs_cnn").column("flag_boundary")
    assert (flag.datatype, flag.arraysize) == ("char", "8")
    with pytest.raises(RegistryError, match="no published table"):
        reg.table(f"{SCHEMA}.nothing")


@pytest.mark.parametrize(
    "column",
    [c for _, _, c in published_columns(registry())],
    ids=lambda c: c.name,
)
def test_every_published_column_is_described(column):
    assert len(column.description) >= 8
    assert check_ucd(column.ucd, check_controlled_vocabulary=True), column.ucd
    if column.unit not in GAIA_UNITS:
        u.Unit(column.unit, format="vounit")


def test_units_and_ucds_come_from_the_model_fields():
    """One declaration: the gaia_source columns show the model's own metadata."""
    from archive.catalogue.models import GaiaSource

    table = registry().table(f"{SCHEMA}.gaia_source")
    for f in GaiaSource._meta.concrete_fields:
        column = table.column(f.column)
        assert (column.unit, column.ucd, column.description) == (
            f.vo.unit,
            f.vo.ucd,
            f.vo.description,
        )


@pytest.mark.django_db
def test_views_show_the_registry_columns_in_order_and_type(reader_conn):
    for schema, table in registry().tables():
        if schema.name == "TAP_SCHEMA":
            continue
        with reader_conn.cursor() as cur:
            cur.execute(
                "SELECT column_name, data_type, character_maximum_length "
                "FROM information_schema.columns WHERE table_schema = %s AND table_name = %s "
                "ORDER BY ordinal_position",
                [schema.name, table.name],
            )
            got = cur.fetchall()
        assert [r[0] for r in got] == [c.name for c in table.columns], table.name
        for (name, pgtype, length), c in zip(got, table.columns, strict=True):
            if c.datatype == "char":
                if c.arraysize.isdigit():  # fixed length: char(n), or varchar(n) held to n
                    assert pgtype in ("character", "character varying"), (table.name, name)
                    assert length == int(c.arraysize), (table.name, name)
                elif c.arraysize != "*":  # bounded: "64*"
                    bound = int(c.arraysize[:-1])
                    assert (pgtype, length) == ("character varying", bound), (table.name, name)
                else:
                    assert pgtype in ("text", "character varying"), (table.name, name, pgtype)
            else:
                assert pgtype == PG_TYPES[c.datatype], (table.name, name, pgtype)


@pytest.mark.django_db
def test_tap_schema_holds_the_registry_and_the_reader_sees_it(reader_conn):
    expected = tap_schema_rows(registry())
    with reader_conn.cursor() as cur:
        for name, rows in expected.items():
            order = {
                "schemas": "schema_index",
                "tables": "table_index",
                "columns": "table_name, column_index",
                "keys": "key_id",
                "key_columns": "key_id, from_column",
            }[name]
            cols = ", ".join(quoted(c.name) for c in TAP_SCHEMA.tables[_index(name)].columns)
            cur.execute(f"SELECT {cols} FROM TAP_SCHEMA.{name} ORDER BY {order}")
            assert cur.fetchall() == sorted(rows, key=_sort_key(name)), name
        cur.execute(
            "SELECT column_index, arraysize, xtype FROM TAP_SCHEMA.columns "
            "WHERE table_name = %s AND column_name = 'flag_boundary'",
            [f"{SCHEMA}.rvs_cnn"],
        )
        assert cur.fetchone() == (18, "8", None)


def _index(name: str) -> int:
    return [t.name for t in TAP_SCHEMA.tables].index(name)


def _sort_key(name: str):
    if name == "columns":
        return lambda r: (r[0], r[13])
    if name == "key_columns":
        return lambda r: (r[0], r[1])
    if name == "keys":
        return lambda r: r[0]
    return lambda r: r[-1]


def test_the_tableset_lists_every_table_and_column():
    reg = registry()
    root = ET.fromstring(tableset(reg))
    assert root.tag == f"{{{VOSI}}}tableset"
    for schema, table in reg.tables():
        el = next(
            t
            for s in root.findall("schema")
            if s.findtext("name") == schema.name
            for t in s.findall("table")
            if t.findtext("name") == f"{schema.name}.{table.name}"
        )
        cols = el.findall("column")
        assert [c.findtext("name") for c in cols] == [c.name for c in table.columns]
        for xml, c in zip(cols, table.columns, strict=True):
            assert xml.findtext("dataType") == c.datatype
            assert xml.find("dataType").get("arraysize") == c.arraysize
            assert (xml.findtext("unit") or "") == c.unit
            assert (xml.findtext("ucd") or "") == c.ucd
    minimal = ET.fromstring(tableset(reg, detail="min"))
    assert minimal.findall(".//column") == []
    assert len(minimal.findall(".//table")) == len(list(reg.tables()))
    one = ET.fromstring(table_document(reg, f"{SCHEMA}.rvs_cnn"))
    assert one.tag == f"{{{VOSI}}}table" and len(one.findall("column")) == 20


def with_extra_column(reg: Registry) -> Registry:
    """The registry with rvs_cnn showing one more column (the RVS S/N of gaia_source)."""
    extra = Column(
        name="rvs_snr",
        expr="g.rvs_spec_sig_to_noise",
        datatype="double",
        ucd="stat.snr;spect",
        description="Signal-to-noise ratio of the mean RVS spectrum",
    )
    schemas = []
    for s in reg.schemas:
        tables = tuple(
            dataclasses.replace(t, columns=(*t.columns, extra)) if t.name == "rvs_cnn" else t
            for t in s.tables
        )
        schemas.append(dataclasses.replace(s, tables=tables))
    return Registry(schemas=tuple(schemas))


@pytest.mark.django_db
def test_a_column_added_to_the_registry_reaches_everything(reader_conn, tmp_path):
    reg = with_extra_column(registry())
    apply(reg)  # in the test's transaction: rolled back after it
    with connection.cursor() as cur:
        cur.execute(f"SELECT rvs_snr FROM {SCHEMA}.rvs_cnn LIMIT 0")
        cur.execute(
            "SELECT ucd, column_index FROM TAP_SCHEMA.columns WHERE column_name = 'rvs_snr'"
        )
        assert cur.fetchall() == [("stat.snr;spect", 20)]
    assert b"<name>rvs_snr</name>" in tableset(reg)
    assert reg.fields(f"{SCHEMA}.rvs_cnn")[-1].ucd == "stat.snr;spect"
    assert changes(snapshot(registry()), snapshot(reg)) == ["+ column $published.rvs_cnn.rvs_snr"]
    # and a migration carries it: one new file whose snapshot is the new registry
    path = write_migration(reg, tmp_path)
    latest_number = int(latest()[0].split("_")[0])
    assert path.name == f"{latest_number + 1:04d}_published_schema.py"
    assert json.loads(path.with_suffix(".json").read_text()) == snapshot(reg)
    assert "rvs_snr" in path.read_text()
    assert write_migration(registry(), tmp_path) is None


@pytest.mark.django_db
def test_rebuild_command_restores_a_dropped_view_and_check_passes():
    with connection.cursor() as cur:
        cur.execute(f"DROP VIEW {SCHEMA}.rvs_cnn")
    call_command("metadata", "rebuild")
    with connection.cursor() as cur:
        cur.execute(f"SELECT count(*) FROM {SCHEMA}.rvs_cnn")
    call_command("metadata", "check")


@pytest.mark.django_db
def test_check_fails_when_the_registry_changed(monkeypatch):
    from archive.metadata.management.commands import metadata

    monkeypatch.setattr(metadata, "registry", lambda: with_extra_column(registry()))
    with pytest.raises(CommandError, match=r"\+ column \$published.rvs_cnn.rvs_snr"):
        call_command("metadata", "check")


def test_gaia_columns_carry_the_gaia_data_model():
    """What the Gaia archive serves (labeling.io.gaia_schema) is what we publish: ruwe's UCD
    is Gaia's stat.error, as in the real archive VOTable in ../shared/data."""
    from labeling.io.gaia_schema import GAIA_SOURCE_SCHEMA

    table = registry().table(f"{SCHEMA}.gaia_source")
    for column in table.columns:
        if column.name in GAIA_SOURCE_SCHEMA:
            _, unit, _, ucd = GAIA_SOURCE_SCHEMA[column.name][:4]
            assert (column.unit, column.ucd) == (unit or "", ucd), column.name
    assert table.column("ruwe").ucd == "stat.error"
