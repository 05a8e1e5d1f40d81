"""Fixtures of the result-writer tests: a small table of every type, STILTS votlint."""

import shutil
import subprocess
from pathlib import Path

import psycopg
import pytest

from archive.metadata.fields import VOField
from tests.conftest import db_params

SCHEMA = "results_test"

# every type the writers meet, NULLs in every column (the last row), unicode text, variable
# arrays, infinities (and the word Infinity as text)
SAMPLE_DDL = f"""
CREATE SCHEMA {SCHEMA};
CREATE TABLE {SCHEMA}.sample (
    source_id bigint, n_members smallint, n_obs integer, teff double precision,
    mag real, ok boolean, score numeric, flag char(8), label text, tag varchar(12),
    coeffs double precision[], seen timestamp, pos spoint
);
INSERT INTO {SCHEMA}.sample VALUES
    (4295806720, 7, 100000, 5772.25, 12.5, true, 1.5, '01000000', 'Sun-like, "G2V"',
     'α/Fe ✓', '{{1.5, -2.25, 3e-300}}', '2024-06-01 12:30:45.5', spoint(0.1, 0.2)),
    (9223372036854775807, -32768, -2147483648, -1e300, -3.25e38, false, -2, '11111111',
     'line 1
line 2 <&> tab	end \\ back', 'ÅÄÖ', '{{}}', '1999-12-31 23:59:59', spoint(1, -0.5)),
    (NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL),
    (1, 0, 0, 'NaN', 0, true, 0, '00000000', '', '', '{{0.5}}', '2000-01-01 00:00:00',
     spoint(0, 0)),
    (2, 1, 1, 'Infinity', '-Infinity', false, 3, '00000001', 'Infinity', '-Infinity',
     '{{Infinity, -Infinity, 1}}', '2000-01-02 00:00:00', spoint(0, 0));
GRANT USAGE ON SCHEMA {SCHEMA} TO {{reader}};
GRANT SELECT ON ALL TABLES IN SCHEMA {SCHEMA} TO {{reader}};
"""
SAMPLE_SQL = f"SELECT * FROM {SCHEMA}.sample ORDER BY source_id NULLS LAST"

#: the fields a caller (the TAP service) would pass for the sample, with VO metadata
SAMPLE_FIELDS = [
    VOField("source_id", "long", ucd="meta.id;meta.main", description="Gaia DR3 identifier"),
    VOField("n_members", "short", description="Ensemble members"),
    VOField("n_obs", "int", ucd="meta.number", description="Transits"),
    VOField("teff", "double", unit="K", ucd="phys.temperature.effective", description="Teff"),
    VOField("mag", "float", unit="mag", ucd="phot.mag;em.opt.G", description="G magnitude"),
    VOField("ok", "boolean", ucd="meta.code", description="A flag"),
    VOField("score", "double", description="A numeric, as a double"),
    VOField("flag", "char", arraysize="8", ucd="meta.code.qual", description="Boundary flags"),
    VOField("label", "unicodeChar", arraysize="*", description="Free text"),
    VOField("tag", "unicodeChar", arraysize="12*", description="Short text"),
    VOField("coeffs", "double", arraysize="*", unit="dex", description="An array"),
    VOField("seen", "char", arraysize="*", xtype="timestamp", ucd="time.epoch", description="When"),
    VOField("pos", "char", arraysize="*", ucd="pos.eq", description="A pg_sphere point"),
]


@pytest.fixture(scope="module")
def sample_table(django_db_setup, django_db_blocker):
    """``results_test.sample`` in the test database, readable by the read-only role."""
    from django.conf import settings

    with django_db_blocker.unblock():
        params = db_params("default")
    reader = settings.DATABASES["reader"]["USER"]
    with psycopg.connect(**params, autocommit=True) as conn:
        conn.execute(f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE")
        conn.execute(SAMPLE_DDL.replace("{reader}", reader))
        yield SAMPLE_SQL
        conn.execute(f"DROP SCHEMA {SCHEMA} CASCADE")


@pytest.fixture(scope="session")
def votlint(tmp_path_factory):
    """Run STILTS votlint on bytes; returns its report (empty when the document is valid)."""
    stilts = shutil.which("stilts")
    if stilts is None:
        pytest.fail("stilts missing: run `python3 scripts/services.py install --test`")
    folder = tmp_path_factory.mktemp("votlint")

    def run(document: bytes, name: str = "doc.vot") -> str:
        path = Path(folder) / name
        path.write_bytes(document)
        proc = subprocess.run(
            [stilts, "votlint", f"votable={path}"], capture_output=True, text=True, timeout=120
        )
        return (proc.stdout + proc.stderr).strip()

    return run
