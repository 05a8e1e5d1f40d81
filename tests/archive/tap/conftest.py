"""A small published catalogue with known positions and labels, and the catalogue of tables."""

import pytest

from .adql_corpus import STARS, VERSION

#: units the metadata registry will give; IN_UNIT needs them
UNITS = {"ra": "deg", "dec": "deg", "teff": "K", "parallax": "mas"}
PG_TO_VOTABLE = {
    "bigint": "long",
    "integer": "int",
    "smallint": "short",
    "real": "float",
    "double precision": "double",
    "boolean": "boolean",
}


@pytest.fixture(scope="module")
def published(django_db_setup, django_db_blocker, reader_connections_closed):
    """STARS labelled by one published version, committed so the reader role sees them."""
    from django.db import connection

    from archive.catalogue.models import CnnLabel, GaiaSource, ModelVersion
    from archive.jobs.kinds import Kind
    from archive.jobs.models import Job
    from archive.ops.models import Publication
    from archive.ops.publishing import publish

    with django_db_blocker.unblock():
        v = ModelVersion.objects.create(name=VERSION, status="ready")
        for sid, (ra, dec, teff, flag) in STARS.items():
            GaiaSource.objects.create(source_id=sid, ra=ra, dec=dec, parallax=sid / 10)
            errors = {f"{p}_{k}": 1.0 for p in ("e", "sigma") for k in "teff logg m_h".split()}
            errors |= {f"{p}_{k}": 1.0 for p in ("e", "sigma") for k in ("alpha_m", "fe_h")}
            CnnLabel.objects.create(
                model_version=v,
                source_id=sid,
                teff=teff,
                logg=sid / 2,
                m_h=0,
                alpha_m=0,
                fe_h=0,
                flag_boundary=flag,
                **errors,
            )
        publish(v)
        with connection.cursor() as cur:
            # statistics, so the planner sees eight rows rather than its default guess
            cur.execute("ANALYZE gaia_source; ANALYZE cnn_label; ANALYZE model_version")
        yield v
        Publication.objects.all().delete()
        # publishing queued an export job, committed here: gone with its version
        Job.objects.of_kind(Kind.EXPORT).filter(parameters__version=VERSION).delete()
        CnnLabel.objects.filter(model_version=v).delete()
        ModelVersion.objects.filter(pk=v.pk).delete()
        GaiaSource.objects.filter(source_id__in=STARS).delete()


@pytest.fixture(scope="module")
def catalog(django_db_setup, django_db_blocker):
    """The published schema's tables and columns, as the database has them."""
    from django.conf import settings
    from django.db import connection

    from archive.tap.adql import ColumnInfo, TableCatalog, TableInfo

    schema = settings.PUBLISHED_SCHEMA
    with django_db_blocker.unblock(), connection.cursor() as cur:
        cur.execute(
            "SELECT table_name, column_name, data_type FROM information_schema.columns "
            "WHERE table_schema = %s ORDER BY table_name, ordinal_position",
            [schema],
        )
        rows = cur.fetchall()
    tables: dict[str, dict] = {}
    for table, column, dtype in rows:
        tables.setdefault(table, {})[column] = ColumnInfo(
            column, PG_TO_VOTABLE.get(dtype, "char"), UNITS.get(column, "")
        )
    return TableCatalog(
        tuple(
            TableInfo(f"{schema}.{t}", cols, sky_index=("ra", "dec") if "ra" in cols else None)
            for t, cols in tables.items()
        )
    )
