"""A disk that fills during a run fails the write with StorageFull and changes nothing
published. The full disk is real: the version's partition moved to a tablespace on a 1 MiB
tmpfs (needs root to mount, and the instance's PostgreSQL superuser to make the tablespace)."""

import json
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
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


def _superuser(host: str, port: int | str, dbname: str) -> psycopg.Connection:
    password = json.loads(_secrets().read_text())["superuser"]
    return psycopg.connect(
        host=host, port=port, user="postgres", password=password, dbname=dbname, autocommit=True
    )


@contextmanager
def replay_paused(primary: psycopg.Connection) -> Iterator[None]:
    """Hold the instance's replicas' replay while the tablespace lives.

    A replica on this machine resolves the tablespace's LOCATION to the same folder: replaying,
    it would write the partition's files into the primary's tmpfs, and make them again after the
    primary removed them ("tablespace is not empty" on a slow machine). It replays the whole
    life of the tablespace afterwards, into the folder left on the root disk."""
    standbys = []
    for address in settings.RVS_DB_REPLICAS:
        host, _, port = address.rpartition(":")
        standby = _superuser(host, port, "postgres")
        standby.execute("SELECT pg_wal_replay_pause()")
        standbys.append(standby)
    try:
        yield
    finally:
        target = primary.execute("SELECT pg_current_wal_insert_lsn()").fetchone()[0]
        deadline = time.monotonic() + 60
        for standby in standbys:
            standby.execute("SELECT pg_wal_replay_resume()")
            caught_up = "SELECT pg_last_wal_replay_lsn() >= %s::pg_lsn"
            while not standby.execute(caught_up, [target]).fetchone()[0]:
                assert time.monotonic() < deadline, "a replica did not replay the tablespace"
                time.sleep(0.1)
            standby.close()


@pytest.fixture
def tiny_tablespace():
    if os.geteuid() != 0 or not _secrets().exists():
        pytest.skip("needs root (mount a tmpfs) and the instance's superuser (a tablespace)")
    # not under tmp_path: pytest's folders are closed to the postgres user
    where = Path(tempfile.mkdtemp(prefix="rvs-tiny-"))
    os.chmod(where, 0o755)
    # the folder under the mount too: a replica replays the tablespace there after the unmount
    shutil.chown(where, "postgres", "postgres")
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(where)], check=True)
    shutil.chown(where, "postgres", "postgres")
    db = settings.DATABASES["default"]
    superuser = _superuser(db["HOST"], db["PORT"], connection.settings_dict["NAME"])
    try:
        with replay_paused(superuser):
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
                subprocess.run(["umount", str(where)], check=True)
    finally:
        superuser.close()
        shutil.rmtree(where)


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
