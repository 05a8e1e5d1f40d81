"""cnn_label's partitions: one per model version (LIST on model_version_id, migration 0008).

A version's partition is made when its model_version row is inserted (a trigger calls
``public.cnn_label_partition``); :func:`create_partition` does the same on demand. It is built
apart and ATTACHed (SHARE UPDATE EXCLUSIVE on cnn_label), and :func:`drop_partition` DETACHes
CONCURRENTLY outside a transaction: readers of the published partition never wait for either.
"""

from __future__ import annotations

from collections.abc import Sequence

from django.db import connection, transaction

from archive.pgcopy import Column, copy_columns


def partition_name(version_id: int) -> str:
    return f"cnn_label_v{int(version_id)}"


def create_partition(version_id: int) -> str:
    """The version's partition, created and attached if missing; returns its name."""
    with connection.cursor() as cur:
        cur.execute("SELECT public.cnn_label_partition(%s)", [int(version_id)])
        return cur.fetchone()[0]


def fill_partition(version_id: int, columns: Sequence[Column]) -> int:
    """COPY rows straight into the version's partition (no routing, no upsert): a bulk load
    of rows the partition does not hold yet. Returns the number of rows written."""
    name = create_partition(version_id)
    with transaction.atomic(), connection.cursor() as cur:
        return copy_columns(cur, f"public.{name}", columns)


def _state(cur, name: str) -> tuple[bool, bool, bool]:
    """(exists, attached, detach pending) of a partition table."""
    cur.execute(
        "SELECT to_regclass(%s) IS NOT NULL, i.inhrelid IS NOT NULL, "
        "coalesce(i.inhdetachpending, false) "
        "FROM (SELECT 1) one LEFT JOIN pg_inherits i ON i.inhrelid = to_regclass(%s)",
        [f"public.{name}", f"public.{name}"],
    )
    return cur.fetchone()


def drop_partition(version_id: int) -> bool:
    """Detach and drop the version's partition; False when it had none."""
    name = partition_name(version_id)
    with connection.cursor() as cur:
        exists, attached, pending = _state(cur, name)
        if not exists:
            return False
        if connection.in_atomic_block:  # the deferred key checks of rows written before
            cur.execute("SET CONSTRAINTS ALL IMMEDIATE")
        if pending:  # a concurrent detach interrupted earlier
            cur.execute(f"ALTER TABLE public.cnn_label DETACH PARTITION public.{name} FINALIZE")
        elif attached:
            # CONCURRENTLY cannot run in a transaction block; inside one, a plain detach
            how = "" if connection.in_atomic_block else " CONCURRENTLY"
            cur.execute(f"ALTER TABLE public.cnn_label DETACH PARTITION public.{name}{how}")
        cur.execute(f"DROP TABLE public.{name}")
    return True
