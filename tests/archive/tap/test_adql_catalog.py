"""Names: case folding, delimited identifiers, unqualified tables, TAP_UPLOAD tables."""

import pytest

from archive.tap.adql import (
    ColumnInfo,
    TableCatalog,
    TableInfo,
    UnknownColumnError,
    UnknownTableError,
    UnsupportedError,
    translate,
)

R = "gaiadr3_rvs_cnn.rvs_cnn"
POSITIONS = {
    "source_id": ColumnInfo("source_id", "long"),
    "ra": ColumnInfo("ra", "double", "deg"),
    "dec": ColumnInfo("dec", "double", "deg"),
}
OTHERS = TableCatalog.from_mapping(
    {
        "TAP_SCHEMA.tables": {"schema_name": "char", "table_name": "char"},
        "other.rvs_cnn": {"source_id": "long"},
    }
)
BASE = OTHERS.with_tables([TableInfo(R, POSITIONS, sky_index=("ra", "dec"))])
UPLOAD = TableInfo(
    "TAP_UPLOAD.mine",
    {
        "id": ColumnInfo("id", "long"),
        "RAJ2000": ColumnInfo("RAJ2000", "double", "deg"),
        "DEJ2000": ColumnInfo("DEJ2000", "double", "deg"),
    },
    sql_name="pg_temp.upload_7",
)


def test_unquoted_names_fold_case():
    t = translate("SELECT RA, Dec FROM GAIADR3_RVS_CNN.Rvs_Cnn", BASE)
    assert t.sql == (
        "SELECT rvs_cnn.ra AS ra, rvs_cnn.dec AS dec FROM gaiadr3_rvs_cnn.rvs_cnn AS rvs_cnn"
    )
    assert [c.source for c in t.columns] == [f"{R}.ra", f"{R}.dec"]
    assert "FROM tap_schema.tables" in translate("SELECT * FROM tap_schema.TABLES", BASE).sql


def test_delimited_names_keep_case():
    assert translate('SELECT "ra" FROM "gaiadr3_rvs_cnn"."rvs_cnn"', BASE).columns[0].name == "ra"
    with pytest.raises(UnknownColumnError):
        translate(f'SELECT "RA" FROM {R}', BASE)
    with pytest.raises(UnknownTableError):
        translate('SELECT ra FROM "GAIADR3_RVS_CNN".rvs_cnn', BASE)


def test_unqualified_tables_must_be_unique():
    with pytest.raises(UnknownTableError, match="ambiguous"):
        translate("SELECT source_id FROM rvs_cnn", BASE)
    only = TableCatalog(tuple(t for t in BASE.tables if t.name == R))
    assert "FROM gaiadr3_rvs_cnn.rvs_cnn" in translate("SELECT ra FROM rvs_cnn", only).sql


def test_upload_tables_join_under_their_sql_name_with_their_column_spelling():
    cat = BASE.with_tables([UPLOAD])
    t = translate(
        "SELECT u.id, r.source_id FROM TAP_UPLOAD.mine AS u JOIN gaiadr3_rvs_cnn.rvs_cnn AS r "
        "ON DISTANCE(POINT(u.raj2000, u.dej2000), POINT(r.ra, r.dec)) < 1.0 / 3600",
        cat,
    )
    assert "FROM pg_temp.upload_7 AS u" in t.sql
    # the catalogue's indexed position on q3c_join's index side (second), either order
    assert 'Q3C_JOIN(u."RAJ2000", u."DEJ2000", r.ra, r.dec, 1.0 / 3600)' in t.sql
    assert [c.source for c in t.columns] == ["TAP_UPLOAD.mine.id", f"{R}.source_id"]
    with pytest.raises(UnknownTableError):
        translate("SELECT * FROM TAP_UPLOAD.mine", BASE)  # another query's upload


def test_join_columns_merge_as_postgresql_merges_them():
    g = "gaiadr3_rvs_cnn.gaia_source"
    cat = BASE.with_tables([TableInfo(g, POSITIONS | {"plx": ColumnInfo("plx")})])
    t = translate(f"SELECT * FROM {R} JOIN {g} USING (source_id) WHERE source_id = 5", cat)
    # the left column, so an index on source_id serves the WHERE; ra and dec both kept, renamed
    assert "WHERE rvs_cnn.source_id = 5" in t.sql and "COALESCE" not in t.sql
    assert [c.name for c in t.columns] == ["source_id", "ra", "dec", "ra_2", "dec_2", "plx"]
    assert t.columns[3].source == f"{g}.ra"
    full = translate(f"SELECT source_id FROM {R} FULL OUTER JOIN {g} USING (source_id)", cat)
    assert "COALESCE(rvs_cnn.source_id, gaia_source.source_id)" in full.sql
    written = translate(f"SELECT COALESCE(r.ra, g.ra) FROM {R} AS r LEFT JOIN {g} AS g "
                        "USING (source_id)", cat)  # fmt: skip
    assert "COALESCE(r.ra, g.ra)" in written.sql and written.columns[0].source is None
    with pytest.raises(UnsupportedError, match="IF"):
        translate(f"SELECT IF(ra > 1, 1, 0) FROM {R}", cat)
