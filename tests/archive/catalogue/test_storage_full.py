"""A disk that fills during a run fails the write with StorageFull and changes nothing
published. The full disk is real: the version's partition moved to a tablespace on a 1 MiB
tmpfs (needs root to mount, and the instance's PostgreSQL superuser to make the tablespace)."""

import json
import os
import subprocess
import tempfile
from pathlib import Path

import numpy as np
import psycopg
import pytest
from django.conf import settings
from django.db import connection

from archive.catalogue.cnn_labels import write_labels
from archive.catalogue.models import GaiaSource
from archive.catalogue.partitions import partition_name
from archive.errors import StorageFull
from archive.ops.publishing import publish
from tests.archive.ops.test_publishing import published_teff, version_with_labels

pytestmark = pytest.mark.django_db(transaction=True)
REPO = Path(__file__).resolve().parents[3]
SPACE = "rvs_test_tiny"


def _secrets() -> Path:
    var = Path(os.environ.get("RVS_VAR_DIR", REPO / "var"))
    return var / os.environ.get("RVS_INSTANCE", "test") / "secrets.json"


@pytest.fixture
def tiny_tablespace():
    if os.geteuid() != 0 or not _secrets().exists():
        pytest.skip("needs root (mount a tmpfs) and the instance's superuser (a tablespace)")
    # not under tmp_path: pytest's folders are closed to the postgres user
    where = Path(tempfile.mkdtemp(prefix="rvs-tiny-"))
    os.chmod(where, 0o755)
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(where)], check=True)
    subprocess.run(["chown", "postgres:postgres", str(where)], check=True)
    db = settings.DATABASES["default"]
    superuser = psycopg.connect(
        host=db["HOST"],
        port=db["PORT"],
        user="postgres",
        password=json.loads(_secrets().read_text())["superuser"],
        dbname=connection.settings_dict["NAME"],
        autocommit=True,
    )
    try:
        superuser.execute(f"CREATE TABLESPACE {SPACE} LOCATION '{where}'")
        superuser.execute(f"GRANT CREATE ON TABLESPACE {SPACE} TO {db['USER']}")
        yield SPACE
    finally:
        moved = superuser.execute(
            "SELECT format('ALTER TABLE %I SET TABLESPACE pg_default', c.relname) "
            "FROM pg_class c JOIN pg_tablespace t ON t.oid = c.reltablespace "
            f"WHERE t.spcname = '{SPACE}' AND c.relkind = 'r'"
        ).fetchall()
        for (sql,) in moved:
            superuser.execute(sql)
        superuser.execute(f"DROP TABLESPACE IF EXISTS {SPACE}")
        superuser.close()
        subprocess.run(["umount", str(where)], check=False)
        where.rmdir()


def test_a_full_disk_fails_the_write_and_changes_nothing_published(tiny_tablespace):
    from labeling.pipeline import Labelled

    publish(version_with_labels("published", 4000.0))
    running = version_with_labels("running", 5000.0, status="labelling")
    with connection.cursor() as cur:
        cur.execute(f"ALTER TABLE {partition_name(running.pk)} SET TABLESPACE {tiny_tablespace}")
    n = 30_000  # ~3.5 MB of rows and index: more than the 1 MiB the tablespace holds
    ids = np.arange(10, 10 + n)
    GaiaSource.objects.bulk_create(GaiaSource(source_id=int(i), ra=0.0, dec=0.0) for i in ids)
    batch = Labelled(
        ids, np.ones((n, 5)), np.ones((n, 5)), np.ones((n, 5)), np.array(["0" * 8] * n)
    )
    with pytest.raises(StorageFull, match="no disk space left.*nothing published changed"):
        write_labels(running.pk, batch)
    assert published_teff() == {4000.0}
    with connection.cursor() as cur:
        cur.execute(f"SELECT count(*) FROM {partition_name(running.pk)}")
        assert cur.fetchone()[0] == 2  # the rows before the failed chunk, no more
        cur.execute(f"ALTER TABLE {partition_name(running.pk)} SET TABLESPACE pg_default")
