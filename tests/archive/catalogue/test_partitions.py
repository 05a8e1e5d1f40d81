"""cnn_label is partitioned by model version: each version its partition, the published view
reads one, deleting a version's labels drops its partition, a failed publication changes
nothing, and labels are stored as float32."""

import pytest
from django.conf import settings
from django.db import IntegrityError, connection, transaction

from archive.catalogue.cnn_labels import LabelWriteError, delete_labels
from archive.catalogue.models import CnnLabel, ModelVersion
from archive.catalogue.partitions import create_partition, drop_partition, partition_name
from archive.ops.publishing import publish
from tests.archive.ops.test_publishing import published_teff, version_with_labels

pytestmark = pytest.mark.django_db


def partitions() -> dict[str, int]:
    """Attached partitions of cnn_label and their row counts."""
    with connection.cursor() as cur:
        cur.execute(
            "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
            "WHERE i.inhparent = 'public.cnn_label'::regclass"
        )
        names = [r[0] for r in cur.fetchall()]
        out = {}
        for name in names:
            cur.execute(f"SELECT count(*) FROM public.{name}")
            out[name] = cur.fetchone()[0]
        return out


def test_each_version_writes_its_own_partition():
    a, b = version_with_labels("a", 4000.0), version_with_labels("b", 5000.0)
    empty = ModelVersion.objects.create(name="empty", status="training")
    got = partitions()
    assert got[partition_name(a.pk)] == 2 and got[partition_name(b.pk)] == 2
    assert got[partition_name(empty.pk)] == 0
    assert create_partition(a.pk) == partition_name(a.pk)  # idempotent


def test_the_published_view_reads_the_published_partition_only():
    a, b = version_with_labels("a", 4000.0), version_with_labels("b", 5000.0)
    publish(b)
    with connection.cursor() as cur:
        cur.execute(
            "EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF) "
            f"SELECT flag_boundary, count(*) FROM {settings.PUBLISHED_SCHEMA}.rvs_cnn GROUP BY 1"
        )
        plan = "\n".join(r[0] for r in cur.fetchall())
    assert partition_name(b.pk) in plan
    # the other partition is pruned when the executor starts, never scanned
    scanned = [line for line in plan.splitlines() if partition_name(a.pk) in line]
    assert all("never executed" in line for line in scanned), plan


def test_deleting_labels_drops_the_partition_and_spares_the_published():
    a, b = version_with_labels("a", 4000.0), version_with_labels("b", 5000.0)
    publish(a)
    with pytest.raises(LabelWriteError, match="is published"):
        delete_labels(a)
    ModelVersion.objects.filter(pk=b.pk).update(status="deleting")
    rows = CnnLabel.objects.filter(model_version=b).count()
    assert rows > 0 and delete_labels(b) == rows
    assert partition_name(b.pk) not in partitions()
    assert delete_labels(b) == 0
    assert published_teff() == {4000.0}
    assert not drop_partition(b.pk)


def test_a_publication_failing_halfway_leaves_the_previous_one_published():
    a, b = version_with_labels("a", 4000.0), version_with_labels("b", 5000.0)
    publish(a)
    with pytest.raises(RuntimeError, match="halfway"), transaction.atomic():
        publish(b)
        assert published_teff() == {5000.0}
        raise RuntimeError("failed halfway")
    assert published_teff() == {4000.0}
    assert ModelVersion.objects.get(is_published=True) == a
    assert partitions()[partition_name(a.pk)] == 2 and partitions()[partition_name(b.pk)] == 2


def test_labels_are_float32_in_the_table_and_the_published_schema():
    with connection.cursor() as cur:
        cur.execute(
            "SELECT DISTINCT data_type FROM information_schema.columns "
            "WHERE table_name = 'cnn_label' AND (column_name IN ('teff', 'logg', 'm_h', "
            "'alpha_m', 'fe_h') OR column_name LIKE 'e\\_%%' OR column_name LIKE 'sigma\\_%%')"
        )
        assert [r[0] for r in cur.fetchall()] == ["real"]
        cur.execute(
            "SELECT column_name, datatype FROM tap_schema.columns "
            "WHERE table_name = %s AND column_name IN ('teff', 'e_teff', 'sigma_fe_h', 'ra')",
            [f"{settings.PUBLISHED_SCHEMA}.rvs_cnn"],
        )
        got = dict(cur.fetchall())
    assert got == {"teff": "float", "e_teff": "float", "sigma_fe_h": "float", "ra": "double"}


def key_columns(table: str) -> list[str] | None:
    with connection.cursor() as cur:
        cur.execute(
            "SELECT array_agg(a.attname::text ORDER BY k.n) FROM pg_index x "
            "CROSS JOIN LATERAL unnest(x.indkey) WITH ORDINALITY k(attnum, n) "
            "JOIN pg_attribute a ON a.attrelid = x.indrelid AND a.attnum = k.attnum "
            "WHERE x.indrelid = %s::regclass AND x.indisprimary",
            [f"public.{table}"],
        )
        return cur.fetchone()[0]


def test_a_partition_is_keyed_by_source_id_alone():
    """One column: the planner reads it in source_id order and merges the published partition
    with gaia_source, so a whole-catalogue download starts at once (a two-column key made it
    hash all of gaia_source first: bench/tap.py --first-byte-only at 30M rows)."""
    a, b = version_with_labels("a", 4000.0), version_with_labels("b", 5000.0)
    assert key_columns(partition_name(a.pk)) == ["source_id"]
    assert key_columns(partition_name(b.pk)) == ["source_id"]
    assert key_columns("cnn_label") is None  # no key of its own: its partitions' keys
    # the same star in two versions, never twice in one
    row = CnnLabel.objects.filter(model_version=a).values().first()
    names, marks = ", ".join(row), ", ".join(["%s"] * len(row))
    raises = pytest.raises(IntegrityError, match="cnn_label_v")
    with raises, transaction.atomic(), connection.cursor() as cur:
        cur.execute(f"INSERT INTO public.cnn_label ({names}) VALUES ({marks})", list(row.values()))
